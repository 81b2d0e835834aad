package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	gorilla "github.com/gorilla/websocket"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/lxzan/gws"
	"github.com/panjf2000/gnet/v2"
)

// Every server echoes each text message back on the same connection.
// Each impl returns after it has started serving addr in the background.
var impls = map[string]func(addr string) error{
	"gorilla":             serveGorillaClassic,
	"gorilla-lean":        serveGorillaLean,
	"gorilla-lean-inline": serveGorillaLeanInline,
	"gws":                 serveGWS,
	"nbio-std":            serveNbioStd,
	"nbio":                serveNbioEngine,
	"gnet-gobwas":         serveGnetGobwas,
}

func implNames() []string {
	var names []string
	for k := range impls {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

var openConns atomic.Int64 // WebSocket connections currently open (maintained by each impl)

func runServer(impl, addr, ctl string, maxLife time.Duration) error {
	start, ok := impls[impl]
	if !ok {
		return fmt.Errorf("unknown impl %q", impl)
	}
	// Control endpoint on its own std listener, identical for every impl.
	mux := http.NewServeMux()
	stats := func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]int64{
			"goroutines": int64(runtime.NumGoroutine()),
			"conns":      openConns.Load(),
		})
	}
	mux.HandleFunc("/stats", stats)
	mux.HandleFunc("/gc", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		stats(w, r)
	})
	ln, err := net.Listen("tcp", ctl)
	if err != nil {
		return err
	}
	go http.Serve(ln, mux)
	if err := start(addr); err != nil {
		return err
	}
	log.Printf("server impl=%s ws=%s ctl=%s pid=%d", impl, addr, ctl, os.Getpid())
	time.Sleep(maxLife) // normally killed by run.sh long before this
	log.Printf("server: -maxlife %v reached, exiting", maxLife)
	return nil
}

// serveStd runs a plain net/http server on addr with h at /ws.
func serveStd(addr string, h http.HandlerFunc) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", h)
	go http.Serve(ln, mux)
	return nil
}

// 1. gorilla/websocket, classic pattern (as in gorilla's examples/chat):
// default 4 KiB buffers, a reader goroutine and a writer goroutine fed by a
// buffered send channel (256 slots, as in the example).
func serveGorillaClassic(addr string) error {
	up := gorilla.Upgrader{}
	return serveStd(addr, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		openConns.Add(1)
		send := make(chan []byte, 256)
		go func() { // writer
			for msg := range send {
				if err := c.WriteMessage(gorilla.TextMessage, msg); err != nil {
					break
				}
			}
			c.Close()
		}()
		go func() { // reader
			defer func() { close(send); openConns.Add(-1) }()
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				send <- msg
			}
		}()
	})
}

// 2. gorilla/websocket, lean: small read buffer, write buffer taken from a
// pool only while writing, and one goroutine per connection that reads and
// writes the echo itself (a chat server would guard writes with a mutex).
// The read loop runs in a fresh goroutine so that the HTTP handler returns and
// net/http's per-connection state (its 4 KiB bufio.Reader, the grown stack of
// conn.serve) is freed; "gorilla-lean-inline" keeps the loop in the handler
// goroutine to show what that costs.
func serveGorillaLean(addr string) error { return gorillaLean(addr, false) }

func serveGorillaLeanInline(addr string) error { return gorillaLean(addr, true) }

func gorillaLean(addr string, inline bool) error {
	up := gorilla.Upgrader{ReadBufferSize: 512, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}}
	loop := func(c *gorilla.Conn) {
		openConns.Add(1)
		defer func() { c.Close(); openConns.Add(-1) }()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	}
	return serveStd(addr, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if inline {
			loop(c)
		} else {
			go loop(c)
		}
	})
}

// 3. lxzan/gws, as its README documents: Upgrade, then go socket.ReadLoop().
type gwsEcho struct{ gws.BuiltinEventHandler }

func (gwsEcho) OnOpen(*gws.Conn)         { openConns.Add(1) }
func (gwsEcho) OnClose(*gws.Conn, error) { openConns.Add(-1) }
func (gwsEcho) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}

func serveGWS(addr string) error {
	up := gws.NewUpgrader(gwsEcho{}, &gws.ServerOption{})
	return serveStd(addr, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	})
}

// nbioUpgrader returns an nbio upgrader that echoes messages.
func nbioUpgrader() *nbws.Upgrader {
	up := nbws.NewUpgrader()
	up.OnOpen(func(*nbws.Conn) { openConns.Add(1) })
	up.OnClose(func(*nbws.Conn, error) { openConns.Add(-1) })
	up.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, data []byte) {
		_ = c.WriteMessage(mt, data)
	})
	return up
}

// 4a. nbio, hybrid: std net/http accepts and upgrades, then the connection is
// moved onto an nbio epoll engine (no goroutine per connection afterwards).
func serveNbioStd(addr string) error {
	engine := nbhttp.NewEngine(nbhttp.Config{ReleaseWebsocketPayload: true})
	if err := engine.Start(); err != nil {
		return err
	}
	up := nbioUpgrader()
	up.Engine = engine
	return serveStd(addr, func(w http.ResponseWriter, r *http.Request) {
		_, _ = up.UpgradeAndTransferConnToPoller(w, r, nil)
	})
}

