package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testserver"
)

const chromiumPath = "/usr/bin/chromium"

// waitFor bounds each wait for the page; the whole test has its own limit.
const waitFor = 15 * time.Second

// TestBrowserChat drives the web client in headless Chromium against the
// real parleyd: two users in separate browser profiles sign up, chat both
// ways, one goes offline and finds the missed messages on return, and both
// talk in a group. It asserts only on what the pages show.
//
// With PARLEY_SCREENSHOT set, it saves a 1280x800 screenshot of a
// conversation to docs/screenshots/web.png.
func TestBrowserChat(t *testing.T) {
	needChromium(t)
	root := t
	srv := testserver.Start(t, testserver.Options{})
	base := srv.URL() + "/"
	browserCtx := startBrowser(t, 120*time.Second)

	// Each user has a browser profile of their own (separate storage).
	maya := openPage(t, browserCtx, "maya", chromedp.WithNewBrowserContext())
	// Leo's profile outlives his tabs: a blank tab holds it, so that he can
	// close the chat and come back to a signed-in session.
	leoProfile, cancelProfile := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	defer cancelProfile()
	if err := chromedp.Do(leoProfile); err != nil {
		t.Fatalf("opening leo's profile: %v", err)
	}
	leo := openPage(t, leoProfile, "leo")
	var pages []*page // closed ones, checked at the end with the open ones

	const password = "correct horse battery"
	for _, p := range []*page{maya, leo} {
		p.navigate(base)
		p.signUp(password)
	}

	t.Run("one-to-one both ways", func(t *testing.T) {
		maya.t, leo.t = t, t
		maya.click(`[data-testid="compose-open"]`)
		maya.waitVisible(`[data-testid="start-chat-username"]`)
		maya.typeInto(`[data-testid="start-chat-username"]`, "leo")
		maya.click(`[data-testid="start-chat-submit"]`)
		maya.waitText(`[data-testid="conv-header-title"]`, "leo")
		maya.sendMessage("Hey Leo! Are we still on for the hike on Saturday?", false)

		leo.openConversation("maya", 1)
		leo.waitMessage("Hey Leo! Are we still on for the hike on Saturday?")

		// Typing shows on the other side while Maya writes.
		maya.typeInto(`[data-testid="composer-input"]`, "I was thinking we start early")
		leo.waitText(`[data-testid="typing-indicator"]`, "maya is typing")
		maya.sendMessage(", around 7:30, before it gets hot.", true)
		leo.waitMessage("I was thinking we start early, around 7:30, before it gets hot.")

		leo.sendMessage("Absolutely. 7:30 works for me. I'll bring coffee and the trail map.", true)
		maya.waitMessage("Absolutely. 7:30 works for me. I'll bring coffee and the trail map.")
	})

	t.Run("offline messages on return", func(t *testing.T) {
		maya.t, leo.t = t, t
		leo.close()
		maya.waitText(`[data-testid="conv-subtitle"]`, "Last seen")
		missed := []string{
			"Quick update: the forecast says clear skies all weekend.",
			"I booked the parking spot at the trailhead.",
			"Text me when you're up!",
		}
		for _, m := range missed {
			maya.sendMessage(m, true)
		}

		pages = append(pages, leo)
		leo = openPage(root, leoProfile, "leo")
		leo.navigate(base)
		// The session was kept: no sign-in needed.
		leo.waitText(`[data-testid="me-username"]`, "leo")
		leo.waitOnline()
		leo.openConversation("maya", len(missed))
		for _, m := range missed {
			leo.waitMessage(m)
		}
		leo.waitVisible(`[data-testid="unread-divider"]`)
		maya.waitText(`[data-testid="conv-subtitle"]`, "Online")
		leo.sendMessage("Just saw these. Perfect, thanks for sorting the parking!", true)
		maya.waitMessage("Just saw these. Perfect, thanks for sorting the parking!")
	})

	t.Run("group", func(t *testing.T) {
		maya.t, leo.t = t, t
		maya.click(`[data-testid="compose-open"]`)
		maya.click(`[data-testid="compose-tab-group"]`)
		maya.waitVisible(`[data-testid="group-name"]`)
		maya.typeInto(`[data-testid="group-name"]`, "Saturday hike")
		maya.typeInto(`[data-testid="group-members"]`, "leo")
		maya.click(`[data-testid="create-group-submit"]`)
		maya.waitText(`[data-testid="conv-header-title"]`, "Saturday hike")
		maya.sendMessage("Made a group so we can add Sam later.", true)

		leo.openConversation("Saturday hike", 1)
		leo.waitMessage("Made a group so we can add Sam later.")
		leo.waitText(`[data-testid="message-author"]`, "maya")
		leo.sendMessage("Good idea. I'll share the packing list here.", true)
		maya.waitMessage("Good idea. I'll share the packing list here.")
		// User content is shown as text, never as markup.
		const markup = `Packing list: water & snacks <img src=x onerror="document.title='pwned'"><b>boots</b>`
		leo.sendMessage(markup, true)
		maya.waitMessage(markup)
		maya.waitJS(`document.querySelectorAll('[data-testid="message-list"] img, [data-testid="message-list"] b').length === 0 &&
			document.title !== 'pwned'`, "no markup from messages in the DOM")

		maya.click(`[data-testid="members-button"]`)
		maya.waitJS(`document.querySelectorAll('[data-testid="member-item"]').length === 2`, "two members listed")
		maya.waitText(`[data-testid="member-list"]`, "leo")
	})

	t.Run("other clients", func(t *testing.T) {
		maya.t, leo.t = t, t
		// Users of other clients (here the Go protocol client) reach the
		// page live: new conversations appear with their unread counts.
		sam := dialUser(t, srv.URL(), "sam", password)
		sam.send(t, map[string]any{"type": "ONE_TO_ONE_CHAT", "to": "maya", "content": "Are you still up for climbing on Thursday?"})
		sam.send(t, map[string]any{"type": "ONE_TO_ONE_CHAT", "to": "maya", "content": "I can pick you up at 6."})
		priya := dialUser(t, srv.URL(), "priya", password)
		g := priya.send(t, map[string]any{"type": "CREATE_GROUP", "name": "Book club", "members": []string{"maya"}})
		priya.send(t, map[string]any{"type": "GROUP_CHAT", "groupId": g.GroupID, "content": "Next pick: The Remains of the Day. Thoughts?"})
		maya.waitText(`[data-testid="conv-item"][data-title="sam"] [data-testid="conv-unread"]`, "2")
		maya.waitText(`[data-testid="conv-item"][data-title="sam"] [data-testid="conv-preview"]`, "I can pick you up at 6.")
		maya.waitText(`[data-testid="conv-item"][data-title="Book club"] [data-testid="conv-unread"]`, "1")
	})

	// A realistic conversation view for the docs.
	maya.t, leo.t = t, t
	maya.click(`[data-testid="conv-item"][data-title="leo"]`)
	maya.waitText(`[data-testid="conv-header-title"]`, "leo")
	maya.waitMessage("Text me when you're up!")
	leo.click(`[data-testid="conv-item"][data-title="maya"]`)
	leo.waitText(`[data-testid="conv-header-title"]`, "maya")
	maya.waitJS(`!document.querySelector('[data-testid="toast"]')`, "notices gone")
	leo.typeInto(`[data-testid="composer-input"]`, "On my way")
	maya.waitVisible(`[data-testid="typing-indicator"]`)
	shot := maya.screenshot()
	if os.Getenv("PARLEY_SCREENSHOT") != "" {
		out := filepath.Join("..", "docs", "screenshots", "web.png")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot saved to %s", out)
	}

	// Nothing the pages did broke the Content-Security-Policy or threw.
	for _, p := range append(pages, maya, leo) {
		if errs := p.problems(); len(errs) > 0 {
			t.Errorf("%s's page reported:\n%s", p.name, strings.Join(errs, "\n"))
		}
	}
}

