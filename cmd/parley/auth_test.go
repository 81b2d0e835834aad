package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testserver"
)

// readCreds reads the credentials file of a config directory.
func readCreds(t *testing.T, dir string) credFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f credFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRegisterLoginLogout(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	dir := filepath.Join(t.TempDir(), "cfg")
	vars := map[string]string{"PARLEY_CONFIG_DIR": dir, "PARLEY_SERVER": s.URL()}

	r := parley(t, vars, "correct horse\n", "register", "--password-stdin", "alice")
	if r.code != 0 || !strings.Contains(r.stdout, "registered and logged in as alice") {
		t.Fatalf("register: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	f := readCreds(t, dir)
	c := f.Servers[s.URL()]
	if c == nil || c.Username != "alice" || c.Token == "" || c.RefreshToken == "" || time.Until(c.Expires) < time.Minute {
		t.Fatalf("stored: %+v", f)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "credentials.json"): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, want)
		}
	}

	t.Run("the stored token opens a chat connection", func(t *testing.T) {
		conn, _, err := client.Dial(context.Background(), "ws://"+s.HTTP+"/ws/chat", c.Token, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if f, err := conn.Next(context.Background()); err != nil || f.Type != "INIT_DATA" || f.Username != "alice" {
			t.Fatalf("got %s, %v", f.Raw, err)
		}
	})

	t.Run("bad password", func(t *testing.T) {
		r := parley(t, vars, "wrong password\n", "login", "alice", "--password-stdin")
		if r.code != 1 || !strings.Contains(r.stderr, "401") {
			t.Fatalf("exit %d, %s", r.code, r.stderr)
		}
		if readCreds(t, dir).Servers[s.URL()].Token != c.Token {
			t.Fatal("a failed login changed the stored tokens")
		}
	})

	t.Run("no terminal and no --password-stdin", func(t *testing.T) {
		r := parley(t, vars, "correct horse\n", "login", "alice")
		if r.code != 1 || !strings.Contains(r.stderr, "--password-stdin") {
			t.Fatalf("exit %d, %s", r.code, r.stderr)
		}
	})

	t.Run("login again replaces and ends the previous session", func(t *testing.T) {
		r := parley(t, vars, "correct horse\n", "login", "--password-stdin", "alice")
		if r.code != 0 {
			t.Fatalf("exit %d, %s", r.code, r.stderr)
		}
		nc := readCreds(t, dir).Servers[s.URL()]
		if nc.Token == c.Token || nc.RefreshToken == c.RefreshToken {
			t.Fatal("tokens not replaced")
		}
		if _, err := client.New(s.URL()).Refresh(context.Background(), c.RefreshToken); err == nil {
			t.Fatal("the replaced session is still alive")
		}
		c = nc
	})

	t.Run("credentials of another server are kept apart", func(t *testing.T) {
		other := map[string]string{"PARLEY_CONFIG_DIR": dir, "PARLEY_SERVER": "http://127.0.0.1:1"}
		if r := parley(t, other, "", "logout"); r.code != 1 || !strings.Contains(r.stderr, "not logged in to http://127.0.0.1:1") {
			t.Fatalf("exit %d, %s", r.code, r.stderr)
		}
	})

	t.Run("logout", func(t *testing.T) {
		r := parley(t, vars, "", "logout")
		if r.code != 0 || !strings.Contains(r.stdout, "logged out alice") {
			t.Fatalf("exit %d, %s%s", r.code, r.stdout, r.stderr)
		}
		if _, ok := readCreds(t, dir).Servers[s.URL()]; ok {
			t.Fatal("tokens kept after logout")
		}
		if _, _, err := client.Dial(context.Background(), "ws://"+s.HTTP+"/ws/chat", c.Token, nil); err == nil {
			t.Fatal("the token still works after logout")
		}
		if r := parley(t, vars, "", "logout"); r.code != 1 || !strings.Contains(r.stderr, "not logged in") {
			t.Fatalf("second logout: exit %d, %s", r.code, r.stderr)
		}
		if r := parley(t, vars, "", "chat"); r.code != 1 || !strings.Contains(r.stderr, "run parley login") {
			t.Fatalf("chat when logged out: exit %d, %s", r.code, r.stderr)
		}
	})

	t.Run("taken username", func(t *testing.T) {
		r := parley(t, vars, "correct horse\n", "register", "alice", "--password-stdin")
		if r.code != 1 || !strings.Contains(r.stderr, "409") {
			t.Fatalf("exit %d, %s", r.code, r.stderr)
		}
	})
}

