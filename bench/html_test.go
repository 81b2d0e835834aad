package bench

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestLogTicks(t *testing.T) {
	cases := []struct {
		lo, hi float64
		want   []float64
	}{
		{1.3, 8, []float64{1, 2, 5, 10}},
		{2.5, 40, []float64{2, 5, 10, 20, 50}},
		{5, 5, []float64{5, 10}},
		{0.5, 5000, []float64{0.1, 1, 10, 100, 1000, 10000}},
		{math.Inf(1), 0, []float64{1, 2, 5, 10}},
	}
	for _, c := range cases {
		_, ticks := yScale(c.lo, c.hi, true)
		if len(ticks) != len(c.want) {
			t.Errorf("yScale(%v, %v) ticks %v, want %v", c.lo, c.hi, ticks, c.want)
			continue
		}
		for i := range ticks {
			if math.Abs(ticks[i]-c.want[i]) > 1e-9*c.want[i] {
				t.Errorf("yScale(%v, %v) ticks %v, want %v", c.lo, c.hi, ticks, c.want)
				break
			}
		}
	}
}

func TestLineChartEqualSeries(t *testing.T) {
	pts := [][2]float64{{0, 10}, {1, 12}, {2, 11}}
	svg := lineChart("throughput", false, nil, series{"sent", pts}, series{"delivered", pts}, series{"other", [][2]float64{{0, 1}, {2, 3}}})
	if !strings.Contains(svg, "delivered (= sent)") {
		t.Errorf("the legend does not say delivered equals sent:\n%s", svg)
	}
	widths := regexp.MustCompile(`stroke-width="([0-9.]+)" stroke-dasharray="([^"]*)"`).FindAllStringSubmatch(svg, -1)
	if len(widths) != 3 || widths[0][1] == widths[1][1] || widths[1][2] == "" {
		t.Errorf("equal lines are drawn alike (the second hides the first): %v", widths)
	}
}

func TestPhaseLabelsDoNotOverlap(t *testing.T) {
	// Phases 5 s apart on a 1000 s chart: their names cannot share a row.
	var marks []mark
	for i, n := range []string{"01_baseline", "02_light", "03_medium"} {
		marks = append(marks, mark{float64(i * 5), n})
	}
	marks = append(marks, mark{999, "09_breaking"})
	svg := lineChart("x", false, marks, series{"s", [][2]float64{{0, 1}, {1000, 2}}})
	ys := regexp.MustCompile(`<text x="[0-9.]+" y="([0-9]+)" text-anchor="(start|end)" fill="#777"`).FindAllStringSubmatch(svg, -1)
	if len(ys) != 4 {
		t.Fatalf("phase labels: %v", ys)
	}
	if ys[0][1] == ys[1][1] || ys[1][1] == ys[2][1] || ys[0][1] == ys[2][1] {
		t.Errorf("close phase labels share a row: %v", ys)
	}
	if ys[3][2] != "end" {
		t.Errorf("the last label would be clipped at the right edge: %v", ys[3])
	}
}
