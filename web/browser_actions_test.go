package web_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-chat/parley/internal/testserver"
)

// TestBrowserTimelineActions: two people, each in a browser of their own,
// use the timeline from the page: a people search starts the chat, a link
// is clickable and safe, the sender's tick turns to read, a reply quotes
// its original (and the quote scrolls to it), reactions come from the
// picker and toggle by clicking, Up edits the last message (Escape
// cancels), and a delete takes a second click. Each change reaches the
// other browser live.
func TestBrowserTimelineActions(t *testing.T) {
	needChromium(t)
	srv := testserver.Start(t, testserver.Options{})
	base := srv.URL() + "/"
	browserCtx := startBrowser(t, 120*time.Second)
	ana := openPage(t, browserCtx, "ana", chromedp.WithNewBrowserContext())
	ben := openPage(t, browserCtx, "ben", chromedp.WithNewBrowserContext())
	const password = "correct horse battery"
	for _, p := range []*page{ben, ana} {
		p.navigate(base)
		p.signUp(password)
	}

	// Ana finds Ben by the start of his name.
	ana.click(`[data-testid="compose-open"]`)
	ana.typeInto(`[data-testid="start-chat-username"]`, "be")
	ana.waitText(`[data-testid="people-result"]`, "ben")
	ana.click(`[data-testid="people-result"][data-username="ben"]`)
	ana.waitText(`[data-testid="conv-header-title"]`, "ben")

	const first = "Plans for Friday? The menu is at https://example.com/menu?day=fri."
	ana.sendMessage(first, true)
	ben.openConversation("ana", 1)
	ben.waitMessage(first)
	ben.waitJS(`(() => {
		const a = document.querySelector('[data-testid="message-link"]');
		return a && a.href === 'https://example.com/menu?day=fri' && a.textContent === 'https://example.com/menu?day=fri' &&
			a.rel === 'noopener noreferrer' && a.target === '_blank';
	})()`, "the address as a safe link, without the full stop after it")
	mine := `[data-testid="message"][data-from="ana"]`
	ana.waitJS(`document.querySelector(`+js(mine+` [data-testid="message-status"]`)+`).dataset.receipt === 'read'`, "ana's tick turning to read")

	// Ben replies from the message's menu.
	ben.click(`[data-testid="message"][data-from="ana"] [data-testid="message-reply"]`)
	ben.waitText(`[data-testid="composer-mode-text"]`, "Replying to ana: Plans for Friday?")
	ben.sendMessage("Dinner at 8?", true)
	ana.waitText(`[data-testid="message-quote"]`, "ana: Plans for Friday?")
	ana.click(`[data-testid="message-quote"]`)
	ana.waitJS(`document.querySelector(`+js(mine)+`).classList.contains('flash')`, "the quote scrolling to the original")

	// Reactions: Ben picks one, Ana adds hers by clicking it.
	ben.click(`[data-testid="message"][data-from="ana"] [data-testid="message-react"]`)
	ben.waitVisible(`[data-testid="reaction-picker"]`)
	ben.click(`[data-testid="reaction-pick"]`)
	ana.waitText(`[data-testid="reaction"]`, "👍 1")
	ana.click(`[data-testid="reaction"]`)
	ben.waitText(`[data-testid="reaction"]`, "👍 2")
	ana.waitJS(`document.querySelector('[data-testid="reaction"]').getAttribute('aria-pressed') === 'true'`, "ana's own reaction marked")

	// Up edits Ana's last message; Escape gives up, a second try saves.
	input := `[data-testid="composer-input"]`
	ana.run("press Up", chromedp.Focus(chromedp.CSS(input)), pressKey("ArrowUp", 38))
	ana.waitText(`[data-testid="composer-mode-text"]`, "Editing your message")
	ana.waitJS(`document.querySelector(`+js(input)+`).value === `+js(first), "the message in the composer")
	ana.run("press Escape", pressKey("Escape", 27))
	ana.waitJS(`document.querySelector('[data-testid="composer-mode"]').hidden && document.querySelector(`+js(input)+`).value === ''`, "editing cancelled")
	ana.run("press Up", chromedp.Focus(chromedp.CSS(input)), pressKey("ArrowUp", 38))
	const edited = "Plans for Saturday? The menu is at https://example.com/menu?day=sat."
	ana.waitJS(`(document.querySelector(`+js(input)+`).value = '', true)`, "the composer emptied")
	ana.typeInto(input, edited)
	ana.run("press Enter", pressEnter)
	ben.waitMessage(edited)
	ben.waitVisible(`[data-testid="message"][data-from="ana"] [data-testid="message-edited"]`)
	ben.waitText(`[data-testid="message-quote"]`, "ana: Plans for Saturday?")

	// The README's screenshot: a reply, an edit, a reaction, read ticks.
	ben.sendMessage("Saturday works too. I'll book a table near the river.", true)
	ana.waitMessage("Saturday works too. I'll book a table near the river.")
	shot := ana.screenshot()
	if os.Getenv("PARLEY_SCREENSHOT") != "" {
		out := filepath.Join("..", "docs", "screenshots", "web-timeline.png")
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot saved to %s", out)
	}

	// Ben deletes his reply: the first click asks, the second deletes.
	del := `[data-testid="message"][data-from="ben"] [data-testid="message-delete"]`
	ben.click(del)
	ben.waitText(del, "Delete?")
	ben.click(del)
	ana.waitMessage("Message deleted")
	ben.waitMessage("Message deleted")
	ana.waitJS(`document.querySelectorAll('[data-testid="message-quote"]').length === 0`, "a deleted reply without its quote")

	// In a group, Ana's newest message says who has read it.
	cyd := dialUser(t, srv.URL(), "cyd", password)
	gid := cyd.send(t, map[string]any{"type": "CREATE_GROUP", "name": "Dinner club", "members": []string{"ana", "ben"}}).GroupID
	ana.click(`[data-testid="conv-item"][data-title="Dinner club"]`)
	ana.waitText(`[data-testid="conv-header-title"]`, "Dinner club")
	ana.sendMessage("Who is in for Saturday?", true)
	ben.openConversation("Dinner club", 1)
	ben.waitMessage("Who is in for Saturday?")
	ana.waitText(`[data-testid="message-seen"]`, "Seen by 1")
	// Cyd reads everything (a READ past the end is clamped to it).
	if err := cyd.conn.Send(map[string]any{"type": "READ", "groupId": gid, "seq": 1000}); err != nil {
		t.Fatal(err)
	}
	ana.waitText(`[data-testid="message-seen"]`, "Seen by 2")
	ana.waitJS(`document.querySelector('[data-testid="message-seen"]').title === 'Seen by ben, cyd'`, "the readers' names on hover")

	for _, p := range []*page{ana, ben} {
		if errs := p.problems(); len(errs) > 0 {
			t.Errorf("%s's page reported:\n%s", p.name, strings.Join(errs, "\n"))
		}
	}
}
