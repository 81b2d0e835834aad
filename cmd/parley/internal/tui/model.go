package tui

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client"
)

// Sender writes a frame to the server. It must not block for long: Update
// calls it. client.Session is one; it returns client.ErrNotConnected while
// disconnected.
type Sender interface {
	Send(v any) error
}

// Options configure a Model. Zero values are replaced by the defaults.
type Options struct {
	// Username is the logged-in user (INIT_DATA confirms it).
	Username string
	// Server is shown in the status line.
	Server string
	Sender Sender
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NewID returns a fresh client id for a request (default: 16 random
	// characters). Message ids are idempotency keys for the user's whole
	// history, so they must never repeat.
	NewID func() string
	// TypingEvery is the least time between two TYPING frames sent for one
	// conversation (default 3s); TypingTTL how long another user's TYPING
	// is shown (default 6s).
	TypingEvery, TypingTTL time.Duration
	// HistoryPage is the limit of history requests (default 50).
	HistoryPage int
	// Location is the time zone of message times (default time.Local).
	Location *time.Location
	// FindUsers looks up usernames by prefix (GET /users), for /find; it
	// runs outside Update. Nil: /find is unavailable.
	FindUsers func(prefix string) ([]string, error)
}

// connState is the state of the connection, as the status line shows it.
type connState int

const (
	connecting connState = iota
	online               // INIT_DATA received
	offline              // dropped; the session retries
)

// reqKind is what a request frame asked for.
type reqKind int

const (
	reqSend reqKind = iota + 1
	reqHistory
	reqCreate
	reqJoin
	reqLeave
	reqMembers
	reqAdd
	reqRemove
	reqEdit
	reqDelete
	reqReact
)

// request is a frame of ours whose reply has not come yet.
type request struct {
	kind  reqKind
	key   string         // the conversation
	older bool           // history: a page before the oldest shown
	quiet bool           // members: only to learn a group's name
	frame map[string]any // sends: sent again after a reconnect
	arg   string         // the user added or removed; an edit's text; a reaction's emoji
	undo  bool           // a reaction: taken back
}

// Model is the Bubble Tea model of `parley chat`. Update is the only place
// its state changes, from server frames (client.Event), key presses, window
// sizes and ticks; it sends frames through Options.Sender.
type Model struct {
	opts  Options
	me    string
	convs []*Conversation // in display order
	byKey map[string]*Conversation
	sel   int // index in convs; -1 when there is none
	reqs  map[string]request

	input         textinput.Model
	width, height int
	scroll        int // lines scrolled up from the bottom of the pane

	// showSeqs: each message shows its #seq, which /edit, /react... take.
	showSeqs bool

	state   connState
	syncing bool // between INIT_DATA and INFO offline_delivered
	ticking bool // a tickMsg is on its way
	detail  string
	status  string
	isErr   bool
	// Ended is why the session ended (the server closed it with 1008 or
	// refused its tokens); the program quits when it is set.
	Ended error
}

// New returns a model waiting for its first connection.
func New(o Options) *Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = randomID
	}
	if o.TypingEvery <= 0 {
		o.TypingEvery = 3 * time.Second
	}
	if o.TypingTTL <= 0 {
		o.TypingTTL = 6 * time.Second
	}
	if o.HistoryPage <= 0 {
		o.HistoryPage = 50
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	in := textinput.New()
	in.Prompt = "> "
	in.Placeholder = "message, or /help"
	in.SetVirtualCursor(false)
	in.Focus()
	return &Model{
		opts: o, me: o.Username, sel: -1, byKey: map[string]*Conversation{},
		reqs: map[string]request{}, input: in, width: 80, height: 24,
	}
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Tick is the message, sent every second while someone is typing, that
// expires typing indicators.
type Tick time.Time

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case client.Event:
		return m, m.handleEvent(msg)
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 20), max(msg.Height, 6)
		m.input.SetWidth(m.width - 3)
		m.clampScroll()
		return m, nil
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case tea.PasteMsg:
		return m, m.edit(msg)
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			m.scrollUp(3)
		case tea.MouseWheelDown:
			m.scrollDown(3)
		}
		return m, nil
	case foundUsers:
		m.showFound(msg)
		return m, nil
	case Tick:
		if m.expireTyping() {
			return m, m.tick()
		}
		m.ticking = false
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

// handleEvent applies what the session reports.
func (m *Model) handleEvent(ev client.Event) tea.Cmd {
	switch ev.Type {
	case client.EventConnected:
		m.state, m.detail = connecting, "connected, waiting for INIT_DATA"
	case client.EventFrame:
		return m.handleFrame(ev.Frame)
	case client.EventDisconnected:
		m.state, m.syncing = offline, false
		m.detail = fmt.Sprintf("offline:%s; retry %d in %s", reason(ev), ev.Attempt+1, ev.Retry.Round(100*time.Millisecond))
		m.dropRequests()
	case client.EventEnded:
		m.Ended = ev.Err
		if m.Ended == nil {
			m.Ended = client.ErrSessionEnded
		}
		return tea.Quit
	}
	return nil
}

func reason(ev client.Event) string {
	switch {
	case ev.CloseCode == 1001:
		return " server shutting down"
	case ev.CloseCode == 1013:
		return " too slow to keep up"
	case ev.CloseCode != 0:
		return fmt.Sprintf(" closed with %d", ev.CloseCode)
	case ev.Err != nil:
		// "dial tcp 10.0.0.1:3000: connect: connection refused": the end says it.
		s := ev.Err.Error()
		return s[strings.LastIndex(s, ": ")+1:]
	}
	return " connection lost"
}

