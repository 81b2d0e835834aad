package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads /metrics into name{labels} -> value; histograms give their
// sample count as name_count.
func (s *testServer) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr("metrics") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, fam := range families {
		for _, m := range fam.Metric {
			key := name
			for _, l := range m.Label {
				key += "|" + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+"|count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	s := startServer(t, nil)
	alice, bob, carol := s.newUser("alice"), s.newUser("bob"), s.newUser("carol")
	before := s.scrape(t)
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "parley_connections|endpoint=chat"} {
		if _, ok := before[name]; !ok {
			t.Fatalf("/metrics lacks %s", name)
		}
	}

	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	for i := 0; i < 3; i++ {
		ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "x"})
		ca.expect("SUCCESS")
		m := cb.expect("ONE_TO_ONE_CHAT")
		cb.send(obj{"type": "ACK", "chatId": m.ChatID, "seq": m.Seq})
	}
	ca.send(obj{"type": "CREATE_GROUP", "name": "g", "members": []string{bob.name, carol.name}})
	gid := ca.expect("SUCCESS").GroupID
	cb.expect("GROUP_MEMBER_JOINED")
	cb.expect("GROUP_MEMBER_JOINED")
	cb.expect("GROUP_MEMBER_JOINED")
	ca.send(obj{"type": "GROUP_CHAT", "groupId": gid, "content": "hello"})
	ca.expect("SUCCESS")
	cb.expect("GROUP_CHAT")
	// Carol was offline: she gets it as an offline message.
	s.chat(carol)
	if _, err := s.api.Login(context.Background(), alice.name, "wrong password"); err == nil {
		t.Fatal("wrong password accepted")
	}
	cb.send(obj{"type": "PING"})
	cb.expect("PONG") // the ACKs are processed

	after := s.scrape(t)
	delta := func(key string) float64 { return after[key] - before[key] }
	for key, want := range map[string]float64{
		"parley_messages_stored_total|kind=direct":                3,
		"parley_messages_stored_total|kind=group":                 1,
		"parley_messages_delivered_total|kind=direct":             3,
		"parley_messages_delivered_total|kind=group":              1, // bob live; carol was offline
		"parley_delivery_latency_seconds|kind=direct|count":       3,
		"parley_offline_messages_delivered_total":                 1,
		"parley_connections|endpoint=chat":                        3,
		"parley_connections_opened_total|endpoint=chat":           3,
		"parley_login_failures_total|reason=unauthorized":         1,
		"parley_http_requests_total|route=/auth/login|status=401": 1,
		"parley_http_requests_total|route=/ws/chat|status=101":    3,
		"parley_ack_lag_seconds|count":                            3,
		"parley_message_log_messages":                             4,
		"parley_message_log_chats":                                1,
	} {
		if got := delta(key); got != want {
			t.Errorf("%s moved by %v, want %v", key, got, want)
		}
	}
	if after["parley_message_log_up"] != 1 || after["parley_message_log_disk_bytes"] <= 0 {
		t.Errorf("message log: up %v, %v bytes on disk", after["parley_message_log_up"], after["parley_message_log_disk_bytes"])
	}
	if _, ok := after["parley_message_log_compaction_debt_bytes"]; !ok {
		t.Error("/metrics lacks the message log's compaction debt")
	}
	if delta("parley_store_operation_seconds|op=append_messages|count") < 1 {
		t.Error("no append_messages timed")
	}
}
