// Package web is Parley's browser client: static files embedded in the
// binary with go:embed and served at /, so the server needs no Node.js.
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
