package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// WriteHTML writes a self-contained report: tables and inline SVG charts,
// no scripts, nothing fetched.
func WriteHTML(w io.Writer, rep *Report) error {
	var b strings.Builder
	e := html.EscapeString
	fmt.Fprintf(&b, `<!doctype html><html><head><meta charset="utf-8"><title>parley-bench %s</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
.wide{overflow-x:auto;max-width:100%%;margin:8px 0 20px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
td.params{white-space:normal;min-width:8em;max-width:16em;text-align:left}
th{background:#f3f3f3;white-space:normal}td:first-child,th:first-child{text-align:left}.bad{color:#b00;font-weight:600}.ok{color:#070}
svg{background:#fff;border:1px solid #ddd;margin:6px 0 18px;max-width:100%%;height:auto}code{background:#f3f3f3;padding:1px 4px}
</style></head><body>`, e(rep.Name))
	fmt.Fprintf(&b, "<h1>parley-bench: %s <small>(%s)</small></h1>\n", e(rep.Name), e(rep.Scenario))
	env := rep.Environment
	fmt.Fprintf(&b, "<p>%s to %s UTC on %s: %d CPUs, %.1f GiB, %s, transport %s, commit <code>%s</code>.<br>Server %s (chat %s)",
		rep.Started.Format("2006-01-02 15:04:05"), rep.Finished.Format("15:04:05"), e(env.Host), env.CPUs,
		float64(env.MemoryBytes)/(1<<30), e(env.GoVersion), e(env.Transport), e(env.Commit), e(env.Server), e(env.ChatURL))
	if env.ServerMeasured != "" {
		fmt.Fprintf(&b, ", CPU and RSS from %s", e(env.ServerMeasured))
	}
	if env.ServerNote != "" {
		fmt.Fprintf(&b, "; %s", e(env.ServerNote))
	}
	fmt.Fprintf(&b, ".<br>Command: <code>%s</code></p>\n", e(strings.Join(rep.Command, " ")))
	if len(rep.Total.Problems) == 0 {
		b.WriteString(`<p class="ok">Clean: no failed users, lost, duplicated or unanswered messages, no connection failures.</p>`)
	} else {
		fmt.Fprintf(&b, `<p class="bad">Problems: %s</p>`, e(strings.Join(rep.Total.Problems, ", ")))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "<p>Note: %s</p>\n", e(n))
	}

	b.WriteString("<h2>Phases</h2>\n")
	phaseTable(&b, rep)
	b.WriteString("<h2>Latency by phase (ms)</h2>\n")
	latencyTable(&b, rep)
	b.WriteString(phaseBars(rep, MDelivery, "send → delivery latency by phase (ms, log scale)"))
	b.WriteString(phaseBars(rep, MSuccess, "send → SUCCESS latency by phase (ms, log scale)"))

	b.WriteString("<h2>Over time</h2>\n")
	tl := rep.Timeline
	marks := phaseMarks(tl)
	pick := func(name string, f func(Point) (float64, bool)) series {
		s := series{name: name}
		for _, p := range tl {
			if v, ok := f(p); ok {
				s.pts = append(s.pts, [2]float64{p.T, v})
			}
		}
		return s
	}
	lat := func(metric string, q func(Summary) float64) func(Point) (float64, bool) {
		return func(p Point) (float64, bool) {
			s, ok := p.Latency[metric]
			if !ok {
				return 0, false
			}
			return q(s), true
		}
	}
	b.WriteString(lineChart("send → delivery latency per second (ms, log scale)", true, marks,
		pick("p50", lat(MDelivery, func(s Summary) float64 { return s.P50Ms })),
		pick("p99", lat(MDelivery, func(s Summary) float64 { return s.P99Ms })),
		pick("max", lat(MDelivery, func(s Summary) float64 { return s.MaxMs }))))
	b.WriteString(lineChart("throughput (per second)", false, marks,
		pick("sent", func(p Point) (float64, bool) { return p.SentPerSec, true }),
		pick("acknowledged", func(p Point) (float64, bool) { return p.AckedPerSec, true }),
		pick("delivered", func(p Point) (float64, bool) { return p.DeliveredPerSec, true }),
		pick("users", func(p Point) (float64, bool) { return p.UsersPerSec, p.UsersPerSec > 0 }),
		pick("logins", func(p Point) (float64, bool) { return p.LoginsPerSec, p.LoginsPerSec > 0 })))
	b.WriteString(lineChart("handshake latency p99 per second (ms, log scale)", true, marks,
		pick("handshake p99", lat(MHandshake, func(s Summary) float64 { return s.P99Ms })),
		pick("SUCCESS p99", lat(MSuccess, func(s Summary) float64 { return s.P99Ms })),
		pick("login p99", lat(MLogin, func(s Summary) float64 { return s.P99Ms }))))
	b.WriteString(lineChart("CPU (cores)", false, marks,
		pick("server", func(p Point) (float64, bool) { return p.ServerCores, p.ServerRSS > 0 }),
		pick("generator", func(p Point) (float64, bool) { return p.GenCores, true })))
	b.WriteString(lineChart("resident memory (MiB)", false, marks,
		pick("server", func(p Point) (float64, bool) { return float64(p.ServerRSS) / (1 << 20), p.ServerRSS > 0 }),
		pick("generator", func(p Point) (float64, bool) { return float64(p.GenRSS) / (1 << 20), true })))
	b.WriteString(lineChart("open connections and messages in flight", false, marks,
		pick("connections", func(p Point) (float64, bool) { return float64(p.Conns), true }),
		pick("in flight", func(p Point) (float64, bool) { return float64(p.Outstanding), true })))
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func phaseTable(b *strings.Builder, rep *Report) {
	b.WriteString(`<div class="wide"><table><tr><th>phase</th><th>params</th><th>secs</th><th>users ok/started</th><th>sent</th><th>acked</th><th>delivered</th><th>lost</th><th>dup</th><th>unanswered</th><th>conn fail</th><th>sent/s</th><th>delivered/s</th><th>server CPU</th><th>server RSS max</th><th>gen CPU</th><th>errors</th></tr>` + "\n")
	rows := append(append([]PhaseReport(nil), rep.Phases...), rep.Total)
	for _, p := range rows {
		c := p.Counts
		var errs []string
		for _, k := range c.ErrorKinds() {
			errs = append(errs, fmt.Sprintf("%s=%d", k, c.Errors[k]))
		}
		var params []string
		for k, v := range p.Params {
			params = append(params, fmt.Sprintf("%s=%v", k, v))
		}
		srvRSS := "-"
		if p.Server != nil {
			srvRSS = mib(p.Server.RSSMaxBytes)
		}
		cls := func(n int64) string {
			if n > 0 {
				return fmt.Sprintf(`<td class="bad">%d</td>`, n)
			}
			return fmt.Sprintf("<td>%d</td>", n)
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td class=\"params\">%s</td><td>%.1f</td><td>%d/%d</td><td>%d</td><td>%d</td><td>%d</td>%s%s%s%s<td>%.0f</td><td>%.0f</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			html.EscapeString(p.Name), html.EscapeString(strings.Join(sorted(params), " ")), p.DurationSec, c.UsersOK, c.UsersStarted, c.Sent, c.Acked, c.Delivered,
			cls(c.Lost), cls(c.Duplicated), cls(c.Unanswered), cls(c.ConnFailed),
			p.Throughput.SentPerSec, p.Throughput.DeliveredPerSec, cores(p.Server), srvRSS, cores(p.Generator),
			html.EscapeString(strings.Join(errs, " ")))
	}
	b.WriteString("</table></div>\n")
	for _, p := range rep.Phases {
		for k, v := range p.Result {
			fmt.Fprintf(b, "<p>%s — %s: <code>%s</code></p>\n", html.EscapeString(p.Name), html.EscapeString(k), html.EscapeString(fmt.Sprint(v)))
		}
	}
}

