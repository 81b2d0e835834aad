package pebble_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/pebble"
)

// The benchmarks' workload, the same as the SQLite store's was measured
// with: 1,000 one-to-one conversations, batches of 1,024 messages of 150
// bytes, each with a client id, one synced commit per batch.
const (
	benchConvs   = 1000
	benchBatch   = 1024
	benchContent = 150
)

// benchLogs keeps one log per history size for the whole run, since the
// benchmark function runs several times with growing b.N and filling 10^7
// messages takes minutes.
var benchLogs struct {
	sync.Mutex
	m map[int]*benchLog
}

type benchLog struct {
	log  *pebble.Log
	next atomic.Int64 // messages appended so far, for unique ids
}

func users(i int) (string, string) {
	return fmt.Sprintf("a%04d", i), fmt.Sprintf("b%04d", i)
}

// batch returns benchBatch messages spread over the conversations.
func (bl *benchLog) batch() []*parley.Append {
	out := make([]*parley.Append, benchBatch)
	content := strings.Repeat("x", benchContent)
	now := time.Now()
	for i := range out {
		n := bl.next.Add(1)
		from, to := users(int(n % benchConvs))
		out[i] = &parley.Append{ClientID: fmt.Sprint("c", n), From: from, To: to, Conv: parley.ChatID(from, to),
			Content: content, ID: fmt.Sprint("m", n), Time: now, Recipients: []string{to}}
	}
	return out
}

// logWith returns a log that holds stored messages.
func logWith(b *testing.B, stored int) *benchLog {
	benchLogs.Lock()
	defer benchLogs.Unlock()
	if bl := benchLogs.m[stored]; bl != nil {
		return bl
	}
	dir, err := os.MkdirTemp("", "parley-bench-log")
	if err != nil {
		b.Fatal(err)
	}
	log, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	bl := &benchLog{log: log}
	start := time.Now()
	for bl.next.Load() < int64(stored) {
		if err := log.AppendMessages(context.Background(), bl.batch()); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("filled %d messages in %v", stored, time.Since(start).Round(time.Millisecond))
	if benchLogs.m == nil {
		benchLogs.m = map[int]*benchLog{}
	}
	benchLogs.m[stored] = bl
	return bl
}

// BenchmarkAppendMessages measures the cost per message of appending
// batches to a log that already holds 10^5, 10^6 or 10^7 messages. The
// larger sizes run only with -bench-history (they fill gigabytes).
func BenchmarkAppendMessages(b *testing.B) {
	for _, stored := range []int{1e5, 1e6, 1e7} {
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			if stored > 1e5 && os.Getenv("PARLEY_BENCH_HISTORY") == "" {
				b.Skip("set PARLEY_BENCH_HISTORY=1 to fill 10^6 and 10^7 messages first")
			}
			bl := logWith(b, stored)
			b.ReportAllocs()
			b.ResetTimer()
			msgs := 0
			for msgs < b.N {
				if err := bl.log.AppendMessages(context.Background(), bl.batch()); err != nil {
					b.Fatal(err)
				}
				msgs += benchBatch
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs)/1e3, "µs/msg")
		})
	}
}

// BenchmarkHistoryWhileWriting reads pages of 50 messages before a random
// seq of a random conversation while another goroutine appends batches
// without pause, and reports the read's p50 and p99.
func BenchmarkHistoryWhileWriting(b *testing.B) {
	bl := logWith(b, 1e5)
	stop := make(chan struct{})
	var written atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := bl.log.AppendMessages(context.Background(), bl.batch()); err != nil {
				b.Error(err)
				return
			}
			written.Add(benchBatch)
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from, to := users(i * 7919 % benchConvs)
		before := int64(51 + i*104729%50)
		start := time.Now()
		msgs, _, err := bl.log.History(context.Background(), parley.ChatID(from, to), parley.Page{Before: before, Limit: 50})
		lat = append(lat, time.Since(start))
		if err != nil || len(msgs) != 50 {
			b.Fatalf("history: %d messages, %v", len(msgs), err)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(written.Load())/b.Elapsed().Seconds(), "writes/s")
}
