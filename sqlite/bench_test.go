package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/sqlite"
)

// BenchmarkAppendMessages stores one-to-one messages in batches, spread
// over 1000 conversations of 2000 users, as the hub's committer does.
func BenchmarkAppendMessages(b *testing.B) {
	for _, size := range []int{64, 1024} {
		for _, sync := range []string{"NORMAL", "FULL"} {
			for _, ckpt := range []int{1000, 10000} {
				b.Run(fmt.Sprintf("batch=%d/sync=%s/checkpoint=%d", size, sync, ckpt), func(b *testing.B) {
					benchAppend(b, size, sync, ckpt)
				})
			}
		}
	}
}

func benchAppend(b *testing.B, size int, sync string, checkpointPages int) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "p.db"), Synchronous: sync, CheckpointPages: checkpointPages})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const users = 2000
	for i := 0; i < users; i++ {
		if err := db.CreateUser(ctx, &parley.User{Username: fmt.Sprintf("user%04d", i), PasswordHash: []byte("x")}); err != nil {
			b.Fatal(err)
		}
	}
	batch := make([]*parley.Append, size)
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += size {
		for i := range batch {
			n++
			from, to := fmt.Sprintf("user%04d", n%1000), fmt.Sprintf("user%04d", 1000+n%1000)
			batch[i] = &parley.Append{ClientID: fmt.Sprintf("c%d", n), From: from, To: to, Conv: parley.ChatID(from, to),
				Content: "a message of about sixty-four bytes, like the load test sends", ID: fmt.Sprint(n), Time: time.Now()}
		}
		if err := db.AppendMessages(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/1000, "µs/msg")
}
