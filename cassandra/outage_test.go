package cassandra_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/cassandra"
	"github.com/parley-chat/parley/internal/testenv"
)

// proxy forwards TCP connections from its own address to a Cassandra node
// until cut, which closes the listener and every connection: an outage as
// the driver sees it.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), target: target}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

// While Cassandra cannot be reached, appends fail as unavailable and store
// nothing; once it is back, a repeat of the same client id is stored once.
func TestOutage(t *testing.T) {
	hosts := testenv.CassandraHosts(t)
	if len(hosts) != 1 {
		t.Skip("the outage test runs against a single node")
	}
	p := startProxy(t, hosts[0])
	cfg := cassandra.Config{Hosts: []string{p.addr}, Keyspace: testenv.FreshKeyspace(t, hosts),
		Timeout: 2 * time.Second, ConnectTimeout: time.Second}
	db := openConfig(t, cfg)
	if x := direct("alice", "bob", "before", "k0", "m0"); db.AppendMessages(ctx, []*parley.Append{x}) != nil || x.Err != nil {
		t.Fatalf("append before the outage: %v", x.Err)
	}

	p.cut()
	x := direct("alice", "bob", "during", "k1", "m1")
	err := db.AppendMessages(ctx, []*parley.Append{x})
	if parley.ErrorCode(err) != parley.EUNAVAILABLE && parley.ErrorCode(x.Err) != parley.EUNAVAILABLE {
		t.Fatalf("append during the outage: got %v / %v, want unavailable (is the driver bypassing the proxy?)", err, x.Err)
	}
	if _, err := db.LastSeq(ctx, "alice-bob"); parley.ErrorCode(err) != parley.EUNAVAILABLE {
		t.Fatalf("read during the outage: got %v, want unavailable", err)
	}

	p.restore(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		y := direct("alice", "bob", "during", "k1", "m1-retry")
		err := db.AppendMessages(ctx, []*parley.Append{y})
		if err == nil && y.Err == nil {
			if y.Message.Seq != 2 {
				t.Fatalf("the retry after the outage: got seq %d, want 2", y.Message.Seq)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery 60s after the outage: %v / %v", err, y.Err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if all := history(t, db, "alice-bob"); len(all) != 2 {
		t.Fatalf("stored %d messages, want 2", len(all))
	}
}
