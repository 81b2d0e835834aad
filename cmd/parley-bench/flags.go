package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley/bench"
)

// options are the flags that do not map to a Config field one to one.
type options struct {
	rate        string
	phases      string
	startServer bool
	serverBin   string
	serverEnv   stringList
	maxTime     time.Duration
	cpuProfile  string
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func flags(c *bench.Config) (*flag.FlagSet, *options) {
	o := &options{}
	fs := flag.NewFlagSet("parley-bench", flag.ContinueOnError)
	// Where and what.
	fs.StringVar(&c.ServerURL, "server", "", "the server's HTTP listener, e.g. http://127.0.0.1:3000 (required unless -start-server)")
	fs.StringVar(&c.ChatURL, "chat-url", "", "chat WebSocket URL (default: the HTTP listener's /ws/chat); several, comma-separated, spread the users over several nodes")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "pid of the server on this machine: read its CPU and RSS from /proc (else /metrics is scraped)")
	fs.StringVar(&c.MetricsURL, "metrics-url", "", "Prometheus page with the server's process_* metrics (default: port 9464 of the server's host, parleyd's -metrics-addr)")
	fs.BoolVar(&o.startServer, "start-server", false, "build and start a fresh parleyd (bcrypt cost 4, temporary data dir, 2h tokens) for this run, and stop it after")
	fs.StringVar(&o.serverBin, "server-bin", "", "with -start-server: the parleyd binary to run (default: go build ./cmd/parleyd)")
	fs.Var(&o.serverEnv, "server-env", "with -start-server: an extra KEY=VALUE for parleyd (repeatable), e.g. PARLEY_SQLITE_SYNC=NORMAL")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the load generator's own CPU profile to this file (go tool pprof)")
	fs.StringVar(&c.Name, "name", "", "run name: results go to RESULTS/NAME (default SCENARIO-TIMESTAMP)")
	fs.StringVar(&c.ResultsDir, "results", "benchmark/results", "results directory")
	fs.BoolVar(&c.Append, "append", false, "merge the phases into RESULTS/NAME/report.json (a phase run again replaces the old one)")
	fs.StringVar(&c.AccountsFile, "accounts-file", "", "token cache (default: parley-bench/accounts-HOST_PORT.json in the user's cache directory; with -start-server, the fresh server's data directory, removed with it)")
	fs.StringVar(&c.Prefix, "prefix", "bench", "username prefix of the bench accounts")
	fs.IntVar(&c.SetupWorkers, "setup-workers", 8, "concurrent register/login requests while preparing accounts")
	fs.DurationVar(&o.maxTime, "max-time", 0, "stop after this long whatever happens (default: twice the planned time + 15m)")
	fs.DurationVar(&c.Progress, "progress", time.Second, "progress line interval (0: none)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress or setup messages")
	// Connections.
	fs.StringVar(&c.Transport, "transport", "nbio", "WebSocket client: nbio (event-driven) or gorilla (goroutine per connection)")
	fs.IntVar(&c.SourceAddrs, "src-addrs", 0, "dial from 127.0.0.1..N (default: one per 20,000 connections)")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 10*time.Second, "dial + handshake + offline sync limit")
	fs.IntVar(&c.DialWorkers, "dial-workers", 16, "concurrent dials when opening many connections")
	// Messages.
	fs.IntVar(&c.Size, "size", 64, "message content bytes (>= 48)")
	fs.IntVar(&c.AckEvery, "ack-every", 32, "a receiver ACKs at once after this many messages")
	fs.DurationVar(&c.AckInterval, "ack-interval", 50*time.Millisecond, "... and otherwise within this interval")
	fs.DurationVar(&c.ReplyTimeout, "reply-timeout", 10*time.Second, "a send without SUCCESS/ERROR after this is unanswered")
	fs.DurationVar(&c.DeliveryTimeout, "delivery-timeout", 10*time.Second, "a SUCCESS-ed message not delivered after this is lost")
	// Ladder.
	fs.Float64Var(&c.Scale, "scale", 1, "ladder: multiply phase durations (0.05: a one-minute ladder)")
	fs.Float64Var(&c.RateScale, "rate-scale", 1, "ladder: multiply arrival rates")
	fs.StringVar(&o.phases, "phases", "", "ladder: phases to run, e.g. 1-3, 5-, 04_heavy (default all nine)")
	fs.DurationVar(&c.Pause, "pause", 2*time.Second, "ladder: pause between phases")
	fs.IntVar(&c.Friends, "friends", 100, "ladder: receivers kept connected")
	fs.IntVar(&c.Pool, "pool", 2000, "ladder, mixed: accounts of the virtual users")
	fs.IntVar(&c.Messages, "messages", 10, "ladder, mixed: messages per virtual user")
	// Steady loads.
	fs.IntVar(&c.Users, "users", 1000, "one-to-one, mixed: connected users; connections: accounts to spread over (default one per connection)")
	fs.StringVar(&o.rate, "rate", "1000", "one-to-one, group, mixed: messages/s in total, or max to search for the highest rate whose p99 delivery stays under -p99")
	fs.DurationVar(&c.P99Bound, "p99", 50*time.Millisecond, "with -rate max: the delivery p99 bound")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "one-to-one, group, mixed, login: measured time (per step with -rate max)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "one-to-one, group: unmeasured time at the rate first")
	fs.IntVar(&c.Window, "window", 256, "most unanswered sends per connection; beyond, a send is skipped (error window_full)")
	fs.IntVar(&c.Steps, "steps", 12, "with -rate max: most steps of the search")
	fs.IntVar(&c.Groups, "groups", 100, "group: number of groups")
	fs.IntVar(&c.GroupSize, "group-size", 100, "group, mixed: members per group (distinct users)")
	fs.Float64Var(&c.Churn, "churn", 20, "mixed: virtual users arriving per second")
	fs.Float64Var(&c.HistoryRate, "history-rate", 50, "mixed: history requests per second")
	fs.Float64Var(&c.LoginRate, "login-rate", 2, "mixed: logins per second")
	fs.IntVar(&c.Concurrency, "concurrency", 8, "login: concurrent clients")
	fs.IntVar(&c.Conns, "conns", 15000, "connections: connections to open and hold")
	fs.DurationVar(&c.Hold, "hold", 10*time.Second, "connections: how long to hold them before measuring")
	return fs, o
}

func (o *options) apply(c *bench.Config, fs *flag.FlagSet) error {
	if o.rate == "max" {
		c.RateMax = true
		c.Rate = 1000
	} else {
		r, err := strconv.ParseFloat(o.rate, 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("-rate: a positive number or max, not %q", o.rate)
		}
		c.Rate = r
	}
	if o.phases != "" {
		c.Phases = []string{o.phases}
		if _, err := bench.SelectPhases(c.Phases); err != nil {
			return err
		}
	}
	usersSet := false
	fs.Visit(func(f *flag.Flag) { usersSet = usersSet || f.Name == "users" })
	if c.Scenario == "connections" && !usersSet {
		c.Users = 0 // one account per connection unless -users was given
	}
	return nil
}