// 4b. nbio, pure: nbhttp.Engine also does the HTTP serving (epoll from accept on).
func serveNbioEngine(addr string) error {
	up := nbioUpgrader()
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		_, _ = up.Upgrade(w, r, nil)
	})
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network:                 "tcp",
		Addrs:                   []string{addr},
		Handler:                 mux,
		ReleaseWebsocketPayload: true,
	})
	up.Engine = engine
	return engine.Start()
}

// 5. gobwas/ws framing on the gnet/v2 event loop (epoll, no goroutine per
// connection). mailru/easygo, gobwas' own netpoll, is not served by the module proxy.
type gnetEcho struct {
	gnet.BuiltinEventEngine
	ready chan error
}

type gnetConnState struct{ upgraded bool }

func (e *gnetEcho) OnBoot(gnet.Engine) gnet.Action { e.ready <- nil; return gnet.None }

func (e *gnetEcho) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&gnetConnState{})
	return nil, gnet.None
}

func (e *gnetEcho) OnClose(c gnet.Conn, _ error) gnet.Action {
	if st, _ := c.Context().(*gnetConnState); st != nil && st.upgraded {
		openConns.Add(-1)
	}
	return gnet.None
}

var errNeedMore = errors.New("need more data")

func (e *gnetEcho) OnTraffic(c gnet.Conn) gnet.Action {
	st := c.Context().(*gnetConnState)
	for {
		buf, _ := c.Peek(-1)
		if len(buf) == 0 {
			return gnet.None
		}
		if !st.upgraded {
			end := bytes.Index(buf, []byte("\r\n\r\n"))
			if end < 0 {
				if len(buf) > 8192 {
					return gnet.Close
				}
				return gnet.None
			}
			rw := struct {
				io.Reader
				io.Writer
			}{bytes.NewReader(buf[:end+4]), c}
			if _, err := ws.Upgrade(rw); err != nil {
				return gnet.Close
			}
			c.Discard(end + 4)
			st.upgraded = true
			openConns.Add(1)
			continue
		}
		n, err := gnetEchoFrame(c, buf)
		if err == errNeedMore {
			return gnet.None
		}
		if err != nil {
			return gnet.Close
		}
		c.Discard(n)
	}
}

// gnetEchoFrame parses one client frame at the start of buf and echoes it.
// It returns the number of bytes consumed.
func gnetEchoFrame(c gnet.Conn, buf []byte) (int, error) {
	if len(buf) < 2 {
		return 0, errNeedMore
	}
	h := ws.Header{Fin: buf[0]&0x80 != 0, OpCode: ws.OpCode(buf[0] & 0x0f), Masked: buf[1]&0x80 != 0}
	hl, plen := 2, int64(buf[1]&0x7f)
	switch plen {
	case 126:
		if len(buf) < 4 {
			return 0, errNeedMore
		}
		plen, hl = int64(buf[2])<<8|int64(buf[3]), 4
	case 127:
		if len(buf) < 10 {
			return 0, errNeedMore
		}
		plen = 0
		for _, b := range buf[2:10] {
			plen = plen<<8 | int64(b)
		}
		hl = 10
	}
	if !h.Masked || !h.Fin || plen > 1<<20 {
		return 0, errors.New("unsupported frame") // clients must mask; this benchmark never fragments
	}
	if len(buf) < hl+4 {
		return 0, errNeedMore
	}
	copy(h.Mask[:], buf[hl:hl+4])
	hl += 4
	total := hl + int(plen)
	if len(buf) < total {
		return 0, errNeedMore
	}
	payload := buf[hl:total] // valid until Discard; unmasked in place
	ws.Cipher(payload, h.Mask, 0)
	op := h.OpCode
	switch op {
	case ws.OpText, ws.OpBinary:
	case ws.OpPing:
		op = ws.OpPong
	case ws.OpClose:
		return 0, io.EOF
	default:
		return total, nil
	}
	// Server frames are unmasked: header and payload go out in one writev.
	var hdr [10]byte
	hdr[0] = 0x80 | byte(op)
	n := 2
	switch {
	case plen < 126:
		hdr[1] = byte(plen)
	case plen <= 0xffff:
		hdr[1], hdr[2], hdr[3], n = 126, byte(plen>>8), byte(plen), 4
	default:
		hdr[1], n = 127, 10
		for i := 0; i < 8; i++ {
			hdr[9-i] = byte(plen >> (8 * i))
		}
	}
	if _, err := c.Writev([][]byte{hdr[:n], payload}); err != nil {
		return 0, err
	}
	return total, nil
}

func serveGnetGobwas(addr string) error {
	e := &gnetEcho{ready: make(chan error, 1)}
	go func() {
		e.ready <- gnet.Run(e, "tcp://"+addr, gnet.WithMulticore(true))
	}()
	select {
	case err := <-e.ready:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("gnet did not boot")
	}
}
