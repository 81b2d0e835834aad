package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
)

// command is a parleyd subcommand: it works on the store directly, so it
// runs with the server up or down, and tells a running server (through
// the admin listener) what it must act on at once.
type command struct {
	name, args, help string
	// flags adds the command's own flags; run does the work.
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, env *cmdEnv, args []string) error
	// noStore commands run without opening the store.
	noStore bool
}

// cmdEnv is what a command runs with.
type cmdEnv struct {
	cfg    Config
	store  parley.Store
	backup backupFunc // nil on PostgreSQL, or while a server holds the data directory
	stdout io.Writer
}

var seedOpts struct {
	count, size, perUser int
	prefix, password     string
}

var listOpts struct {
	after string
	limit int
}

var commands = []command{
	{name: "migrate", help: "apply the database migrations (PostgreSQL's, and Cassandra's with -cassandra-hosts) and exit",
		run: func(ctx context.Context, env *cmdEnv, _ []string) error {
			fmt.Fprintln(env.stdout, "migrations applied")
			return nil
		}},
	{name: "users list", help: "list accounts",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&listOpts.after, "after", "", "start after this username")
			fs.IntVar(&listOpts.limit, "limit", 100, "how many")
		},
		run: usersList},
	{name: "users disable", args: "NAME", help: "disable an account: its logins are refused and its sockets closed", run: usersDisable},
	{name: "users enable", args: "NAME", help: "enable a disabled account", run: usersEnable},
	{name: "users delete", args: "NAME", help: "delete an account: sessions removed, sockets closed, groups left, name kept reserved; its messages stay unless -erase-messages (through the server on -admin-addr if one runs)", flags: deleteFlags, run: usersDelete},
	{name: "users export", args: "NAME", help: "write one account's data (account, sessions, groups, conversations and their messages) as one JSON document (through the server on -admin-addr if one runs)", flags: exportFlags, run: usersExport},
	{name: "health", help: "exit 0 if the server on -http-addr is ready (for container health checks)", run: health, noStore: true},
	{name: "backup", args: "DIR", help: "write a consistent copy of the data directory into DIR (asks the server on -admin-addr if one runs)", run: backup},
	{name: "stats", help: "what the store holds, and the live counts of a running server (with -admin-addr)", run: stats},
	{name: "seed users", help: "create accounts PREFIX00001.. (idempotent)", flags: seedFlags, run: seedUsers},
	{name: "seed chats", help: "give each seeded user a one-to-one chat with the next -per-user users (idempotent)", flags: seedChatFlags, run: seedChats},
	{name: "seed groups", help: "create -count groups of -size seeded users each (idempotent)", flags: seedFlags, run: seedGroups},
}

func seedFlags(fs *flag.FlagSet) {
	fs.IntVar(&seedOpts.count, "count", 1000, "users: how many accounts; groups: how many groups")
	fs.IntVar(&seedOpts.size, "size", 10, "groups: members per group")
	fs.StringVar(&seedOpts.prefix, "prefix", "user", "username prefix of seeded accounts")
	fs.StringVar(&seedOpts.password, "password", "password", "password of every seeded account")
}

func seedChatFlags(fs *flag.FlagSet) {
	fs.IntVar(&seedOpts.count, "count", 0, "how many seeded users to use, PREFIX00001 on (0: every seeded user there is)")
	fs.IntVar(&seedOpts.perUser, "per-user", 3, "chats each user starts")
	fs.StringVar(&seedOpts.prefix, "prefix", "user", "username prefix of seeded accounts")
}

// seededUsers returns how many seeded accounts exist without a gap:
// n such that PREFIX00001..PREFIXn all exist.
func seededUsers(ctx context.Context, store parley.Store) (int, error) {
	have := map[string]bool{}
	after := seedOpts.prefix
	for {
		page, err := store.Users(ctx, after, 1000)
		if err != nil {
			return 0, err
		}
		for _, u := range page {
			if !strings.HasPrefix(u.Username, seedOpts.prefix) {
				page = nil
				break
			}
			have[u.Username] = true
			after = u.Username
		}
		if len(page) < 1000 {
			break
		}
	}
	n := 0
	for have[seedName(n+1)] {
		n++
	}
	return n, nil
}

