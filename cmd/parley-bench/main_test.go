package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-chat/parley/internal/testserver"
)

// benchRun runs parley-bench against a fresh real server and returns the
// report it wrote. It never looks at speed.
func benchRun(t *testing.T, args ...string) map[string]any {
	t.Helper()
	if testing.Short() {
		t.Skip("load runs are skipped with -short")
	}
	srv := testserver.Start(t, testserver.Options{})
	results, cache := t.TempDir(), t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache) // os.UserCacheDir
	args = append(args, "-server", srv.URL(), "-server-pid", strconv.Itoa(srv.Pid()),
		"-results", results, "-name", "test", "-quiet", "-prefix", "t")
	var stdout, stderr bytes.Buffer
	code, err := run(context.Background(), args, &stdout, &stderr)
	if err != nil || code != exitOK {
		t.Fatalf("parley-bench %s: exit %d, %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, err, &stdout, &stderr)
	}
	if !strings.Contains(stdout.String(), "result: clean") {
		t.Errorf("summary does not say clean:\n%s", &stdout)
	}
	b, err := os.ReadFile(filepath.Join(results, "test", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(results, "test", "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("<svg")) {
		t.Error("report.html has no chart")
	}
	if _, err := os.Stat(filepath.Join(cache, "parley-bench", "accounts-"+strings.ReplaceAll(srv.HTTP, ":", "_")+".json")); err != nil {
		t.Errorf("no token cache in the cache directory: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(results, "accounts-*")); len(left) > 0 {
		t.Errorf("a token cache in the results directory: %v", left)
	}
	return rep
}

// field walks a decoded JSON document: field(rep, "total", "counts", "lost").
func field(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v: not an object at %q", path, k)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("report has no %s", strings.Join(path, "."))
		}
	}
	return v
}

func checkDelivered(t *testing.T, rep map[string]any) {
	t.Helper()
	for _, k := range []string{"lost", "duplicated", "unanswered", "rejected", "connectionFailures"} {
		if n := field(t, rep, "total", "counts", k).(float64); n != 0 {
			t.Errorf("total %s: got %v, want 0", k, n)
		}
	}
	sent := field(t, rep, "total", "counts", "sent").(float64)
	if sent == 0 || field(t, rep, "total", "counts", "delivered").(float64) != sent || field(t, rep, "total", "counts", "acknowledged").(float64) != sent {
		t.Errorf("sent %v, acknowledged %v, delivered %v: want all equal and > 0", sent,
			field(t, rep, "total", "counts", "acknowledged"), field(t, rep, "total", "counts", "delivered"))
	}
	for _, m := range []string{"handshake", "sendToSuccess", "sendToDelivery"} {
		for _, q := range []string{"count", "p50Ms", "p95Ms", "p99Ms", "p999Ms", "maxMs"} {
			field(t, rep, "total", "latency", m, q)
		}
	}
	field(t, rep, "total", "server", "cpuSeconds")
	field(t, rep, "total", "generator", "cpuSeconds")
	if tl := field(t, rep, "timeline").([]any); len(tl) == 0 {
		t.Error("empty timeline")
	}
}

func TestLadderShort(t *testing.T) {
	rep := benchRun(t, "ladder", "-scale", "0.1", "-phases", "1-2", "-pool", "20", "-friends", "4", "-pause", "0")
	checkDelivered(t, rep)
	phases := field(t, rep, "phases").([]any)
	if len(phases) != 2 || field(t, phases[0], "name") != "01_baseline" || field(t, phases[1], "name") != "02_light" {
		t.Fatalf("phases: got %v", phases)
	}
	for _, p := range phases {
		started, ok := field(t, p, "counts", "usersStarted").(float64), field(t, p, "counts", "usersCompleted").(float64)
		if started == 0 || ok != started || field(t, p, "counts", "usersFailed").(float64) != 0 {
			t.Errorf("%v: %v of %v users completed", field(t, p, "name"), ok, started)
		}
		if field(t, p, "counts", "sent").(float64) != 10*started {
			t.Errorf("%v: sent %v for %v users of 10 messages", field(t, p, "name"), field(t, p, "counts", "sent"), started)
		}
	}
}

func TestOneToOneShort(t *testing.T) {
	rep := benchRun(t, "one-to-one", "-users", "20", "-rate", "200", "-duration", "2s")
	checkDelivered(t, rep)
	phases := field(t, rep, "phases").([]any)
	if len(phases) != 2 || field(t, phases[0], "name") != "connect" || field(t, phases[1], "name") != "steady" {
		t.Fatalf("phases: got %v", phases)
	}
	if field(t, phases[1], "counts", "acksSent").(float64) == 0 {
		t.Error("the receivers sent no ACK")
	}
}

// TestHelp: -h exits 0 and shows the usage asked for, a scenario's own
// flags before the common ones.
func TestHelp(t *testing.T) {
	help := func(t *testing.T, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code, err := run(context.Background(), args, &stdout, &stderr)
		if code != exitOK || err != nil {
			t.Fatalf("parley-bench %s: exit %d, %v", strings.Join(args, " "), code, err)
		}
		return stdout.String() + stderr.String()
	}
	t.Run("top", func(t *testing.T) {
		out := help(t, "-h")
		for _, want := range []string{"Usage: parley-bench SCENARIO", "ladder", "one-to-one", "-server "} {
			if !strings.Contains(out, want) {
				t.Errorf("parley-bench -h lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("ladder", func(t *testing.T) {
		out := help(t, "ladder", "-h")
		own, common := strings.Index(out, "-phases"), strings.Index(out, "-server ")
		if !strings.HasPrefix(out, "Usage: parley-bench ladder") || own < 0 || common < 0 || own > common {
			t.Errorf("ladder -h does not show its usage, then -phases before the common -server:\n%s", out)
		}
		if strings.Contains(out, "-conns") || strings.Contains(out, "-group-size") {
			t.Errorf("ladder -h lists other scenarios' flags:\n%s", out)
		}
	})
	t.Run("no scenario", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code, _ := run(context.Background(), nil, &stdout, &stderr); code != exitUsage {
			t.Errorf("parley-bench without arguments: exit %d, want %d", code, exitUsage)
		}
	})
}

// TestServerRequired: with neither --server nor --start-server, nothing
// runs against whatever listens on a default port.
func TestServerRequired(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code, err := run(context.Background(), []string{"one-to-one", "-duration", "1s"}, &stdout, &stderr)
	if code != exitUsage || err == nil || !strings.Contains(err.Error(), "--server") || !strings.Contains(err.Error(), "--start-server") {
		t.Fatalf("exit %d, %v; want a usage error naming --server and --start-server", code, err)
	}
}
