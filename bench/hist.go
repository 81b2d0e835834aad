package bench

import (
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms hold microseconds from 1 µs to one hour with three
// significant digits: 0.1% resolution at every scale.
const (
	histMin    = 1
	histMax    = int64(time.Hour / time.Microsecond)
	histDigits = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

// Latency records durations into an HDR histogram. It is safe for
// concurrent use. The sampler cuts it once a second: Cut returns what was
// recorded since the previous cut and starts afresh, so one Latency serves
// both the timeline (each cut) and the phase totals (cuts merged).
type Latency struct {
	mu  sync.Mutex
	cur *hdrhistogram.Histogram
}

// NewLatency returns an empty recorder.
func NewLatency() *Latency { return &Latency{cur: newHist()} }

// Record adds one observation. Values past an hour are kept as an hour;
// values under a microsecond as a microsecond.
func (l *Latency) Record(d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	l.mu.Lock()
	l.cur.RecordValue(us)
	l.mu.Unlock()
}

// Cut returns the observations since the previous Cut.
func (l *Latency) Cut() *hdrhistogram.Histogram {
	fresh := newHist()
	l.mu.Lock()
	h := l.cur
	l.cur = fresh
	l.mu.Unlock()
	return h
}

// Summary is a latency distribution in milliseconds.
type Summary struct {
	Count  int64   `json:"count"`
	MinMs  float64 `json:"minMs"`
	MeanMs float64 `json:"meanMs"`
	P50Ms  float64 `json:"p50Ms"`
	P95Ms  float64 `json:"p95Ms"`
	P99Ms  float64 `json:"p99Ms"`
	P999Ms float64 `json:"p999Ms"`
	MaxMs  float64 `json:"maxMs"`
}

// Summarize reads the percentiles of a histogram of microseconds.
func Summarize(h *hdrhistogram.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	ms := func(us int64) float64 { return round3(float64(us) / 1000) }
	return Summary{
		Count:  h.TotalCount(),
		MinMs:  ms(h.Min()),
		MeanMs: round3(h.Mean() / 1000),
		P50Ms:  ms(h.ValueAtQuantile(50)),
		P95Ms:  ms(h.ValueAtQuantile(95)),
		P99Ms:  ms(h.ValueAtQuantile(99)),
		P999Ms: ms(h.ValueAtQuantile(99.9)),
		MaxMs:  ms(h.Max()),
	}
}

// round3 keeps three decimals: microseconds when the unit is ms.
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// Metric names of the latencies every run records.
const (
	MHandshake = "handshake"     // dial to the 101 answer
	MReady     = "ready"         // dial to INFO offline_delivered
	MSuccess   = "sendToSuccess" // send to its SUCCESS
	MDelivery  = "sendToDelivery"
	MLogin     = "login"
	MHistory   = "history"
)

var metricNames = []string{MHandshake, MReady, MSuccess, MDelivery, MLogin, MHistory}

// latencies is the set of recorders of a run, and the merged histograms of
// the phase in progress.
type latencies struct {
	rec   map[string]*Latency
	phase map[string]*hdrhistogram.Histogram
	total map[string]*hdrhistogram.Histogram
}

func newLatencies() *latencies {
	l := &latencies{rec: map[string]*Latency{}, phase: map[string]*hdrhistogram.Histogram{}, total: map[string]*hdrhistogram.Histogram{}}
	for _, n := range metricNames {
		l.rec[n] = NewLatency()
		l.phase[n] = newHist()
		l.total[n] = newHist()
	}
	return l
}

// cut moves every recorder's observations into the phase histograms and
// returns the interval's own summaries.
func (l *latencies) cut() map[string]Summary {
	out := make(map[string]Summary, len(l.rec))
	for n, r := range l.rec {
		h := r.Cut()
		if h.TotalCount() > 0 {
			out[n] = Summarize(h)
			l.phase[n].Merge(h)
		}
	}
	return out
}

// endPhase returns the phase summaries and starts the next phase.
func (l *latencies) endPhase() map[string]Summary {
	l.cut()
	out := make(map[string]Summary, len(l.phase))
	for n, h := range l.phase {
		if h.TotalCount() > 0 {
			out[n] = Summarize(h)
			l.total[n].Merge(h)
		}
		l.phase[n] = newHist()
	}
	return out
}

// totals summarizes every phase ended so far.
func (l *latencies) totals() map[string]Summary {
	out := make(map[string]Summary, len(l.total))
	for n, h := range l.total {
		if h.TotalCount() > 0 {
			out[n] = Summarize(h)
		}
	}
	return out
}

// reset drops what was recorded since the last phase ended.
func (l *latencies) reset() {
	for n, r := range l.rec {
		r.Cut()
		l.phase[n] = newHist()
	}
}