// dropRequests forgets the requests a lost connection will never answer;
// sends stay, to be sent again on the next connection.
func (m *Model) dropRequests() {
	for id, r := range m.reqs {
		if r.kind != reqSend {
			delete(m.reqs, id)
		}
	}
	for _, c := range m.convs {
		c.Loading = false
	}
}

// send writes a request and remembers it under a new id.
func (m *Model) send(r request, frame map[string]any) error {
	id := m.opts.NewID()
	frame["id"] = id
	if r.kind == reqSend {
		r.frame = frame
	}
	m.reqs[id] = r
	err := m.opts.Sender.Send(frame)
	if err != nil && r.kind != reqSend {
		delete(m.reqs, id)
		m.setError("not connected: " + err.Error())
	}
	return err
}

// Selected is the conversation shown, or nil.
func (m *Model) Selected() *Conversation {
	if m.sel < 0 || m.sel >= len(m.convs) {
		return nil
	}
	return m.convs[m.sel]
}

// Conversations returns the conversations in display order.
func (m *Model) Conversations() []*Conversation { return m.convs }

// Conversation returns the conversation with a chatId or groupId, or nil.
func (m *Model) Conversation(key string) *Conversation { return m.byKey[key] }

// Status is the last notice or error of the status line.
func (m *Model) Status() string { return m.status }

// Input is the text being typed.
func (m *Model) Input() string { return m.input.Value() }

// Ready says whether the client is connected and done with the offline
// delivery.
func (m *Model) Ready() bool { return m.state == online && !m.syncing }

// Username is the logged-in user.
func (m *Model) Username() string { return m.me }

func (m *Model) setStatus(s string) { m.status, m.isErr = s, false }
func (m *Model) setError(s string)  { m.status, m.isErr = s, true }

// clearError removes an error from the status line (a notice stays).
func (m *Model) clearError() {
	if m.isErr {
		m.status, m.isErr = "", false
	}
}

// ensure returns the conversation with key, adding it (with title) at the
// end of the list if it is new.
func (m *Model) ensure(key string, group bool, title string) *Conversation {
	if c := m.byKey[key]; c != nil {
		return c
	}
	c := newConversation(key, group, title)
	m.convs = append(m.convs, c)
	m.byKey[key] = c
	if m.sel < 0 {
		m.sel = 0
	}
	return c
}

// remove drops a conversation from the list.
func (m *Model) remove(key string) {
	i := slices.IndexFunc(m.convs, func(c *Conversation) bool { return c.Key == key })
	if i < 0 {
		return
	}
	cur := m.Selected()
	m.convs = slices.Delete(m.convs, i, i+1)
	delete(m.byKey, key)
	switch {
	case len(m.convs) == 0:
		m.sel = -1
	case cur != nil && cur.Key != key:
		m.sel = slices.Index(m.convs, cur)
	default:
		m.selectIndex(min(i, len(m.convs)-1))
	}
}

// selectIndex shows the i-th conversation: it fetches its newest page of
// history the first time and acknowledges what it shows.
func (m *Model) selectIndex(i int) {
	if i < 0 || i >= len(m.convs) {
		return
	}
	if i != m.sel {
		m.scroll = 0
	}
	m.sel = i
	c := m.convs[i]
	if !c.Loaded && !c.Loading && m.state == online {
		m.loadHistory(c, false)
		if c.Group && !c.membersAsked {
			// Its members' read positions, for "seen by".
			c.membersAsked = m.send(request{kind: reqMembers, key: c.Key, quiet: true},
				map[string]any{"type": "GET_GROUP_MEMBERS", "groupId": c.Key}) == nil
		}
	}
	m.ackVisible()
}

func (m *Model) selectKey(key string) {
	if i := slices.IndexFunc(m.convs, func(c *Conversation) bool { return c.Key == key }); i >= 0 {
		m.selectIndex(i)
	}
}

// loadHistory asks for the newest page, or (older) the page before the
// oldest message shown.
func (m *Model) loadHistory(c *Conversation, older bool) {
	f := map[string]any{"limit": m.opts.HistoryPage}
	if c.Group {
		f["type"], f["groupId"] = "GET_GROUP_CHAT_HISTORY", c.Key
	} else {
		f["type"], f["to"] = "GET_ONE_TO_ONE_HISTORY", c.Peer
	}
	if older {
		f["before"] = c.oldestShown()
	}
	if m.send(request{kind: reqHistory, key: c.Key, older: older}, f) == nil {
		c.Loading = true
	}
}

// ackVisible marks the messages of the shown conversation read (READ, which
// is also an ACK) when its newest messages are on screen (the pane is at
// the bottom). During the offline delivery it waits for the INFO that ends
// it, to send one READ.
func (m *Model) ackVisible() {
	c := m.Selected()
	if c == nil || m.scroll > 0 || m.state != online || m.syncing {
		return
	}
	c.Unread = 0
	if top := c.maxSeq(); top > c.Acked {
		// READ marks them read, and is also an ACK.
		f := map[string]any{"type": "READ", "seq": top}
		if c.Group {
			f["groupId"] = c.Key
		} else {
			f["chatId"] = c.Key
		}
		if m.opts.Sender.Send(f) == nil {
			c.Acked = top
		}
	}
}

// expireTyping forgets typing indicators older than TypingTTL; true if
// some remain.
func (m *Model) expireTyping() bool {
	now, left := m.opts.Now(), false
	for _, c := range m.convs {
		for who, at := range c.Typing {
			if now.Sub(at) >= m.opts.TypingTTL {
				delete(c.Typing, who)
			} else {
				left = true
			}
		}
	}
	return left
}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return Tick(t) })
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