// loggedIn registers name on s and stores its tokens in a new config
// directory; it returns the token source.
func loggedIn(t *testing.T, s *testserver.Server, name string) *storedTokens {
	t.Helper()
	vars := map[string]string{"PARLEY_CONFIG_DIR": t.TempDir(), "PARLEY_SERVER": s.URL()}
	if r := parley(t, vars, "correct horse\n", "register", "--password-stdin", name); r.code != 0 {
		t.Fatalf("register %s: %s", name, r.stderr)
	}
	return &storedTokens{store: &credStore{dir: vars["PARLEY_CONFIG_DIR"]}, server: s.URL(), api: client.New(s.URL()), now: time.Now}
}

func TestTokenRefresh(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	src := loggedIn(t, s, "alice")
	ctx := context.Background()
	before, _ := src.store.get(s.URL())

	tok, err := src.Token(ctx)
	if err != nil || tok != before.Token {
		t.Fatalf("a valid token: got %q, %v; want the stored one", tok, err)
	}

	// An hour later the access token has expired: it is refreshed, and
	// the new tokens are stored.
	src.now = func() time.Time { return time.Now().Add(time.Hour) }
	tok, err = src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// (The access token itself may be the same string: the server's JWTs
	// differ only by their times, in seconds.)
	after, _ := src.store.get(s.URL())
	if after.Token != tok || after.RefreshToken == before.RefreshToken || !after.Expires.After(before.Expires) {
		t.Fatalf("not refreshed: before %+v after %+v", before, after)
	}

	// A second process whose token was refused while the first one
	// refreshed takes the stored token instead of refreshing again (which
	// would waste a rotation, or, with a stale refresh token, end the
	// session as a theft).
	other := &storedTokens{store: src.store, server: s.URL(), api: src.api, now: time.Now}
	if got, err := other.Refresh(ctx, "a token refused a moment ago"); err != nil || got != tok {
		t.Fatalf("refresh with a stale token: %q, %v; want the stored %q", got, err, tok)
	}
	if again, _ := src.store.get(s.URL()); again.RefreshToken != after.RefreshToken {
		t.Fatal("refreshed again")
	}

	// Once the session has ended, refreshing fails, and the dead tokens
	// are forgotten.
	if err := src.api.Logout(ctx, tok); err != nil {
		t.Fatal(err)
	}
	src.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := src.Token(ctx); err == nil {
		t.Fatal("refreshed an ended session")
	}
	if _, err := src.store.get(s.URL()); err == nil {
		t.Fatal("the tokens of an ended session are kept")
	}
}

// TestProfiles: --profile (before or after the command) and PARLEY_PROFILE
// keep tokens apart, so two users can be logged in to one server at once.
func TestProfiles(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	dir := filepath.Join(t.TempDir(), "cfg")
	vars := map[string]string{"PARLEY_CONFIG_DIR": dir, "PARLEY_SERVER": s.URL()}
	if r := parley(t, vars, "correct horse\n", "register", "--password-stdin", "alice"); r.code != 0 {
		t.Fatalf("register alice: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if r := parley(t, vars, "correct horse\n", "--profile", "bob", "register", "--password-stdin", "bob"); r.code != 0 {
		t.Fatalf("register bob: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if c := readCreds(t, dir).Servers[s.URL()]; c == nil || c.Username != "alice" {
		t.Fatalf("default profile: %+v", c)
	}
	if c := readCreds(t, filepath.Join(dir, "profiles", "bob")).Servers[s.URL()]; c == nil || c.Username != "bob" {
		t.Fatalf("profile bob: %+v", c)
	}
	if r := parley(t, vars, "", "logout", "--profile", "bob"); r.code != 0 {
		t.Fatalf("logout bob: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if c := readCreds(t, dir).Servers[s.URL()]; c == nil || c.Username != "alice" {
		t.Fatalf("bob's logout touched the default profile: %+v", c)
	}
	withEnv := map[string]string{"PARLEY_CONFIG_DIR": dir, "PARLEY_SERVER": s.URL(), "PARLEY_PROFILE": "carol"}
	if r := parley(t, withEnv, "correct horse\n", "register", "--password-stdin", "carol"); r.code != 0 {
		t.Fatalf("register carol: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if c := readCreds(t, filepath.Join(dir, "profiles", "carol")).Servers[s.URL()]; c == nil || c.Username != "carol" {
		t.Fatalf("PARLEY_PROFILE=carol: %+v", c)
	}
	if r := parley(t, vars, "", "logout", "--profile", "../x"); r.code != 2 {
		t.Errorf("a profile name with '/': exit %d, want 2 (%s)", r.code, r.stderr)
	}
}
