package hub_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/hub"
)

// BenchmarkOneToOne measures the hub and the embedded stores alone, with
// no sockets and no load generator sharing the cores: 1,000 users in 500
// pairs send to each other, and one iteration is one message, from the
// Receive of its frame to the writes of its SUCCESS and its delivery.
// Every batch is synced to disk, as in production. Compare its µs/msg with
// the server's CPU per message under parley-bench to see what the
// WebSocket layer and the system calls add.
func BenchmarkOneToOne(b *testing.B) {
	const users = 1000
	name := func(i int) string { return fmt.Sprintf("user%04d", i) }
	names := make([]string, users)
	for i := range names {
		names[i] = name(i)
	}
	h, _ := runHub(b, names...)

	var replies, deliveries, errs atomic.Int64
	conns := make([]*hub.Conn, users)
	socks := make([]*countingSocket, users)
	for i := range users {
		socks[i] = &countingSocket{replies: &replies, deliveries: &deliveries, errs: &errs, closed: make(chan struct{})}
		conns[i] = h.Attach(socks[i], hub.Identity{Username: name(i), SessionID: "s"}, hub.Chat)
		// As the transport does: Detach once the socket is closed.
		go func(c *hub.Conn, closed chan struct{}) {
			<-closed
			h.Detach(c, nil)
		}(conns[i], socks[i].closed)
	}
	for i := range users {
		for socks[i].frames.Load() == 0 { // INIT_DATA
			time.Sleep(time.Millisecond)
		}
	}
	content := strings.Repeat("x", 150)
	frames := make([][]byte, b.N)
	for i := range frames {
		from := i % users
		frames[i] = fmt.Appendf(nil, `{"type":"ONE_TO_ONE_CHAT","id":"c%d","to":"%s","content":"%s"}`, i, name(from^1), content)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i, f := range frames {
		conns[i%users].Receive(f)
	}
	deadline := time.Now().Add(time.Minute)
	for replies.Load() < int64(b.N) || deliveries.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("%d SUCCESS and %d deliveries of %d messages", replies.Load(), deliveries.Load(), b.N)
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	if n := errs.Load(); n > 0 {
		b.Fatalf("%d ERROR replies", n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/msg")
}

// countingSocket is a client that reads everything at once and counts
// what it gets.
type countingSocket struct {
	frames                    atomic.Int64
	replies, deliveries, errs *atomic.Int64
	closed                    chan struct{}
	closeOnce                 sync.Once
}

func (s *countingSocket) WriteText(frame []byte) error {
	s.frames.Add(1)
	switch {
	case strings.HasPrefix(string(frame), `{"type":"SUCCESS"`):
		s.replies.Add(1)
	case strings.HasPrefix(string(frame), `{"type":"ONE_TO_ONE_CHAT"`):
		s.deliveries.Add(1)
	case strings.HasPrefix(string(frame), `{"type":"ERROR"`):
		s.errs.Add(1)
	}
	return nil
}

func (s *countingSocket) WriteTexts(frames [][]byte) error {
	for _, f := range frames {
		s.WriteText(f)
	}
	return nil
}

func (s *countingSocket) WaitRoom(context.Context, int) error { return nil }
func (s *countingSocket) Ping() error                         { return nil }
func (s *countingSocket) Close(int, string)                   { s.closeOnce.Do(func() { close(s.closed) }) }
func (s *countingSocket) RemoteAddr() string                  { return "bench" }
