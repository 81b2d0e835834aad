package pebble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/parley-chat/parley"
)

// Options configure a Log. The zero value is what parleyd uses.
type Options struct {
	// CacheBytes is the block cache for the tables' blocks (filters,
	// indexes, data); 0 means 64 MiB. The memtables come on top of it.
	CacheBytes int64
	// MemTableBytes is the size of one memtable; 0 means 64 MiB.
	MemTableBytes uint64
	// Logger receives Pebble's own messages (at debug) and write stalls
	// (at warn); nil discards them.
	Logger *slog.Logger
	// Now is the clock for messages whose Append has no Time; nil means
	// time.Now.
	Now func() time.Time
}

// Log is the message log. It is safe for concurrent use: reads go straight
// to Pebble, writes (appends and ACKs) are serialized under wmu.
type Log struct {
	db     *pdb.DB
	now    func() time.Time
	logger *slog.Logger

	// wmu serializes writers. It guards the fields below.
	wmu      sync.Mutex
	seqs     map[string]int64 // last seq of recently written conversations
	cursors  map[string]int64 // cursorKey -> seq, of recently written cursors
	messages int64
	chats    int64

	// rmu is held for reading by every read outside wmu, and for writing
	// by Close, so that nothing reads a closed database. Lock order: wmu,
	// then rmu.
	rmu sync.RWMutex

	// purgeMu guards the conversations waiting for their deleted content
	// to be purged from the files (purge), and whether a purge runs.
	purgeMu  sync.Mutex
	purgeSet map[string]bool
	purging  bool
	purgeWG  sync.WaitGroup

	stalls     atomic.Int64
	stallNanos atomic.Int64
	stallStart atomic.Int64 // Unix ns of the stall in progress; 0 if none
	closed     atomic.Bool
}

var _ parley.MessageLog = (*Log)(nil)

// maxCached bounds the seq and cursor caches; past it a cache starts over
// (a miss is one Pebble read).
const maxCached = 1 << 20

// Open opens (creating if need be) the log in dir.
func Open(dir string, opt Options) (*Log, error) {
	l := &Log{now: opt.Now, logger: opt.Logger, seqs: make(map[string]int64), cursors: make(map[string]int64)}
	if l.now == nil {
		l.now = time.Now
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	po := &pdb.Options{
		MemTableSize:       opt.MemTableBytes,
		FormatMajorVersion: pdb.FormatNewest,
		Logger:             pebbleLogger{l.logger},
		EventListener: &pdb.EventListener{
			WriteStallBegin: l.stallBegin,
			WriteStallEnd:   l.stallEnd,
			CompactionBegin: func(info pdb.CompactionInfo) {
				l.logger.Debug("message log compaction begins", "job", info.JobID, "reason", info.Reason)
			},
			CompactionEnd: func(info pdb.CompactionInfo) {
				l.logger.Debug("message log compaction ends", "job", info.JobID, "duration", info.TotalDuration.String(), "err", info.Err)
			},
		},
	}
	if opt.CacheBytes == 0 {
		opt.CacheBytes = 64 << 20
	}
	if po.MemTableSize == 0 {
		po.MemTableSize = 64 << 20
	}
	// Pebble charges its memtables to the block cache: every memtable
	// reserves its size there, the one being written and the ones waiting
	// to be flushed (up to MemTableStopWritesThreshold of them). A cache no
	// larger than the memtables keeps no block at all, and then every
	// idempotency lookup reads and checksums each table's filter block from
	// the file (it did: that was most of the cost of a message). Size the
	// cache so that the blocks get CacheBytes whatever the memtables hold.
	po.EnsureDefaults()
	po.CacheSize = opt.CacheBytes + int64(po.MemTableSize)*int64(po.MemTableStopWritesThreshold)
	// Bloom filters make the lookups that usually miss (an idempotency key
	// of a new message) cheap at every level.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pdb.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
	}
	l.db = db
	if v, err := l.get(countsKey); err != nil {
		db.Close()
		return nil, fmt.Errorf("pebble: open: %w", err)
	} else if len(v) == 16 {
		m, _ := decodeInt(v[:8])
		c, _ := decodeInt(v[8:])
		l.messages, l.chats = m, c
	}
	if err := l.seedReads(); err != nil {
		db.Close()
		return nil, fmt.Errorf("pebble: open: %w", err)
	}
	return l, nil
}

