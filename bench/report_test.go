package bench_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/bench"
)

func sampleReport(phases ...string) *bench.Report {
	rep := &bench.Report{Name: "t", Scenario: "ladder", Started: time.Unix(0, 0), Finished: time.Unix(60, 0)}
	for i, name := range phases {
		p := bench.PhaseReport{
			Name: name, StartSec: float64(10 * i), DurationSec: 10,
			Counts:  bench.Snapshot{Sent: 100, Acked: 100, Delivered: 100, UsersStarted: 10, UsersOK: 10, Errors: map[string]int64{}},
			Latency: map[string]bench.Summary{bench.MDelivery: {Count: 100, P50Ms: 1, P99Ms: float64(2 + i), MaxMs: 9}},
			Server:  &bench.ResourceUse{CPUSeconds: 2, CPUCores: 0.2, RSSMaxBytes: 1 << 20},
		}
		rep.Phases = append(rep.Phases, p)
		for s := 0; s < 10; s++ {
			rep.Timeline = append(rep.Timeline, bench.Point{T: float64(10*i + s), Phase: name, SentPerSec: 10, DeliveredPerSec: 10,
				Latency: map[string]bench.Summary{bench.MDelivery: {Count: 10, P50Ms: 1, P99Ms: 2, MaxMs: 3}}})
		}
	}
	return rep
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	rep, err := sampleReport("01_baseline", "02_light").Write(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "scenario", "environment", "phases", "total", "timeline"} {
		if _, ok := got[k]; !ok {
			t.Errorf("report.json has no %q", k)
		}
	}
	phase := got["phases"].([]any)[0].(map[string]any)
	for _, k := range []string{"counts", "throughput", "latency", "durationSec", "problems"} {
		if _, ok := phase[k]; !ok {
			t.Errorf("a phase has no %q", k)
		}
	}
	counts := phase["counts"].(map[string]any)
	for _, k := range []string{"sent", "acknowledged", "delivered", "lost", "duplicated", "connectionFailures", "errors"} {
		if _, ok := counts[k]; !ok {
			t.Errorf("counts have no %q", k)
		}
	}
	if rep.Total.Counts.Sent != 200 || rep.Total.Server.CPUSeconds != 4 {
		t.Errorf("total: got sent %d, server CPU %v; want 200 and 4", rep.Total.Counts.Sent, rep.Total.Server.CPUSeconds)
	}
	h, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(h)
	for _, want := range []string{"<svg", "02_light", "send → delivery latency", "throughput", "<polyline"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "http://") && !strings.Contains(html, "xmlns=\"http://www.w3.org/2000/svg\"") {
		t.Error("report.html is not self-contained")
	}
}

func TestAppendReport(t *testing.T) {
	dir := t.TempDir()
	if _, err := sampleReport("01_baseline", "02_light").Write(dir, true); err != nil {
		t.Fatal(err)
	}
	// A later process runs phase 2 again and phase 3.
	rep, err := sampleReport("02_light", "03_medium").Write(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range rep.Phases {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "01_baseline,02_light,03_medium" {
		t.Fatalf("phases: got %v", names)
	}
	if n := len(rep.Timeline); n != 30 {
		t.Fatalf("timeline points: got %d, want 30", n)
	}
	for i := 1; i < len(rep.Timeline); i++ {
		if rep.Timeline[i].T <= rep.Timeline[i-1].T {
			t.Fatalf("timeline not increasing at %d: %v after %v", i, rep.Timeline[i].T, rep.Timeline[i-1].T)
		}
	}
	if rep.Total.Counts.Sent != 300 {
		t.Fatalf("total sent: got %d, want 300", rep.Total.Counts.Sent)
	}
}

func TestSelectPhases(t *testing.T) {
	for _, tc := range []struct {
		sel  []string
		want string
	}{
		{nil, "01_baseline,02_light,03_medium,04_heavy,05_stress,06_peak,07_extreme,08_overload,09_breaking"},
		{[]string{"1-3"}, "01_baseline,02_light,03_medium"},
		{[]string{"8-"}, "08_overload,09_breaking"},
		{[]string{"05_stress,2"}, "02_light,05_stress"},
		{[]string{"stress"}, "05_stress"},
	} {
		ps, err := bench.SelectPhases(tc.sel)
		if err != nil {
			t.Fatalf("%v: %v", tc.sel, err)
		}
		var names []string
		for _, p := range ps {
			names = append(names, p.Name)
		}
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("%v: got %s, want %s", tc.sel, got, tc.want)
		}
	}
	if _, err := bench.SelectPhases([]string{"10"}); err == nil {
		t.Error("phase 10: got no error")
	}
}

// TestHTMLEmptyPhaseAndWideTable: a phase that measured nothing shows no
// percentiles (not "0.00"), and the wide tables scroll in their own box.
func TestHTMLEmptyPhaseAndWideTable(t *testing.T) {
	rep := sampleReport("01_baseline", "02_light")
	rep.Phases[1].Latency[bench.MDelivery] = bench.Summary{}
	var b strings.Builder
	if err := bench.WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "<tr><td>02_light</td><td>sendToDelivery</td><td>0</td><td>-</td>") {
		t.Errorf("an empty phase's latency row:\n%s", out)
	}
	if strings.Count(out, `<div class="wide"><table>`) != 2 || !strings.Contains(out, "overflow-x:auto") {
		t.Errorf("the tables are not in scrolling boxes")
	}
}
