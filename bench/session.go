package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Session is one chat connection of a bench account. It reads the
// server's frames (OnFrame), follows its sends through the run's tracker,
// detects duplicates, and ACKs what it receives as a real client would:
// cumulatively per conversation, at once after AckEvery messages,
// otherwise within AckInterval (the run's acker).
type Session struct {
	run  *Run
	Acct *Account

	ready     chan struct{} // closed at INFO offline_delivered
	readyOnce sync.Once
	closed    chan struct{} // closed when the connection has ended
	want      atomic.Bool   // false once we close it ourselves
	inflight  atomic.Int64  // sends not yet answered
	closeCode int           // set before closed is closed

	mu      sync.Mutex
	conn    WSConn
	convs   map[string]*convState
	dirty   []*convState
	queued  bool // on the run's ack queue
	unacked int
	reqs    map[string]chan []byte
	wbuf    []byte
	cbuf    []byte
	ended   bool // OnClose has run
}

// convState is what one connection knows of one conversation.
type convState struct {
	id      string
	group   bool
	seen    int64 // highest seq received
	acked   int64 // highest seq ACKed
	inDirty bool
}

func newSession(r *Run, acct *Account) *Session {
	s := &Session{run: r, Acct: acct, ready: make(chan struct{}), closed: make(chan struct{}), convs: map[string]*convState{}}
	s.want.Store(true)
	return s
}

// Connect opens a chat connection for acct and waits for its offline
// messages (INFO offline_delivered). A refused token is renewed once.
func (r *Run) Connect(ctx context.Context, acct *Account) (*Session, error) {
	for attempt := 0; ; attempt++ {
		s := newSession(r, acct)
		start := time.Now()
		token := acct.AccessToken()
		h := http.Header{"Authorization": {"Bearer " + token}}
		dctx, cancel := context.WithTimeout(ctx, r.Cfg.ConnectTimeout)
		conn, status, err := r.transport.Dial(dctx, r.chatURL(acct.Username), h, s)
		cancel()
		if status == http.StatusUnauthorized && attempt == 0 {
			if rerr := r.accounts.Reauth(ctx, acct, token); rerr == nil {
				continue
			}
		}
		if err != nil {
			r.C.ConnFailed.Add(1)
			kind := "dial"
			if status != 0 {
				kind = "handshake:" + strconv.Itoa(status)
			} else if errors.Is(err, context.DeadlineExceeded) {
				kind = "dial:timeout"
			}
			r.C.Error(kind)
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		r.lat.rec[MHandshake].Record(time.Since(start))
		s.mu.Lock()
		if !s.ended {
			s.conn = conn
			r.C.OpenConns.Add(1)
		}
		s.mu.Unlock()
		timer := time.NewTimer(r.Cfg.ConnectTimeout)
		defer timer.Stop()
		select {
		case <-s.ready:
			r.lat.rec[MReady].Record(time.Since(start))
			r.C.ConnOK.Add(1)
			s.flushAcks()
			return s, nil
		case <-s.closed:
			err = fmt.Errorf("closed (code %d) before offline_delivered", s.closeCode)
		case <-timer.C:
			err = errors.New("no offline_delivered in time")
		case <-ctx.Done():
			err = ctx.Err()
		}
		s.Close()
		r.C.ConnFailed.Add(1)
		r.C.Error("sync")
		return nil, err
	}
}

// OnFrame handles one server frame.
func (s *Session) OnFrame(data []byte) {
	var f frame
	if err := parseFrame(data, &f); err != nil {
		s.run.C.Error("bad_frame")
		return
	}
	switch string(f.typ) {
	case "ONE_TO_ONE_CHAT", "GROUP_CHAT":
		s.onMessage(&f)
	case "SUCCESS":
		if !s.reply(f.id, data) {
			s.settled()
			s.run.onSuccess(f.id)
		}
	case "ERROR":
		if !s.reply(f.id, data) {
			s.settled()
			s.run.onError(f.id, f.code)
		}
	case "INFO":
		if string(f.event) == "offline_delivered" {
			s.readyOnce.Do(func() { close(s.ready) })
		}
	default:
		s.reply(f.id, data)
	}
}

func (s *Session) onMessage(f *frame) {
	r := s.run
	conv, group := f.chatID, false
	if len(f.groupID) > 0 {
		conv, group = f.groupID, true
	}
	s.mu.Lock()
	cs := s.convs[string(conv)]
	if cs == nil {
		cs = &convState{id: string(conv), group: group}
		s.convs[cs.id] = cs
	}
	if f.seq <= cs.seen {
		s.mu.Unlock()
		r.C.Duplicated.Add(1)
		return
	}
	cs.seen = f.seq
	if !cs.inDirty {
		cs.inDirty = true
		s.dirty = append(s.dirty, cs)
	}
	s.unacked++
	flushNow := s.unacked >= r.Cfg.AckEvery
	queue := !flushNow && !s.queued
	if queue {
		s.queued = true
	}
	s.mu.Unlock()
	if flushNow {
		s.flushAcks()
	} else if queue {
		r.queueAck(s)
	}

	if f.offline {
		r.C.Offline.Add(1)
		return
	}
	if string(f.from) == s.Acct.Username {
		return // a copy for the sender's other connections
	}
	id, sentNs, ok := parseContent(f.content)
	if !ok {
		return
	}
	if r.tracker.deliver(id) {
		r.C.Delivered.Add(1)
		r.lat.rec[MDelivery].Record(time.Duration(r.now() - sentNs))
	} else if bytes.HasPrefix(id, r.idPrefix) {
		r.C.Late.Add(1)
	}
}

// flushAcks sends one cumulative ACK per conversation with news.
func (s *Session) flushAcks() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = false
	if s.conn == nil || len(s.dirty) == 0 {
		return
	}
	for _, cs := range s.dirty {
		cs.inDirty = false
		if cs.seen > cs.acked {
			s.wbuf = appendAck(s.wbuf[:0], cs.id, cs.group, cs.seen)
			if err := s.conn.Write(s.wbuf); err != nil {
				break
			}
			cs.acked = cs.seen
			s.run.C.AcksSent.Add(1)
		}
	}
	s.dirty = s.dirty[:0]
	s.unacked = 0
}

