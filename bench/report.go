package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Report is report.json: what was run, where, and what it measured.
type Report struct {
	Name        string        `json:"name"`
	Scenario    string        `json:"scenario"`
	Started     time.Time     `json:"started"`
	Finished    time.Time     `json:"finished"`
	Command     []string      `json:"command"`
	Environment Environment   `json:"environment"`
	Phases      []PhaseReport `json:"phases"`
	// Total sums the counts of every phase; its latencies merge them
	// (only for the phases of this process when the report was appended
	// to: then they are the worst phase's).
	Total    PhaseReport `json:"total"`
	Timeline []Point     `json:"timeline"`
	Notes    []string    `json:"notes,omitempty"`
}

// Environment describes the machine and the setup.
type Environment struct {
	Host           string `json:"host"`
	CPUs           int    `json:"cpus"`
	MemoryBytes    int64  `json:"memoryBytes"`
	GoVersion      string `json:"goVersion"`
	Commit         string `json:"commit,omitempty"`
	Transport      string `json:"transport"`
	FileLimit      uint64 `json:"fileLimit"`
	Server         string `json:"server"`
	ChatURL        string `json:"chatUrl"`
	ServerMeasured string `json:"serverMeasuredFrom,omitempty"`
	ServerNote     string `json:"serverNote,omitempty"`
}

// PhaseReport is one phase (or the total).
type PhaseReport struct {
	Name        string             `json:"name"`
	Params      map[string]any     `json:"params,omitempty"`
	StartSec    float64            `json:"startSec"`
	DurationSec float64            `json:"durationSec"`
	Counts      Snapshot           `json:"counts"`
	Throughput  Throughput         `json:"throughput"`
	Latency     map[string]Summary `json:"latency"`
	Server      *ResourceUse       `json:"server,omitempty"`
	Generator   *ResourceUse       `json:"generator,omitempty"`
	// Result holds what a scenario found beyond the common measures
	// (memory per connection, the rate search, ...).
	Result   map[string]any `json:"result,omitempty"`
	Problems []string       `json:"problems"`
}

// Throughput is per second of the phase.
type Throughput struct {
	SentPerSec      float64 `json:"sentPerSec"`
	AckedPerSec     float64 `json:"acknowledgedPerSec"`
	DeliveredPerSec float64 `json:"deliveredPerSec"`
	UsersPerSec     float64 `json:"usersPerSec"`
	LoginsPerSec    float64 `json:"loginsPerSec"`
}

// ResourceUse is a process's CPU and memory over a phase.
type ResourceUse struct {
	Source        string  `json:"source"`
	CPUSeconds    float64 `json:"cpuSeconds"`
	CPUCores      float64 `json:"cpuCores"`
	RSSStartBytes int64   `json:"rssStartBytes"`
	RSSEndBytes   int64   `json:"rssEndBytes"`
	RSSMaxBytes   int64   `json:"rssMaxBytes"`
}

// SetResult records a scenario finding on the last phase ended.
func (r *Run) SetResult(key string, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.phases) == 0 {
		return
	}
	p := &r.phases[len(r.phases)-1]
	if p.Result == nil {
		p.Result = map[string]any{}
	}
	p.Result[key] = v
}

// Report assembles the report of everything run so far.
func (r *Run) Report() *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{
		Name:     r.Cfg.Name,
		Scenario: r.Cfg.Scenario,
		Started:  r.T0.UTC(),
		Finished: time.Now().UTC(),
		Command:  r.Cfg.Args,
		Environment: Environment{
			CPUs:        runtime.NumCPU(),
			MemoryBytes: memTotal(),
			GoVersion:   runtime.Version(),
			Transport:   r.Cfg.Transport,
			FileLimit:   r.fileLimit,
			Server:      r.Cfg.ServerURL,
			ChatURL:     r.wsURL,
			ServerNote:  r.Cfg.ServerNote,
			Commit:      gitCommit(),
		},
		Phases:   append([]PhaseReport(nil), r.phases...),
		Timeline: append([]Point(nil), r.timeline...),
		Notes:    append([]string(nil), r.notes...),
	}
	rep.Environment.Host, _ = os.Hostname()
	if r.server != nil {
		rep.Environment.ServerMeasured = r.server.Source()
	}
	rep.Total = total(rep.Phases, r.lat.totals())
	return rep
}

