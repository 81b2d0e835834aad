package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcSample is a process's CPU time used so far and its resident memory.
type ProcSample struct {
	CPUSeconds float64
	RSSBytes   int64
}

// Probe samples a process.
type Probe interface {
	Sample() (ProcSample, error)
	// Source says where the numbers come from, for the report.
	Source() string
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// ProcProbe reads /proc/<pid>/stat and /proc/<pid>/status of a process on
// this machine (pid 0: this process).
type ProcProbe struct{ Pid int }

func (p ProcProbe) dir() string {
	if p.Pid == 0 {
		return "/proc/self"
	}
	return "/proc/" + strconv.Itoa(p.Pid)
}

func (p ProcProbe) Source() string {
	if p.Pid == 0 {
		return "/proc/self"
	}
	return fmt.Sprintf("/proc/%d", p.Pid)
}

func (p ProcProbe) Sample() (ProcSample, error) {
	stat, err := os.ReadFile(p.dir() + "/stat")
	if err != nil {
		return ProcSample{}, err
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return ProcSample{}, fmt.Errorf("unexpected %s/stat", p.dir())
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return ProcSample{}, fmt.Errorf("unexpected %s/stat", p.dir())
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s := ProcSample{CPUSeconds: float64(ut+st) / clockTicks}
	status, err := os.ReadFile(p.dir() + "/status")
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			s.RSSBytes = kb * 1024
		}
	}
	return s, nil
}

// MetricsProbe scrapes a Prometheus /metrics page for the standard
// process_cpu_seconds_total and process_resident_memory_bytes.
type MetricsProbe struct {
	URL    string
	Client *http.Client
}

func (p MetricsProbe) Source() string { return p.URL }

func (p MetricsProbe) Sample() (ProcSample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return ProcSample{}, err
	}
	hc := p.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ProcSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return ProcSample{}, fmt.Errorf("%s: HTTP %d", p.URL, resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the two process metrics from Prometheus text.
func parseMetrics(r io.Reader) (ProcSample, error) {
	var s ProcSample
	found := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			s.CPUSeconds = v
			found++
		case "process_resident_memory_bytes":
			s.RSSBytes = int64(v)
			found++
		}
	}
	if found == 0 {
		return s, fmt.Errorf("no process metrics on the page")
	}
	return s, sc.Err()
}
