package cassandra_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/cassandra"
	"github.com/parley-chat/parley/internal/testenv"
)

// BenchmarkAppend measures the cost of one message appended in batches of
// 1,024 spread over 1,000 one-to-one conversations, each message with a
// client id (so with its idempotency claim), on the default bucket size.
func BenchmarkAppend(b *testing.B) {
	hosts := testenv.CassandraHosts(b)
	db := openConfig(b, cassandra.Config{Hosts: hosts, Keyspace: testenv.FreshKeyspace(b, hosts)})
	const batchSize, convs = 1024, 1000
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		batch := make([]*parley.Append, batchSize)
		for j := range batch {
			from, to := fmt.Sprintf("u%04d", n%convs), fmt.Sprintf("v%04d", n%convs)
			id := fmt.Sprintf("m%d", n)
			batch[j] = &parley.Append{ClientID: id, From: from, To: to, Conv: parley.ChatID(from, to),
				Content: "a message of about sixty bytes, as chat messages often are", ID: id, Time: time.Now(), Recipients: []string{to}}
			n++
		}
		if err := db.AppendMessages(ctx, batch); err != nil {
			b.Fatal(err)
		}
		for _, a := range batch {
			if a.Err != nil {
				b.Fatal(a.Err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/msg")
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "msgs/s")
}
