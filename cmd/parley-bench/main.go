// Command parley-bench is Parley's load generator. It speaks the wire
// protocol (register and log in over HTTP, then chat WebSockets), measures
// what users feel (handshake, send to SUCCESS and send to delivery
// latency, losses and duplicates) and the server's CPU and memory, and
// writes benchmark/results/<name>/report.json and report.html.
//
//	parley-bench SCENARIO [flags]
//
// Scenarios: ladder, login, one-to-one, group, connections, mixed. See
// -h and benchmark/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/parley-chat/parley/bench"
)

func main() {
	code, err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley-bench:", err)
	}
	os.Exit(code)
}

// Exit codes: 0 clean, 1 error, 2 usage, 3 the run had problems (failed
// users, lost or duplicated messages, connection failures).
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitProblems = 3
)

// scenarioHelp says in a line what each scenario measures.
var scenarioHelp = map[string]string{
	"ladder":      "virtual users arrive at rising rates in nine phases, each sends messages to connected friends and leaves",
	"login":       "logins per second and their latency, with -concurrency clients",
	"one-to-one":  "-users connected users send to each other at -rate messages/s (or the highest rate under -p99 with -rate max)",
	"group":       "-groups groups of -group-size members; each message fans out to every member",
	"connections": "open and hold -conns connections, then measure the server's memory per connection",
	"mixed":       "arrivals, one-to-one and group messages, history requests and logins at once",
}

func scenarioNames() []string {
	names := make([]string, 0, len(bench.Scenarios))
	for n := range bench.Scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// usage is parley-bench -h: the scenarios, then the flags every scenario
// takes.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: parley-bench SCENARIO [flags]   (parley-bench SCENARIO -h: its own flags)\n\nScenarios:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, n := range scenarioNames() {
		fmt.Fprintf(tw, "  %s\t%s\n", n, scenarioHelp[n])
	}
	tw.Flush()
	if fs != nil {
		fmt.Fprintf(w, "\nFlags of every scenario:\n")
		printFlags(w, fs, func(f *flag.Flag) bool { return len(flagScenarios(f)) == 0 })
	}
}

// scenarioUsage is parley-bench SCENARIO -h: the scenario's own flags
// first, then the common ones.
func scenarioUsage(w io.Writer, fs *flag.FlagSet, name string) {
	fmt.Fprintf(w, "Usage: parley-bench %s [flags]\n\n%s.\n\nFlags of %s:\n", name, upperFirst(scenarioHelp[name]), name)
	printFlags(w, fs, func(f *flag.Flag) bool { return flagScenarios(f)[name] })
	fmt.Fprintf(w, "\nFlags of every scenario:\n")
	printFlags(w, fs, func(f *flag.Flag) bool { return len(flagScenarios(f)) == 0 })
}

// flagScenarios reads the scenarios a flag is for from its usage text,
// which starts "one-to-one, group: ..." (and may go on "; connections:
// ..."); the -rate max flags are for the scenarios that take -rate. None:
// the flag is for every scenario.
func flagScenarios(f *flag.Flag) map[string]bool {
	usage := f.Usage
	if strings.HasPrefix(usage, "with -rate max:") {
		usage = "one-to-one, group, mixed:" + strings.TrimPrefix(usage, "with -rate max:")
	}
	set := map[string]bool{}
	for _, part := range strings.Split(usage, "; ") {
		head, _, ok := strings.Cut(part, ":")
		if !ok {
			continue
		}
		var names []string
		for _, n := range strings.Split(head, ",") {
			n = strings.TrimSpace(n)
			if _, ok := bench.Scenarios[n]; !ok {
				names = nil
				break
			}
			names = append(names, n)
		}
		for _, n := range names {
			set[n] = true
		}
	}
	return set
}

