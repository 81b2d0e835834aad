package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WriteSummary prints the one-screen text summary of a report.
func WriteSummary(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "parley-bench %s %q  (%s, %d CPUs, transport %s)\n", rep.Scenario, rep.Name,
		rep.Finished.Sub(rep.Started).Round(time.Second), rep.Environment.CPUs, rep.Environment.Transport)
	fmt.Fprintf(w, "%-14s %7s %9s %9s %9s %5s %4s %5s %8s %8s %8s %8s %6s %6s\n",
		"phase", "secs", "sent/s", "dlv/s", "users", "lost", "dup", "fail", "hs p99", "ok p99", "dlv p50", "dlv p99", "srvCPU", "genCPU")
	rows := append([]PhaseReport(nil), rep.Phases...)
	if len(rows) > 1 {
		rows = append(rows, rep.Total)
	}
	for _, p := range rows {
		c := p.Counts
		users := "-"
		if c.UsersStarted > 0 {
			users = fmt.Sprintf("%d/%d", c.UsersOK, c.UsersStarted)
		}
		fails := c.UsersFailed + c.ConnFailed + c.Unanswered + c.Rejected + c.LoginsFailed
		fmt.Fprintf(w, "%-14s %7.1f %9.0f %9.0f %9s %5d %4d %5d %8s %8s %8s %8s %6s %6s\n",
			trunc(p.Name, 14), p.DurationSec, p.Throughput.SentPerSec, p.Throughput.DeliveredPerSec, users,
			c.Lost, c.Duplicated, fails,
			ms(p.Latency[MHandshake].P99Ms, p.Latency[MHandshake].Count), ms(p.Latency[MSuccess].P99Ms, p.Latency[MSuccess].Count),
			ms(p.Latency[MDelivery].P50Ms, p.Latency[MDelivery].Count), ms(p.Latency[MDelivery].P99Ms, p.Latency[MDelivery].Count),
			cores(p.Server), cores(p.Generator))
	}
	t := rep.Total
	if l, ok := t.Latency[MDelivery]; ok && l.Count > 0 {
		fmt.Fprintf(w, "delivery latency ms: p50 %.2f  p95 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  (n=%d)\n", l.P50Ms, l.P95Ms, l.P99Ms, l.P999Ms, l.MaxMs, l.Count)
	}
	if l, ok := t.Latency[MLogin]; ok && l.Count > 0 {
		fmt.Fprintf(w, "login latency ms: p50 %.2f  p99 %.2f  max %.2f; %.1f logins/s\n", l.P50Ms, l.P99Ms, l.MaxMs, t.Throughput.LoginsPerSec)
	}
	if l, ok := t.Latency[MHistory]; ok && l.Count > 0 {
		fmt.Fprintf(w, "history latency ms: p50 %.2f  p99 %.2f  max %.2f  (n=%d)\n", l.P50Ms, l.P99Ms, l.MaxMs, l.Count)
	}
	c := t.Counts
	fmt.Fprintf(w, "messages: sent %d, acknowledged %d, delivered %d, lost %d, duplicated %d, unanswered %d, rejected %d, late %d\n",
		c.Sent, c.Acked, c.Delivered, c.Lost, c.Duplicated, c.Unanswered, c.Rejected, c.Late)
	fmt.Fprintf(w, "connections: %d ok, %d failed, %d dropped by the server; ACKs sent %d\n", c.ConnOK, c.ConnFailed, c.ConnDropped, c.AcksSent)
	if len(c.Errors) > 0 {
		var parts []string
		for _, k := range c.ErrorKinds() {
			parts = append(parts, fmt.Sprintf("%s=%d", k, c.Errors[k]))
		}
		fmt.Fprintf(w, "errors: %s\n", strings.Join(parts, " "))
	}
	for _, p := range rep.Phases {
		keys := make([]string, 0, len(p.Result))
		for k := range p.Result {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch v := p.Result[k].(type) {
			case []string:
				fmt.Fprintf(w, "%s %s:\n  %s\n", p.Name, k, strings.Join(v, "\n  "))
			default:
				fmt.Fprintf(w, "%s %s: %v\n", p.Name, k, v)
			}
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if len(t.Problems) == 0 {
		fmt.Fprintln(w, "result: clean (no failed users, lost, duplicated or unanswered messages, no connection failures)")
	} else {
		fmt.Fprintf(w, "result: PROBLEMS: %s\n", strings.Join(t.Problems, ", "))
	}
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func ms(v float64, n int64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func cores(u *ResourceUse) string {
	if u == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", u.CPUCores*100)
}

func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// gitCommit is the commit of the working directory, "-dirty" when it has
// changes; "" outside a repository.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		c += "-dirty"
	}
	return c
}
