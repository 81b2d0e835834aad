package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// Handler receives what one connection reads. OnFrame is called for each
// text frame in order, never concurrently for one connection; data is
// valid only during the call. OnClose is called once, with the close code
// the server sent (0 if none).
type Handler interface {
	OnFrame(data []byte)
	OnClose(code int, err error)
}

// WSConn is an open WebSocket. Write sends one text frame and may be
// called from any goroutine; Close drops the connection at once.
type WSConn interface {
	Write(data []byte) error
	Close() error
}

// Transport opens WebSockets. Two implementations exist: "nbio" (event
// driven: no goroutine or read buffer per idle connection) and "gorilla"
// (one reading goroutine per connection).
type Transport interface {
	// Dial opens url with the given headers. On a refused handshake it
	// returns the HTTP status (401 for a bad token) and an error.
	Dial(ctx context.Context, url string, header http.Header, h Handler) (WSConn, int, error)
	Close()
}

// NewTransport returns the transport of the given name; dial opens its
// TCP connections.
func NewTransport(name string, dial *Dialer) (Transport, error) {
	switch name {
	case "nbio", "":
		return newNbioTransport(dial)
	case "gorilla":
		return newGorillaTransport(dial), nil
	}
	return nil, fmt.Errorf("unknown transport %q (nbio or gorilla)", name)
}

// Dialer opens TCP connections, spreading them over several loopback
// source addresses when one address's ephemeral ports would not be enough
// (about 28,000 per source and destination on a default Linux).
type Dialer struct {
	// Sources are the local addresses to bind, used in turn; empty lets
	// the kernel choose.
	Sources []net.IP
	Timeout time.Duration
	next    atomic.Uint64
}

// NewDialer returns a dialer over n source addresses 127.0.0.1 ...
// 127.0.0.n (n <= 1: the kernel's choice), for a server on loopback.
func NewDialer(n int, timeout time.Duration) *Dialer {
	d := &Dialer{Timeout: timeout}
	if n > 1 {
		if n > 250 {
			n = 250
		}
		for i := 1; i <= n; i++ {
			d.Sources = append(d.Sources, net.IPv4(127, 0, 0, byte(i)))
		}
	}
	return d
}

// Dial opens a TCP connection to addr.
func (d *Dialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.Timeout}
	if len(d.Sources) > 0 {
		ip := d.Sources[d.next.Add(1)%uint64(len(d.Sources))]
		nd.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return nd.DialContext(ctx, network, addr)
}

// SourcesFor returns how many source addresses conns simultaneous
// connections (plus churn) need: one per 20,000.
func SourcesFor(conns int) int { return (conns + 19999) / 20000 }

// RaiseFileLimit raises the soft limit of open files to the hard limit and
// returns the new soft limit.
func RaiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, err
		}
	}
	return rl.Cur, nil
}

// wsKey returns a fresh Sec-WebSocket-Key and the accept value the server
// must answer with.
func wsKey() (key, accept string) {
	var b [16]byte
	rand.Read(b[:])
	key = base64.StdEncoding.EncodeToString(b[:])
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return key, base64.StdEncoding.EncodeToString(h[:])
}
