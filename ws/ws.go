// Package ws is Parley's WebSocket transport. Connections are accepted by a
// standard net/http server, upgraded, and then moved onto an nbio epoll
// engine (github.com/lesismal/nbio), so that an idle connection costs a
// few kilobytes and no goroutine: a fixed set of poller goroutines reads
// every socket, and writes are non-blocking.
//
// Each socket keeps count of the bytes handed to it and the bytes the
// kernel took (nbio's OnWrittenSize), which bounds its outbound queue: past
// MaxQueueBytes, WriteText returns parley.ErrSlow and the hub closes it with
// 1013. Bytes the kernel has taken are not counted: left to autotuning, a
// socket's kernel send buffer grows to megabytes, which a client that
// stops reading fills before the queue holds anything. SendBufferBytes
// bounds it when set.
package ws

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/protocol"
)

// Config configures a Server.
type Config struct {
	// MaxQueueBytes bounds each connection's unsent outbound bytes
	// (default 1 MiB).
	MaxQueueBytes int
	// SendBufferBytes, when above 0, is the kernel send buffer (SO_SNDBUF)
	// of each socket; 0 leaves it to the kernel's autotuning. Bytes the
	// kernel holds do not count toward MaxQueueBytes.
	SendBufferBytes int
	// Pollers is the number of epoll goroutines (default 2).
	Pollers int
	// CheckOrigin, when set, vets the Origin of each upgrade.
	CheckOrigin func(r *http.Request) bool
	Logger      *slog.Logger
}

// Server upgrades HTTP requests to WebSockets and runs them.
type Server struct {
	cfg      Config
	engine   *nbhttp.Engine
	upgrader *websocket.Upgrader
	log      *slog.Logger
	sockets  sync.WaitGroup

	// A client may send frames (or vanish) between the upgrade response
	// and the moment its connection gets its socket; what happens in that
	// gap is kept here, under emu, and replayed by Upgrade.
	emu sync.Mutex
	// shuttingDown is set by Shutdown, under emu: Upgrade then refuses.
	shuttingDown bool
	early        map[*websocket.Conn]*early
}

// early is what happened to a connection before it had a socket.
type early struct {
	frames [][]byte
	closed bool
	err    error
}

// socketOf returns the socket of c, or, if it has none yet, records the
// event with record and returns nil.
func (s *Server) socketOf(c *websocket.Conn, record func(*early)) *socket {
	if sock, ok := c.Session().(*socket); ok {
		return sock
	}
	s.emu.Lock()
	defer s.emu.Unlock()
	if sock, ok := c.Session().(*socket); ok {
		return sock
	}
	e := s.early[c]
	if e == nil {
		e = &early{}
		s.early[c] = e
	}
	record(e)
	return nil
}