// total sums phases; lat holds the merged latencies, or nil to take the
// worst phase's.
func total(phases []PhaseReport, lat map[string]Summary) PhaseReport {
	t := PhaseReport{Name: "total", Counts: Snapshot{Errors: map[string]int64{}}, Latency: lat}
	if t.Latency == nil {
		t.Latency = map[string]Summary{}
		for _, p := range phases {
			for k, s := range p.Latency {
				if s.P99Ms >= t.Latency[k].P99Ms {
					t.Latency[k] = s
				}
			}
		}
	}
	var secs float64
	var srv, gen *ResourceUse
	for _, p := range phases {
		t.Counts = t.Counts.Add(p.Counts)
		secs += p.DurationSec
		srv = addUse(srv, p.Server)
		gen = addUse(gen, p.Generator)
	}
	for _, u := range []*ResourceUse{srv, gen} {
		if u != nil && secs > 0 {
			u.CPUSeconds = round3(u.CPUSeconds)
			u.CPUCores = round3(u.CPUSeconds / secs)
		}
	}
	t.Server, t.Generator = srv, gen
	t.DurationSec = round3(secs)
	if secs > 0 {
		c := t.Counts
		t.Throughput = Throughput{
			SentPerSec:      round3(float64(c.Sent) / secs),
			AckedPerSec:     round3(float64(c.Acked) / secs),
			DeliveredPerSec: round3(float64(c.Delivered) / secs),
			UsersPerSec:     round3(float64(c.UsersStarted) / secs),
			LoginsPerSec:    round3(float64(c.Logins) / secs),
		}
	}
	t.Problems = problems(t.Counts)
	return t
}

// Merge appends rep's phases to an earlier report of the same name: a
// phase run again replaces the earlier one of the same name, and rep's
// timeline follows the earlier one's.
func Merge(old, rep *Report) *Report {
	out := *old
	out.Finished = rep.Finished
	out.Command = rep.Command
	out.Environment = rep.Environment
	out.Notes = append(append([]string(nil), old.Notes...), rep.Notes...)
	names := map[string]bool{}
	for _, p := range rep.Phases {
		names[p.Name] = true
	}
	out.Phases = nil
	var tl []Point
	for _, p := range old.Phases {
		if !names[p.Name] {
			out.Phases = append(out.Phases, p)
		}
	}
	for _, pt := range old.Timeline {
		if !names[pt.Phase] {
			tl = append(tl, pt)
		}
	}
	off := 0.0
	if len(tl) > 0 {
		off = tl[len(tl)-1].T + 1
	}
	base := 0.0
	if len(rep.Timeline) > 0 {
		base = rep.Timeline[0].T
	}
	for _, pt := range rep.Timeline {
		pt.T = round3(pt.T - base + off)
		tl = append(tl, pt)
	}
	for _, p := range rep.Phases {
		p.StartSec = round3(p.StartSec - base + off)
		out.Phases = append(out.Phases, p)
	}
	out.Timeline = tl
	out.Total = total(out.Phases, nil)
	return &out
}

// Write saves report.json and report.html in dir, merging with the
// report.json there when appendTo is set.
func (rep *Report) Write(dir string, appendTo bool) (*Report, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	jsonPath := filepath.Join(dir, "report.json")
	if appendTo {
		b, err := os.ReadFile(jsonPath)
		switch {
		case err == nil:
			var old Report
			if err := json.Unmarshal(b, &old); err != nil {
				return nil, fmt.Errorf("reading %s to append to: %w", jsonPath, err)
			}
			rep = Merge(&old, rep)
		case !errors.Is(err, os.ErrNotExist):
			return nil, err
		}
	}
	if rep.Total.Name == "" {
		rep.Total = total(rep.Phases, nil)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := WriteHTML(f, rep); err != nil {
		return nil, err
	}
	return rep, f.Close()
}

// addUse sums the CPU of phases and keeps the first start, last end and
// highest RSS.
func addUse(sum, p *ResourceUse) *ResourceUse {
	if p == nil {
		return sum
	}
	if sum == nil {
		c := *p
		return &c
	}
	sum.CPUSeconds += p.CPUSeconds
	sum.RSSEndBytes = p.RSSEndBytes
	sum.RSSMaxBytes = max(sum.RSSMaxBytes, p.RSSMaxBytes)
	return sum
}
