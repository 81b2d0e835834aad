package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/hub"
	"github.com/parley-chat/parley/protocol"
)

var deleteOpts struct{ erase bool }

var exportOpts struct{ out string }

func deleteFlags(fs *flag.FlagSet) {
	fs.BoolVar(&deleteOpts.erase, "erase-messages", false, "also erase the content of every message the account sent (they stay as empty entries, so seq keeps no gaps)")
}

func exportFlags(fs *flag.FlagSet) {
	fs.StringVar(&exportOpts.out, "o", "", "write the document to this file (created with mode 0600) instead of standard output")
}

// deletion is the JSON form of a parley.Deletion, as the admin API
// answers it.
type deletion struct {
	Username string   `json:"username"`
	Sessions int      `json:"sessions"`
	Groups   []string `json:"groupsLeft"`
	Erased   int64    `json:"erasedMessages"`
}

func deletionOf(d *parley.Deletion) deletion {
	out := deletion{Username: d.Username, Sessions: d.Sessions, Groups: []string{}, Erased: d.Erased}
	for _, g := range d.Left {
		out.Groups = append(out.Groups, g.GroupID)
	}
	return out
}

// usersDelete deletes an account: through the running server when there
// is an admin address (its sockets close at once and its groups are told),
// else on the store.
func usersDelete(ctx context.Context, env *cmdEnv, args []string) error {
	name, err := oneName(args)
	if err != nil {
		return err
	}
	var d deletion
	if env.cfg.AdminAddr != "" {
		body := map[string]any{"username": name, "eraseMessages": deleteOpts.erase}
		if err := adminPostOut(ctx, env.cfg, "/admin/delete-user", body, &d); err != nil {
			return fmt.Errorf("deleting %s through the server at %s: %w", name, env.cfg.AdminAddr, err)
		}
	} else {
		dd, err := parley.DeleteAccount(ctx, env.store, name, deleteOpts.erase, time.Now())
		if errBusy(err) {
			return fmt.Errorf("%w (give its -admin-addr to delete through it)", err)
		}
		if err != nil {
			return err
		}
		d = deletionOf(dd)
	}
	fmt.Fprintf(env.stdout, "%s deleted: %d sessions ended, %d groups left", d.Username, d.Sessions, len(d.Groups))
	if deleteOpts.erase {
		fmt.Fprintf(env.stdout, ", %d messages erased", d.Erased)
	}
	fmt.Fprintln(env.stdout)
	if env.cfg.AdminAddr == "" {
		fmt.Fprintln(env.stdout, "no -admin-addr given: running servers close the user's sockets at their next session check (within 30 s), and the groups' members see the change when they next connect")
	}
	return nil
}