func latencyTable(b *strings.Builder, rep *Report) {
	b.WriteString(`<div class="wide"><table><tr><th>phase</th><th>metric</th><th>count</th><th>p50</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr>` + "\n")
	rows := append(append([]PhaseReport(nil), rep.Phases...), rep.Total)
	for _, p := range rows {
		for _, m := range metricNames {
			s, ok := p.Latency[m]
			if !ok {
				continue
			}
			// A phase that measured nothing has no percentiles, not zeros.
			fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
				html.EscapeString(p.Name), m, s.Count, ms(s.P50Ms, s.Count), ms(s.P95Ms, s.Count), ms(s.P99Ms, s.Count),
				ms(s.P999Ms, s.Count), ms(s.MaxMs, s.Count), ms(s.MeanMs, s.Count))
		}
	}
	b.WriteString("</table></div>\n")
}

func sorted(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// SVG charts.

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

type series struct {
	name string
	pts  [][2]float64
}

type mark struct {
	x    float64
	name string
}

func phaseMarks(tl []Point) []mark {
	var m []mark
	last := "\x00"
	for _, p := range tl {
		if p.Phase != last && p.Phase != "" {
			m = append(m, mark{p.T, p.Phase})
		}
		last = p.Phase
	}
	return m
}

const (
	chartW, chartH         = 1000, 260
	padL, padR, padT, padB = 64, 130, 26, 28
)

// scale maps data values to pixels, linearly or by log10.
type scale struct {
	lo, hi, p0, p1 float64
	log            bool
}

func (s scale) px(v float64) float64 {
	if s.log {
		v = math.Log10(math.Max(v, s.lo))
	}
	lo, hi := s.lo, s.hi
	if s.log {
		lo, hi = math.Log10(s.lo), math.Log10(s.hi)
	}
	if hi == lo {
		return s.p0
	}
	return s.p0 + (v-lo)/(hi-lo)*(s.p1-s.p0)
}

func yScale(lo, hi float64, logY bool) (scale, []float64) {
	if logY {
		if math.IsInf(lo, 0) || math.IsNaN(lo) || math.IsInf(hi, 0) || math.IsNaN(hi) {
			lo, hi = 1, 10 // nothing to draw above zero
		}
		lo, hi = math.Max(lo, 0.01), math.Max(hi, math.Max(lo, 0.01))
		// Bounds and ticks on the 1-2-5 sequence: a range within a decade
		// or two still gets several labelled ticks; a wide one, decades.
		steps := []float64{1, 2, 5}
		if math.Log10(hi/lo) > 3 {
			steps = []float64{1}
		}
		var ticks []float64
		for e := math.Floor(math.Log10(lo)); ; e++ {
			for _, m := range steps {
				t := m * math.Pow(10, e)
				if t > hi*1.001 && len(ticks) > 1 && ticks[len(ticks)-1] >= hi*0.999 {
					return scale{lo: ticks[0], hi: ticks[len(ticks)-1], p0: chartH - padB, p1: padT, log: true}, ticks
				}
				if t <= lo*1.001 {
					ticks = []float64{t} // the largest step at or below lo
					continue
				}
				ticks = append(ticks, t)
			}
		}
	}
	if hi <= 0 {
		hi = 1
	}
	step := math.Pow(10, math.Floor(math.Log10(hi)))
	for hi/step < 4 {
		step /= 2
	}
	hi = math.Ceil(hi/step) * step
	var ticks []float64
	for t := 0.0; t <= hi*1.0001; t += step {
		ticks = append(ticks, t)
	}
	return scale{lo: 0, hi: hi, p0: chartH - padB, p1: padT}, ticks
}

// labelRows places labels of about charW pixels per character left to
// right on the fewest rows (at most rows) without overlaps; it returns
// each label's row, and whether it must end at its x (it would overflow
// the right edge otherwise).
func labelRows(xs []float64, names []string, rows int, right float64) (row []int, anchorEnd []bool) {
	const charW = 5.6
	ends := make([]float64, rows)
	for i := range ends {
		ends[i] = math.Inf(-1)
	}
	for i, x := range xs {
		w := float64(len(names[i]))*charW + 4
		end := x + w
		left := x
		atEnd := end > right
		if atEnd {
			left, end = x-w, x
		}
		r := 0
		for r < rows-1 && ends[r] > left {
			r++
		}
		ends[r] = end
		row, anchorEnd = append(row, r), append(anchorEnd, atEnd)
	}
	return row, anchorEnd
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	case math.Abs(v) < 1:
		return fmt.Sprintf("%.2g", v)
	}
	return fmt.Sprintf("%.4g", v)
}

