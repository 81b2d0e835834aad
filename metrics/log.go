package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley"
)

// logCollector reports a message log's state at each scrape.
type logCollector struct {
	stats                       func(context.Context) (*parley.LogStats, error)
	messages, chats, disk, debt *prometheus.Desc
	stalls, stallSeconds, up    *prometheus.Desc
	cacheHits, cacheMisses      *prometheus.Desc
}

// MessageLog registers gauges of the message log that stats describes:
// what it holds, its size on disk, its compaction debt and its write
// stalls.
func (m *Metrics) MessageLog(stats func(context.Context) (*parley.LogStats, error)) {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	m.reg.MustRegister(&logCollector{
		stats:        stats,
		messages:     d("parley_message_log_messages", "Messages held by the message log."),
		chats:        d("parley_message_log_chats", "One-to-one chats held by the message log."),
		disk:         d("parley_message_log_disk_bytes", "Size of the message log's files."),
		debt:         d("parley_message_log_compaction_debt_bytes", "Bytes the message log's compactions estimate they still have to rewrite."),
		stalls:       d("parley_message_log_write_stalls_total", "Times writes to the message log were held back because compactions fell behind."),
		stallSeconds: d("parley_message_log_write_stall_seconds_total", "Time writes to the message log spent held back."),
		up:           d("parley_message_log_up", "1 if the message log answered the scrape."),
		cacheHits:    d("parley_message_log_cache_hits_total", "Reads of the message log's blocks answered from its block cache."),
		cacheMisses:  d("parley_message_log_cache_misses_total", "Reads of the message log's blocks that went to its files."),
	})
}

func (c *logCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.messages, c.chats, c.disk, c.debt, c.stalls, c.stallSeconds, c.up, c.cacheHits, c.cacheMisses} {
		ch <- d
	}
}

func (c *logCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(st.Messages))
	ch <- prometheus.MustNewConstMetric(c.chats, prometheus.GaugeValue, float64(st.Chats))
	ch <- prometheus.MustNewConstMetric(c.disk, prometheus.GaugeValue, float64(st.DiskBytes))
	ch <- prometheus.MustNewConstMetric(c.debt, prometheus.GaugeValue, float64(st.CompactionDebtBytes))
	ch <- prometheus.MustNewConstMetric(c.stalls, prometheus.CounterValue, float64(st.WriteStalls))
	ch <- prometheus.MustNewConstMetric(c.stallSeconds, prometheus.CounterValue, st.WriteStallSeconds)
	ch <- prometheus.MustNewConstMetric(c.cacheHits, prometheus.CounterValue, float64(st.CacheHits))
	ch <- prometheus.MustNewConstMetric(c.cacheMisses, prometheus.CounterValue, float64(st.CacheMisses))
}
