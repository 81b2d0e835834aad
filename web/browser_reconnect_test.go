package web_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testserver"
)

// TestBrowserReconnect runs the web client through token refreshes and a
// server restart: access tokens live two seconds, so the page refreshes
// them over and over; the server stops, a message written meanwhile waits
// as pending, and after the restart the page reconnects by itself, sends
// it (once) and shows it stored. Signing out returns to the sign-in screen
// and forgets the session.
func TestBrowserReconnect(t *testing.T) {
	needChromium(t)
	opts := testserver.Options{
		DataDir: t.TempDir(),
		Env: map[string]string{
			"PARLEY_HTTP_ADDR":  freeAddr(t),
			"PARLEY_ACCESS_TTL": "2s",
		},
	}
	srv := testserver.Start(t, opts)
	base := srv.URL() + "/"
	const password = "correct horse battery"
	omar := dialUser(t, srv.URL(), "omar", password)

	browser := startBrowser(t, 90*time.Second)
	nina := openPage(t, browser, "nina")
	nina.navigate(base)
	nina.signUp(password)
	nina.click(`[data-testid="compose-open"]`)
	nina.typeInto(`[data-testid="start-chat-username"]`, "omra")
	nina.click(`[data-testid="start-chat-submit"]`)
	nina.waitText(`[data-testid="start-chat-form"] [role="alert"]`, "There is no user named")
	nina.click(`#compose-close`)
	nina.click(`[data-testid="compose-open"]`)
	nina.typeInto(`[data-testid="start-chat-username"]`, "omar")
	nina.click(`[data-testid="start-chat-submit"]`)
	nina.sendMessage("Hi Omar, did the invoice go out?", true)

	// A long conversation: after a reload only the newest page is loaded,
	// and scrolling up brings the rest, in order.
	const lines = 120
	for i := 1; i <= lines; i++ {
		omar.send(t, map[string]any{"type": "ONE_TO_ONE_CHAT", "to": "nina", "content": fmt.Sprintf("Line %d", i)})
	}
	nina.waitMessage(fmt.Sprintf("Line %d", lines))
	nina.navigate(base) // the stored session resumes; its token has likely expired
	nina.waitOnline()
	nina.click(`[data-testid="conv-item"][data-title="omar"]`)
	nina.waitMessage(fmt.Sprintf("Line %d", lines))
	nina.waitJS(`document.querySelectorAll('[data-testid="message"]').length < 100`, "only the newest page loaded")
	nina.waitJS(`(document.querySelector('[data-testid="message-list"]').scrollTop = 0,
		[...document.querySelectorAll('[data-testid="message-text"]')].some(e => e.textContent === 'Hi Omar, did the invoice go out?'))`,
		"the whole history after scrolling up")
	nina.waitJS(fmt.Sprintf(`(() => {
		const got = [...document.querySelectorAll('[data-testid="message-text"]')].map(e => e.textContent);
		const want = ['Hi Omar, did the invoice go out?', ...Array.from({length: %d}, (_, i) => 'Line ' + (i + 1))];
		return got.length === want.length && got.every((t, i) => t === want[i]);
	})()`, lines), "every message once, in order")

	// The page keeps its session alive across several token lifetimes.
	waitLog(t, srv, func(logs string) bool { return countRefreshes(logs, 200) >= 2 }, "two token refreshes")

	if err := srv.Stop(); err != nil {
		t.Fatalf("stopping parleyd: %v", err)
	}
	nina.waitJS(`document.querySelector('[data-testid="connection-status"]').dataset.state === 'waiting'`, "offline state")
	nina.waitText(`[data-testid="connection-status"]`, "retrying")
	const late = "Sending this while the server is down."
	nina.typeInto(`[data-testid="composer-input"]`, late)
	nina.run("press Enter", pressEnter)
	nina.waitJS(fmt.Sprintf(`[...document.querySelectorAll('[data-testid="message"]')].some(m =>
		m.dataset.status === 'pending' && m.textContent.includes(%s))`, js(late)), "the message pending")

	srv = testserver.Start(t, opts) // same address and data
	nina.waitOnline()
	nina.waitMessage(late)
	nina.waitJS(fmt.Sprintf(`[...document.querySelectorAll('[data-testid="message-text"]')].filter(e => e.textContent === %s).length === 1`,
		js(late)), "the message shown once")
	if n := countRefreshes(srv.Logs(), 401); n > 0 {
		t.Errorf("the page presented a refused refresh token %d times after the restart", n)
	}

	// A second tab shares the session (and its refreshes) with the first.
	tab2 := openPage(t, browser, "nina")
	tab2.navigate(base)
	tab2.waitOnline()
	tab2.waitText(`[data-testid="conv-item"][data-title="omar"]`, "omar")
	waitLog(t, srv, func(logs string) bool { return countRefreshes(logs, 200) >= 2 }, "two token refreshes with two tabs")

	// Sign out: both tabs go back to the sign-in screen, and a reload does
	// not resume.
	nina.click(`[data-testid="signout"]`)
	nina.waitVisible(`[data-testid="auth-form"]`)
	tab2.waitVisible(`[data-testid="auth-form"]`)
	nina.navigate(base)
	nina.waitVisible(`[data-testid="auth-form"]`)
	waitLog(t, srv, func(logs string) bool {
		return strings.Contains(logs, `"path":"/auth/logout","route":"/auth/logout","status":200`)
	},
		"the logout")

	for _, p := range []*page{nina, tab2} {
		if errs := p.problems(); len(errs) > 0 {
			t.Errorf("a page reported:\n%s", strings.Join(errs, "\n"))
		}
	}
}

// freeAddr returns a loopback address with a port free right now, so that
// a restarted server can listen where the page expects it.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func countRefreshes(logs string, status int) int {
	n := 0
	want := fmt.Sprintf(`"route":"/auth/refresh","status":%d`, status)
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, want) {
			n++
		}
	}
	return n
}

func waitLog(t *testing.T, srv *testserver.Server, ok func(string) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !ok(srv.Logs()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s in the server log", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
