// Command parleyd is the Parley chat server.
//
//	parleyd                   serve, on the embedded store in ./data by default
//	parleyd -h                every setting, with its environment variable
//	parleyd migrate           apply database migrations (PostgreSQL, Cassandra) and exit
//	parleyd users list|disable|enable, parleyd stats
//	parleyd seed users|chats|groups
//
// It is the only place that reads flags and the environment; it wires the
// store, hub, transport and HTTP handlers together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	moreProcs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "parleyd:", err)
		os.Exit(1)
	}
}

// moreProcs runs Go code on twice as many threads as the runtime would
// (unless GOMAXPROCS is set): the store's committer spends much of its time
// in blocking writes and fsyncs, and each return from one waits for a free
// P behind the WebSocket work. With 4 instead of 2 on the 2-core machine,
// the median delivery latency at 9,000 msgs/s fell from 6.4 to 4.0 ms and
// the p99 from 68 to 54 ms (benchmark/RESULTS.md).
func moreProcs() {
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(2 * runtime.GOMAXPROCS(0))
	}
}

// run is main without the process: it returns when ctx ends (after a
// graceful shutdown) or when a command finishes.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		return runCommand(ctx, args, lookup, stdout, stderr)
	}
	cfg, err := parseConfig("parleyd", args, lookup, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	m := NewMain(cfg, stderr)
	if err := m.Open(ctx); err != nil {
		m.Close(context.Background())
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
	defer cancel()
	return m.Close(sctx)
}
