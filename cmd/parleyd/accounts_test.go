package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testenv"
)

// skipTo skips frames until one of type typ for which ok (if given) holds.
func (c *conn) skipTo(typ string, ok func(client.Frame) bool) client.Frame {
	c.t.Helper()
	for {
		f := c.next()
		if f.Type == typ && (ok == nil || ok(f)) {
			return f
		}
	}
}

// cmdEnvOf is the environment a command needs to reach s's store and, if
// it has one, its admin listener.
func cmdEnvOf(s *testServer, postgresURL string) map[string]string {
	env := map[string]string{"PARLEY_DATA_DIR": s.Config.DataDir, "PARLEY_BCRYPT_COST": "4"}
	if a := s.Addr("admin"); a != "" {
		env["PARLEY_ADMIN_ADDR"] = a
	}
	if postgresURL != "" {
		env["PARLEY_POSTGRES_URL"] = postgresURL
	}
	return env
}

// history reads a whole one-to-one chat (up to 200 messages) as u.
func history(t *testing.T, c *conn, with string) []client.Frame {
	t.Helper()
	c.send(obj{"type": "GET_ONE_TO_ONE_HISTORY", "id": "h-" + with, "to": with, "limit": 200})
	return c.skipTo("ONE_TO_ONE_CHAT_HISTORY", nil).Messages
}

func groupHistory(t *testing.T, c *conn, gid string) []client.Frame {
	t.Helper()
	c.send(obj{"type": "GET_GROUP_CHAT_HISTORY", "id": "h-" + gid, "groupId": gid, "limit": 200})
	return c.skipTo("GROUP_CHAT_HISTORY", nil).Messages
}

// checkGapless fails unless msgs have seqs 1..len(msgs).
func checkGapless(t *testing.T, what string, msgs []client.Frame) {
	t.Helper()
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("%s: message %d has seq %d, want %d (gapless): %s", what, i, m.Seq, i+1, m.Raw)
		}
	}
}

// TestDeleteAccount runs parleyd users delete, with and without
// -erase-messages, through the admin listener of a running server, on
// the embedded stores and on PostgreSQL.
func TestDeleteAccount(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testDeleteAccount(t, "") })
	t.Run("postgres", func(t *testing.T) { testDeleteAccount(t, testenv.FreshDatabase(t)) })
}