func lineChart(title string, logY bool, marks []mark, ss ...series) string {
	var all []series
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		if len(s.pts) == 0 {
			continue
		}
		all = append(all, s)
		for _, p := range s.pts {
			xmin, xmax = math.Min(xmin, p[0]), math.Max(xmax, p[0])
			if !logY || p[1] > 0 {
				ymin, ymax = math.Min(ymin, p[1]), math.Max(ymax, p[1])
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg" font-size="11">`, chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13" font-weight="600">%s</text>`, padL, html.EscapeString(title))
	if len(all) == 0 || math.IsInf(ymax, 0) {
		b.WriteString(`<text x="400" y="130" fill="#888">no data</text></svg>`)
		return b.String()
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	xs := scale{lo: xmin, hi: xmax, p0: padL, p1: chartW - padR}
	ys, ticks := yScale(ymin, ymax, logY)
	for _, t := range ticks {
		y := ys.px(t)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`,
			padL, chartW-padR, y, y, padL-4, y+4, num(t))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">%s s</text><text x="%d" y="%d" text-anchor="end" fill="#555">%s s</text>`,
		padL, chartH-8, num(xmin), chartW-padR, chartH-8, num(xmax))
	var mx []float64
	var mnames []string
	for _, m := range marks {
		mx, mnames = append(mx, xs.px(m.x)), append(mnames, m.name)
	}
	rows, atEnd := labelRows(mx, mnames, 3, chartW-padR)
	for i, x := range mx {
		tx, anchor := x+2, "start"
		if atEnd[i] {
			tx, anchor = x-2, "end"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#aaa" stroke-dasharray="3,3"/><text x="%.1f" y="%d" text-anchor="%s" fill="#777" font-size="10">%s</text>`,
			x, x, padT, chartH-padB, tx, padT+9+11*rows[i], anchor, html.EscapeString(mnames[i]))
	}
	// Lines drawn later are thinner and dashed, so that one equal to an
	// earlier one does not hide it; the legend says which are equal.
	for i, s := range all {
		color := palette[i%len(palette)]
		var pts []string
		for _, p := range s.pts {
			if logY && p[1] <= 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xs.px(p[0]), ys.px(p[1])))
		}
		width := math.Max(3.5-float64(i), 1.2)
		dash := []string{"", "7,3", "2,2", "10,3,2,3", "4,4", "1,3"}[i%6]
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="%.1f" stroke-dasharray="%s" points="%s"/>`, color, width, dash, strings.Join(pts, " "))
		name := s.name
		for _, earlier := range all[:i] {
			if samePoints(earlier.pts, s.pts) {
				name += " (= " + earlier.name + ")"
				break
			}
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`,
			chartW-padR+10, padT+i*16, color, chartW-padR+24, padT+i*16+9, html.EscapeString(name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func samePoints(a, b [][2]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// phaseBars draws p50/p95/p99/p99.9/max of a metric for each phase.
func phaseBars(rep *Report, metric, title string) string {
	qs := []struct {
		name string
		f    func(Summary) float64
	}{
		{"p50", func(s Summary) float64 { return s.P50Ms }},
		{"p95", func(s Summary) float64 { return s.P95Ms }},
		{"p99", func(s Summary) float64 { return s.P99Ms }},
		{"p99.9", func(s Summary) float64 { return s.P999Ms }},
		{"max", func(s Summary) float64 { return s.MaxMs }},
	}
	var phases []PhaseReport
	lo, hi := math.Inf(1), 0.0
	for _, p := range rep.Phases {
		s, ok := p.Latency[metric]
		if !ok || s.Count == 0 {
			continue
		}
		phases = append(phases, p)
		for _, q := range qs {
			v := q.f(s)
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if len(phases) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg" font-size="11">`, chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13" font-weight="600">%s</text>`, padL, html.EscapeString(title))
	ys, ticks := yScale(lo*0.99, hi, true) // the axis starts below the smallest bar, which keeps a height
	for _, t := range ticks {
		y := ys.px(t)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`,
			padL, chartW-padR, y, y, padL-4, y+4, num(t))
	}
	groupW := float64(chartW-padL-padR) / float64(len(phases))
	barW := groupW * 0.8 / float64(len(qs))
	// Labels under their bars, on a second row where they would overlap.
	var lx []float64
	var lnames []string
	for i, p := range phases {
		name := trunc(p.Name, 24)
		w := float64(len(name)) * 5.6
		lx, lnames = append(lx, float64(padL)+float64(i)*groupW+groupW/2-w/2), append(lnames, name)
	}
	lrows, _ := labelRows(lx, lnames, 2, chartW)
	for i, p := range phases {
		s := p.Latency[metric]
		x0 := float64(padL) + float64(i)*groupW + groupW*0.1
		for j, q := range qs {
			v := q.f(s)
			y := ys.px(v)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.3f ms</title></rect>`,
				x0+float64(j)*barW, y, barW*0.9, math.Max(0, float64(chartH-padB)-y), palette[j%len(palette)],
				html.EscapeString(p.Name), q.name, v)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555" font-size="10"><title>%s</title>%s</text>`,
			x0+groupW*0.4, chartH-padB+11+11*lrows[i], html.EscapeString(p.Name), html.EscapeString(lnames[i]))
	}
	for j, q := range qs {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`,
			chartW-padR+10, padT+j*16, palette[j%len(palette)], chartW-padR+24, padT+j*16+9, q.name)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
