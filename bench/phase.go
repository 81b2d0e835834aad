package bench

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Point is one second of the timeline.
type Point struct {
	T               float64 `json:"t"` // seconds since the run (or report) started
	Phase           string  `json:"phase"`
	SentPerSec      float64 `json:"sentPerSec"`
	AckedPerSec     float64 `json:"ackedPerSec"`
	DeliveredPerSec float64 `json:"deliveredPerSec"`
	UsersPerSec     float64 `json:"usersPerSec,omitempty"`
	LoginsPerSec    float64 `json:"loginsPerSec,omitempty"`
	Errors          int64   `json:"errors"`
	Conns           int64   `json:"conns"`
	Outstanding     int     `json:"outstanding"`
	// Latencies of the second, by metric (only those observed).
	Latency      map[string]Summary `json:"latency,omitempty"`
	ServerCores  float64            `json:"serverCores"`
	ServerRSS    int64              `json:"serverRssBytes"`
	GenCores     float64            `json:"generatorCores"`
	GenRSS       int64              `json:"generatorRssBytes"`
	sample, self ProcSample
}

// phaseState is the phase in progress.
type phaseState struct {
	name        string
	params      map[string]any
	start       time.Time
	startSnap   Snapshot
	srv0, gen0  ProcSample
	srvOK       bool
	srvMax      int64
	genMax      int64
	plannedSecs float64
}

// BeginPhase starts a phase; what happens until EndPhase is reported
// under its name. params describe it (rate, users, ...).
func (r *Run) BeginPhase(name string, plannedSecs float64, params map[string]any) {
	snap := r.C.Snapshot()
	ps := &phaseState{name: name, params: params, start: time.Now(), startSnap: snap, plannedSecs: plannedSecs}
	if r.server != nil {
		if s, err := r.server.Sample(); err == nil {
			ps.srv0, ps.srvOK, ps.srvMax = s, true, s.RSSBytes
		}
	}
	ps.gen0, _ = r.self.Sample()
	ps.genMax = ps.gen0.RSSBytes
	r.mu.Lock()
	r.lat.reset() // whatever came between phases is no phase's
	r.cur = ps
	r.mu.Unlock()
}

// EndPhase closes the phase in progress and returns its report.
func (r *Run) EndPhase() PhaseReport {
	snap := r.C.Snapshot()
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.cur
	if ps == nil {
		return PhaseReport{}
	}
	r.cur = nil
	secs := time.Since(ps.start).Seconds()
	pr := PhaseReport{
		Name:        ps.name,
		Params:      ps.params,
		StartSec:    round3(ps.start.Sub(r.T0).Seconds()),
		DurationSec: round3(secs),
		Counts:      snap.Sub(ps.startSnap),
		Latency:     r.lat.endPhase(),
	}
	c := pr.Counts
	pr.Throughput = Throughput{
		SentPerSec:      round3(float64(c.Sent) / secs),
		AckedPerSec:     round3(float64(c.Acked) / secs),
		DeliveredPerSec: round3(float64(c.Delivered) / secs),
		UsersPerSec:     round3(float64(c.UsersStarted) / secs),
		LoginsPerSec:    round3(float64(c.Logins) / secs),
	}
	if ps.srvOK {
		if s, err := r.server.Sample(); err == nil {
			pr.Server = resourceUse(ps.srv0, s, max(ps.srvMax, s.RSSBytes), secs, r.server.Source())
		}
	}
	if s, err := r.self.Sample(); err == nil {
		pr.Generator = resourceUse(ps.gen0, s, max(ps.genMax, s.RSSBytes), secs, r.self.Source())
	}
	pr.Problems = problems(c)
	r.phases = append(r.phases, pr)
	return pr
}

func resourceUse(a, b ProcSample, maxRSS int64, secs float64, src string) *ResourceUse {
	cpu := b.CPUSeconds - a.CPUSeconds
	return &ResourceUse{
		Source:        src,
		CPUSeconds:    round3(cpu),
		CPUCores:      round3(cpu / secs),
		RSSStartBytes: a.RSSBytes,
		RSSEndBytes:   b.RSSBytes,
		RSSMaxBytes:   maxRSS,
	}
}

