package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-chat/parley/client"

	"github.com/parley-chat/parley/internal/testserver"
)

// result is what a command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// parley runs a command in-process with the given environment and stdin.
func parley(t testing.TB, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(stdin),
		stdout: &out, stderr: &errb,
		getenv: func(k string) string { return vars[k] },
	}
	code := run(context.Background(), args, e)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// server starts a parleyd that pings every 200ms, for `test presence`.
func server(t *testing.T) *testserver.Server {
	t.Helper()
	return testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_PING_INTERVAL": "200ms"}})
}

func TestHelpListsCommands(t *testing.T) {
	r := parley(t, nil, "", "-h")
	for _, cmd := range []string{"register", "login", "logout", "chat", "test basic", "test group", "test presence", "--server"} {
		if !strings.Contains(r.stdout, cmd) {
			t.Errorf("parley -h lacks %q:\n%s", cmd, r.stdout)
		}
	}
	if r.code != 0 {
		t.Errorf("exit %d", r.code)
	}
	if r := parley(t, nil, "", "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, "unknown command") {
		t.Errorf("unknown command: exit %d, %s", r.code, r.stderr)
	}
	if r := parley(t, nil, "", "test", "nosuch"); r.code != 2 {
		t.Errorf("unknown test: exit %d", r.code)
	}
}

func TestScriptedChecks(t *testing.T) {
	s := server(t)
	cases := []struct {
		args  []string
		roles []string
		want  []string
	}{
		{[]string{"test", "basic"}, []string{"alice", "bob"}, []string{
			"ok   register and log in two fresh users",
			"ok   one-to-one message delivered (",
			"ok   reply delivered the other way",
			"ok   history has both messages",
			"ok   message sent while away is delivered offline, once",
			"ok   logout ends the session",
		}},
		{[]string{"test", "group"}, []string{"owner", "member", "joiner"}, []string{
			"ok   group created with a member",
			"ok   another user joins",
			"ok   message fanned out to the members",
			"ok   member leaves",
			"ok   no more messages after leaving",
		}},
		{[]string{"test", "presence", "--ping-interval", "200ms"}, []string{"alice", "watcher"}, []string{
			"ok   contact goes ONLINE",
			"ok   contact goes OFFLINE when it closes",
			"ok   contact goes OFFLINE by missed pongs",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.args[1], func(t *testing.T) {
			t.Parallel()
			r := parley(t, nil, "", append(tc.args, "--server", s.URL())...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "FAIL") || !strings.Contains(r.stdout, "PASS parley test "+tc.args[1]) {
				t.Errorf("output:\n%s", r.stdout)
			}
			// Each check is announced as it starts, before its result.
			for _, w := range tc.want {
				name := strings.TrimSuffix(strings.TrimPrefix(w, "ok   "), " (")
				run, ok := strings.Index(r.stdout, "run  "+name), strings.Index(r.stdout, w)
				if run < 0 || run > ok {
					t.Errorf("%q is not announced before its result:\n%s", name, r.stdout)
				}
			}
			// It says it deletes its accounts, and it does: each name
			// now answers that its account was deleted.
			m := regexp.MustCompile(`accounts named (pt[0-9a-f]+)_\*`).FindStringSubmatch(r.stderr)
			if m == nil || !strings.Contains(r.stderr, "deletes them when it ends") || strings.Contains(r.stderr, "could not delete") {
				t.Fatalf("stderr does not announce the deletion of the test accounts, or some were left:\n%s", r.stderr)
			}
			api := client.New(s.URL())
			for _, role := range tc.roles {
				_, err := api.Login(context.Background(), m[1]+"_"+role, "whatever password")
				var e *client.APIError
				if !errors.As(err, &e) || e.Message != "this account was deleted" {
					t.Errorf("login as %s_%s after the test: %v, want \"this account was deleted\"", m[1], role, err)
				}
			}
		})
	}
}

func TestScriptedCheckFails(t *testing.T) {
	t.Run("no server", func(t *testing.T) {
		r := parley(t, nil, "", "test", "basic", "--server", "http://127.0.0.1:1")
		if r.code != 1 || !strings.HasPrefix(r.stdout, "run  register and log in two fresh users\nFAIL register and log in two fresh users") {
			t.Fatalf("exit %d:\n%s", r.code, r.stdout)
		}
	})
	t.Run("wrong ping interval", func(t *testing.T) {
		// The server pings every 30s: a dead connection is not dropped
		// within 2.5 times the 100ms the command is told.
		s := testserver.Start(t, testserver.Options{})
		r := parley(t, nil, "", "test", "presence", "--server", s.URL(), "--ping-interval", "100ms")
		if r.code != 1 || !strings.Contains(r.stdout, "FAIL contact goes OFFLINE by missed pongs") {
			t.Fatalf("exit %d:\n%s", r.code, r.stdout)
		}
	})
}
