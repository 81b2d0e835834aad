package main

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestLogDefaults: a log that is not a terminal is JSON, with durations in
// readable units; one startup line gives the URL to open and every
// listener; the web client's files are not logged at info.
func TestLogDefaults(t *testing.T) {
	s := startServer(t, func(c *Config) { c.LogLevel, c.LogFormat = "info", "auto" })
	for _, path := range []string{"/", "/health"} {
		resp, err := http.Get(s.api.BaseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	_, port, _ := net.SplitHostPort(s.Addr("http"))
	var started, health map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.log.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line that is not JSON: %q", line)
		}
		switch {
		case rec["msg"] == "parleyd started":
			started = rec
		case rec["msg"] == "http request" && rec["path"] == "/":
			t.Errorf("a static file logged at info: %s", line)
		case rec["msg"] == "http request" && rec["path"] == "/health":
			health = rec
		case rec["msg"] == "listening":
			t.Errorf("a listener logged on its own line at info: %s", line)
		}
	}
	if started == nil || started["url"] != "http://localhost:"+port+"/" {
		t.Errorf("startup line %v, want url http://localhost:%s/", started, port)
	}
	if l, _ := started["listeners"].(map[string]any); l["http"] != s.Addr("http") || l["metrics"] != s.Addr("metrics") {
		t.Errorf("startup line lists listeners %v", started["listeners"])
	}
	if d, ok := health["duration"].(string); !ok || !strings.HasSuffix(d, "s") {
		t.Errorf("request duration %v (%T), want a string like 1.2ms", health["duration"], health["duration"])
	}
}

func TestOpenURL(t *testing.T) {
	for addr, want := range map[string]string{
		":3000":          "http://localhost:3000/",
		"0.0.0.0:3000":   "http://localhost:3000/",
		"[::]:3000":      "http://localhost:3000/",
		"127.0.0.1:3000": "http://localhost:3000/",
		"10.1.2.3:80":    "http://10.1.2.3:80/",
	} {
		if got := openURL(addr, false); got != want {
			t.Errorf("openURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