// New starts the epoll engine; Shutdown stops it.
func New(cfg Config) (*Server, error) {
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = 1 << 20
	}
	if cfg.Pollers <= 0 {
		cfg.Pollers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	nbioLog.Store(cfg.Logger)
	engine := nbhttp.NewEngine(nbhttp.Config{
		Name:                    "parley",
		NPoller:                 cfg.Pollers,
		ReleaseWebsocketPayload: true,
		// Room for a close frame after the queue bound trips, and for one
		// frame larger than the bound written to an empty queue.
		MaxWriteBufferSize: cfg.MaxQueueBytes + 1<<20,
		// Frames are handled inline on the poller goroutine: Conn.Receive
		// only copies the frame and queues it.
		ServerExecutor: func(f func()) { f() },
		ReadBufferSize: 16 << 10,
	})
	// Text frames that are not UTF-8 reach the frame decoder, which answers
	// ERROR invalid and keeps the socket open, as for any malformed frame.
	engine.CheckUtf8 = func([]byte) bool { return true }
	engine.OnWrittenSize(func(c *nbio.Conn, _ []byte, n int) {
		if wsc, ok := c.Session().(*websocket.Conn); ok {
			if s, ok := wsc.Session().(*socket); ok {
				s.written.Add(int64(n))
				s.wake()
			}
		}
	})
	if err := engine.Start(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, engine: engine, log: cfg.Logger, early: make(map[*websocket.Conn]*early)}
	u := websocket.NewUpgrader()
	u.Engine = engine
	u.KeepaliveTime = 0 // liveness is the hub's ping round
	u.MessageLengthLimit = protocol.MaxFrameBytes
	u.HandshakeTimeout = 10 * time.Second
	// TLS connections from the standard library cannot move onto the
	// poller; they keep a reading goroutine and a bounded send queue.
	u.BlockingModAsyncWrite = true
	u.BlockingModSendQueueMaxSize = 4096
	if cfg.CheckOrigin != nil {
		u.CheckOrigin = cfg.CheckOrigin
	} else {
		u.CheckOrigin = func(*http.Request) bool { return true }
	}
	u.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, data []byte) {
		if mt != websocket.TextMessage {
			data = nil // binary frames are not JSON: ERROR invalid
		}
		if sock := s.socketOf(c, func(e *early) { e.frames = append(e.frames, append([]byte(nil), data...)) }); sock != nil {
			sock.receive(data)
		}
	})
	// A pong is outbound data like any frame: it counts toward the bound,
	// and a client that pings without reading is closed as too slow
	// (1013), as one that does not read its messages is.
	u.SetPingHandler(func(c *websocket.Conn, data string) {
		sock, _ := c.Session().(*socket)
		if sock == nil {
			_ = c.WriteMessage(websocket.PongMessage, []byte(data))
			return
		}
		if sock.writePong([]byte(data)) == parley.ErrSlow {
			sock.tooSlow()
		}
	})
	u.SetPongHandler(func(c *websocket.Conn, _ string) {
		if sock := s.socketOf(c, func(*early) {}); sock != nil {
			sock.pong()
		}
	})
	u.OnClose(func(c *websocket.Conn, err error) {
		if sock := s.socketOf(c, func(e *early) { e.closed, e.err = true, err }); sock != nil {
			sock.closed(err)
		}
	})
	s.upgrader = u
	return s, nil
}

var errShuttingDown = errors.New("ws: server shutting down")

// Receiver is what a socket hands its frames to once attached: the hub's
// connection.
type Receiver interface {
	// Receive takes one text frame; it never blocks.
	Receive(frame []byte)
	// Pong records that the client answered a ping.
	Pong()
	// TooSlow closes the connection with 1013, its queue over its bound.
	TooSlow()
}

// Attach is how a Server hands an upgraded socket to the hub; it returns
// the socket's receiver, never nil.
type Attach func(parley.Socket) Receiver

// Upgrade upgrades the request (which the caller has authenticated) and
// attaches the socket with attach. On failure the upgrader has already
// answered the request.
func (s *Server) Upgrade(w http.ResponseWriter, r *http.Request, detach func(Receiver, error), attach Attach) error {
	wsc, err := s.upgrader.UpgradeAndTransferConnToPoller(w, r, nil)
	if err != nil {
		return err
	}
	if s.cfg.SendBufferBytes > 0 {
		if c, ok := wsc.UnderlayerConn().(interface{ SetWriteBuffer(int) error }); ok {
			if err := c.SetWriteBuffer(s.cfg.SendBufferBytes); err != nil {
				s.log.Debug("setting the send buffer", "err", err)
			}
		}
	}
	sock := &socket{ws: wsc, max: int64(s.cfg.MaxQueueBytes), remote: r.RemoteAddr, detach: detach, srv: s,
		room: make(chan struct{}, 1), done: make(chan struct{})}
	// A WaitGroup must not grow while Shutdown waits on it: a socket
	// upgraded once shutdown has begun is closed at once.
	s.emu.Lock()
	if s.shuttingDown {
		s.emu.Unlock()
		// Going away, as every socket open when shutdown began is told.
		wsc.WriteClose(1001, "server shutting down")
		wsc.Close()
		return errShuttingDown
	}
	s.sockets.Add(1)
	s.emu.Unlock()
	// From here on, frames go to the socket, which keeps them until the hub
	// connection exists; what came before is taken over.
	sock.mu.Lock()
	s.emu.Lock()
	wsc.SetSession(sock)
	e := s.early[wsc]
	delete(s.early, wsc)
	s.emu.Unlock()
	if e != nil {
		sock.early, sock.gone, sock.closeErr = e.frames, e.closed, e.err
		if e.closed {
			close(sock.done)
		}
	}
	sock.mu.Unlock()

	// No lock is held while attaching: the hub may write to or close the
	// socket, which takes nbio's locks.
	sock.publish(attach(sock))
	return nil
}

