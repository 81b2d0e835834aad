package bench

import (
	"fmt"
	"testing"
)

// TestChatURLSpreadsUsers checks that several chat URLs split the users
// between the nodes, each user always on the same one.
func TestChatURLSpreadsUsers(t *testing.T) {
	r := &Run{wsURLs: []string{"ws://a/ws/chat", "ws://b/ws/chat"}}
	count := map[string]int{}
	for i := range 1000 {
		name := fmt.Sprintf("benchp%05d", i)
		u := r.chatURL(name)
		if again := r.chatURL(name); again != u {
			t.Fatalf("%s: %s, then %s", name, u, again)
		}
		count[u]++
	}
	for _, u := range r.wsURLs {
		if count[u] < 400 {
			t.Errorf("%s got %d of 1000 users, want about half", u, count[u])
		}
	}
	one := &Run{wsURLs: []string{"ws://a/ws/chat"}}
	if u := one.chatURL("anyone"); u != "ws://a/ws/chat" {
		t.Errorf("one URL: got %s", u)
	}
}
