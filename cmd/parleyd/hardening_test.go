package main

// More of the adversarial suite: attacks on other users' ability to
// connect and on the server's resources.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// throttled is a client socket that reads at most rate bytes a second,
// through a small receive buffer, as a client on a slow link does.
type throttled struct {
	net.Conn
	rate  int
	mu    sync.Mutex
	start time.Time
	read  int
}

func (c *throttled) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.start.IsZero() {
		c.start = time.Now()
	}
	// Sleep until reading more keeps within the rate.
	due := c.start.Add(time.Duration(float64(c.read) / float64(c.rate) * float64(time.Second)))
	c.mu.Unlock()
	time.Sleep(time.Until(due))
	if len(p) > 8<<10 {
		p = p[:8<<10]
	}
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.read += n
	c.mu.Unlock()
	return n, err
}

// slowDial opens a chat connection that reads at rate bytes a second
// through a 64 KiB receive buffer.
func (s *testServer) slowDial(u *user, rate int) *websocket.Conn {
	s.t.Helper()
	url, _ := s.api.WebSocketURL("chat")
	d := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
			return &throttled{Conn: c, rate: rate}, nil
		},
	}
	ws, _, err := d.Dial(url, http.Header{"Authorization": {"Bearer " + u.tokens.Token}})
	if err != nil {
		s.t.Fatalf("dial as %s: %v", u.name, err)
	}
	s.t.Cleanup(func() { ws.Close() })
	return ws
}

// rawFrame is what the slow tests read of a frame.
type rawFrame struct {
	Type       string          `json:"type"`
	Event      string          `json:"event"`
	Count      *int            `json:"count"`
	Seq        int64           `json:"seq"`
	ChatID     string          `json:"chatId"`
	Offline    bool            `json:"offline"`
	MoreGroups bool            `json:"moreGroups"`
	Groups     []rawGroup      `json:"groups"`
	HasMore    bool            `json:"hasMore"`
	Code       string          `json:"code"`
	Raw        json.RawMessage `json:"-"`
}

type rawGroup struct {
	GroupID string `json:"groupId"`
	Name    string `json:"name"`
}

// readRaw reads one frame, failing the test on a close or after wait.
func readRaw(t *testing.T, ws *websocket.Conn) rawFrame {
	t.Helper()
	for {
		ws.SetReadDeadline(time.Now().Add(2 * wait))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		var f rawFrame
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		f.Raw = data
		if f.Type != "PRESENCE_UPDATE" {
			return f
		}
	}
}

// backlog sends n messages of size bytes from one to another, who is
// offline, and waits until they are stored.
func (s *testServer) backlog(t *testing.T, from, to *user, n, size int) {
	t.Helper()
	c := s.dial(from, "chat")
	c.expect("INIT_DATA")
	c.expect("INFO")
	content := strings.Repeat("x", size)
	for i := 0; i < n; i++ {
		c.send(obj{"type": "ONE_TO_ONE_CHAT", "to": to.name, "content": content})
		if i%100 == 99 || i == n-1 {
			for j := i - i%100; j <= i; j++ {
				c.expect("SUCCESS")
			}
		}
	}
	c.CloseNormal()
}

