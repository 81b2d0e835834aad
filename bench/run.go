package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/client"
)

// Run is the shared state of one parley-bench run: the transport, the
// account pool, the counters, latency recorders and message tracker, the
// phases recorded so far and the once-a-second sampler behind the
// timeline and the progress line.
type Run struct {
	Cfg      *Config
	C        Counters
	T0       time.Time
	ID       string
	idPrefix []byte
	idSeq    atomic.Uint64

	lat       *latencies
	tracker   *tracker
	accounts  *Accounts
	transport Transport
	wsURL     string
	wsURLs    []string // wsURL's comma-separated URLs (several nodes)
	server    Probe    // nil when neither /proc nor /metrics is available
	self      Probe
	fileLimit uint64
	notes     []string

	ackMu sync.Mutex
	ackQ  []*Session

	mu       sync.Mutex // guards what follows and lat's phase histograms
	phases   []PhaseReport
	timeline []Point
	cur      *phaseState
	prev     Snapshot
	progress func() string // scenario's part of the progress line

	stop     context.CancelFunc
	loopDone chan struct{}
}

// NewRun prepares a run: file limit, transport, account cache, probes.
func NewRun(cfg *Config) (*Run, error) {
	cfg.Defaults()
	r := &Run{Cfg: cfg, T0: time.Now(), lat: newLatencies(), self: ProcProbe{}}
	r.ID = strconv.FormatInt(time.Now().UnixNano(), 36)
	r.idPrefix = []byte(r.ID + "-")
	r.tracker = newTracker(&r.C)
	lim, err := RaiseFileLimit()
	if err != nil {
		r.note("could not raise the open-file limit: %v", err)
	}
	r.fileLimit = lim
	u, err := url.Parse(cfg.ServerURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bad server URL %q", cfg.ServerURL)
	}
	r.wsURL = cfg.ChatURL
	if r.wsURL == "" {
		r.wsURL = "ws://" + u.Host + "/ws/chat"
	}
	for _, s := range strings.Split(r.wsURL, ",") {
		if s = strings.TrimSpace(s); s != "" {
			r.wsURLs = append(r.wsURLs, s)
		}
	}
	api := client.New(cfg.ServerURL)
	if cfg.AccountsFile == "" {
		if cfg.AccountsFile, err = DefaultAccountsFile(u.Host); err != nil {
			return nil, err
		}
	}
	if r.accounts, err = OpenAccounts(api, cfg.AccountsFile); err != nil {
		return nil, err
	}
	switch {
	case cfg.ServerPID > 0:
		r.server = ProcProbe{Pid: cfg.ServerPID}
	default:
		mu := cfg.MetricsURL
		if mu == "" {
			// parleyd's operators' listener, at its default port.
			mu = "http://" + net.JoinHostPort(u.Hostname(), "9464") + "/metrics"
		}
		p := MetricsProbe{URL: mu}
		if _, err := p.Sample(); err == nil {
			r.server = p
		} else {
			r.note("server CPU and RSS not measured: no --server-pid and %s: %v", mu, err)
		}
	}
	return r, nil
}

