package bench_test

import (
	"math"
	"testing"
	"time"

	"github.com/parley-chat/parley/bench"
)

func TestLatencyPercentiles(t *testing.T) {
	l := bench.NewLatency()
	for i := 1; i <= 1000; i++ {
		l.Record(time.Duration(i) * time.Millisecond)
	}
	s := bench.Summarize(l.Cut())
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want*0.002+0.001 {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	if s.Count != 1000 {
		t.Fatalf("count: got %d, want 1000", s.Count)
	}
	near("min", s.MinMs, 1)
	near("p50", s.P50Ms, 500)
	near("p95", s.P95Ms, 950)
	near("p99", s.P99Ms, 990)
	near("p99.9", s.P999Ms, 999)
	near("max", s.MaxMs, 1000)
	near("mean", s.MeanMs, 500.5)

	t.Run("cut starts afresh", func(t *testing.T) {
		if n := bench.Summarize(l.Cut()).Count; n != 0 {
			t.Fatalf("after a cut: got %d observations, want 0", n)
		}
	})
	t.Run("clamped", func(t *testing.T) {
		l.Record(0)
		l.Record(2 * time.Hour)
		s := bench.Summarize(l.Cut())
		if s.MinMs != 0.001 || s.MaxMs < 3.5e6 || s.MaxMs > 3.7e6 {
			t.Fatalf("got min %v max %v, want 0.001 and about an hour", s.MinMs, s.MaxMs)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if s := bench.Summarize(nil); s != (bench.Summary{}) {
			t.Fatalf("got %+v, want zero", s)
		}
	})
}

func TestSnapshotArithmetic(t *testing.T) {
	a := bench.Snapshot{Sent: 10, Delivered: 8, Lost: 1, Errors: map[string]int64{"dial": 2, "x": 1}}
	b := bench.Snapshot{Sent: 4, Delivered: 3, Errors: map[string]int64{"dial": 1}}
	d := a.Sub(b)
	if d.Sent != 6 || d.Delivered != 5 || d.Lost != 1 || d.Errors["dial"] != 1 || d.Errors["x"] != 1 {
		t.Fatalf("a-b: got %+v", d)
	}
	s := a.Add(b)
	if s.Sent != 14 || s.Delivered != 11 || s.Errors["dial"] != 3 || s.Errors["x"] != 1 {
		t.Fatalf("a+b: got %+v", s)
	}
	if k := s.ErrorKinds(); len(k) != 2 || k[0] != "dial" {
		t.Fatalf("error kinds: got %v, want dial first", k)
	}
}
