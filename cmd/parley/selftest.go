package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parley-chat/parley/client"
)

// errFailed: a scripted test had a failing check (exit status 1; the
// checks have been printed).
var errFailed = errors.New("a check failed")

// cmdTest runs `parley test basic|group|presence`.
func cmdTest(ctx context.Context, args []string, e *env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stderr, "Usage: parley test basic|group|presence [--server URL] [--timeout D] [--ping-interval D]\n")
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	scenarios := map[string]func(*suite) error{
		"basic":    testBasic,
		"group":    testGroup,
		"presence": testPresence,
	}
	name := args[0]
	fn, ok := scenarios[name]
	if !ok {
		fmt.Fprintf(e.stderr, "parley test: unknown test %q (basic, group, presence)\n", name)
		return errUsage
	}
	fs, cf := newFlags("test "+name, "", e)
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for each reply or delivery")
	var ping *time.Duration
	if name == "presence" {
		ping = fs.Duration("ping-interval", 30*time.Second, "the server's ping interval (PARLEY_PING_INTERVAL): a dead connection is dropped within two")
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected %q", errUsage, pos[0])
	}
	s := &suite{ctx: ctx, api: client.New(cf.server), out: e.stdout, timeout: *timeout, tag: randomHex(4)}
	if ping != nil {
		s.pingInterval = *ping
	}
	// The test users are deleted at the end (DELETE /auth/account); say
	// so before making any, and name any that could not be.
	fmt.Fprintf(e.stderr, "NOTE: parley test registers accounts named pt%s_* on %s and deletes them when it ends\n"+
		"      (their names stay reserved, as every deleted account's); run it against a local or test server, not production.\n", s.tag, cf.server)
	defer func() {
		if left := s.cleanup(); len(left) > 0 {
			fmt.Fprintf(e.stderr, "NOTE: could not delete on %s: %s (an operator can: parleyd users delete NAME)\n",
				cf.server, strings.Join(left, "; "))
		}
	}()
	if err := fn(s); err != nil || s.failed {
		fmt.Fprintf(e.stdout, "FAIL parley test %s against %s\n", name, cf.server)
		return errFailed
	}
	fmt.Fprintf(e.stdout, "PASS parley test %s against %s\n", name, cf.server)
	return nil
}

// suite runs the checks of a scripted test and prints each.
type suite struct {
	ctx          context.Context
	api          *client.Client
	out          io.Writer
	timeout      time.Duration
	pingInterval time.Duration
	tag          string // makes the users' names fresh
	users        []*tester
	failed       bool
}

// tester is a user of the test.
type tester struct {
	name, password string
	tokens         *client.Tokens
	conn           *client.Conn
}

// errStop ends a scenario after a failed check: later checks build on it.
var errStop = errors.New("stopped after a failed check")

// check runs one check: it prints "run  NAME" as it starts (some wait for
// several ping intervals), then "ok   NAME (N ms)" or "FAIL NAME (N ms): why".
func (s *suite) check(name string, fn func() error) error {
	fmt.Fprintf(s.out, "run  %s\n", name)
	start := time.Now()
	err := fn()
	ms := time.Since(start).Milliseconds()
	if err != nil {
		s.failed = true
		fmt.Fprintf(s.out, "FAIL %s (%d ms): %v\n", name, ms, err)
		return errStop
	}
	fmt.Fprintf(s.out, "ok   %s (%d ms)\n", name, ms)
	return nil
}

// newUsers registers and logs in n fresh users named after the test.
func (s *suite) newUsers(role ...string) ([]*tester, error) {
	var out []*tester
	for _, r := range role {
		u := &tester{name: "pt" + s.tag + "_" + r, password: randomHex(12)}
		if err := s.api.Register(s.ctx, u.name, u.password); err != nil {
			return nil, fmt.Errorf("registering %s: %w", u.name, err)
		}
		t, err := s.api.Login(s.ctx, u.name, u.password)
		if err != nil {
			return nil, fmt.Errorf("logging in %s: %w", u.name, err)
		}
		u.tokens = t
		s.users = append(s.users, u)
		out = append(out, u)
	}
	return out, nil
}

// dial opens an endpoint ("chat" or "presence") for u.
func (s *suite) dial(u *tester, endpoint string, opts *client.DialOptions) (*client.Conn, error) {
	url, err := s.api.WebSocketURL(endpoint)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	c, resp, err := client.Dial(ctx, url, u.tokens.Token, opts)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("opening %s for %s: %w (HTTP %d)", endpoint, u.name, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("opening %s for %s: %w", endpoint, u.name, err)
	}
	return c, nil
}

// connect opens u's chat connection and waits for INIT_DATA.
func (s *suite) connect(u *tester) (client.Frame, error) {
	if u.conn != nil {
		u.conn.Close()
	}
	c, err := s.dial(u, "chat", nil)
	if err != nil {
		return client.Frame{}, err
	}
	u.conn = c
	f, err := s.expect(c, "INIT_DATA", nil)
	if err == nil && f.Username != u.name {
		err = fmt.Errorf("INIT_DATA for %q, want %q", f.Username, u.name)
	}
	return f, err
}

// expect reads c's frames until one of type typ for which match (if
// given) is true. Other frames are skipped; an ERROR, or the end of the
// connection, fails.
func (s *suite) expect(c *client.Conn, typ string, match func(client.Frame) bool) (client.Frame, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	for {
		f, err := c.Next(ctx)
		switch {
		case errors.Is(err, client.ErrClosed):
			return f, fmt.Errorf("connection closed (code %d) while waiting for %s", c.CloseCode(), typ)
		case err != nil:
			return f, fmt.Errorf("no %s within %v", typ, s.timeout)
		case f.Type == typ && (match == nil || match(f)):
			return f, nil
		case f.Type == "ERROR" && typ != "ERROR":
			return f, fmt.Errorf("waiting for %s, got %s", typ, f.Raw)
		}
	}
}

// reply sends frame (with a fresh id) and waits for the answer of type typ.
func (s *suite) reply(c *client.Conn, typ string, frame map[string]any) (client.Frame, error) {
	id := randomHex(8)
	frame["id"] = id
	if err := c.Send(frame); err != nil {
		return client.Frame{}, err
	}
	return s.expect(c, typ, func(f client.Frame) bool { return f.ID == id })
}

// quiet fails if c receives a frame matched by bad within d.
func (s *suite) quiet(c *client.Conn, d time.Duration, bad func(client.Frame) bool) error {
	ctx, cancel := context.WithTimeout(s.ctx, d)
	defer cancel()
	for {
		f, err := c.Next(ctx)
		if err != nil {
			if errors.Is(err, client.ErrClosed) {
				return fmt.Errorf("connection closed (code %d)", c.CloseCode())
			}
			return nil
		}
		if bad(f) {
			return fmt.Errorf("unexpected %s", f.Raw)
		}
	}
}

// cleanup closes the connections of the test users and deletes their
// accounts, logging in afresh (a test may have logged a user out). It
// returns, for each account it could not delete, its name and why.
func (s *suite) cleanup() (left []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, u := range s.users {
		if u.conn != nil {
			u.conn.Close()
		}
		t, err := s.api.Login(ctx, u.name, u.password)
		if err == nil {
			err = s.api.DeleteAccount(ctx, t.Token, u.password)
		}
		if err != nil {
			left = append(left, fmt.Sprintf("%s (%v)", u.name, err))
		}
	}
	return left
}

// after fires when a wait has lasted the timeout.
func (s *suite) after() <-chan time.Time { return time.After(s.timeout) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