// Open starts the transport and the sampler. sources is how many source
// addresses the scenario's connections need (see SourcesFor).
func (r *Run) Open(sources int) error {
	if r.Cfg.SourceAddrs > 0 {
		sources = r.Cfg.SourceAddrs
	}
	d := NewDialer(sources, r.Cfg.ConnectTimeout)
	var err error
	if r.transport, err = NewTransport(r.Cfg.Transport, d); err != nil {
		return err
	}
	if sources > 1 {
		r.note("connections dialed from %d source addresses 127.0.0.1-%d", sources, sources)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	r.loopDone = make(chan struct{})
	go r.loop(ctx)
	return nil
}

// Accounts is the run's account pool.
func (r *Run) Accounts() *Accounts { return r.accounts }

// note adds a line to the report's notes.
func (r *Run) note(format string, args ...any) {
	r.mu.Lock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// Note adds a line to the report's notes (scenarios' findings).
func (r *Run) Note(format string, args ...any) { r.note(format, args...) }

// SetProgress sets the scenario's part of the progress line.
func (r *Run) SetProgress(f func() string) {
	r.mu.Lock()
	r.progress = f
	r.mu.Unlock()
}

// now is the run's clock in nanoseconds (monotonic).
func (r *Run) now() int64 { return int64(time.Since(r.T0)) }

func (r *Run) nextID() string {
	return r.ID + "-" + strconv.FormatUint(r.idSeq.Add(1), 36)
}

func (r *Run) onSuccess(id []byte) {
	if sent, ok := r.tracker.ack(id); ok {
		r.C.Acked.Add(1)
		r.lat.rec[MSuccess].Record(time.Duration(r.now() - sent))
	}
}

func (r *Run) onError(id, code []byte) {
	r.C.Error("server:" + string(code))
	if len(id) > 0 && r.tracker.reject(id) {
		r.C.Rejected.Add(1)
	}
}

// queueAck puts a session on the acker's list.
func (r *Run) queueAck(s *Session) {
	r.ackMu.Lock()
	r.ackQ = append(r.ackQ, s)
	r.ackMu.Unlock()
}

// loop flushes ACKs every AckInterval and samples once a second.
func (r *Run) loop(ctx context.Context) {
	defer close(r.loopDone)
	ack := time.NewTicker(r.Cfg.AckInterval)
	defer ack.Stop()
	sample := time.NewTicker(time.Second)
	defer sample.Stop()
	var batch []*Session
	for {
		select {
		case <-ctx.Done():
			return
		case <-ack.C:
			r.ackMu.Lock()
			batch, r.ackQ = r.ackQ, batch[:0]
			r.ackMu.Unlock()
			for _, s := range batch {
				s.flushAcks()
			}
			clear(batch)
		case <-sample.C:
			r.sample()
		}
	}
}

// Latency returns the recorder of a metric (see the M constants).
func (r *Run) Latency(name string) *Latency { return r.lat.rec[name] }

// Outstanding is the number of messages still waiting for an answer or a
// delivery.
func (r *Run) Outstanding() int { return r.tracker.outstanding() }

// Drain waits until every message has been answered and delivered, or
// given up on, or ctx ends.
func (r *Run) Drain(ctx context.Context) {
	limit := r.Cfg.ReplyTimeout
	if r.Cfg.DeliveryTimeout > limit {
		limit = r.Cfg.DeliveryTimeout
	}
	deadline := time.Now().Add(limit + time.Second)
	for r.tracker.outstanding() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		r.tracker.sweep(r.now()-int64(r.Cfg.ReplyTimeout), r.now()-int64(r.Cfg.DeliveryTimeout))
	}
	// Whatever is left has outlived its timeouts.
	r.tracker.sweep(r.now()+1, r.now()+1)
}

// Close stops the sampler and the transport.
func (r *Run) Close() {
	if r.stop != nil {
		r.stop()
		<-r.loopDone
	}
	if r.transport != nil {
		r.transport.Close()
	}
	if !r.Cfg.Quiet && r.Cfg.Progress > 0 && isTerminal(os.Stderr) {
		fmt.Fprintln(os.Stderr)
	}
}

// chatURL is the chat URL a user connects to: with several nodes, always
// the same one for a user, picked by a hash of the name, so that about half
// of the one-to-one pairs and most group members span two nodes.
func (r *Run) chatURL(username string) string {
	if len(r.wsURLs) == 1 {
		return r.wsURLs[0]
	}
	h := fnv.New32a()
	h.Write([]byte(username))
	return r.wsURLs[h.Sum32()%uint32(len(r.wsURLs))]
}

// DefaultAccountsFile is where the token cache of the server at host is
// kept between runs: the user's cache directory, not the results, which
// are meant to be kept and shared.
func DefaultAccountsFile(host string) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the token cache (give --accounts-file): %w", err)
	}
	return filepath.Join(dir, "parley-bench", "accounts-"+strings.NewReplacer(":", "_", "/", "_").Replace(host)+".json"), nil
}
