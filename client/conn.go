package client

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Frame is a server frame: the union of the fields of every type.
type Frame struct {
	Type      string  `json:"type"`
	ID        string  `json:"id,omitempty"`
	Code      string  `json:"code,omitempty"`
	Msg       string  `json:"msg,omitempty"`
	Event     string  `json:"event,omitempty"`
	Count     *int    `json:"count,omitempty"`
	MessageID string  `json:"messageId,omitempty"`
	Seq       int64   `json:"seq,omitempty"`
	From      string  `json:"from,omitempty"`
	To        string  `json:"to,omitempty"`
	ChatID    string  `json:"chatId,omitempty"`
	GroupID   string  `json:"groupId,omitempty"`
	Content   string  `json:"content,omitempty"`
	Timestamp string  `json:"timestamp,omitempty"`
	Offline   bool    `json:"offline,omitempty"`
	Name      string  `json:"name,omitempty"`
	Owner     string  `json:"owner,omitempty"`
	Username  string  `json:"username,omitempty"`
	By        string  `json:"by,omitempty"`
	Status    string  `json:"status,omitempty"`
	LastSeen  *string `json:"lastSeen,omitempty"`
	HasMore   bool    `json:"hasMore,omitempty"`
	// MoreChats and MoreGroups, on INIT_DATA: the lists were cut; GET_CHATS
	// and GET_GROUPS page the rest from Offset.
	MoreChats  bool     `json:"moreChats,omitempty"`
	MoreGroups bool     `json:"moreGroups,omitempty"`
	Offset     int      `json:"offset,omitempty"`
	Messages   []Frame  `json:"messages,omitempty"`
	Chats      []Chat   `json:"chats,omitempty"`
	Groups     []Group  `json:"groups,omitempty"`
	Members    []Member `json:"members,omitempty"`

	// Erased marks a message whose content was erased (Content is "").
	Erased bool `json:"erased,omitempty"`

	// The conversation timeline (protocol 1.1). Kind is "message", "edit",
	// "delete" or "reaction" on an entry; Target is the seq an edit,
	// deletion or reaction acts on (and, on SUCCESS, the message it
	// acted on).
	Kind      string     `json:"kind,omitempty"`
	Target    int64      `json:"target,omitempty"`
	Emoji     string     `json:"emoji,omitempty"`
	Removed   bool       `json:"removed,omitempty"`
	ReplyTo   int64      `json:"replyTo,omitempty"`
	Edited    bool       `json:"edited,omitempty"`
	EditedAt  string     `json:"editedAt,omitempty"`
	Deleted   bool       `json:"deleted,omitempty"`
	Reactions []Reaction `json:"reactions,omitempty"`
	// Raw is the frame as received.
	Raw json.RawMessage `json:"-"`
}

// Chat is one chat of INIT_DATA.
type Chat struct {
	ChatID   string  `json:"chatId"`
	With     string  `json:"with"`
	Status   string  `json:"status"`
	LastSeen *string `json:"lastSeen"`
	LastSeq  int64   `json:"lastSeq"`
	Unread   int64   `json:"unread"`
	// ReadSeq is the user's read position, PeerReadSeq the other's.
	ReadSeq     int64 `json:"readSeq"`
	PeerReadSeq int64 `json:"peerReadSeq"`
}

// Group is one group of INIT_DATA.
type Group struct {
	GroupID string `json:"groupId"`
	Name    string `json:"name"`
	LastSeq int64  `json:"lastSeq"`
	Unread  int64  `json:"unread"`
	ReadSeq int64  `json:"readSeq"`
}

// Reaction is one emoji on a message and who put it there.
type Reaction struct {
	Emoji string   `json:"emoji"`
	Users []string `json:"users"`
}

// Member is one member of GROUP_MEMBERS.
type Member struct {
	Username string `json:"username"`
	Status   string `json:"status"`
	ReadSeq  int64  `json:"readSeq"`
}

// CloseError is how a connection ended: the close code the server sent.
type CloseError = websocket.CloseError

// Conn is one WebSocket to a Parley endpoint. Frames are read by a
// goroutine into a queue that Next takes from; Send may be called from any
// goroutine.
type Conn struct {
	ws     *websocket.Conn
	wmu    sync.Mutex
	frames chan Frame
	done   chan struct{}
	err    error // why reading stopped; set before done is closed
}

// DialOptions tune Dial.
type DialOptions struct {
	// Header is sent with the handshake (e.g. Origin).
	Header http.Header
	// TokenInQuery sends the token as ?authToken= instead of a header.
	TokenInQuery bool
	// NoPong makes the connection ignore pings, to look dead.
	NoPong bool
	// TLSConfig is used for wss:// URLs (default: the system's roots).
	TLSConfig *tls.Config
}

// Dial opens a WebSocket to url with an access token.
func Dial(ctx context.Context, url, token string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	h := http.Header{}
	for k, v := range opts.Header {
		h[k] = v
	}
	if token != "" {
		if opts.TokenInQuery {
			url += "?authToken=" + token
		} else {
			h.Set("Authorization", "Bearer "+token)
		}
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: opts.TLSConfig}
	ws, resp, err := d.DialContext(ctx, url, h)
	if err != nil {
		return nil, resp, err
	}
	c := &Conn{ws: ws, frames: make(chan Frame, 4096), done: make(chan struct{})}
	if opts.NoPong {
		ws.SetPingHandler(func(string) error { return nil })
	} else {
		ws.SetPingHandler(func(data string) error {
			c.wmu.Lock()
			defer c.wmu.Unlock()
			return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
		})
	}
	go c.read()
	return c, resp, nil
}

// Dial opens the chat or presence endpoint of the HTTP listener.
func (c *Client) Dial(ctx context.Context, endpoint, token string) (*Conn, error) {
	url, err := c.WebSocketURL(endpoint)
	if err != nil {
		return nil, err
	}
	conn, _, err := Dial(ctx, url, token, nil)
	return conn, err
}

func (c *Conn) read() {
	defer close(c.done)
	defer close(c.frames)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		var f Frame
		if err := json.Unmarshal(data, &f); err != nil {
			c.err = err
			return
		}
		f.Raw = data
		c.frames <- f
	}
}

// Send writes one frame (any value that marshals to a JSON object).
func (c *Conn) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.SendRaw(websocket.TextMessage, b)
}

// SendRaw writes a frame of the given WebSocket type as is.
func (c *Conn) SendRaw(messageType int, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(messageType, data)
}

// ErrClosed is returned by Next once the connection has ended; Err says
// how.
var ErrClosed = errors.New("client: connection closed")

// Next returns the next frame, waiting until ctx ends.
func (c *Conn) Next(ctx context.Context) (Frame, error) {
	select {
	case f, ok := <-c.frames:
		if !ok {
			return Frame{}, ErrClosed
		}
		return f, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// Frames is the queue of received frames, closed when the connection ends.
func (c *Conn) Frames() <-chan Frame { return c.frames }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (a *CloseError for a close frame),
// once Done is closed.
func (c *Conn) Err() error {
	<-c.done
	return c.err
}

// CloseCode returns the close code the server sent, or 0 if the connection
// ended without one. It waits for the connection to end.
func (c *Conn) CloseCode() int {
	var ce *websocket.CloseError
	if errors.As(c.Err(), &ce) {
		return ce.Code
	}
	return 0
}

// Close closes the connection without ceremony.
func (c *Conn) Close() error { return c.ws.Close() }

// CloseNormal sends a close frame and closes the connection.
func (c *Conn) CloseNormal() error {
	c.wmu.Lock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	return c.ws.Close()
}