func testDeleteAccount(t *testing.T, postgresURL string) {
	ctx := context.Background()
	s := startServer(t, func(c *Config) {
		c.AdminAddr = "127.0.0.1:0"
		c.PostgresURL = postgresURL
	})
	env := cmdEnvOf(s, postgresURL)
	alice, bob, carol, dave := s.newUser("alice"), s.newUser("bob"), s.newUser("carol"), s.newUser("dave")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	cc, _, _ := s.chat(carol)

	// alice and dave each have a chat with bob and a group with bob and
	// carol, which they own.
	converse := func(c *conn, who *user) string {
		t.Helper()
		for i, text := range []string{"one", "two"} {
			c.send(obj{"type": "ONE_TO_ONE_CHAT", "id": who.name + text, "to": bob.name, "content": who.name + " says " + text})
			if ok := c.skipTo("SUCCESS", nil); ok.Seq != int64(2*i+1) {
				t.Fatalf("seq %d", ok.Seq)
			}
			cb.skipTo("ONE_TO_ONE_CHAT", nil)
			cb.send(obj{"type": "ONE_TO_ONE_CHAT", "id": who.name + "r" + text, "to": who.name, "content": "bob answers " + text})
			cb.skipTo("SUCCESS", nil)
			c.skipTo("ONE_TO_ONE_CHAT", nil)
		}
		c.send(obj{"type": "CREATE_GROUP", "id": "g", "name": who.name + "'s group", "members": []string{bob.name, carol.name}})
		gid := c.skipTo("SUCCESS", nil).GroupID
		c.send(obj{"type": "GROUP_CHAT", "id": "g1", "groupId": gid, "content": who.name + " in the group"})
		c.skipTo("SUCCESS", nil)
		cb.skipTo("GROUP_CHAT", nil)
		cc.skipTo("GROUP_CHAT", nil)
		cb.send(obj{"type": "GROUP_CHAT", "id": "g2" + gid, "groupId": gid, "content": "bob in the group"})
		cb.skipTo("SUCCESS", nil)
		cc.skipTo("GROUP_CHAT", nil)
		c.skipTo("GROUP_CHAT", nil)
		return gid
	}
	gAlice := converse(ca, alice)
	cd, _, _ := s.chat(dave)
	gDave := converse(cd, dave)

	t.Run("bad input changes nothing", func(t *testing.T) {
		if _, err := runCmdErr(t, env, "users", "delete", "nosuch"); err == nil || !strings.Contains(err.Error(), `no user "nosuch"`) {
			t.Fatalf("deleting an unknown user: %v", err)
		}
		if _, err := runCmdErr(t, env, "users", "delete"); err == nil || !strings.Contains(err.Error(), "exactly one username") {
			t.Fatalf("no name: %v", err)
		}
		if _, err := s.api.Login(ctx, alice.name, alice.pass); err != nil {
			t.Fatalf("alice after the refused deletions: %v", err)
		}
	})

	t.Run("keep messages", func(t *testing.T) {
		out := runCmd(t, env, "users", "delete", alice.name)
		if !strings.Contains(out, alice.name+" deleted: 2 sessions ended, 1 groups left") {
			t.Fatalf("users delete: %q", out)
		}
		if code := ca.closeCode(); code != 1008 {
			t.Fatalf("alice's socket: close code %d, want 1008", code)
		}
		// The group's members are told as by a LEAVE_GROUP; bob, the
		// longest-standing member, owns it now.
		for _, c := range []*conn{cb, cc} {
			f := c.skipTo("GROUP_MEMBER_LEFT", nil)
			if f.GroupID != gAlice || f.Username != alice.name || f.By != alice.name || f.Owner != bob.name {
				t.Fatalf("%s got %s", c.name, f.Raw)
			}
		}
		// The name stays reserved.
		var e *client.APIError
		if err := s.api.Register(ctx, alice.name, "another password"); !errors.As(err, &e) || e.Status != 409 || !strings.Contains(e.Message, "deleted account") {
			t.Fatalf("registering the deleted name: %v", err)
		}
		if _, err := s.api.Login(ctx, alice.name, alice.pass); !errors.As(err, &e) || e.Status != 401 || e.Message != "this account was deleted" {
			t.Fatalf("logging in as the deleted user: %v", err)
		}
		if _, err := s.api.Dial(ctx, "chat", alice.tokens.Token); err == nil {
			t.Fatal("the deleted user's token opened a socket")
		}
		// bob still has the chat, and its messages as they were.
		msgs := history(t, cb, alice.name)
		checkGapless(t, "bob's history with alice", msgs)
		if len(msgs) != 4 || msgs[0].From != alice.name || msgs[0].Content != alice.name+" says one" || msgs[0].Erased || msgs[1].Content != "bob answers one" {
			t.Fatalf("bob's history with alice: %+v", msgs)
		}
		cb2, init, _ := s.chat(bob)
		listed := false
		for _, c := range init.Chats {
			listed = listed || c.With == alice.name
		}
		if !listed {
			t.Fatalf("bob's INIT_DATA lost the chat with alice: %s", init.Raw)
		}
		cb2.Close()
		if gm := groupHistory(t, cb, gAlice); len(gm) != 2 || gm[0].Content != alice.name+" in the group" {
			t.Fatalf("the group's history: %+v", gm)
		}
		// Nobody can write to the deleted account.
		cb.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "to-deleted", "to": alice.name, "content": "are you there?"})
		if f := cb.skipTo("ERROR", nil); f.Code != "not_found" {
			t.Fatalf("a message to the deleted user: %s", f.Raw)
		}
		cb.send(obj{"type": "ADD_GROUP_MEMBER", "id": "add-deleted", "groupId": gAlice, "username": alice.name})
		if f := cb.skipTo("ERROR", nil); f.Code != "not_found" {
			t.Fatalf("adding the deleted user: %s", f.Raw)
		}
		// Twice is an error, and changes nothing.
		if _, err := runCmdErr(t, env, "users", "delete", alice.name); err == nil || !strings.Contains(err.Error(), "deleted already") {
			t.Fatalf("deleting twice: %v", err)
		}
		if again := history(t, cb, alice.name); len(again) != 4 || again[0].Content != msgs[0].Content {
			t.Fatalf("history after the second deletion: %+v", again)
		}
		if out := runCmd(t, env, "users", "list"); !strings.Contains(out, alice.name) || !strings.Contains(out, "deleted") {
			t.Fatalf("users list: %s", out)
		}
	})

	t.Run("erase messages", func(t *testing.T) {
		out := runCmd(t, env, "users", "delete", "-erase-messages", dave.name)
		if !strings.Contains(out, dave.name+" deleted:") || !strings.Contains(out, "3 messages erased") {
			t.Fatalf("users delete -erase-messages: %q", out)
		}
		if code := cd.closeCode(); code != 1008 {
			t.Fatalf("dave's socket: close code %d, want 1008", code)
		}
		cb.skipTo("GROUP_MEMBER_LEFT", func(f client.Frame) bool { return f.GroupID == gDave })
		msgs := history(t, cb, dave.name)
		checkGapless(t, "bob's history with dave", msgs)
		if len(msgs) != 4 {
			t.Fatalf("bob's history with dave: %+v", msgs)
		}
		for _, m := range msgs {
			switch {
			case m.From == dave.name && (!m.Erased || m.Content != "" || m.MessageID == "" || m.Timestamp == ""):
				t.Errorf("dave's message not erased, or erased of more than its content: %s", m.Raw)
			case m.From == bob.name && (m.Erased || !strings.HasPrefix(m.Content, "bob answers")):
				t.Errorf("bob's message changed: %s", m.Raw)
			}
		}
		gm := groupHistory(t, cb, gDave)
		checkGapless(t, "dave's group", gm)
		if len(gm) != 2 || !gm[0].Erased || gm[0].From != dave.name || gm[1].Content != "bob in the group" {
			t.Fatalf("dave's group's history: %+v", gm)
		}
		// alice's messages, kept by her deletion, are untouched.
		if am := history(t, cb, alice.name); am[0].Content != alice.name+" says one" {
			t.Fatalf("alice's messages changed: %+v", am)
		}
		if out := runCmd(t, env, "users", "list"); !strings.Contains(out, dave.name) {
			t.Fatalf("users list: %s", out)
		}
	})
}