// TestAttackSlowReaderGetsBacklog: a client on a slow link gets a backlog
// many times the outbound bound in one connection, paced by its reading
// instead of cut with 1013, and the ACKs it sends on the way count even
// if the connection then ends.
func TestAttackSlowReaderGetsBacklog(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MaxQueue = 256 << 10 })
	alice, bob, carol := s.newUser("alice"), s.newUser("bob"), s.newUser("carol")
	// 6 MB in two chats: more than the kernel's socket buffers and the
	// bound together.
	const n, size = 1500, 4000
	s.backlog(t, alice, bob, n/2, size)
	s.backlog(t, carol, bob, n/2, size)

	t.Run("one connection", func(t *testing.T) {
		ws := s.slowDial(bob, 3<<20)
		if f := readRaw(t, ws); f.Type != "INIT_DATA" {
			t.Fatalf("got %s, want INIT_DATA", f.Raw)
		}
		got := 0
		for {
			f := readRaw(t, ws)
			if f.Type == "INFO" {
				if f.Count == nil || *f.Count != n || got != n {
					t.Fatalf("offline_delivered %s after %d frames, want %d", f.Raw, got, n)
				}
				break
			}
			if !f.Offline {
				t.Fatalf("got %s during the offline pass", f.Raw)
			}
			got++
		}
		ws.Close()
	})

	t.Run("ACKs before a close count", func(t *testing.T) {
		ws := s.slowDial(bob, 1<<20)
		readRaw(t, ws) // INIT_DATA
		var last rawFrame
		for i := 0; i < 100; i++ {
			last = readRaw(t, ws)
		}
		if err := ws.WriteJSON(obj{"type": "ACK", "chatId": last.ChatID, "seq": last.Seq}); err != nil {
			t.Fatal(err)
		}
		// Give the server time to read it (a close with unread data is a
		// reset, which may discard what the server has not read yet).
		time.Sleep(300 * ms)
		ws.Close() // half-way through the offline pass
		want := n - int(last.Seq)
		until(t, wait, "the ACK sent before the close taking effect", func() bool {
			c, _, offline := s.chat(bob)
			c.Close()
			return len(offline) == want
		})
	})
	if c := strings.Count(s.log.String(), "slow client disconnected"); c != 0 {
		t.Fatalf("%d slow-client disconnections", c)
	}
}

// TestAttackGroupFlooding: anyone may add anyone to groups; put a victim
// in many groups with long names and their INIT_DATA must still neither
// trip the outbound bound nor grow without limit, the number of groups is
// bounded, and the victim can list every group and leave them.
func TestAttackGroupFlooding(t *testing.T) {
	const maxGroups, initList = 100, 40
	s := startServer(t, func(c *Config) {
		c.MaxQueue = 64 << 10
		c.MaxGroupsPerUser = maxGroups
		c.InitListMax = initList
	})
	mallory, eve, victim := s.newUser("mallory"), s.newUser("eve"), s.newUser("victim")
	// 100 characters that JSON writes as 6 bytes each: 600 bytes a name.
	name := strings.Repeat("<", 100)
	cm, _, _ := s.chat(mallory)
	ce, _, _ := s.chat(eve) // the creator is a member too: two attackers
	for i := 0; i < maxGroups-1; i++ {
		c := cm
		if i%2 == 1 {
			c = ce
		}
		c.send(obj{"type": "CREATE_GROUP", "name": name, "members": []string{victim.name}})
		c.expect("SUCCESS")
	}
	cm.send(obj{"type": "CREATE_GROUP", "name": name})
	last := cm.expect("SUCCESS").GroupID
	cm.send(obj{"type": "ADD_GROUP_MEMBER", "groupId": last, "username": victim.name})
	cm.expect("SUCCESS")
	// The victim is in maxGroups groups: no more.
	cm.send(obj{"type": "CREATE_GROUP", "name": name, "members": []string{victim.name}})
	cm.expectError("forbidden")
	cm.send(obj{"type": "CREATE_GROUP", "name": name})
	spare := cm.expect("SUCCESS").GroupID
	cm.send(obj{"type": "ADD_GROUP_MEMBER", "groupId": spare, "username": victim.name})
	cm.expectError("forbidden")

	// Every new connection of the victim works: its INIT_DATA (about
	// 60 KB for all the groups, near the 64 KiB bound) lists initList.
	cv := s.dial(victim, "chat")
	init := cv.expect("INIT_DATA")
	var head rawFrame
	if err := json.Unmarshal(init.Raw, &head); err != nil {
		t.Fatal(err)
	}
	if len(init.Groups) != initList || !head.MoreGroups {
		t.Fatalf("INIT_DATA lists %d groups, moreGroups %v; want %d and true", len(init.Groups), head.MoreGroups, initList)
	}
	cv.expect("INFO")
	seen := map[string]bool{}
	for _, g := range init.Groups {
		seen[g.GroupID] = true
	}
	for offset := initList; ; offset += initList {
		cv.send(obj{"type": "GET_GROUPS", "offset": offset})
		page := cv.expect("GROUPS")
		for _, g := range page.Groups {
			seen[g.GroupID] = true
		}
		if !page.HasMore {
			break
		}
	}
	if len(seen) != maxGroups {
		t.Fatalf("INIT_DATA and GET_GROUPS list %d groups, want %d", len(seen), maxGroups)
	}
	// The victim leaves one, and then can be added again.
	cv.send(obj{"type": "LEAVE_GROUP", "groupId": last})
	cv.expect("SUCCESS")
	cm.expect("GROUP_MEMBER_LEFT")
	cm.send(obj{"type": "ADD_GROUP_MEMBER", "groupId": spare, "username": victim.name})
	cm.expect("SUCCESS")
	if c := strings.Count(s.log.String(), "slow client disconnected"); c != 0 {
		t.Fatalf("%d slow-client disconnections", c)
	}
}

