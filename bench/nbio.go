package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// nbioTransport runs every connection on one nbio engine: a poller per
// core reads the sockets and the frame handlers run inline in the poller
// goroutines, so an idle connection costs a file descriptor and a few
// hundred bytes, not a goroutine and buffers.
//
// nbio's websocket.Dialer cannot bind a source address, so Dial repeats
// its handshake with nbhttp.ClientConn, whose Dial hook can.
type nbioTransport struct {
	engine *nbhttp.Engine
	opts   *websocket.Options
	dialer *Dialer
}

// nbConn is one connection: the handler and the close code seen.
type nbConn struct {
	ws        *websocket.Conn
	h         Handler
	mu        sync.Mutex
	closeCode int
	closed    bool
}

func newNbioTransport(d *Dialer) (*nbioTransport, error) {
	logging.SetLevel(logging.LevelNone)
	engine := nbhttp.NewEngine(nbhttp.Config{
		Name:                    "parley-bench",
		NPoller:                 runtime.NumCPU(),
		ReleaseWebsocketPayload: true,
		// Handlers are short and never block: run them in the poller.
		ServerExecutor: func(f func()) { f() },
	})
	if err := engine.Start(); err != nil {
		return nil, fmt.Errorf("starting nbio: %w", err)
	}
	opts := websocket.NewOptions()
	opts.Engine = engine
	opts.KeepaliveTime = 0 // the server pings; no read deadline per frame
	opts.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, data []byte) {
		if s, ok := c.Session().(*nbConn); ok && mt == websocket.TextMessage {
			s.h.OnFrame(data)
		}
	})
	opts.SetCloseHandler(func(c *websocket.Conn, code int, text string) {
		if s, ok := c.Session().(*nbConn); ok {
			s.mu.Lock()
			s.closeCode = code
			s.mu.Unlock()
		}
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], uint16(code))
		c.WriteMessage(websocket.CloseMessage, b[:])
	})
	opts.OnClose(func(c *websocket.Conn, err error) {
		s, ok := c.Session().(*nbConn)
		if !ok {
			return
		}
		s.mu.Lock()
		done := s.closed
		s.closed = true
		code := s.closeCode
		s.mu.Unlock()
		if !done {
			s.h.OnClose(code, err)
		}
	})
	return &nbioTransport{engine: engine, opts: opts, dialer: d}, nil
}

type dialResult struct {
	status int
	err    error
}

var errHandshake = errors.New("websocket handshake refused")

func (t *nbioTransport) Dial(ctx context.Context, rawURL string, header http.Header, h Handler) (WSConn, int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, 0, err
	}
	if u.Scheme != "ws" {
		return nil, 0, fmt.Errorf("the nbio transport speaks ws:// only, not %q", u.Scheme)
	}
	u.Scheme = "http"
	key, accept := wsKey()
	req := &http.Request{
		Method: "GET", URL: u, Host: u.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{},
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header["Upgrade"] = []string{"websocket"}
	req.Header["Connection"] = []string{"Upgrade"}
	req.Header["Sec-Websocket-Key"] = []string{key}
	req.Header["Sec-Websocket-Version"] = []string{"13"}

	timeout := t.dialer.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout <= 0 {
		return nil, 0, context.DeadlineExceeded
	}
	c := &nbConn{h: h}
	done := make(chan dialResult, 1)
	cli := &nbhttp.ClientConn{
		Engine:  t.engine,
		Timeout: timeout,
		Dial: func(network, addr string) (net.Conn, error) {
			dctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return t.dialer.Dial(dctx, network, addr)
		},
	}
	cli.Do(req, func(resp *http.Response, conn net.Conn, err error) {
		if err != nil {
			done <- dialResult{err: err}
			return
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-Websocket-Accept") != accept {
			done <- dialResult{status: resp.StatusCode, err: fmt.Errorf("%w: HTTP %d", errHandshake, resp.StatusCode)}
			return
		}
		nbc, ok := conn.(*nbio.Conn)
		if !ok {
			done <- dialResult{err: errHandshake}
			return
		}
		parser, ok := nbc.Session().(*nbhttp.Parser)
		if !ok {
			done <- dialResult{err: errHandshake}
			return
		}
		ws := websocket.NewClientConn(t.opts, conn, "", false, false)
		// The session is set before the parser hands the socket to the
		// websocket conn, so no frame can arrive without it.
		ws.SetSession(c)
		c.ws = ws
		parser.ParserCloser = ws
		ws.Engine = parser.Engine
		ws.Execute = parser.Execute
		nbc.SetSession(ws)
		done <- dialResult{status: resp.StatusCode}
	})
	select {
	case r := <-done:
		if r.err != nil {
			cli.CloseWithError(r.err)
			return nil, r.status, r.err
		}
		return c, r.status, nil
	case <-ctx.Done():
		cli.CloseWithError(ctx.Err())
		return nil, 0, ctx.Err()
	}
}

func (c *nbConn) Write(data []byte) error {
	return c.ws.WriteMessage(websocket.TextMessage, data)
}

func (c *nbConn) Close() error { return c.ws.Close() }

func (t *nbioTransport) Close() { t.engine.Stop() }