// Shutdown stops the engine once every socket is closed, or when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.emu.Lock()
	s.shuttingDown = true
	s.emu.Unlock()
	done := make(chan struct{})
	go func() {
		s.sockets.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// nbio's Stop waits for its pollers, and one has been seen to stay
	// in epoll_wait after the stop signal (rarely, under the race
	// detector): the process is ending anyway, so it is not waited for
	// past engineStopWait.
	stopped := make(chan struct{})
	go func() {
		s.engine.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(engineStopWait):
		s.log.Warn("the WebSocket engine did not stop in time; leaving it", "waited", engineStopWait)
	}
	return err
}

// engineStopWait bounds the wait for the WebSocket engine's pollers.
const engineStopWait = 3 * time.Second

// socket implements parley.Socket over an nbio WebSocket connection.
type socket struct {
	ws     *websocket.Conn
	srv    *Server
	remote string
	max    int64
	detach func(Receiver, error)

	handed  atomic.Int64 // bytes given to the connection
	written atomic.Int64 // bytes the kernel accepted

	room chan struct{} // signalled when the kernel takes bytes
	done chan struct{} // closed when nbio has closed the connection

	mu       sync.Mutex // guards the fields below
	conn     Receiver   // nil until attached
	early    [][]byte   // frames that came before conn
	gone     bool       // nbio has closed the connection
	closeErr error

	closeOnce sync.Once
}

func (s *socket) receive(frame []byte) {
	s.mu.Lock()
	c := s.conn
	if c == nil {
		s.early = append(s.early, append([]byte(nil), frame...))
	}
	s.mu.Unlock()
	if c != nil {
		c.Receive(frame)
	}
}

func (s *socket) pong() {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.Pong()
	}
}

// publish hands the early frames to the new hub connection, in order, and
// then makes it the socket's; a socket that closed meanwhile is detached.
func (s *socket) publish(c Receiver) {
	for {
		s.mu.Lock()
		batch := s.early
		s.early = nil
		if len(batch) == 0 {
			s.conn = c
			gone := s.gone
			s.mu.Unlock()
			if gone {
				s.finish()
			}
			return
		}
		s.mu.Unlock()
		for _, f := range batch {
			c.Receive(f)
		}
	}
}

// closed runs when nbio has closed the connection.
func (s *socket) closed(err error) {
	s.mu.Lock()
	if !s.gone {
		close(s.done)
	}
	s.gone = true
	s.closeErr = err
	attached := s.conn != nil
	s.mu.Unlock()
	if attached {
		s.finish()
	}
}

func (s *socket) finish() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		c, err := s.conn, s.closeErr
		s.mu.Unlock()
		s.detach(c, err)
		s.srv.sockets.Done()
	})
}

// frameSize is the size on the wire of an unmasked server frame.
func frameSize(payload int) int64 {
	switch {
	case payload < 126:
		return int64(payload + 2)
	case payload <= 65535:
		return int64(payload + 4)
	default:
		return int64(payload + 10)
	}
}

func (s *socket) isGone() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gone
}

func (s *socket) WriteText(frame []byte) error {
	if s.ws.IsBlockingMod() {
		err := s.ws.WriteMessage(websocket.TextMessage, frame)
		if errors.Is(err, websocket.ErrMessageSendQuqueIsFull) {
			return parley.ErrSlow
		}
		return err
	}
	// An empty queue takes a frame of any size (WaitRoom promises it).
	n := frameSize(len(frame))
	if queued := s.handed.Load() - s.written.Load(); queued > 0 && queued+n > s.max {
		return parley.ErrSlow
	}
	s.handed.Add(n)
	return s.ws.WriteMessage(websocket.TextMessage, frame)
}

