package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-chat/parley/internal/testserver"
)

// TestBrowserTimeline: edits, reactions and deletions made by another
// user show in place in the browser, live and after a reload (from
// history, where the entries themselves are not shown as messages), and
// what the browser shows it marks read: the sender gets READ_RECEIPT.
func TestBrowserTimeline(t *testing.T) {
	needChromium(t)
	srv := testserver.Start(t, testserver.Options{})
	base := srv.URL() + "/"
	browserCtx := startBrowser(t, 90*time.Second)
	nina := openPage(t, browserCtx, "nina", chromedp.WithNewBrowserContext())
	const password = "correct horse battery"
	nina.navigate(base)
	nina.signUp(password)
	otto := dialUser(t, srv.URL(), "otto", password)

	chat := map[string]any{"chatId": "nina-otto"}
	with := func(extra map[string]any) map[string]any {
		for k, v := range chat {
			extra[k] = v
		}
		return extra
	}
	otto.send(t, map[string]any{"type": "ONE_TO_ONE_CHAT", "to": "nina", "content": "Lunch at noon?"})
	nina.openConversation("otto", 1)
	nina.waitMessage("Lunch at noon?")

	otto.send(t, with(map[string]any{"type": "EDIT_MESSAGE", "seq": 1, "content": "Lunch at 12:30?"}))
	nina.waitMessage("Lunch at 12:30?")
	nina.waitVisible(`[data-testid="message-edited"]`)
	otto.send(t, with(map[string]any{"type": "REACT", "seq": 1, "emoji": "🍜"}))
	nina.waitText(`[data-testid="message-reactions"]`, "🍜 1")
	otto.send(t, map[string]any{"type": "ONE_TO_ONE_CHAT", "to": "nina", "content": "Oops, wrong chat"})
	nina.waitMessage("Oops, wrong chat")
	otto.send(t, with(map[string]any{"type": "DELETE_MESSAGE", "seq": 4}))
	nina.waitMessage("Message deleted")

	// Nina's browser marks what it shows read.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for {
		f, err := otto.conn.Next(ctx)
		if err != nil {
			t.Fatalf("otto: waiting for a read receipt: %v", err)
		}
		if f.Type == "READ_RECEIPT" && f.Username == "nina" && f.Seq >= 4 {
			break
		}
	}

	// After a reload, history brings the same picture: two messages, the
	// first edited with its reaction, the second deleted.
	nina.navigate(base)
	nina.click(`[data-testid="conv-item"][data-title="otto"]`)
	nina.waitMessage("Message deleted")
	nina.waitMessage("Lunch at 12:30?")
	nina.waitText(`[data-testid="message-reactions"]`, "🍜 1")
	nina.waitJS(`document.querySelectorAll('[data-testid="message"]').length === 2`, "two messages, no entries shown as messages")

	if errs := nina.problems(); len(errs) > 0 {
		t.Errorf("nina's page reported:\n%s", strings.Join(errs, "\n"))
	}
}
