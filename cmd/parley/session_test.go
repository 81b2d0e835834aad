package main

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testserver"
)

// runSession runs a chat session on src until the test ends.
func runSession(t *testing.T, s *testserver.Server, src client.TokenSource) (*client.Session, <-chan client.Event, <-chan error) {
	t.Helper()
	sess := &client.Session{Client: client.New(s.URL()), Tokens: src, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	events := make(chan client.Event, 1024)
	done := make(chan error, 1)
	finished := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		done <- sess.Run(ctx, events)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return sess, events, done
}

// next waits for the next event of type typ (frames of other types are
// skipped) and returns it.
func next(t *testing.T, events <-chan client.Event, typ client.EventType, frame string) client.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Type == typ && (frame == "" || ev.Frame.Type == frame) {
				return ev
			}
			if ev.Type == client.EventEnded && typ != client.EventEnded {
				t.Fatalf("session ended: %v", ev.Err)
			}
		case <-deadline:
			t.Fatalf("no event %d %s", typ, frame)
		}
	}
}

func TestSessionRefreshesARefusedToken(t *testing.T) {
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_ACCESS_TTL": "1s"}})
	src := loggedIn(t, s, "alice")
	// The stored token has expired on the server, but the client thinks it
	// still good: the handshake is refused with 401 and the session
	// refreshes.
	c, _ := src.store.get(s.URL())
	c.Expires = time.Now().Add(time.Hour)
	src.store.put(s.URL(), c)
	time.Sleep(2100 * time.Millisecond)

	_, events, _ := runSession(t, s, src)
	next(t, events, client.EventConnected, "")
	if ev := next(t, events, client.EventFrame, "INIT_DATA"); ev.Frame.Username != "alice" {
		t.Fatalf("INIT_DATA %s", ev.Frame.Raw)
	}
	if nc, _ := src.store.get(s.URL()); nc.Token == c.Token {
		t.Fatal("the refreshed token was not stored")
	}
}

func TestSessionEndsOnLogout(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	src := loggedIn(t, s, "alice")
	_, events, done := runSession(t, s, src)
	next(t, events, client.EventFrame, "INIT_DATA")
	tok, _ := src.Token(context.Background())
	if err := src.api.Logout(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events, client.EventEnded, "")
	if ev.CloseCode != 1008 || !errors.Is(ev.Err, client.ErrSessionEnded) {
		t.Fatalf("ended with code %d, %v", ev.CloseCode, ev.Err)
	}
	if err := <-done; !errors.Is(err, client.ErrSessionEnded) {
		t.Fatalf("Run returned %v", err)
	}
}

func TestSessionReconnects(t *testing.T) {
	// A fixed port, so that the restarted server is found again.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	opts := testserver.Options{DataDir: t.TempDir(), Env: map[string]string{"PARLEY_HTTP_ADDR": addr}}
	s := testserver.Start(t, opts)
	src := loggedIn(t, s, "alice")
	sess, events, done := runSession(t, s, src)
	next(t, events, client.EventFrame, "INIT_DATA")

	s.Stop()
	ev := next(t, events, client.EventDisconnected, "")
	if ev.CloseCode != 1001 {
		t.Errorf("closed with %d, want 1001 (going away)", ev.CloseCode)
	}
	if err := sess.Send(map[string]string{"type": "PING"}); !errors.Is(err, client.ErrNotConnected) {
		t.Errorf("Send while disconnected: %v", err)
	}
	// Attempts fail while the server is down, with growing waits.
	second := next(t, events, client.EventDisconnected, "")
	if second.Attempt < 2 || second.Retry < ev.Retry/2 {
		t.Errorf("second failure: attempt %d, retry %v after %v", second.Attempt, second.Retry, ev.Retry)
	}

	testserver.Start(t, opts)
	next(t, events, client.EventConnected, "")
	next(t, events, client.EventFrame, "INIT_DATA")
	if err := sess.Send(map[string]string{"type": "PING", "id": "p"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events, client.EventFrame, "PONG"); ev.Frame.ID != "p" {
		t.Fatalf("got %s", ev.Frame.Raw)
	}

	// Close says DISCONNECT and stops the session.
	sess.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}
