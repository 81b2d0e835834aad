package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-chat/parley/internal/testenv"
)

// runCmd runs a parleyd command with the given environment.
func runCmd(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := run(context.Background(), args, lookup, &out, &errb); err != nil {
		t.Fatalf("parleyd %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// TestSeedAndAdminCommands runs the seed and admin commands on each store.
func TestSeedAndAdminCommands(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testSeedAndAdmin(t, "") })
	t.Run("postgres", func(t *testing.T) { testSeedAndAdmin(t, testenv.FreshDatabase(t)) })
}

func testSeedAndAdmin(t *testing.T, postgresURL string) {
	// Seeding writes messages, so on the embedded store it runs before
	// the server, which then holds the message log.
	dir := t.TempDir()
	env := map[string]string{"PARLEY_DATA_DIR": dir, "PARLEY_BCRYPT_COST": "4"}
	if postgresURL != "" {
		env["PARLEY_POSTGRES_URL"] = postgresURL
	}

	out := runCmd(t, env, "seed", "users", "-count", "30", "-prefix", "seed")
	if !strings.Contains(out, "30 created") {
		t.Fatalf("seed users: %s", out)
	}
	if out := runCmd(t, env, "seed", "users", "-count", "30", "-prefix", "seed"); !strings.Contains(out, "0 created, 30 existed") {
		t.Fatalf("seed users again: %s", out)
	}
	if out := runCmd(t, env, "seed", "chats", "-count", "30", "-per-user", "2", "-prefix", "seed"); !strings.Contains(out, "60 created") {
		t.Fatalf("seed chats: %s", out)
	}
	if out := runCmd(t, env, "seed", "chats", "-count", "30", "-per-user", "2", "-prefix", "seed"); !strings.Contains(out, "0 created, 60 existed") {
		t.Fatalf("seed chats again: %s", out)
	}
	if out := runCmd(t, env, "seed", "groups", "-count", "5", "-size", "4", "-prefix", "seed"); !strings.Contains(out, "5 created") {
		t.Fatalf("seed groups: %s", out)
	}
	if out := runCmd(t, env, "seed", "groups", "-count", "5", "-size", "4", "-prefix", "seed"); !strings.Contains(out, "0 created, 5 existed") {
		t.Fatalf("seed groups again: %s", out)
	}
	s := startServer(t, func(c *Config) { c.DataDir, c.AdminAddr, c.PostgresURL = dir, "127.0.0.1:0", postgresURL })
	env["PARLEY_ADMIN_ADDR"] = s.Addr("admin")
	if postgresURL == "" {
		var out, errb bytes.Buffer
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		err := run(context.Background(), []string{"seed", "chats", "-count", "30", "-prefix", "seed"}, lookup, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "in use by a running parleyd") {
			t.Fatalf("seed chats while the server holds the message log: got %v, want an error saying so", err)
		}
	}

	// A seeded user logs in with the seed password and sees the seed.
	ctx := context.Background()
	tok, err := s.api.Login(ctx, "seed00001", "password")
	if err != nil {
		t.Fatalf("login as a seeded user: %v", err)
	}
	u := &user{name: "seed00001", pass: "password", tokens: tok}
	c, init, _ := s.chat(u)
	if len(init.Chats) != 4 || len(init.Groups) != 1 {
		t.Fatalf("seeded INIT_DATA: %s", init.Raw)
	}
	if postgresURL == "" {
		// A backup taken while the server runs starts a server of its own
		// that holds the same users, chats and messages.
		dest := filepath.Join(t.TempDir(), "backup")
		if out := runCmd(t, env, "backup", dest); !strings.Contains(out, "backup written") {
			t.Fatalf("backup: %s", out)
		}
		restored := startServer(t, func(c *Config) { c.DataDir = dest })
		rt, err := restored.api.Login(ctx, "seed00002", "password")
		if err != nil {
			t.Fatalf("login on the restored backup: %v", err)
		}
		_, rinit, _ := restored.chat(&user{name: "seed00002", pass: "password", tokens: rt})
		if len(rinit.Chats) != 4 || len(rinit.Groups) != 1 || rinit.Chats[0].LastSeq != 1 {
			t.Fatalf("INIT_DATA on the restored backup: %s", rinit.Raw)
		}
	}

	var st struct {
		Store struct {
			Users, Chats, Groups, Messages int
		} `json:"store"`
		Live struct {
			Users int `json:"users"`
		} `json:"live"`
	}
	if err := json.Unmarshal([]byte(runCmd(t, env, "stats")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Store.Users != 30 || st.Store.Chats != 60 || st.Store.Groups != 5 || st.Store.Messages != 60 || st.Live.Users != 1 {
		t.Fatalf("stats: %+v", st)
	}
	if out := runCmd(t, env, "users", "list", "-limit", "2"); !strings.Contains(out, "seed00001") || !strings.Contains(out, "seed00002") || strings.Contains(out, "seed00003") ||
		!strings.Contains(out, "more accounts follow: parleyd users list -after seed00002 -limit 2") {
		t.Fatalf("users list: %s", out)
	}
	if out := runCmd(t, env, "users", "list", "-after", "seed00028", "-limit", "2"); !strings.Contains(out, "seed00030") || strings.Contains(out, "more accounts") {
		t.Fatalf("users list, last page: %s", out)
	}

	// Disabling closes the user's sockets at once and refuses logins.
	if out := runCmd(t, env, "users", "disable", "seed00001"); !strings.Contains(out, "sockets were closed") {
		t.Fatalf("disable: %s", out)
	}
	if code := c.closeCode(); code != 1008 {
		t.Fatalf("close code %d, want 1008", code)
	}
	if _, err := s.api.Login(ctx, "seed00001", "password"); err == nil {
		t.Fatal("a disabled user logged in")
	}
	if _, err := s.api.Dial(ctx, "chat", tok.Token); err == nil {
		t.Fatal("a disabled user's token opened a socket")
	}
	if out := runCmd(t, env, "users", "list", "-limit", "1"); !strings.Contains(out, "disabled") {
		t.Fatalf("users list after disable: %s", out)
	}
	runCmd(t, env, "users", "enable", "seed00001")
	if _, err := s.api.Login(ctx, "seed00001", "password"); err != nil {
		t.Fatalf("login after enable: %v", err)
	}
}

func TestSessionSweep(t *testing.T) {
	// Without the admin listener, a disabled user's sockets close at the
	// next session check.
	s := startServer(t, nil)
	alice := s.newUser("alice")
	c, _, _ := s.chat(alice)
	env := map[string]string{"PARLEY_DATA_DIR": s.Config.DataDir}
	runCmd(t, env, "users", "disable", alice.name)
	s.hub.CheckSessions()
	if code := c.closeCode(); code != 1008 {
		t.Fatalf("close code %d, want 1008", code)
	}
}

// runCmdErr runs a parleyd command that is expected to fail.
func runCmdErr(t *testing.T, env map[string]string, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	err = run(context.Background(), args, lookup, &out, &errb)
	return out.String(), err
}

// TestSeedChatsDefaults: seed chats with its defaults uses the seeded
// users there are, and one asked for more users than exist writes nothing.
func TestSeedChatsDefaults(t *testing.T) {
	env := map[string]string{"PARLEY_DATA_DIR": t.TempDir(), "PARLEY_BCRYPT_COST": "4"}
	messages := func() int {
		t.Helper()
		var st struct{ Store struct{ Messages int } }
		if err := json.Unmarshal([]byte(runCmd(t, env, "stats")), &st); err != nil {
			t.Fatal(err)
		}
		return st.Store.Messages
	}

	if _, err := runCmdErr(t, env, "seed", "chats"); err == nil || !strings.Contains(err.Error(), "seed users") {
		t.Fatalf("seed chats without users: %v, want an error naming seed users", err)
	}
	runCmd(t, env, "seed", "users", "-count", "20")
	_, err := runCmdErr(t, env, "seed", "chats", "-count", "30")
	if err == nil || !strings.Contains(err.Error(), "only 20 exist") || !strings.Contains(err.Error(), "-count 30") {
		t.Fatalf("seed chats -count 30 with 20 users: %v", err)
	}
	if n := messages(); n != 0 {
		t.Fatalf("a refused seed chats wrote %d messages", n)
	}
	if out := runCmd(t, env, "seed", "chats"); !strings.Contains(out, "among 20 users: 60 created") {
		t.Fatalf("seed chats with defaults: %s", out)
	}
	if n := messages(); n != 60 {
		t.Fatalf("%d messages after seed chats, want 60", n)
	}
}

// TestCommandHelp: each command's -h shows its own usage and flags, before
// the server settings it shares, and exits 0; parleyd -h lists every
// command.
func TestCommandHelp(t *testing.T) {
	help := func(t *testing.T, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, func(string) (string, bool) { return "", false }, &out, &errb); err != nil {
			t.Fatalf("parleyd %s: %v", strings.Join(args, " "), err)
		}
		return out.String() + errb.String()
	}
	top := help(t, "-h")
	for _, c := range commands {
		if !strings.Contains(top, "  "+c.name) {
			t.Errorf("parleyd -h does not list %q:\n%s", c.name, top)
		}
	}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			out := help(t, append(strings.Fields(c.name), "-h")...)
			if !strings.HasPrefix(out, "Usage: parleyd "+c.name+" [flags]") {
				t.Fatalf("usage of %s:\n%s", c.name, out)
			}
			if strings.Contains(out, "-rate-messages-per-sec") || strings.Contains(out, "-ping-interval") {
				t.Errorf("%s -h lists server-only flags:\n%s", c.name, out)
			}
			settings := strings.Index(out, "-data-dir")
			if settings < 0 {
				t.Errorf("%s -h does not show -data-dir:\n%s", c.name, out)
			}
			if c.flags != nil {
				fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
				c.flags(fs)
				var first string
				fs.VisitAll(func(f *flag.Flag) {
					if first == "" {
						first = f.Name
					}
				})
				if own := strings.Index(out, "\n  -"+first); own < 0 || own > settings {
					t.Errorf("%s -h: its own flags do not come first:\n%s", c.name, out)
				}
			}
		})
	}
}
