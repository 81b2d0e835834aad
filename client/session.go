package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// TokenSource supplies the access tokens a Session connects with.
type TokenSource interface {
	// Token returns an access token that has not expired, refreshing it
	// first when it has.
	Token(ctx context.Context) (string, error)
	// Refresh returns a new access token after the server refused stale.
	// An *APIError with status 401 means the session has ended.
	Refresh(ctx context.Context, stale string) (string, error)
}

// EventType says what a session Event reports.
type EventType int

const (
	// EventConnected: a new connection is open; INIT_DATA follows on chat.
	EventConnected EventType = iota + 1
	// EventFrame: a frame arrived on the current connection.
	EventFrame
	// EventDisconnected: the connection dropped or could not be opened;
	// the session tries again after Retry.
	EventDisconnected
	// EventEnded: the session is over (logged out, revoked, refresh token
	// refused); Run returns. The user has to log in again.
	EventEnded
)

// Event is what a Session reports to its user, in order.
type Event struct {
	Type  EventType
	Frame Frame // EventFrame
	// Err says why the connection ended or could not be opened.
	Err error
	// CloseCode is the server's close code, 0 if it sent none.
	CloseCode int
	// Retry is the wait before the next attempt (EventDisconnected).
	Retry time.Duration
	// Attempt counts the failed attempts in a row (EventDisconnected).
	Attempt int
}

// ErrSessionEnded is the error of EventEnded: the server closed the
// connection with 1008 or refused the session's tokens.
var ErrSessionEnded = errors.New("client: session ended, log in again")

// ErrNotConnected is returned by Session.Send while there is no connection.
var ErrNotConnected = errors.New("client: not connected")

// Session keeps one WebSocket (chat or presence) open: it connects,
// refreshes the access token when the server refuses it, and reconnects
// with exponential backoff when the connection drops, until the session
// ends or its context is cancelled. Frames and state changes come out as
// Events on the channel given to Run; Send may be called from any
// goroutine and never blocks for long.
type Session struct {
	Client *Client
	Tokens TokenSource
	// Endpoint is "chat" (default) or "presence".
	Endpoint string
	// Options are used for every dial.
	Options *DialOptions
	// MinBackoff and MaxBackoff bound the wait between attempts
	// (defaults 500ms and 30s); it doubles after each failure, with
	// jitter, and starts over once a connection receives a frame.
	MinBackoff, MaxBackoff time.Duration

	mu     sync.Mutex
	conn   *Conn
	closed bool
}

// Run connects and reconnects until ctx ends (it returns ctx.Err()), Close
// is called (nil) or the session ends (ErrSessionEnded, after sending
// EventEnded). Every event is delivered to events; Run blocks while the
// channel is full.
func (s *Session) Run(ctx context.Context, events chan<- Event) error {
	url, err := s.Client.WebSocketURL(s.endpoint())
	if err != nil {
		return err
	}
	emit := func(ev Event) bool {
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	failures := 0
	for {
		if s.isClosed() {
			return nil
		}
		code, got, err := s.connect(ctx, url, emit)
		switch {
		case errors.Is(err, ErrSessionEnded):
			emit(Event{Type: EventEnded, Err: err, CloseCode: code})
			return ErrSessionEnded
		case s.isClosed():
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		}
		if got {
			failures = 0 // the connection worked: start over
		}
		failures++
		retry := s.backoff(failures)
		if code == 1013 {
			retry = s.backoff(1) // too slow: nothing is lost, come back soon
		}
		if !emit(Event{Type: EventDisconnected, Err: err, CloseCode: code, Retry: retry, Attempt: failures}) || !sleep(ctx, retry) {
			return ctx.Err()
		}
	}
}

// connect opens a connection and relays its frames until it ends. It
// returns the close code the server sent, whether any frame came, and why
// the connection ended or could not be opened (ErrSessionEnded for 1008).
func (s *Session) connect(ctx context.Context, url string, emit func(Event) bool) (code int, got bool, err error) {
	conn, err := s.dial(ctx, url)
	if err != nil {
		return 0, false, err
	}
	if !s.setConn(conn) {
		conn.CloseNormal() // Close was called meanwhile
		return 0, false, nil
	}
	defer s.setConn(nil)
	if !emit(Event{Type: EventConnected}) {
		conn.Close()
		return 0, false, ctx.Err()
	}
	got, ok := s.relay(ctx, conn, emit)
	if !ok {
		conn.Close()
		return 0, got, ctx.Err()
	}
	code = conn.CloseCode()
	if code == 1008 {
		return code, got, fmt.Errorf("%w (%v)", ErrSessionEnded, conn.Err())
	}
	return code, got, conn.Err()
}

// relay passes the frames of conn on until it ends; false when ctx ended
// first. got says whether any frame came.
func (s *Session) relay(ctx context.Context, conn *Conn, emit func(Event) bool) (got, ok bool) {
	for {
		select {
		case f, open := <-conn.Frames():
			if !open {
				return got, true
			}
			got = true
			if !emit(Event{Type: EventFrame, Frame: f}) {
				return got, false
			}
		case <-ctx.Done():
			return got, false
		}
	}
}

// dial opens a connection, refreshing the token once if the handshake is
// refused with 401. It returns ErrSessionEnded when the tokens are dead.
func (s *Session) dial(ctx context.Context, url string) (*Conn, error) {
	token, err := s.Tokens.Token(ctx)
	if err != nil {
		return nil, sessionErr(err)
	}
	for refreshed := false; ; refreshed = true {
		conn, resp, err := Dial(ctx, url, token, s.Options)
		if err == nil {
			return conn, nil
		}
		if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			if resp != nil {
				err = fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
			}
			return nil, err
		}
		if refreshed {
			return nil, fmt.Errorf("%w: a fresh token was refused", ErrSessionEnded)
		}
		if token, err = s.Tokens.Refresh(ctx, token); err != nil {
			return nil, sessionErr(err)
		}
	}
}

// sessionErr turns a 401 from the auth API into ErrSessionEnded.
func sessionErr(err error) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		return fmt.Errorf("%w: %s", ErrSessionEnded, ae.Message)
	}
	return err
}

// Send writes a frame on the current connection, or returns
// ErrNotConnected.
func (s *Session) Send(v any) error {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		return ErrNotConnected
	}
	return c.Send(v)
}

// Connected says whether a connection is open.
func (s *Session) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// Close sends DISCONNECT on the current connection, closes it and makes
// Run return.
func (s *Session) Close() error {
	s.mu.Lock()
	s.closed = true
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	c.Send(map[string]string{"type": "DISCONNECT"})
	select {
	case <-c.Done():
	case <-time.After(time.Second):
	}
	return c.CloseNormal()
}

// setConn records the current connection; false once the session is
// closed.
func (s *Session) setConn(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed && c != nil {
		return false
	}
	s.conn = c
	return true
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Session) endpoint() string {
	if s.Endpoint == "" {
		return "chat"
	}
	return s.Endpoint
}

// backoff is the wait after the n-th failure in a row: MinBackoff doubled
// n-1 times, capped at MaxBackoff, less up to a fifth at random so that
// clients dropped together do not come back together.
func (s *Session) backoff(n int) time.Duration {
	lo, hi := s.MinBackoff, s.MaxBackoff
	if lo <= 0 {
		lo = 500 * time.Millisecond
	}
	if hi <= 0 {
		hi = 30 * time.Second
	}
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