// TestAttackPingFloodWithoutReading: a client that pings and does not read
// is too slow like any other: its pongs count toward the outbound bound,
// and it is closed with 1013, once, with one log line and one count, even
// in the middle of its offline pass.
//
// A client that never reads can also stall its own sends: once its receive
// buffer is over its limit, the kernel drops the segments that carry the
// server's acknowledgements, and its pings stop reaching the server before
// the server's queue is full (seen here about one connection in eight,
// with megabytes in the client's send queue and nothing in the server's
// receive queue). Such a connection proves nothing either way; it is
// closed and another is tried.
func TestAttackPingFloodWithoutReading(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MaxQueue = 64 << 10 })
	alice, bob := s.newUser("alice"), s.newUser("bob")
	s.backlog(t, alice, bob, 300, 4000)
	before := s.scrape(t)["parley_slow_client_disconnects_total"]
	const conns = 3
	for done, tries := 0, 0; done < conns; tries++ {
		if tries == 3*conns {
			t.Fatalf("%d of %d connections closed as too slow after %d tries", done, conns, tries)
		}
		ws := s.slowDial(bob, 1) // reads nothing to speak of
		closed := func() bool {
			return strings.Count(s.log.String(), "slow client disconnected") > done
		}
		payload := []byte(strings.Repeat("p", 125))
		stalled := false
		for sent := 0; sent%200 != 0 || !closed(); sent++ {
			if sent > 200000 {
				t.Fatalf("connection %d still open after %d pings", tries, sent)
			}
			// A generous deadline: a server slowed by the race detector reads
			// late, and a write that times out would end the connection here.
			if err := ws.WriteControl(websocket.PingMessage, payload, time.Now().Add(wait)); err != nil {
				deadline := time.Now().Add(wait)
				for !closed() && time.Now().Before(deadline) {
					time.Sleep(10 * ms)
				}
				stalled = !closed()
				break
			}
		}
		ws.Close()
		if stalled {
			t.Logf("try %d: the client's own sends stalled before the server's queue filled; trying another connection", tries+1)
			continue
		}
		done++
	}
	until(t, wait, "every connection closing", func() bool {
		return strings.Count(s.log.String(), `"reason":"too slow to keep up; reconnect"`) == conns
	})
	time.Sleep(200 * ms) // a pass that went on writing would log more
	if got := strings.Count(s.log.String(), "slow client disconnected"); got != conns {
		t.Fatalf("%d slow-client log lines for %d disconnections", got, conns)
	}
	if got := s.scrape(t)["parley_slow_client_disconnects_total"] - before; got != conns {
		t.Fatalf("slow-client metric moved by %v for %d disconnections", got, conns)
	}
}

// TestAttackInvisibleNames: display names made of invisible characters,
// or holding bidi controls that display another name, are refused.
func TestAttackInvisibleNames(t *testing.T) {
	s := startServer(t, nil)
	c, _, _ := s.chat(s.newUser("mallory"))
	for _, name := range []string{
		"\u200b\u200b\u200b",       // zero-width spaces only
		"admin\u202egnp.exe",       // right-to-left override
		"\u2067team\u2069",         // right-to-left isolate
		"team\ufeff",               // zero-width no-break space
		"\u200dteam",               // zero-width joiner
		"tea\u0000m", "te\u0085am", // control characters
	} {
		c.send(obj{"type": "CREATE_GROUP", "name": name})
		if f := c.expect("ERROR"); f.Code != "invalid" {
			t.Errorf("name %q: got %s, want ERROR invalid", name, f.Raw)
		}
	}
	c.send(obj{"type": "CREATE_GROUP", "name": "équipe 🚀 チーム"})
	c.expect("SUCCESS")
}