// TestDeleteWithoutAdminListener: with no admin address, users delete
// works on the store (the sockets close at the next session check); an
// erase needs the embedded message log, which the running server holds,
// and is refused before anything changes.
func TestDeleteWithoutAdminListener(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, nil)
	env := cmdEnvOf(s, "")
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "x", "to": bob.name, "content": "kept"})
	ca.skipTo("SUCCESS", nil)

	_, err := runCmdErr(t, env, "users", "delete", "-erase-messages", alice.name)
	if err == nil || !strings.Contains(err.Error(), "in use by a running parleyd") || !strings.Contains(err.Error(), "-admin-addr") {
		t.Fatalf("erase while the server holds the log: %v", err)
	}
	if _, err := s.api.Login(ctx, alice.name, alice.pass); err != nil {
		t.Fatalf("the refused erase changed the account: %v", err)
	}
	out := runCmd(t, env, "users", "delete", alice.name)
	if !strings.Contains(out, alice.name+" deleted") || !strings.Contains(out, "next session check") {
		t.Fatalf("users delete: %q", out)
	}
	s.hub.CheckSessions()
	if code := ca.closeCode(); code != 1008 {
		t.Fatalf("close code %d, want 1008", code)
	}
	cb, _, _ := s.chat(bob)
	if msgs := history(t, cb, alice.name); len(msgs) != 1 || msgs[0].Content != "kept" {
		t.Fatalf("bob's history: %+v", msgs)
	}
}