// needChromium skips the test when Chromium is missing, except in CI.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not found (apt-get install chromium); skipping the browser test", chromiumPath)
		}
		t.Fatalf("%s not found, and CI is set: %v", chromiumPath, err)
	}
}

// startBrowser starts headless Chromium with a fresh profile directory; it
// is stopped when the test ends or after limit.
func startBrowser(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return browserCtx
}

// page is one browser tab of one user.
type page struct {
	t      *testing.T
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	errs   []string
}

func openPage(t *testing.T, parent context.Context, name string, opts ...chromedp.ContextOption) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	p := &page{t: t, name: name, ctx: ctx, cancel: cancel}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatalf("%s: opening a tab: %v", name, err)
	}
	if err := chromedp.Listen(ctx, p.observe); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("%s: enabling the log: %v", name, err)
	}
	return p
}

// observe records uncaught exceptions and policy violations. It runs in the
// tab's event loop, so it only takes notes.
func (p *page) observe(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil && ev.ExceptionDetails.Exception.Description != "" {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		if e := ev.Entry; e != nil && strings.Contains(e.Text, "Content Security Policy") {
			msg = "CSP: " + e.Text
		}
	}
	if msg != "" {
		p.mu.Lock()
		p.errs = append(p.errs, msg)
		p.mu.Unlock()
	}
}

func (p *page) problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// run runs actions with the per-step time limit.
func (p *page) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitFor)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail("%s: %v", what, err)
	}
}

