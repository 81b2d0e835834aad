package http

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parley-chat/parley"
)

// FuzzReadJSON feeds arbitrary bodies to the API's body decoder: it must
// never panic, must refuse with invalid or too_large, and whatever it
// accepts must be one JSON object that decodes the same way again.
func FuzzReadJSON(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"correct horse"}`,
		`{"refreshToken":"abc"}`,
		`{}`, `[]`, `null`, `{"a":1} {"b":2}`, `{"username":1}`, `{"username":"\u0000"}`,
		`{"username":"` + strings.Repeat("x", 100) + `"}`, "\xff\xfe", `{"x":` + strings.Repeat("[", 1000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		r := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		err := readJSON(httptest.NewRecorder(), r, &v)
		if err != nil {
			if c := parley.ErrorCode(err); c != parley.EINVALID && c != parley.ETOOLARGE {
				t.Fatalf("code %q for %q", c, body)
			}
			return
		}
		if len(body) > MaxBodyBytes {
			t.Fatalf("accepted %d bytes", len(body))
		}
	})
}

func TestReadJSONLimits(t *testing.T) {
	for _, c := range []struct {
		ctype, body, code string
	}{
		{"application/json", `{"username":"a"}`, ""},
		{"application/json;charset=UTF-8", `{"username":"a"}`, ""},
		{"text/json", `{}`, parley.EINVALID},
		{"", `{}`, parley.EINVALID},
		{"application/json", `{"username":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, parley.ETOOLARGE},
		{"application/json", ``, parley.EINVALID},
	} {
		var v struct{ Username string }
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
		r.Header.Set("Content-Type", c.ctype)
		if got := parley.ErrorCode(readJSON(httptest.NewRecorder(), r, &v)); got != c.code {
			t.Errorf("%s %.20q: got %q, want %q", c.ctype, c.body, got, c.code)
		}
	}
}