// WriteTexts frames several text messages into one buffer and hands it to
// the connection in one write (server frames are not masked, so the frame
// is the header and the payload).
func (s *socket) WriteTexts(frames [][]byte) error {
	if s.ws.IsBlockingMod() {
		for _, f := range frames {
			if err := s.WriteText(f); err != nil {
				return err
			}
		}
		return nil
	}
	var n int64
	for _, f := range frames {
		n += frameSize(len(f))
	}
	if queued := s.handed.Load() - s.written.Load(); queued > 0 && queued+n > s.max {
		return parley.ErrSlow
	}
	buf := make([]byte, 0, n)
	for _, f := range frames {
		buf = appendTextFrame(buf, f)
	}
	s.handed.Add(n)
	_, err := s.ws.UnderlayerConn().Write(buf)
	return err
}

// appendTextFrame appends an unmasked, final text frame holding payload.
func appendTextFrame(buf, payload []byte) []byte {
	const finText = 0x80 | byte(websocket.TextMessage)
	switch n := len(payload); {
	case n < 126:
		buf = append(buf, finText, byte(n))
	case n <= 65535:
		buf = append(buf, finText, 126)
		buf = binary.BigEndian.AppendUint16(buf, uint16(n))
	default:
		buf = append(buf, finText, 127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	}
	return append(buf, payload...)
}

// wake tells a WaitRoom that bytes left the queue.
func (s *socket) wake() {
	select {
	case s.room <- struct{}{}:
	default:
	}
}

// WaitRoom implements parley.Socket. On a blocking (TLS) connection, whose
// queue counts frames, it waits while that queue is full.
func (s *socket) WaitRoom(ctx context.Context, n int) error {
	fits := func() bool {
		// Half the bound: replies and pongs written meanwhile keep room.
		queued := s.handed.Load() - s.written.Load()
		return queued == 0 || queued+frameSize(n) <= s.max/2
	}
	if s.ws.IsBlockingMod() {
		return nil
	}
	for !fits() {
		select {
		case <-s.done:
			return errGone
		case <-ctx.Done():
			return ctx.Err()
		case <-s.room:
		case <-time.After(100 * time.Millisecond):
			// OnWrittenSize may run before a wake can be taken.
		}
	}
	return nil
}

var errGone = errors.New("ws: connection closed")

func (s *socket) Ping() error {
	if s.handed.Load()-s.written.Load()+2 > s.max {
		return parley.ErrSlow
	}
	s.handed.Add(2)
	return s.ws.WriteMessage(websocket.PingMessage, nil)
}

// writePong answers a client's ping within the outbound bound.
func (s *socket) writePong(data []byte) error {
	if s.ws.IsBlockingMod() {
		return s.ws.WriteMessage(websocket.PongMessage, data)
	}
	n := frameSize(len(data))
	if s.handed.Load()-s.written.Load()+n > s.max {
		return parley.ErrSlow
	}
	s.handed.Add(n)
	return s.ws.WriteMessage(websocket.PongMessage, data)
}

// tooSlow closes a socket whose queue passed its bound outside of the
// hub's writes (answering pings): through the hub once attached, so that
// it is counted and logged like any slow client.
func (s *socket) tooSlow() {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.TooSlow()
		return
	}
	s.Close(protocol.CloseTryAgain, "too slow to keep up; reconnect")
}

// Close sends a close frame (code 0: none) and closes the connection; a
// close frame stuck behind a full queue is given a second before the
// connection is cut.
func (s *socket) Close(code int, reason string) {
	if s.isGone() {
		return
	}
	if code == 0 {
		s.ws.Close()
		return
	}
	if len(reason) > 120 {
		reason = reason[:120]
	}
	if err := s.ws.WriteClose(code, reason); err != nil {
		s.ws.Close()
		return
	}
	if s.handed.Load() == s.written.Load() {
		s.ws.Close()
		return
	}
	time.AfterFunc(time.Second, func() { s.ws.Close() })
}

func (s *socket) RemoteAddr() string { return s.remote }

var _ parley.Socket = (*socket)(nil)