func (p *page) fail(format string, args ...any) {
	p.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if body, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body.innerText`)); err == nil {
		msg += "\n--- " + p.name + "'s page shows ---\n" + body
	}
	p.t.Fatalf("%s: %s", p.name, msg)
}

func (p *page) navigate(url string) {
	p.t.Helper()
	p.run("navigate", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(url))
}

func (p *page) close() {
	p.cancel()
}

func (p *page) click(sel string) {
	p.t.Helper()
	p.run("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (p *page) typeInto(sel, text string) {
	p.t.Helper()
	p.run("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible))
}

func (p *page) waitVisible(sel string) {
	p.t.Helper()
	p.run("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// waitJS polls a JavaScript predicate. The page's policy forbids eval, so
// the predicate runs through DevTools' evaluate (which the policy does not
// restrict), not through chromedp.Poll.
func (p *page) waitJS(expr, what string) {
	p.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.fail("timed out waiting for %s (last error: %v)", what, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitText waits until an element matching sel contains text.
func (p *page) waitText(sel, text string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf(`[...document.querySelectorAll(%s)].some(e => e.offsetParent !== null && e.textContent.includes(%s))`,
		js(sel), js(text)), fmt.Sprintf("%q in %s", text, sel))
}

// waitMessage waits until the open conversation shows a message with
// exactly this text, stored by the server (not pending).
func (p *page) waitMessage(text string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf(`[...document.querySelectorAll('[data-testid="message"]')].some(m =>
		m.dataset.status === 'sent' && m.querySelector('[data-testid="message-text"]').textContent === %s)`, js(text)),
		fmt.Sprintf("message %q", text))
}

func (p *page) waitOnline() {
	p.t.Helper()
	p.waitJS(`document.querySelector('[data-testid="connection-status"]').dataset.state === 'online'`, "connected")
}

func (p *page) signUp(password string) {
	p.t.Helper()
	p.waitVisible(`[data-testid="auth-form"]`)
	p.click(`[data-testid="auth-mode-register"]`)
	p.typeInto(`[data-testid="auth-username"]`, p.name)
	p.typeInto(`[data-testid="auth-password"]`, password)
	p.click(`[data-testid="auth-submit"]`)
	p.waitText(`[data-testid="me-username"]`, p.name)
	p.waitOnline()
}

// sendMessage types text into the composer and sends it with Enter or the
// send button, then waits until the server has stored it.
func (p *page) sendMessage(text string, enter bool) {
	p.t.Helper()
	before, err := chromedp.Run(p.ctx, chromedp.Value(chromedp.CSS(`[data-testid="composer-input"]`)))
	if err != nil {
		p.fail("reading the composer: %v", err)
	}
	p.typeInto(`[data-testid="composer-input"]`, text)
	if enter {
		p.run("press Enter", chromedp.Focus(chromedp.CSS(`[data-testid="composer-input"]`)), pressEnter)
	} else {
		p.click(`[data-testid="composer-send"]`)
	}
	p.waitMessage(before + text)
}

// openConversation waits for a conversation in the list with the given
// unread count, opens it, and checks the count is cleared.
func (p *page) openConversation(title string, unread int) {
	p.t.Helper()
	item := fmt.Sprintf(`[data-testid="conv-item"][data-title=%s]`, js(title))
	p.waitText(item+` [data-testid="conv-unread"]`, fmt.Sprint(unread))
	p.click(item)
	p.waitText(`[data-testid="conv-header-title"]`, title)
	p.waitJS(fmt.Sprintf(`!document.querySelector(%s)`, js(item+` [data-testid="conv-unread"]`)), "unread count cleared")
}

// pressEnter sends the Enter key as a person's keyboard does. SendKeys("\n")
// would also send a char event, which inserts a newline even though the page
// cancelled the keydown.
var pressEnter = pressKey("Enter", 13)

// pressKey sends a key without text (Enter, Escape, ArrowUp) to the
// focused element: a key down and a key up.
func pressKey(key string, code int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: key, Code: key, WindowsVirtualKeyCode: code, NativeVirtualKeyCode: code,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (p *page) screenshot() []byte {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.fail("screenshot: %v", err)
	}
	return buf
}

// goUser is a user of the Go protocol client.
type goUser struct {
	name string
	conn *client.Conn
	n    int
}

// dialUser registers a user and opens a chat connection, read up to the end
// of the offline delivery.
func dialUser(t *testing.T, base, name, password string) *goUser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c := client.New(base)
	if err := c.Register(ctx, name, password); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	tok, err := c.Login(ctx, name, password)
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	conn, err := c.Dial(ctx, "chat", tok.Token)
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	for {
		f, err := conn.Next(ctx)
		if err != nil {
			t.Fatalf("%s: waiting for the offline delivery: %v", name, err)
		}
		if f.Type == "INFO" && f.Event == "offline_delivered" {
			break
		}
	}
	return &goUser{name: name, conn: conn}
}

// send sends a frame with a fresh id and returns its SUCCESS.
func (u *goUser) send(t *testing.T, frame map[string]any) client.Frame {
	t.Helper()
	u.n++
	id := fmt.Sprintf("%s-%d", u.name, u.n)
	frame["id"] = id
	if err := u.conn.Send(frame); err != nil {
		t.Fatalf("%s: send: %v", u.name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for {
		f, err := u.conn.Next(ctx)
		if err != nil {
			t.Fatalf("%s: waiting for the reply to %s: %v", u.name, id, err)
		}
		if f.ID != id {
			continue
		}
		if f.Type != "SUCCESS" {
			t.Fatalf("%s: %s answered %s %s: %s", u.name, frame["type"], f.Type, f.Code, f.Msg)
		}
		return f
	}
}