// runCommand runs "parleyd WORD [WORD] [flags] [ARGS]".
func runCommand(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	var cmd *command
	for i := range commands {
		c := &commands[i]
		words := len(splitWords(c.name))
		if len(args) >= words && joinWords(args[:words]) == c.name {
			cmd, args = c, args[words:]
			break
		}
	}
	if cmd == nil {
		serverUsage(stderr, "parleyd")
		return fmt.Errorf("unknown command %q", joinWords(args))
	}
	cfg, rest, err := parseCommandConfig(cmd, args, lookup, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	env := &cmdEnv{cfg: cfg, stdout: stdout}
	if !cmd.noStore {
		var local *embedded
		if env.store, local, err = openStore(ctx, cfg, slog.New(slog.NewTextHandler(stderr, nil)), true); err != nil {
			return err
		}
		if local != nil {
			env.backup = local.backup
		}
		defer env.store.Close()
	}
	return cmd.run(ctx, env, rest)
}

// health asks the local server's /ready.
func health(ctx context.Context, env *cmdEnv, _ []string) error {
	host, port, err := net.SplitHostPort(env.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http address: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http"
	c := &http.Client{Timeout: 3 * time.Second}
	if env.cfg.TLSCert != "" {
		scheme = "https"
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // our own loopback listener
	}
	resp, err := c.Get(scheme + "://" + net.JoinHostPort(host, port) + "/ready")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s", resp.Status)
	}
	fmt.Fprintln(env.stdout, "ready")
	return nil
}

func usersList(ctx context.Context, env *cmdEnv, _ []string) error {
	if listOpts.limit < 1 {
		return errors.New("-limit must be at least 1")
	}
	users, err := env.store.Users(ctx, listOpts.after, listOpts.limit+1)
	if err != nil {
		return err
	}
	more := len(users) > listOpts.limit
	if more {
		users = users[:listOpts.limit]
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tCREATED\tLAST SEEN\tSTATUS")
	for _, u := range users {
		seen, status := "never", "active"
		if !u.LastSeen.IsZero() {
			seen = parley.FormatTime(u.LastSeen)
		}
		if u.Disabled {
			status = "disabled"
		}
		if u.Deleted() {
			status = "deleted " + parley.FormatTime(u.DeletedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, parley.FormatTime(u.CreatedAt), seen, status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if more {
		fmt.Fprintf(env.stdout, "more accounts follow: parleyd users list -after %s -limit %d\n", users[len(users)-1].Username, listOpts.limit)
	}
	return nil
}

func oneName(args []string) (string, error) {
	if len(args) != 1 {
		return "", errors.New("give exactly one username")
	}
	return args[0], nil
}

func usersDisable(ctx context.Context, env *cmdEnv, args []string) error {
	name, err := oneName(args)
	if err != nil {
		return err
	}
	if err := env.store.SetDisabled(ctx, name, true); err != nil {
		return err
	}
	ids, err := env.store.RevokeUserSessions(ctx, name, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s disabled; %d sessions ended\n", name, len(ids))
	if env.cfg.AdminAddr == "" {
		fmt.Fprintln(env.stdout, "no -admin-addr given: running servers close the user's sockets at their next session check (within 30 s)")
		return nil
	}
	if err := adminPost(ctx, env.cfg, "/admin/end-sessions", map[string]string{"username": name}); err != nil {
		fmt.Fprintf(env.stdout, "could not reach the server's admin listener (%v); its sockets close at the next session check (within 30 s)\n", err)
		return nil
	}
	fmt.Fprintln(env.stdout, "the user's sockets were closed")
	return nil
}

func usersEnable(ctx context.Context, env *cmdEnv, args []string) error {
	name, err := oneName(args)
	if err != nil {
		return err
	}
	if err := env.store.SetDisabled(ctx, name, false); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s enabled\n", name)
	return nil
}

func stats(ctx context.Context, env *cmdEnv, _ []string) error {
	out := map[string]any{}
	st, err := env.store.Stats(ctx, time.Now())
	switch {
	case err == nil:
		out["store"] = st
	case errBusy(err) && env.cfg.AdminAddr != "":
		// The running server holds the message log: it answers below.
	default:
		return err
	}
	if env.cfg.AdminAddr != "" {
		var live map[string]any
		if err := adminGet(ctx, env.cfg, "/admin/stats", &live); err != nil {
			if st == nil {
				return fmt.Errorf("the server at -admin-addr holds the store and does not answer: %w", err)
			}
			out["live"] = "unreachable: " + err.Error()
		} else {
			if st == nil {
				out["store"] = live["store"]
			}
			delete(live, "store")
			out["live"] = live
		}
	}
	enc := json.NewEncoder(env.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func seedName(i int) string { return fmt.Sprintf("%s%05d", seedOpts.prefix, i) }

func seedUsers(ctx context.Context, env *cmdEnv, _ []string) error {
	if err := parley.ValidateUsername(seedName(seedOpts.count)); err != nil {
		return fmt.Errorf("prefix: %w", err)
	}
	if err := parley.ValidatePassword(seedOpts.password); err != nil {
		return err
	}
	// One hash for every seeded account: they share a password, and
	// hashing each would make seeding take minutes.
	svc, err := auth.New(auth.Config{Secret: make([]byte, auth.MinSecretBytes), BcryptCost: env.cfg.BcryptCost}, env.store)
	if err != nil {
		return err
	}
	hash, err := svc.HashPassword(seedOpts.password)
	if err != nil {
		return err
	}
	created, now := 0, time.Now()
	for start := 1; start <= seedOpts.count; start += 1000 {
		var batch []*parley.User
		for i := start; i < start+1000 && i <= seedOpts.count; i++ {
			batch = append(batch, &parley.User{Username: seedName(i), PasswordHash: hash, CreatedAt: now})
		}
		n, err := env.store.CreateUsers(ctx, batch)
		if err != nil {
			return err
		}
		created += n
	}
	fmt.Fprintf(env.stdout, "seeded users %s..%s: %d created, %d existed (password %q)\n",
		seedName(1), seedName(seedOpts.count), created, seedOpts.count-created, seedOpts.password)
	return nil
}

func seedChats(ctx context.Context, env *cmdEnv, _ []string) error {
	// Check the users up front, so that nothing is written when they are
	// not all there.
	have, err := seededUsers(ctx, env.store)
	if err != nil {
		return err
	}
	n := seedOpts.count
	if n == 0 {
		n = have
	}
	if n < 2 {
		return fmt.Errorf("seed chats needs at least 2 seeded users %s00001.., and %d exist: run parleyd seed users first", seedOpts.prefix, have)
	}
	if n > have {
		return fmt.Errorf("seed chats -count %d needs the users %s..%s, and only %d exist: run parleyd seed users -count %d -prefix %s first, or give -count %d or less (or no -count)",
			n, seedName(1), seedName(n), have, n, seedOpts.prefix, have)
	}
	if seedOpts.perUser < 1 {
		return errors.New("-per-user must be at least 1")
	}
	k := min(seedOpts.perUser, n-1)
	created, now := 0, time.Now()
	var batch []*parley.Append
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := env.store.AppendMessages(ctx, batch); err != nil {
			return err
		}
		for _, a := range batch {
			if a.Err != nil {
				return fmt.Errorf("seeding %s: %w", a.Conv, a.Err)
			}
			if !a.Duplicate {
				created++
			}
		}
		batch = batch[:0]
		return nil
	}
	for i := 1; i <= n; i++ {
		for d := 1; d <= k; d++ {
			from, to := seedName(i), seedName((i-1+d)%n+1)
			batch = append(batch, &parley.Append{
				ClientID: "seed:" + to, From: from, To: to, Conv: parley.ChatID(from, to),
				Content: "Hi " + to + ", this is " + from + ".", ID: "seed" + strconv.Itoa(i*1000+d), Time: now,
			})
		}
		if len(batch) >= 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "seeded chats among %d users: %d created, %d existed\n", n, created, n*k-created)
	return nil
}

func seedGroups(ctx context.Context, env *cmdEnv, _ []string) error {
	users, err := env.store.Users(ctx, seedOpts.prefix, 1<<30)
	if err != nil {
		return err
	}
	var names []string
	for _, u := range users {
		if len(u.Username) > len(seedOpts.prefix) && u.Username[:len(seedOpts.prefix)] == seedOpts.prefix {
			names = append(names, u.Username)
		}
	}
	if len(names) < seedOpts.size {
		return fmt.Errorf("%d seeded users, fewer than -size %d: run seed users first", len(names), seedOpts.size)
	}
	created, now := 0, time.Now()
	for g := 0; g < seedOpts.count; g++ {
		members := make([]string, seedOpts.size)
		for j := range members {
			members[j] = names[(g*seedOpts.size+j)%len(names)]
		}
		grp := &parley.Group{ID: "gseed" + strconv.FormatInt(int64(g+1), 36), Name: fmt.Sprintf("Seed group %d", g+1), Owner: members[0], CreatedAt: now}
		err := env.store.CreateGroup(ctx, grp, members[1:], now)
		switch parley.ErrorCode(err) {
		case "":
			created++
		case parley.ECONFLICT:
		default:
			return err
		}
	}
	fmt.Fprintf(env.stdout, "seeded %d groups of %d: %d created, %d existed\n", seedOpts.count, seedOpts.size, created, seedOpts.count-created)
	return nil
}

// adminPost and adminGet talk to a running server's admin listener, with
// the admin token of the data directory.
func adminPost(ctx context.Context, cfg Config, path string, body any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+cfg.AdminAddr+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return adminDo(cfg, req, nil)
}

func adminGet(ctx context.Context, cfg Config, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cfg.AdminAddr+path, nil)
	if err != nil {
		return err
	}
	return adminDo(cfg, req, out)
}

func adminDo(cfg Config, req *http.Request, out any) error {
	token, err := cfg.adminToken(false)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	c := http.Client{Timeout: 2 * time.Minute} // a backup of a large data directory takes a while
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	if w, ok := out.(io.Writer); ok {
		_, err := io.Copy(w, resp.Body)
		return err
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func splitWords(s string) []string { return strings.Fields(s) }

func joinWords(w []string) string { return strings.Join(w, " ") }

// backup writes a copy of the embedded data directory: by the running
// server when there is an admin address, else by this process.
func backup(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: parleyd backup DIR")
	}
	if env.cfg.PostgresURL != "" {
		return errors.New("backup copies the embedded data directory; back up PostgreSQL with its own tools (pg_dump), and Cassandra with nodetool snapshot")
	}
	dest, err := filepath.Abs(args[0])
	if err != nil {
		return err
	}
	if env.cfg.AdminAddr != "" {
		if err := adminPost(ctx, env.cfg, "/admin/backup", map[string]string{"dir": dest}); err != nil {
			return fmt.Errorf("backup by the server at %s: %w", env.cfg.AdminAddr, err)
		}
	} else if env.backup == nil {
		return errors.New("a running parleyd holds the data directory: give its -admin-addr so that it writes the backup")
	} else if err := env.backup(ctx, dest); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "backup written to %s\n", dest)
	return nil
}