// TestAttackTypingFlood: TYPING is forwarded only between users who share
// a conversation, and a flood of it is cut to a few a second per sender
// and per conversation, silently.
func TestAttackTypingFlood(t *testing.T) {
	s := startServer(t, func(c *Config) { c.RateTypingPerSec = 4 })
	alice, bob, mallory := s.newUser("alice"), s.newUser("bob"), s.newUser("mallory")
	ca, _, _ := s.chat(alice)
	cb, _, _ := s.chat(bob)
	cm, _, _ := s.chat(mallory)

	// A stranger's typing does not reach bob.
	cm.send(obj{"type": "TYPING", "to": bob.name})
	cm.quiet(100 * ms)
	cb.quiet(100 * ms)

	ca.send(obj{"type": "ONE_TO_ONE_CHAT", "to": bob.name, "content": "hi"})
	ca.expect("SUCCESS")
	cb.expect("ONE_TO_ONE_CHAT")
	const n = 200
	for i := 0; i < n; i++ {
		ca.send(obj{"type": "TYPING", "to": bob.name})
	}
	ca.send(obj{"type": "PING", "id": "after"})
	if f := ca.expect("PONG"); f.ID != "after" { // no ERROR for the excess
		t.Fatalf("got %s", f.Raw)
	}
	got := 0
	ctx, cancel := context.WithTimeout(context.Background(), 500*ms)
	defer cancel()
	for {
		f, err := cb.Next(ctx)
		if err != nil {
			break
		}
		if f.Type == "TYPING" {
			got++
		}
	}
	// The pair's burst is 4, plus a token a second of refill (a loaded
	// machine may take a few seconds over the 200).
	if got < 1 || got > 10 {
		t.Fatalf("bob got %d of %d TYPING, want a handful", got, n)
	}
}

// slowBody opens a connection that posts a login announcing 60,000 bytes
// and sends one.
func slowBody(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte("POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")); err != nil {
		t.Fatal(err)
	}
	return c
}