// TestDeleteOwnAccount: DELETE /auth/account, with the token and the
// password; a wrong password changes nothing and counts toward the
// login lock-out.
func TestDeleteOwnAccount(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, nil)
	alice, bob := s.newUser("alice"), s.newUser("bob")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	ca.send(obj{"type": "CREATE_GROUP", "id": "g", "name": "team", "members": []string{bob.name}})
	gid := ca.skipTo("SUCCESS", nil).GroupID
	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "m", "to": bob.name, "content": "before I go"})
	ca.skipTo("SUCCESS", nil)

	var e *client.APIError
	if err := s.api.DeleteAccount(ctx, "", alice.pass); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("without a token: %v", err)
	}
	if err := s.api.DeleteAccount(ctx, alice.tokens.Token, ""); !errors.As(err, &e) || e.Status != 400 || e.Code != "invalid" {
		t.Fatalf("without a password: %v", err)
	}
	if err := s.api.DeleteAccount(ctx, alice.tokens.Token, "wrong password"); !errors.As(err, &e) || e.Status != 401 || e.Message != "wrong password" {
		t.Fatalf("with a wrong password: %v", err)
	}
	if err := s.api.DeleteAccount(ctx, bob.tokens.Token, alice.pass); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("bob's token with alice's password: %v", err)
	}
	// Nothing changed: alice's socket is open, her token works.
	ca.send(obj{"type": "PING", "id": "p"})
	ca.skipTo("PONG", nil)
	if _, err := s.api.Login(ctx, alice.name, alice.pass); err != nil {
		t.Fatalf("alice after the refused deletions: %v", err)
	}

	if err := s.api.DeleteAccount(ctx, alice.tokens.Token, alice.pass); err != nil {
		t.Fatalf("deleting her own account: %v", err)
	}
	if code := ca.closeCode(); code != 1008 {
		t.Fatalf("close code %d, want 1008", code)
	}
	if f := cb.skipTo("GROUP_MEMBER_LEFT", nil); f.GroupID != gid || f.Username != alice.name || f.Owner != bob.name {
		t.Fatalf("bob got %s", f.Raw)
	}
	if err := s.api.DeleteAccount(ctx, alice.tokens.Token, alice.pass); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("deleting again with the old token: %v", err)
	}
	if _, err := s.api.Login(ctx, alice.name, alice.pass); !errors.As(err, &e) || e.Message != "this account was deleted" {
		t.Fatalf("login after deletion: %v", err)
	}
	if msgs := history(t, cb, alice.name); len(msgs) != 1 || msgs[0].Content != "before I go" {
		t.Fatalf("bob's history: %+v", msgs)
	}

}

// TestDeleteOwnAccountLockout: wrong passwords given to DELETE
// /auth/account count as failed logins: past PARLEY_LOGIN_MAX_FAILURES,
// even the right one is refused with 429, and the account stays.
func TestDeleteOwnAccountLockout(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, func(c *Config) { c.LoginMaxFailures = 3 })
	carol := s.newUser("carol")
	var e *client.APIError
	for range 3 {
		if err := s.api.DeleteAccount(ctx, carol.tokens.Token, "wrong password"); !errors.As(err, &e) || e.Status != 401 {
			t.Fatalf("a wrong password: %v", err)
		}
	}
	if err := s.api.DeleteAccount(ctx, carol.tokens.Token, carol.pass); !errors.As(err, &e) || e.Status != http.StatusTooManyRequests {
		t.Fatalf("after 3 wrong passwords: %v, want 429", err)
	}
	if deleted, err := s.User(carol.name); err != nil || deleted {
		t.Fatalf("carol: deleted %v, %v", deleted, err)
	}
}

// User reads an account from the server's store.
func (s *testServer) User(name string) (bool, error) {
	u, err := s.store.User(context.Background(), name)
	if err != nil {
		return false, err
	}
	return u.Deleted(), nil
}

// exportDoc is the part of an export document the tests read.
type exportDoc struct {
	Format  string `json:"format"`
	Account struct {
		Username  string  `json:"username"`
		CreatedAt string  `json:"createdAt"`
		Disabled  bool    `json:"disabled"`
		DeletedAt *string `json:"deletedAt"`
	} `json:"account"`
	Sessions []struct {
		Active bool `json:"active"`
	} `json:"sessions"`
	Groups []struct {
		GroupID  string   `json:"groupId"`
		Name     string   `json:"name"`
		Owner    string   `json:"owner"`
		JoinedAt string   `json:"joinedAt"`
		Members  []string `json:"members"`
	} `json:"groups"`
	Conversations []struct {
		ChatID   string         `json:"chatId"`
		With     string         `json:"with"`
		GroupID  string         `json:"groupId"`
		Messages []client.Frame `json:"messages"`
	} `json:"conversations"`
}

// TestExportAccount: users export writes the account, its sessions,
// groups and conversations with the messages the user sent or received,
// and nothing secret, nor anyone else's conversations; through the admin
// listener on the embedded stores, and on PostgreSQL directly.
func TestExportAccount(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testExport(t, "") })
	t.Run("postgres", func(t *testing.T) { testExport(t, testenv.FreshDatabase(t)) })
}