// problems lists what went wrong in a phase, from its counts.
func problems(c Snapshot) []string {
	var p []string
	add := func(n int64, what string) {
		if n > 0 {
			p = append(p, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(c.UsersFailed, "failed users")
	add(c.Lost, "lost messages")
	add(c.Duplicated, "duplicated messages")
	add(c.Unanswered, "unanswered sends")
	add(c.Rejected, "rejected sends")
	add(c.ConnFailed, "connection failures")
	add(c.ConnDropped, "connections dropped by the server")
	add(c.LoginsFailed, "failed logins")
	return p
}

// sample records one second of the timeline and prints the progress line.
func (r *Run) sample() {
	now := r.now()
	r.tracker.sweep(now-int64(r.Cfg.ReplyTimeout), now-int64(r.Cfg.DeliveryTimeout))
	snap := r.C.Snapshot()
	p := Point{T: round3(time.Duration(now).Seconds()), Conns: r.C.OpenConns.Load(), Outstanding: r.tracker.outstanding()}
	if r.server != nil {
		p.sample, _ = r.server.Sample()
		p.ServerRSS = p.sample.RSSBytes
	}
	p.self, _ = r.self.Sample()
	p.GenRSS = p.self.RSSBytes

	r.mu.Lock()
	defer r.mu.Unlock()
	var dt float64 = 1
	if n := len(r.timeline); n > 0 {
		last := r.timeline[n-1]
		dt = p.T - last.T
		if dt <= 0 {
			dt = 1
		}
		if r.server != nil && last.sample.CPUSeconds > 0 {
			p.ServerCores = round3((p.sample.CPUSeconds - last.sample.CPUSeconds) / dt)
		}
		p.GenCores = round3((p.self.CPUSeconds - last.self.CPUSeconds) / dt)
	}
	d := snap.Sub(r.prev)
	r.prev = snap
	p.SentPerSec = round3(float64(d.Sent) / dt)
	p.AckedPerSec = round3(float64(d.Acked) / dt)
	p.DeliveredPerSec = round3(float64(d.Delivered) / dt)
	p.UsersPerSec = round3(float64(d.UsersStarted) / dt)
	p.LoginsPerSec = round3(float64(d.Logins) / dt)
	for _, n := range d.Errors {
		p.Errors += n
	}
	p.Latency = r.lat.cut()
	if ps := r.cur; ps != nil {
		p.Phase = ps.name
		ps.srvMax = max(ps.srvMax, p.ServerRSS)
		ps.genMax = max(ps.genMax, p.GenRSS)
	}
	r.timeline = append(r.timeline, p)
	if r.Cfg.Quiet || r.Cfg.Progress <= 0 {
		return
	}
	tty := isTerminal(os.Stderr)
	every := int(r.Cfg.Progress / time.Second)
	if every < 1 {
		every = 1
	}
	if !tty && len(r.timeline)%every != 0 {
		return
	}
	line := r.progressLine(p)
	if tty {
		fmt.Fprintf(os.Stderr, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(os.Stderr, line)
	}
}

func (r *Run) progressLine(p Point) string {
	var b strings.Builder
	if ps := r.cur; ps != nil {
		el := time.Since(ps.start).Seconds()
		if ps.plannedSecs > 0 {
			fmt.Fprintf(&b, "[%s %.0fs/%.0fs] ", ps.name, el, ps.plannedSecs)
		} else {
			fmt.Fprintf(&b, "[%s %.0fs] ", ps.name, el)
		}
	}
	if r.progress != nil {
		b.WriteString(r.progress())
		b.WriteString(" | ")
	}
	c := r.prev
	fmt.Fprintf(&b, "sent %d ok %d dlv %d lost %d dup %d err %d | %.0f dlv/s", c.Sent, c.Acked, c.Delivered, c.Lost, c.Duplicated, p.Errors, p.DeliveredPerSec)
	if l, ok := p.Latency[MDelivery]; ok {
		fmt.Fprintf(&b, " p99 %.1fms", l.P99Ms)
	}
	fmt.Fprintf(&b, " | conns %d", p.Conns)
	if r.server != nil {
		fmt.Fprintf(&b, " | server %.0f%% %s", p.ServerCores*100, mib(p.ServerRSS))
	}
	fmt.Fprintf(&b, " | gen %.0f%%", p.GenCores*100)
	return b.String()
}

func mib(b int64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