// usersExport writes one account's data as one JSON document: through the
// running server when there is an admin address (an embedded message log
// can be read only by the process that holds it), else from the store.
func usersExport(ctx context.Context, env *cmdEnv, args []string) error {
	name, err := oneName(args)
	if err != nil {
		return err
	}
	w, finish := env.stdout, func() error { return nil }
	if exportOpts.out != "" {
		f, err := os.OpenFile(exportOpts.out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		bw := bufio.NewWriter(f)
		w = bw
		finish = func() error {
			if err := bw.Flush(); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
	}
	if env.cfg.AdminAddr != "" {
		err = adminStream(ctx, env.cfg, "/admin/export?username="+url.QueryEscape(name), w)
	} else {
		err = exportAccount(ctx, env.store, name, w, time.Now())
		if errBusy(err) {
			err = fmt.Errorf("%w (give its -admin-addr to export through it)", err)
		}
	}
	if err2 := finish(); err == nil {
		err = err2
	}
	if err != nil && exportOpts.out != "" {
		os.Remove(exportOpts.out) // never leave half a document
	}
	if err == nil && exportOpts.out != "" {
		fmt.Fprintf(os.Stderr, "export of %s written to %s\n", name, exportOpts.out)
	}
	return err
}

// The export document. Times are protocol timestamps; nothing secret (no
// password hash, token or session id) is in it.
type (
	exportAccountJSON struct {
		Username  string  `json:"username"`
		CreatedAt string  `json:"createdAt"`
		Disabled  bool    `json:"disabled"`
		LastSeen  *string `json:"lastSeen"`
		DeletedAt *string `json:"deletedAt,omitempty"`
	}
	exportSession struct {
		CreatedAt string  `json:"createdAt"`
		ExpiresAt string  `json:"expiresAt"`
		RevokedAt *string `json:"revokedAt"`
		Active    bool    `json:"active"`
	}
	exportGroup struct {
		GroupID   string   `json:"groupId"`
		Name      string   `json:"name"`
		Owner     string   `json:"owner"`
		Private   bool     `json:"private"`
		CreatedAt string   `json:"createdAt"`
		JoinedAt  string   `json:"joinedAt"`
		Members   []string `json:"members"`
	}
	exportConv struct {
		ChatID  string `json:"chatId,omitempty"`
		With    string `json:"with,omitempty"`
		GroupID string `json:"groupId,omitempty"`
		Name    string `json:"name,omitempty"`
		// LastSeq is the conversation's last seq at the time of export.
		LastSeq int64 `json:"lastSeq"`
	}
)

func timeOrNil(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := parley.FormatTime(t)
	return &s
}

// exportAccount writes username's data to w. Messages are read a page of
// history at a time and written as they come, so a long history is never
// held in memory. A group's messages are those from the user's current
// membership on (what they received), and their own.
func exportAccount(ctx context.Context, store parley.Store, username string, w io.Writer, now time.Time) error {
	u, err := store.User(ctx, username)
	if err != nil {
		return err
	}
	sessions, err := store.UserSessions(ctx, username)
	if err != nil {
		return err
	}
	in, err := store.Inbox(ctx, username)
	if err != nil {
		return err
	}
	acct := exportAccountJSON{Username: u.Username, CreatedAt: parley.FormatTime(u.CreatedAt), Disabled: u.Disabled,
		LastSeen: timeOrNil(u.LastSeen), DeletedAt: timeOrNil(u.DeletedAt)}
	ss := []exportSession{}
	for _, s := range sessions {
		ss = append(ss, exportSession{CreatedAt: parley.FormatTime(s.CreatedAt), ExpiresAt: parley.FormatTime(s.ExpiresAt),
			RevokedAt: timeOrNil(s.RevokedAt), Active: s.Active(now)})
	}
	groups := []exportGroup{}
	joined := map[string]time.Time{}
	for _, gs := range in.Groups {
		g, err := store.Group(ctx, gs.GroupID)
		if err != nil {
			return err
		}
		members, err := store.Members(ctx, gs.GroupID)
		if err != nil {
			return err
		}
		eg := exportGroup{GroupID: g.ID, Name: g.Name, Owner: g.Owner, Private: g.Private, CreatedAt: parley.FormatTime(g.CreatedAt), Members: []string{}}
		for _, m := range members {
			eg.Members = append(eg.Members, m.Username)
			if m.Username == username {
				eg.JoinedAt, joined[g.ID] = parley.FormatTime(m.JoinedAt), m.JoinedAt
			}
		}
		groups = append(groups, eg)
	}
	head := func(key string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "  %q: %s,\n", key, b)
		return err
	}
	if _, err := fmt.Fprintf(w, "{\n  \"format\": \"parley-account-export/1\",\n  \"exportedAt\": %q,\n", parley.FormatTime(now)); err != nil {
		return err
	}
	for _, kv := range []struct {
		k string
		v any
	}{{"account", acct}, {"sessions", ss}, {"groups", groups}} {
		if err := head(kv.k, kv.v); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(w, "  \"conversations\": ["); err != nil {
		return err
	}
	first := true
	conv := func(c exportConv, id string, keep func(*parley.Message) bool) error {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		sep := ","
		if first {
			sep, first = "", false
		}
		// The conversation's fields, then its messages.
		if _, err := fmt.Fprintf(w, "%s\n    %s, \"messages\": [", sep, b[:len(b)-1]); err != nil {
			return err
		}
		n, after := 0, int64(0)
		for {
			page, more, err := store.History(ctx, id, parley.Page{Forward: true, After: after, Limit: parley.MaxPageSize})
			if err != nil {
				return err
			}
			for i := range page {
				after = page[i].Seq
				if !keep(&page[i]) {
					continue
				}
				mb, err := json.Marshal(protocol.FromMessage(&page[i]))
				if err != nil {
					return err
				}
				sep := ","
				if n == 0 {
					sep = ""
				}
				if _, err := fmt.Fprintf(w, "%s\n      %s", sep, mb); err != nil {
					return err
				}
				n++
			}
			if !more || len(page) == 0 {
				break
			}
		}
		end := "]}"
		if n > 0 {
			end = "\n    ]}"
		}
		_, err = io.WriteString(w, end)
		return err
	}
	all := func(*parley.Message) bool { return true }
	for _, c := range in.Chats {
		if err := conv(exportConv{ChatID: c.ChatID, With: c.With, LastSeq: c.LastSeq}, c.ChatID, all); err != nil {
			return err
		}
	}
	for _, g := range in.Groups {
		since := joined[g.GroupID]
		keep := func(m *parley.Message) bool { return m.From == username || !m.Time.Before(since) }
		if err := conv(exportConv{GroupID: g.GroupID, Name: g.Name, LastSeq: g.LastSeq}, g.GroupID, keep); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, "\n  ]\n}\n")
	return err
}

// adminAccountRoutes adds the admin API's account endpoints to mux.
func adminAccountRoutes(mux *http.ServeMux, h *hub.Hub, store parley.Store) {
	mux.HandleFunc("POST /admin/delete-user", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Username string `json:"username"`
			Erase    bool   `json:"eraseMessages"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil || body.Username == "" {
			http.Error(w, "want {\"username\", \"eraseMessages\"}", http.StatusBadRequest)
			return
		}
		// The work goes on if the command gives up waiting (an erasure on
		// a large log takes a while): stopping halfway would leave the
		// account disabled and not deleted.
		d, err := h.DeleteAccount(context.WithoutCancel(r.Context()), body.Username, body.Erase)
		if err != nil {
			adminError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(deletionOf(d))
	})
	mux.HandleFunc("GET /admin/export", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("username")
		if name == "" {
			http.Error(w, "want ?username=NAME", http.StatusBadRequest)
			return
		}
		// Check the account before the status line is written: after
		// it, an error can only cut the document short.
		if _, err := store.User(r.Context(), name); err != nil {
			adminError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriter(w)
		if err := exportAccount(r.Context(), store, name, bw, time.Now()); err != nil {
			// The document is cut short: the client sees invalid JSON
			// and the connection aborted, never a complete-looking export.
			panic(http.ErrAbortHandler)
		}
		bw.Flush()
	})
}

// adminError answers an admin request that failed, with the status of
// its domain code; the operator sees the whole message.
func adminError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch parley.ErrorCode(err) {
	case parley.EINVALID:
		status = http.StatusBadRequest
	case parley.ENOTFOUND:
		status = http.StatusNotFound
	case parley.ECONFLICT:
		status = http.StatusConflict
	case parley.EUNAVAILABLE:
		status = http.StatusServiceUnavailable
	}
	msg := err.Error()
	var e *parley.Error
	if errors.As(err, &e) {
		msg = e.Message
	}
	http.Error(w, msg, status)
}

// adminPostOut posts body to the admin API and decodes the answer into out.
func adminPostOut(ctx context.Context, cfg Config, path string, body, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+cfg.AdminAddr+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return adminDo(cfg, req, out)
}

// adminStream copies the answer of a GET to the admin API into w.
func adminStream(ctx context.Context, cfg Config, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cfg.AdminAddr+path, nil)
	if err != nil {
		return err
	}
	return adminDo(cfg, req, w)
}
