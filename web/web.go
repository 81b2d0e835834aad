// Package web is Parley's browser client: static files embedded in the
// binary with go:embed and served at /, so the server needs no Node.js.
//
// The client is plain HTML, CSS and ES modules with no build step, written
// to run under the strict Content-Security-Policy the server sends for /
// (no inline scripts or styles, no eval) and to put user content in the DOM
// only as text:
//
//	static/index.html     the page: sign-in screen, sidebar, conversation pane, dialogs
//	static/app.css        the design (light and dark), one pane at a time below 760 px
//	static/js/main.js     entry point: resumes a stored session or shows sign-in
//	static/js/session.js  HTTP auth API; tokens, refresh shared safely between tabs
//	static/js/socket.js   the /ws/chat WebSocket: replies by id, keepalive, backoff
//	static/js/store.js    conversations and their messages (dedup by messageId, paging)
//	static/js/app.js      frames to state and actions to frames: ACKs, outbox, groups
//	static/js/view.js     drawing the state; clicks and keys to App calls
//	static/js/auth.js     the sign-in and create-account form
//	static/js/dom.js      element building without HTML parsing; avatars; times
//
// browser_test.go drives it in headless Chromium against the real parleyd.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the client.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	return http.FileServerFS(sub)
}