func testExport(t *testing.T, postgresURL string) {
	s := startServer(t, func(c *Config) {
		c.PostgresURL = postgresURL
		if postgresURL == "" {
			c.AdminAddr = "127.0.0.1:0"
		}
	})
	env := cmdEnvOf(s, postgresURL)
	alice, bob, carol := s.newUser("alice"), s.newUser("bob"), s.newUser("carol")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	cc, _, _ := s.chat(carol)
	// Enough messages for several pages of history.
	const n = 450
	for i := range n {
		from, to := ca, bob.name
		if i%3 == 2 {
			from, to = cb, alice.name
		}
		from.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "m" + itoa(i), "to": to, "content": "message " + itoa(i)})
		from.skipTo("SUCCESS", nil)
	}
	// bob and carol's chat is not alice's.
	cb.send(obj{"type": "ONE_TO_ONE_CHAT", "id": "bc", "to": carol.name, "content": "private to carol"})
	cb.skipTo("SUCCESS", nil)
	// A group alice joins after its first message, and one she is not in.
	cb.send(obj{"type": "CREATE_GROUP", "id": "g", "name": "team", "members": []string{carol.name}})
	team := cb.skipTo("SUCCESS", nil).GroupID
	cb.send(obj{"type": "GROUP_CHAT", "id": "t1", "groupId": team, "content": "before alice"})
	cb.skipTo("SUCCESS", nil)
	cc.send(obj{"type": "CREATE_GROUP", "id": "g", "name": "secret", "members": []string{bob.name}})
	secret := cc.skipTo("SUCCESS", nil).GroupID
	cc.send(obj{"type": "GROUP_CHAT", "id": "s1", "groupId": secret, "content": "not for alice"})
	cc.skipTo("SUCCESS", nil)
	// Timestamps are in milliseconds: alice joins strictly after.
	time.Sleep(20 * ms)
	cb.send(obj{"type": "ADD_GROUP_MEMBER", "id": "add", "groupId": team, "username": alice.name})
	cb.skipTo("SUCCESS", nil)
	ca.send(obj{"type": "GROUP_CHAT", "id": "t2", "groupId": team, "content": "alice here"})
	ca.skipTo("SUCCESS", nil)
	cb.send(obj{"type": "GROUP_CHAT", "id": "t3", "groupId": team, "content": "welcome"})
	cb.skipTo("SUCCESS", nil)

	if _, err := runCmdErr(t, env, "users", "export", "nosuch"); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Fatalf("export of an unknown user: %v", err)
	}
	file := filepath.Join(t.TempDir(), "alice.json")
	runCmd(t, env, "users", "export", alice.name, "-o", file)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", fi.Mode().Perm())
	}
	var doc exportDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("the export is not one JSON document: %v\n%s", err, raw[:min(len(raw), 2000)])
	}
	for _, secret := range []string{alice.tokens.Token, alice.tokens.RefreshToken, alice.pass, "password_hash", "passwordHash", "$2a$", "refreshToken", "not for alice", "private to carol", "before alice"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the export holds %q", secret)
		}
	}
	if doc.Format != "parley-account-export/1" || doc.Account.Username != alice.name || doc.Account.CreatedAt == "" || doc.Account.Disabled || doc.Account.DeletedAt != nil {
		t.Errorf("account: %+v", doc.Account)
	}
	if len(doc.Sessions) != 1 || !doc.Sessions[0].Active {
		t.Errorf("sessions: %+v", doc.Sessions)
	}
	if len(doc.Groups) != 1 || doc.Groups[0].GroupID != team || doc.Groups[0].Name != "team" || doc.Groups[0].Owner != bob.name ||
		doc.Groups[0].JoinedAt == "" || strings.Join(doc.Groups[0].Members, ",") != bob.name+","+carol.name+","+alice.name {
		t.Errorf("groups: %+v", doc.Groups)
	}
	if len(doc.Conversations) != 2 {
		t.Fatalf("%d conversations, want the chat with bob and the group", len(doc.Conversations))
	}
	chat, grp := doc.Conversations[0], doc.Conversations[1]
	if chat.With != bob.name || len(chat.Messages) != n {
		t.Fatalf("chat with %q: %d messages, want %d", chat.With, len(chat.Messages), n)
	}
	for i, m := range chat.Messages {
		if m.Seq != int64(i+1) || m.Content != "message "+itoa(i) {
			t.Fatalf("chat message %d: %s", i, m.Raw)
		}
	}
	if grp.GroupID != team || len(grp.Messages) != 2 || grp.Messages[0].Content != "alice here" || grp.Messages[1].Content != "welcome" {
		t.Fatalf("group: %+v", grp)
	}
}
