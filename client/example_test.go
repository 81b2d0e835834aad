package client_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testserver"
)

// serverURL is the base URL of a parleyd started for the examples: in your
// own code, the server's address, e.g. "http://127.0.0.1:3000".
var serverURL string

// TestMain starts a real parleyd (built from this repository, on port 0,
// in a temporary directory) for the examples to talk to.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-client-example-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv, err := testserver.Launch(testserver.Options{DataDir: dir})
	if err != nil {
		if srv != nil {
			srv.Stop()
		}
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "starting parleyd:", err)
		os.Exit(1)
	}
	serverURL = srv.URL()
	code := m.Run()
	srv.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The whole exchange: two users sign up and log in, bob connects, alice
// sends him a message, he receives it and ACKs it.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := client.New(serverURL)
	for _, name := range []string{"alice", "bob"} {
		if err := c.Register(ctx, name, "correct horse"); err != nil {
			fmt.Println("register:", err)
			return
		}
	}
	alice, err := c.Login(ctx, "alice", "correct horse")
	if err != nil {
		fmt.Println("login:", err)
		return
	}
	bob, err := c.Login(ctx, "bob", "correct horse")
	if err != nil {
		fmt.Println("login:", err)
		return
	}

	// Bob connects: INIT_DATA, his offline messages (none yet), then INFO.
	bc, err := c.Dial(ctx, "chat", bob.Token)
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer bc.CloseNormal()
	for {
		f, err := bc.Next(ctx)
		if err != nil {
			fmt.Println("read:", err)
			return
		}
		if f.Type == "INIT_DATA" {
			fmt.Printf("%s: %s with %d chats\n", f.Type, f.Username, len(f.Chats))
		}
		if f.Type == "INFO" && f.Event == "offline_delivered" {
			fmt.Printf("%s: %d offline messages\n", f.Type, *f.Count)
			break
		}
	}

	// Alice sends; her SUCCESS means the message is stored.
	ac, err := c.Dial(ctx, "chat", alice.Token)
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer ac.CloseNormal()
	ac.Send(map[string]any{"type": "ONE_TO_ONE_CHAT", "id": "hello-1", "to": "bob", "content": "hi bob"})
	for {
		f, err := ac.Next(ctx)
		if err != nil {
			fmt.Println("read:", err)
			return
		}
		if f.ID == "hello-1" {
			fmt.Printf("alice got %s: chat %s, seq %d\n", f.Type, f.ChatID, f.Seq)
			break
		}
	}

	// Bob receives it (presence updates may come first) and ACKs its seq,
	// so it is not delivered again on his next connection.
	for {
		f, err := bc.Next(ctx)
		if err != nil {
			fmt.Println("read:", err)
			return
		}
		if f.Type == "ONE_TO_ONE_CHAT" {
			fmt.Printf("bob got %q from %s, seq %d\n", f.Content, f.From, f.Seq)
			bc.Send(map[string]any{"type": "ACK", "chatId": f.ChatID, "seq": f.Seq})
			break
		}
	}
	// Output:
	// INIT_DATA: bob with 0 chats
	// INFO: 0 offline messages
	// alice got SUCCESS: chat alice-bob, seq 1
	// bob got "hi bob" from alice, seq 1
}

// tokens is a TokenSource over one login: it refreshes the access token
// shortly before it expires, or when the server refused it.
type tokens struct {
	c       *client.Client
	mu      sync.Mutex
	t       *client.Tokens
	expires time.Time
}

func (s *tokens) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Until(s.expires) < 30*time.Second {
		return s.refresh(ctx)
	}
	return s.t.Token, nil
}

func (s *tokens) Refresh(ctx context.Context, stale string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.Token != stale {
		return s.t.Token, nil // refreshed meanwhile
	}
	return s.refresh(ctx)
}

func (s *tokens) refresh(ctx context.Context) (string, error) {
	t, err := s.c.Refresh(ctx, s.t.RefreshToken)
	if err != nil {
		return "", err
	}
	s.t, s.expires = t, time.Now().Add(time.Duration(t.ExpiresIn)*time.Second)
	return t.Token, nil
}

// A Session for a long-running client: it reconnects with backoff and
// refreshes the token by itself. Messages sent without a SUCCESS are sent
// again, with the same id, after every EventConnected.
func ExampleSession() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := client.New(serverURL)
	c.Register(ctx, "carol", "correct horse")
	c.Register(ctx, "dave", "correct horse")
	t, err := c.Login(ctx, "carol", "correct horse")
	if err != nil {
		fmt.Println("login:", err)
		return
	}
	s := &client.Session{Client: c, Tokens: &tokens{c: c, t: t, expires: time.Now().Add(time.Duration(t.ExpiresIn) * time.Second)}}
	events := make(chan client.Event, 64)
	go s.Run(ctx, events)
	defer s.Close()

	// Messages are idempotent by (sender, id): a client keeps what it sent
	// until the answer comes, and sends it again after a reconnect.
	unconfirmed := map[string]map[string]any{} // id -> frame, until SUCCESS or ERROR
	unconfirmed["note-1"] = map[string]any{"type": "ONE_TO_ONE_CHAT", "id": "note-1", "to": "dave", "content": "see you at 5"}
	for ev := range events {
		switch ev.Type {
		case client.EventConnected:
			for _, f := range unconfirmed {
				s.Send(f) // the same id: the server stores it once
			}
		case client.EventFrame:
			if _, ok := unconfirmed[ev.Frame.ID]; ok {
				delete(unconfirmed, ev.Frame.ID)
				fmt.Printf("%s for %s: chat %s, seq %d\n", ev.Frame.Type, ev.Frame.ID, ev.Frame.ChatID, ev.Frame.Seq)
				return
			}
		case client.EventDisconnected:
			// Run tries again after ev.Retry.
		case client.EventEnded:
			fmt.Println("log in again:", ev.Err)
			return
		}
	}
	// Output:
	// SUCCESS for note-1: chat carol-dave, seq 1
}
