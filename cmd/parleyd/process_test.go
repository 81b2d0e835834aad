package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testserver"
)

// TestKillDurability sends messages to a parleyd process, kills it with
// SIGKILL while messages are in flight, restarts it on the same data
// directory and checks that every message that got SUCCESS is there.
func TestKillDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	killDurability(t, map[string]string{"PARLEY_SQLITE_SYNC": "FULL"}, func(*testserver.Server) bool { return true })
}

// TestKillDuringCompaction is TestKillDurability with a message log whose
// 64 KiB memtable flushes every few hundred messages, killed while the log
// says a compaction has begun and not ended.
func TestKillDuringCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	env := map[string]string{"PARLEY_SQLITE_SYNC": "FULL", "PARLEY_MESSAGE_LOG_MEMTABLE_BYTES": "65536", "PARLEY_LOG_LEVEL": "debug"}
	killDurability(t, env, func(srv *testserver.Server) bool {
		logs := srv.Logs()
		begins := strings.Count(logs, "message log compaction begins")
		return begins >= 3 && begins > strings.Count(logs, "message log compaction ends")
	})
}

// killDurability sends messages to a parleyd process, kills it with
// SIGKILL once 5,000 are confirmed and killNow says so, restarts it and
// checks that every confirmed message is stored, with no gaps.
func killDurability(t *testing.T, env map[string]string, killNow func(*testserver.Server) bool) {
	dir := t.TempDir()
	srv := testserver.Start(t, testserver.Options{DataDir: dir, Env: env})
	ctx := context.Background()
	api := client.New(srv.URL())
	for _, u := range []string{"alice", "bob"} {
		if err := api.Register(ctx, u, "password-"+u); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := api.Login(ctx, "alice", "password-alice")
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*client.Conn, 4)
	for i := range conns {
		if conns[i], err = api.Dial(ctx, "chat", tok.Token); err != nil {
			t.Fatal(err)
		}
	}
	// Four connections send as fast as they can with up to 64 messages in
	// flight each; each records the messages the server confirmed.
	var mu sync.Mutex
	acked := map[string]int64{} // client id -> seq
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i, c := range conns {
		window := make(chan struct{}, 64)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case window <- struct{}{}:
				}
				if c.Send(obj{"type": "ONE_TO_ONE_CHAT", "id": fmt.Sprintf("c%d-%d", i, n), "to": "bob", "content": "durable"}) != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for f := range c.Frames() {
				if f.Type == "SUCCESS" {
					mu.Lock()
					acked[f.ID] = f.Seq
					mu.Unlock()
					<-window
				}
			}
		}()
	}
	// Kill once a good number of messages is confirmed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 5000 && killNow(srv) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages confirmed and no moment to kill came within 30 s", n)
		}
		time.Sleep(time.Millisecond)
	}
	srv.Kill()
	close(stop)
	wg.Wait()
	mu.Lock()
	confirmed := len(acked)
	mu.Unlock()
	if confirmed == 0 {
		t.Fatal("no message was confirmed before the kill")
	}

	srv2 := testserver.Start(t, testserver.Options{DataDir: dir, Env: env})
	api2 := client.New(srv2.URL())
	// The JWT secret was kept in the data directory: the old token works.
	c, err := api2.Dial(ctx, "chat", tok.Token)
	if err != nil {
		t.Fatalf("token from before the restart: %v", err)
	}
	defer c.Close()
	stored := map[int64]bool{}
	var after int64
	for {
		c.Send(obj{"type": "GET_ONE_TO_ONE_HISTORY", "to": "bob", "after": after, "limit": 200})
		var h client.Frame
		for h.Type != "ONE_TO_ONE_CHAT_HISTORY" {
			tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			h, err = c.Next(tctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range h.Messages {
			if m.Seq != after+1 {
				t.Fatalf("gap in the stored messages: seq %d after %d", m.Seq, after)
			}
			stored[m.Seq] = true
			after = m.Seq
		}
		if !h.HasMore {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for id, seq := range acked {
		if !stored[seq] {
			t.Fatalf("message %s (seq %d) was confirmed but is not stored after the crash", id, seq)
		}
	}
	t.Logf("%d messages confirmed before SIGKILL, %d stored after restart", confirmed, len(stored))
}

// TestGracefulShutdown checks SIGTERM: readiness turns off, sockets get
// 1001, and the process exits 0 within a few seconds.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	srv := testserver.Start(t, testserver.Options{})
	ctx := context.Background()
	api := client.New(srv.URL())
	api.Register(ctx, "alice", "password-alice")
	tok, err := api.Login(ctx, "alice", "password-alice")
	if err != nil {
		t.Fatal(err)
	}
	c, err := api.Dial(ctx, "chat", tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- srv.Stop() }()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("socket not closed on SIGTERM")
	}
	var ce *websocket.CloseError
	if err := c.Err(); !asCloseError(err, &ce) || ce.Code != 1001 {
		t.Fatalf("close: got %v, want 1001", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("exit: %v, want status 0", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("shutdown took %v", took)
	}
	if !strings.Contains(srv.Logs(), `"msg":"stopped"`) {
		t.Fatal("no clean stop in the log")
	}
}

func asCloseError(err error, target **websocket.CloseError) bool {
	ce, ok := err.(*websocket.CloseError)
	if ok {
		*target = ce
	}
	return ok
}

// TestReadyDuringShutdown checks that /ready turns 503 once shutdown
// begins, while the process still answers.
func TestReadyDuringShutdown(t *testing.T) {
	s := startServer(t, nil)
	ready := func() int {
		resp, err := http.Get(s.api.BaseURL + "/ready")
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode
	}
	if code := ready(); code != 200 {
		t.Fatalf("ready before shutdown: %d", code)
	}
	// Hold a connection so that shutdown has something to wait for, and
	// start the hub's shutdown alone: the HTTP listener keeps answering.
	alice := s.newUser("alice")
	s.dial(alice, "chat")
	go s.hub.Shutdown(context.Background())
	deadline := time.Now().Add(wait)
	for ready() != 503 {
		if time.Now().After(deadline) {
			t.Fatal("/ready did not turn 503 during shutdown")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
