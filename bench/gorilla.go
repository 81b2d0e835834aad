package bench

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// gorillaTransport is the goroutine-per-connection alternative: one
// reading goroutine and a 1 KiB read buffer per connection; write buffers
// are pooled.
type gorillaTransport struct {
	d websocket.Dialer
}

type gorillaConn struct {
	ws *websocket.Conn
	mu sync.Mutex
}

func newGorillaTransport(d *Dialer) *gorillaTransport {
	return &gorillaTransport{d: websocket.Dialer{
		NetDialContext:   d.Dial,
		HandshakeTimeout: d.Timeout,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
	}}
}

func (t *gorillaTransport) Dial(ctx context.Context, url string, header http.Header, h Handler) (WSConn, int, error) {
	ws, resp, err := t.d.DialContext(ctx, url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	c := &gorillaConn{ws: ws}
	code := 0
	ws.SetCloseHandler(func(c int, text string) error {
		code = c
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c, ""), time.Now().Add(time.Second))
		return nil
	})
	go func() {
		var err error
		for {
			var mt int
			var data []byte
			mt, data, err = ws.ReadMessage()
			if err != nil {
				break
			}
			if mt == websocket.TextMessage {
				h.OnFrame(data)
			}
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			code = ce.Code
		}
		ws.Close()
		h.OnClose(code, err)
	}()
	return c, resp.StatusCode, nil
}

func (c *gorillaConn) Write(data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, data)
}

func (c *gorillaConn) Close() error { return c.ws.Close() }

func (t *gorillaTransport) Close() {}
