package hub

import "time"

// Metrics receives the hub's measurements; package metrics implements it
// with Prometheus. All methods must be safe for concurrent use and cheap.
type Metrics interface {
	ConnOpened(kind Kind)
	ConnClosed(kind Kind)
	// SlowClient counts a disconnect of a client that could not keep up.
	SlowClient()
	// Stored counts messages committed, by kind ("direct" or "group").
	Stored(kind string, n int)
	// Delivered counts frames of a message written to recipients' sockets,
	// with the time from commit to the write.
	Delivered(kind string, n int, sinceCommit time.Duration)
	// OfflineDelivered counts messages sent as offline messages.
	OfflineDelivered(n int)
	// Batch observes one store transaction of sends and ACKs.
	Batch(items int, took time.Duration)
	// AckLag observes the time from writing a message to a connection to
	// that connection's ACK covering it.
	AckLag(d time.Duration)
}

type nopMetrics struct{}

func (nopMetrics) ConnOpened(Kind)                      {}
func (nopMetrics) ConnClosed(Kind)                      {}
func (nopMetrics) SlowClient()                          {}
func (nopMetrics) Stored(string, int)                   {}
func (nopMetrics) Delivered(string, int, time.Duration) {}
func (nopMetrics) OfflineDelivered(int)                 {}
func (nopMetrics) Batch(int, time.Duration)             {}
func (nopMetrics) AckLag(time.Duration)                 {}