// reply hands a frame answering a Request to its waiter.
func (s *Session) reply(id, data []byte) bool {
	if len(id) == 0 {
		return false
	}
	s.mu.Lock()
	ch, ok := s.reqs[string(id)]
	if ok {
		delete(s.reqs, string(id))
	}
	s.mu.Unlock()
	if ok {
		ch <- bytes.Clone(data)
	}
	return ok
}

// Request sends a frame whose reply carries id and returns the reply.
func (s *Session) Request(ctx context.Context, id string, data []byte) ([]byte, error) {
	ch := make(chan []byte, 1)
	s.mu.Lock()
	if s.reqs == nil {
		s.reqs = map[string]chan []byte{}
	}
	s.reqs[id] = ch
	conn := s.conn
	s.mu.Unlock()
	if err := conn.Write(data); err != nil {
		return nil, err
	}
	select {
	case b := <-ch:
		return b, nil
	case <-s.closed:
		return nil, fmt.Errorf("connection closed (code %d)", s.closeCode)
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.reqs, id)
		s.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Send writes a chat message to a user (ONE_TO_ONE_CHAT) or a group
// (GROUP_CHAT) and follows it: expect is the number of deliveries to wait
// for, w (optional) is told of its fate.
func (s *Session) Send(target string, group bool, expect int, w *waiter) error {
	r := s.run
	id := r.nextID()
	sent := r.now()
	typ, key := "ONE_TO_ONE_CHAT", "to"
	if group {
		typ, key = "GROUP_CHAT", "groupId"
	}
	r.tracker.add(id, sent, expect, w)
	s.mu.Lock()
	s.cbuf = makeContent(s.cbuf[:0], id, sent, r.Cfg.Size)
	s.wbuf = appendSend(s.wbuf[:0], typ, id, key, target, s.cbuf)
	err := s.conn.Write(s.wbuf)
	s.mu.Unlock()
	if err != nil {
		r.tracker.forget(id)
		r.C.Error("write")
		return err
	}
	r.C.Sent.Add(1)
	s.inflight.Add(1)
	return nil
}

// settled counts an answered send off the in-flight window.
func (s *Session) settled() {
	if s.inflight.Add(-1) < 0 {
		s.inflight.Add(1)
	}
}

// Inflight is the number of sends still waiting for their answer.
func (s *Session) Inflight() int64 { return s.inflight.Load() }

// OnClose records the end of the connection.
func (s *Session) OnClose(code int, err error) {
	s.closeCode = code
	if s.want.Load() {
		select {
		case <-s.ready:
			s.run.C.ConnDropped.Add(1)
			s.run.C.Error("closed:" + strconv.Itoa(code))
		default:
		}
	}
	s.mu.Lock()
	hadConn := s.conn != nil
	s.ended = true
	s.mu.Unlock()
	if hadConn {
		s.run.C.OpenConns.Add(-1)
	}
	close(s.closed)
}

// Disconnect says DISCONNECT and waits (at most timeout) for the server
// to close the socket, as the ladder's virtual users do.
func (s *Session) Disconnect(timeout time.Duration) {
	s.want.Store(false)
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		return
	}
	conn.Write([]byte(`{"type":"DISCONNECT"}`))
	select {
	case <-s.closed:
	case <-time.After(timeout):
		conn.Close()
	}
}

// Close drops the connection.
func (s *Session) Close() {
	s.want.Store(false)
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// Closed is closed once the connection has ended.
func (s *Session) Closed() <-chan struct{} { return s.closed }
