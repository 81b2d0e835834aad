package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/testenv"
	"github.com/parley-chat/parley/postgres"
)

// BenchmarkAppendMessages stores one-to-one messages, each with an
// idempotency key, in batches of 256 spread over 100 conversations, as the
// hub's committer does. An op is one message.
func BenchmarkAppendMessages(b *testing.B) {
	db, err := postgres.Open(ctx, postgres.Config{URL: testenv.FreshDatabase(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const convs, size = 100, 256
	users := make([]*parley.User, 2*convs)
	for i := range users {
		users[i] = &parley.User{Username: fmt.Sprintf("user%04d", i), PasswordHash: []byte("x")}
	}
	if _, err := db.CreateUsers(ctx, users); err != nil {
		b.Fatal(err)
	}
	batch := make([]*parley.Append, size)
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += size {
		for i := range batch {
			n++
			from, to := users[n%convs].Username, users[convs+n%convs].Username
			batch[i] = &parley.Append{ClientID: fmt.Sprintf("c%d", n), From: from, To: to, Conv: parley.ChatID(from, to),
				Content: "a message of about sixty-four bytes, like the load test sends", ID: fmt.Sprint(n), Time: time.Now()}
		}
		if err := db.AppendMessages(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/1000, "µs/msg")
}