// statusOf reads the response on c, or returns 0 if none came by
// deadline.
func statusOf(c net.Conn, deadline time.Time) int {
	c.SetReadDeadline(deadline)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAttackSlowBodies: request bodies sent a byte at a time neither hold
// requests open past the body timeout nor pile up per address, and the
// server shuts down cleanly whatever such clients do.
func TestAttackSlowBodies(t *testing.T) {
	t.Run("timeout and cap", func(t *testing.T) {
		s := startServer(t, func(c *Config) {
			c.HTTPBodyTimeout = time.Second
			c.MaxAuthInFlight = 8
		})
		addr := s.Addr("http")
		var conns []net.Conn
		for i := 0; i < 30; i++ {
			conns = append(conns, slowBody(t, addr))
		}
		start := time.Now()
		counts := map[int]int{}
		for _, c := range conns {
			counts[statusOf(c, start.Add(wait))]++
		}
		if counts[429] < 30-8 || counts[400]+counts[429] != 30 {
			t.Fatalf("statuses %v: want at most 8 held and answered 400 after the body timeout, the rest 429", counts)
		}
		if took := time.Since(start); took < time.Second/2 {
			t.Fatalf("the held requests were answered after %v, before the body timeout", took)
		}
		// The address may log in again.
		status, body := s.post(t, "/auth/login", "application/json", `{"username":"nobody","password":"whatever1"}`, nil)
		if status != 401 {
			t.Fatalf("a login afterwards: got %d %s", status, body)
		}
	})

	t.Run("shutdown", func(t *testing.T) {
		s := startServer(t, func(c *Config) { c.MaxAuthInFlight = 0 })
		for i := 0; i < 20; i++ {
			slowBody(t, s.Addr("http"))
		}
		time.Sleep(100 * ms) // the requests are under way
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		if err := s.Close(ctx); err != nil {
			t.Fatalf("shutdown with slow clients: %v", err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("shutdown took %v", took)
		}
	})
}

// TestAttackGroupIDGuessing: group ids are 128 random bits, and a user
// who keeps guessing them is stopped.
func TestAttackGroupIDGuessing(t *testing.T) {
	s := startServer(t, func(c *Config) { c.RateJoinFailuresPerMin = 10 })
	alice, mallory := s.newUser("alice"), s.newUser("mallory")
	ca, _, _ := s.chat(alice)
	cm, _, _ := s.chat(mallory)
	shape := regexp.MustCompile(`^g[a-z2-7]{26}$`)
	ids := map[string]bool{}
	for i := 0; i < 20; i++ {
		ca.send(obj{"type": "CREATE_GROUP", "name": "g"})
		id := ca.expect("SUCCESS").GroupID
		if !shape.MatchString(id) || ids[id] {
			t.Fatalf("group id %q: want g and 26 base32 characters, all different", id)
		}
		ids[id] = true
	}
	for i := 0; i < 10; i++ {
		cm.send(obj{"type": "JOIN_GROUP", "groupId": "g" + strings.Repeat("a", 25) + string(rune('a'+i))})
		cm.expectError("not_found")
	}
	cm.send(obj{"type": "JOIN_GROUP", "groupId": "gbbbbbbbbbbbbbbbbbbbbbbbbbb"})
	cm.expectError("rate_limited")
	// Others are not affected.
	for id := range ids {
		ca.send(obj{"type": "JOIN_GROUP", "groupId": id})
		ca.expect("SUCCESS")
		break
	}
}

// TestAttackMembershipChurn: joining and leaving a group over and over,
// each time an event to every member, is rate limited per user.
func TestAttackMembershipChurn(t *testing.T) {
	s := startServer(t, func(c *Config) { c.RateMembershipPerSec = 1 }) // burst 4
	alice, mallory := s.newUser("alice"), s.newUser("mallory")
	ca, _, _ := s.chat(alice)
	cm, _, _ := s.chat(mallory)
	ca.send(obj{"type": "CREATE_GROUP", "name": "open"})
	gid := ca.expect("SUCCESS").GroupID
	ok, limited := 0, 0
	for i := 0; i < 20; i++ {
		typ := "JOIN_GROUP"
		if i%2 == 1 {
			typ = "LEAVE_GROUP"
		}
		cm.send(obj{"type": typ, "groupId": gid})
		switch f := cm.next(); {
		case f.Type == "SUCCESS":
			ok++
		case f.Type == "ERROR" && f.Code == "rate_limited":
			limited++
		default:
			t.Fatalf("got %s", f.Raw)
		}
	}
	if ok > 8 || limited < 12 { // a loaded machine may refill a few
		t.Fatalf("%d changes made, %d limited; want the burst (4) and a little refill", ok, limited)
	}
	// Alice, the owner, is not limited by mallory's churn.
	ca.send(obj{"type": "GET_GROUP_MEMBERS", "id": "m", "groupId": gid})
	for {
		f := ca.next()
		if f.Type == "GROUP_MEMBERS" {
			break
		}
		if f.Type != "GROUP_MEMBER_JOINED" && f.Type != "GROUP_MEMBER_LEFT" {
			t.Fatalf("alice got %s", f.Raw)
		}
	}
	ca.send(obj{"type": "ADD_GROUP_MEMBER", "groupId": gid, "username": mallory.name})
	ca.expect("SUCCESS")
}

// TestAttackLockoutByName: failing logins as someone else locks out the
// attacker's addresses, not the owner's, from wherever they logged in
// before.
func TestAttackLockoutByName(t *testing.T) {
	s := startServer(t, func(c *Config) {
		c.LoginMaxFailures = 3
		c.TrustProxy = true // addresses come from X-Forwarded-For
	})
	victim := s.newUser("victim")
	login := func(from, pass string) int {
		t.Helper()
		status, _ := s.post(t, "/auth/login", "application/json",
			`{"username":"`+victim.name+`","password":"`+pass+`"}`, map[string]string{"X-Forwarded-For": from})
		return status
	}
	const home, attacker, attacker2 = "198.51.100.7", "203.0.113.9", "203.0.113.10"
	if got := login(home, victim.pass); got != 200 {
		t.Fatalf("login from home: %d", got)
	}
	for i := 0; i < 3; i++ {
		if got := login(attacker, "guess-"+itoa(i)); got != 401 {
			t.Fatalf("guess %d: %d, want 401", i, got)
		}
	}
	// The attacker, from this or another address, is locked out of the
	// name, even with the right password.
	for _, from := range []string{attacker, attacker2} {
		if got := login(from, victim.pass); got != 429 {
			t.Fatalf("from %s after 3 failures: %d, want 429", from, got)
		}
	}
	// The owner still logs in from home.
	if got := login(home, victim.pass); got != 200 {
		t.Fatalf("the owner from home after someone else's guesses: %d, want 200", got)
	}
}

// TestAttackDiskFull: when the store cannot write (here every file write
// of the process fails, as on a full disk: RLIMIT_FSIZE of 0), /health
// says so and writes answer 503 unavailable with Retry-After rather than
// 500; once writes work again, so does everything.
func TestAttackDiskFull(t *testing.T) {
	s := startServer(t, nil)
	alice := s.newUser("alice")
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit fails instead of killing
	defer signal.Reset(syscall.SIGXFSZ)
	full := old
	full.Cur = 0
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &full); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Fatal(err)
		}
	}
	defer restore()

	req := func(path, body string) (*http.Response, string) {
		t.Helper()
		var resp *http.Response
		var err error
		if body == "" {
			resp, err = http.Get(s.api.BaseURL + path)
		} else {
			resp, err = http.Post(s.api.BaseURL+path, "application/json", strings.NewReader(body))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		bufio.NewReader(resp.Body).WriteTo(&b)
		return resp, b.String()
	}
	for _, c := range []struct{ path, body string }{
		{"/auth/register", `{"username":"newcomer","password":"password123"}`},
		{"/auth/login", `{"username":"` + alice.name + `","password":"` + alice.pass + `"}`},
	} {
		resp, body := req(c.path, c.body)
		if resp.StatusCode != 503 || !strings.Contains(body, `"unavailable"`) || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s on a full disk: %d %s (Retry-After %q), want 503 unavailable with Retry-After",
				c.path, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	// The public /health says only unavailable; the operators' one, on
	// the metrics listener, names the failing check.
	if resp, body := req("/health", ""); resp.StatusCode != 503 || !strings.Contains(body, `"unavailable"`) {
		t.Fatalf("/health on a full disk: %d %s", resp.StatusCode, body)
	}
	resp, err := http.Get("http://" + s.Addr("metrics") + "/health")
	if err != nil {
		t.Fatal(err)
	}
	detail, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(detail), `"store":"unavailable"`) {
		t.Fatalf("the detailed /health on a full disk: %d %s", resp.StatusCode, detail)
	}

	restore()
	if resp, body := req("/auth/register", `{"username":"newcomer","password":"password123"}`); resp.StatusCode != 201 {
		t.Fatalf("register once the disk has room: %d %s", resp.StatusCode, body)
	}
	if resp, body := req("/health", ""); resp.StatusCode != 200 {
		t.Fatalf("/health once the disk has room: %d %s", resp.StatusCode, body)
	}
}

// TestAttackBigGroupAcrossNodes: a CREATE_GROUP of N members crosses to
// another node as N deliveries, not N events to N members each, and every
// member still gets one GROUP_MEMBER_JOINED per member.
func TestAttackBigGroupAcrossNodes(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]
	creator := a.newUser("boss")
	ca, _, _ := a.chat(creator)
	const n = 40
	members := make([]string, n)
	conns := make([]*conn, n)
	for i := range members {
		u := b.newUser("member")
		members[i] = u.name
		conns[i], _, _ = b.chat(u)
	}
	events := func() float64 { return b.scrape(t)["parley_bus_lag_seconds|count"] }
	before := events()
	ca.send(obj{"type": "CREATE_GROUP", "name": "everyone", "members": members})
	gid := ca.expect("SUCCESS").GroupID
	for _, m := range conns {
		for i := 0; i <= n; i++ { // the creator and the n members
			if f := m.expect("GROUP_MEMBER_JOINED"); f.GroupID != gid {
				t.Fatalf("got %s", f.Raw)
			}
		}
	}
	if got := events() - before; got > 2*(n+1) {
		t.Fatalf("node b received %v bus events for a group of %d; want about one per member", got, n+1)
	}
}
