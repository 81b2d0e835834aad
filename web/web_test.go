package web_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-chat/parley/web"
)

// TestHandlerServesTheClient checks that every file the page loads is
// embedded and served with a type a browser accepts under nosniff.
func TestHandlerServesTheClient(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for path, wantType := range map[string]string{
		"/":                                    "text/html",
		"/app.css":                             "text/css",
		"/js/main.js":                          "text/javascript",
		"/js/app.js":                           "text/javascript",
		"/js/view.js":                          "text/javascript",
		"/js/socket.js":                        "text/javascript",
		"/js/session.js":                       "text/javascript",
		"/js/store.js":                         "text/javascript",
		"/js/dom.js":                           "text/javascript",
		"/js/auth.js":                          "text/javascript",
		"/favicon.svg":                         "image/svg+xml",
		"/fonts/inter-latin-wght-normal.woff2": "font/woff2",
	} {
		t.Run(path, func(t *testing.T) {
			res, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d", path, res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); !strings.HasPrefix(got, wantType) {
				t.Errorf("GET %s: Content-Type %q, want %s", path, got, wantType)
			}
			if len(body) == 0 {
				t.Errorf("GET %s: empty body", path)
			}
		})
	}
}

// TestStaticFilesFitTheCSP checks the sources against what the policy
// (script-src 'self'; style-src 'self'; no eval) and the escaping rule
// forbid: inline scripts, styles and handlers, and HTML built from strings.
func TestStaticFilesFitTheCSP(t *testing.T) {
	html, err := os.ReadFile(filepath.Join("static", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`),          // a script with inline code
		regexp.MustCompile(`(?i)<style[\s>]`),                        // a style element
		regexp.MustCompile(`(?i)\sstyle\s*=`),                        // a style attribute
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),                     // an event handler attribute
		regexp.MustCompile(`(?i)(?:href|src)\s*=\s*"(?:https?:)?//`), // anything from another origin
		regexp.MustCompile(`(?i)javascript:`),
	} {
		if m := re.Find(html); m != nil {
			t.Errorf("index.html: %q matches %s", m, re)
		}
	}
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAll(html, -1) {
		if !strings.Contains(string(m), `src="`) {
			t.Errorf("index.html: inline script %q", m)
		}
	}

	forbidden := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function|setAttribute\(\s*['"]style|\.style\.cssText|setTimeout\(\s*['"]|setInterval\(\s*['"]`)
	err = fs.WalkDir(os.DirFS("static"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		src, err := os.ReadFile(filepath.Join("static", path))
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			trimmed := strings.TrimSpace(line)
			if strings.HasPrefix(trimmed, "//") || strings.HasPrefix(trimmed, "*") {
				continue
			}
			// dom.js names the properties it refuses to set.
			if path == "js/dom.js" && strings.Contains(line, "is not allowed") {
				continue
			}
			if m := forbidden.FindString(line); m != "" {
				t.Errorf("%s:%d: %s", path, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