// seedReads runs once on a log written before read positions existed:
// what was delivered then counts as read, so each cursor becomes a read
// position, and unread counts (counted from read positions) do not jump.
// A marker records that it ran.
func (l *Log) seedReads() error {
	if v, err := l.get(readsKey); err != nil || v != nil {
		return err
	}
	b := &sortedBatch{}
	err := l.scanPrefix([]byte{kindCursor}, func(rest, v []byte) error {
		b.Set(append([]byte{kindRead}, rest...), slices.Clone(v))
		return nil
	})
	if err != nil {
		return err
	}
	b.Set(readsKey, []byte{1})
	return b.commit(l.db)
}

// Close flushes nothing more (every write was synced) and closes the
// database.
func (l *Log) Close() error {
	l.purgeWG.Wait()
	if l.closed.Swap(true) {
		return nil
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("pebble: close: %w", err)
	}
	return nil
}

var errClosed = parley.Errorf(parley.EUNAVAILABLE, "the message log is closed")

// use holds the log open for a read outside wmu; done ends it.
func (l *Log) use() error {
	l.rmu.RLock()
	if l.closed.Load() {
		l.rmu.RUnlock()
		return errClosed
	}
	return nil
}

func (l *Log) done() { l.rmu.RUnlock() }

// Ping reports whether the log is open and can be read.
func (l *Log) Ping(ctx context.Context) error {
	if err := l.use(); err != nil {
		return err
	}
	defer l.done()
	_, err := l.get(countsKey)
	return err
}

// Stats counts what the log holds and reports its engine's state.
func (l *Log) Stats(ctx context.Context) (*parley.LogStats, error) {
	l.wmu.Lock()
	st := &parley.LogStats{Messages: l.messages, Chats: l.chats}
	l.wmu.Unlock()
	if err := l.use(); err != nil {
		return nil, err
	}
	defer l.done()
	m := l.db.Metrics()
	st.DiskBytes = int64(m.DiskSpaceUsage())
	st.CompactionDebtBytes = int64(m.Compact.EstimatedDebt)
	st.CacheHits, st.CacheMisses = m.BlockCache.Hits, m.BlockCache.Misses
	st.WriteStalls = l.stalls.Load()
	nanos := l.stallNanos.Load()
	if start := l.stallStart.Load(); start != 0 {
		nanos += time.Now().UnixNano() - start
	}
	st.WriteStallSeconds = float64(nanos) / 1e9
	return st, nil
}

func (l *Log) stallBegin(info pdb.WriteStallBeginInfo) {
	l.stalls.Add(1)
	l.stallStart.Store(time.Now().UnixNano())
	l.logger.Warn("message log write stall", "reason", info.Reason)
}

func (l *Log) stallEnd() {
	if start := l.stallStart.Swap(0); start != 0 {
		l.stallNanos.Add(time.Now().UnixNano() - start)
	}
}

// get returns a copy of key's value, or nil if there is none.
func (l *Log) get(key []byte) ([]byte, error) {
	v, closer, err := l.db.Get(key)
	if errors.Is(err, pdb.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, nil
}

// getInt reads an 8-byte integer; 0 if the key is absent.
func (l *Log) getInt(key []byte) (int64, error) {
	v, err := l.get(key)
	if err != nil || v == nil {
		return 0, err
	}
	return decodeInt(v)
}

// pebbleLogger sends Pebble's messages to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...))
}

// syncWrite commits a batch to disk before returning.
var syncWrite = pdb.Sync

// Backup writes a consistent copy of the log, as of one moment, into dir,
// which must not exist. It hard-links the log's immutable files where it
// can, so it is quick and takes little space until compactions replace
// them; writes go on meanwhile.
func (l *Log) Backup(dir string) error {
	if err := l.use(); err != nil {
		return err
	}
	defer l.done()
	if err := l.db.Checkpoint(dir, pdb.WithFlushedWAL()); err != nil {
		return fmt.Errorf("pebble: backup: %w", err)
	}
	return nil
}