// printFlags prints the flags of fs that keep selects, as PrintDefaults
// does.
func printFlags(w io.Writer, fs *flag.FlagSet, keep func(*flag.Flag) bool) {
	sub := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	sub.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		if keep(f) {
			sub.Var(f.Value, f.Name, f.Usage)
		}
	})
	sub.PrintDefaults()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	cfg := &bench.Config{}
	fs, opts := flags(cfg)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		usage(stdout, fs)
		return exitOK, nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		usage(stderr, fs)
		return exitUsage, errors.New("name a scenario first")
	}
	cfg.Scenario = args[0]
	scenario, ok := bench.Scenarios[cfg.Scenario]
	if !ok {
		usage(stderr, nil)
		return exitUsage, fmt.Errorf("unknown scenario %q", cfg.Scenario)
	}
	fs.SetOutput(stderr)
	fs.Usage = func() { scenarioUsage(stdout, fs, cfg.Scenario) }
	if err := fs.Parse(args[1:]); errors.Is(err, flag.ErrHelp) {
		return exitOK, nil
	} else if err != nil {
		return exitUsage, nil
	}
	if fs.NArg() > 0 {
		return exitUsage, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := opts.apply(cfg, fs); err != nil {
		return exitUsage, err
	}
	if cfg.ServerURL == "" && !opts.startServer {
		return exitUsage, errors.New("say which server to load: --server URL (e.g. http://127.0.0.1:3000), or --start-server for a fresh one")
	}
	if cfg.ServerURL != "" && opts.startServer {
		return exitUsage, errors.New("--server and --start-server exclude each other")
	}
	cfg.Args = append([]string{"parley-bench"}, args...)
	cfg.Defaults()
	dir := filepath.Join(cfg.ResultsDir, cfg.Name)

	if opts.startServer {
		bin := opts.serverBin
		if bin == "" {
			tmp, err := os.MkdirTemp("", "parley-bench-bin-")
			if err != nil {
				return exitError, err
			}
			defer os.RemoveAll(tmp)
			if bin, err = bench.BuildServer(".", tmp); err != nil {
				return exitError, err
			}
		}
		srv, err := bench.StartServer(bin, filepath.Join(dir, "server.log"), opts.serverEnv)
		if err != nil {
			return exitError, err
		}
		defer srv.Stop()
		cfg.ServerURL, cfg.ServerPID, cfg.ServerNote = srv.URL, srv.Pid, srv.Note
		if cfg.AccountsFile == "" {
			// A fresh server: its accounts are of no use after it stops.
			cfg.AccountsFile = filepath.Join(srv.DataDir, "bench-accounts.json")
		}
		fmt.Fprintf(stderr, "parleyd started at %s (pid %d)\n", srv.URL, srv.Pid)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	limit := opts.maxTime
	if limit == 0 {
		limit = autoLimit(cfg)
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	r, err := bench.NewRun(cfg)
	if err != nil {
		return exitError, err
	}
	if opts.cpuProfile != "" {
		f, err := os.Create(opts.cpuProfile)
		if err != nil {
			return exitError, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return exitError, err
		}
		defer pprof.StopCPUProfile()
	}
	runErr := scenario(ctx, r)
	r.Close()
	if errors.Is(runErr, context.DeadlineExceeded) {
		r.Note("stopped by the time limit (--max-time %v)", limit)
	}
	rep := r.Report()
	if len(rep.Phases) == 0 {
		if runErr == nil {
			runErr = errors.New("nothing was measured")
		}
		return exitError, runErr
	}
	rep, err = rep.Write(dir, cfg.Append)
	if err != nil {
		return exitError, fmt.Errorf("writing the report: %w", err)
	}
	bench.WriteSummary(stdout, rep)
	fmt.Fprintf(stdout, "report: %s\n", filepath.Join(dir, "report.html"))
	switch {
	case runErr != nil && !errors.Is(runErr, context.Canceled) && !errors.Is(runErr, context.DeadlineExceeded):
		return exitError, runErr
	case len(rep.Total.Problems) > 0:
		return exitProblems, nil
	}
	return exitOK, nil
}

// autoLimit bounds a run whose --max-time was not given: the planned time
// with a generous margin.
func autoLimit(cfg *bench.Config) time.Duration {
	var planned time.Duration
	switch cfg.Scenario {
	case "ladder":
		phases, _ := bench.SelectPhases(cfg.Phases)
		for _, p := range phases {
			planned += time.Duration(p.Secs*cfg.Scale*float64(time.Second)) + cfg.Pause + cfg.DeliveryTimeout + cfg.ReplyTimeout
		}
	case "connections":
		planned = cfg.Hold + time.Duration(cfg.Conns)*time.Millisecond
	default:
		steps := 1
		if cfg.RateMax {
			steps = cfg.Steps
		}
		planned = time.Duration(steps)*(cfg.Duration+cfg.DeliveryTimeout+3*time.Second) + cfg.Warmup
	}
	return planned*2 + 15*time.Minute
}
