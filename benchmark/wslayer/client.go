package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	gorilla "github.com/gorilla/websocket"
)

// The one client used against every server: gorilla/websocket, one goroutine
// per connection only while it has work (none while idle).

type clientConfig struct {
	test, url, ctl, label  string
	pid, n, window, srcIPs int
	dialers                int
	rate                   float64
	hold, dur, warmup      time.Duration
}

type result struct {
	Label       string  `json:"label"`
	Test        string  `json:"test"`
	Conns       int     `json:"conns"`  // connections asked for
	OK          int     `json:"ok"`     // connections that completed handshake + first echo
	Failed      int     `json:"failed"` // connections that failed
	FirstErr    string  `json:"first_err,omitempty"`
	ConnectSecs float64 `json:"connect_secs"`

	// idle
	BaseRSS        int64   `json:"base_rss,omitempty"`
	RSS            int64   `json:"rss,omitempty"`
	HWM            int64   `json:"hwm,omitempty"`
	BytesPerConn   float64 `json:"bytes_per_conn,omitempty"`
	BaseGoroutines int64   `json:"base_goroutines"`
	Goroutines     int64   `json:"goroutines"`
	ServerConns    int64   `json:"server_conns"`

	// tput
	Msgs           int64   `json:"msgs,omitempty"`
	Secs           float64 `json:"secs,omitempty"`
	MsgsPerSec     float64 `json:"msgs_per_sec,omitempty"`
	ServerCPU      float64 `json:"server_cpu_s,omitempty"`
	ServerUsPerMsg float64 `json:"server_us_per_msg,omitempty"`
	ClientCPU      float64 `json:"client_cpu_s,omitempty"`
	ClientUsPerMsg float64 `json:"client_us_per_msg,omitempty"`
	OtherCPU       float64 `json:"other_cpu_s"` // CPU used by everything else on the machine meanwhile
	BadEchoes      int64   `json:"bad_echoes"`
}

func runClient(cc clientConfig) error {
	if cc.pid <= 0 {
		return errors.New("-pid of the server is required")
	}
	if cc.label == "" {
		cc.label = "?"
	}
	res := result{Label: cc.label, Test: cc.test, Conns: cc.n}
	var err error
	switch cc.test {
	case "idle":
		err = idleTest(cc, &res)
	case "tput", "paced":
		err = tputTest(cc, &res)
	default:
		err = fmt.Errorf("unknown -test %q", cc.test)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// serverGC asks the server to run runtime.GC + debug.FreeOSMemory and returns its goroutine and connection counts.
func serverGC(cc clientConfig) (goroutines, conns int64, err error) { return serverCtl(cc, "/gc") }

func serverCtl(cc clientConfig, path string) (goroutines, conns int64, err error) {
	hc := http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Get(cc.ctl + path)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var v struct{ Goroutines, Conns int64 }
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v.Goroutines, v.Conns, err
}

// message builds a ~100 byte JSON-ish chat message for connection i.
func message(i int) []byte {
	b := []byte(fmt.Sprintf(`{"type":"chat.msg","room":"room-%04d","from":"user-%05d","seq":%d,"body":"`, i%1000, i, i))
	for len(b) < 98 {
		b = append(b, 'x')
	}
	return append(b, '"', '}')
}

// dialAll opens n connections with cc.dialers workers; each connection sends
// one message and waits for its echo. Failed slots are nil.
func dialAll(cc clientConfig, res *result) []*gorilla.Conn {
	conns := make([]*gorilla.Conn, cc.n)
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < cc.dialers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cc.n {
					return
				}
				c, err := dialOne(cc, i)
				mu.Lock()
				if err != nil {
					res.Failed++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				} else {
					res.OK++
					conns[i] = c
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.ConnectSecs = time.Since(start).Seconds()
	return conns
}

func dialOne(cc clientConfig, i int) (*gorilla.Conn, error) {
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+i%cc.srcIPs))}
	d := gorilla.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}
			return nd.DialContext(ctx, network, addr)
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, _, err := d.DialContext(ctx, cc.url, nil)
	if err != nil {
		return nil, err
	}
	msg := message(i)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(gorilla.TextMessage, msg); err != nil {
		c.Close()
		return nil, err
	}
	_, got, err := c.ReadMessage()
	if err != nil {
		c.Close()
		return nil, err
	}
	if !bytes.Equal(got, msg) {
		c.Close()
		return nil, errors.New("echo mismatch")
	}
	c.SetReadDeadline(time.Time{})
	return c, nil
}

func closeAll(conns []*gorilla.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

func idleTest(cc clientConfig, res *result) error {
	var err error
	if res.BaseGoroutines, _, err = serverGC(cc); err != nil {
		return fmt.Errorf("baseline /gc: %w", err)
	}
	if res.BaseRSS, _, err = procRSS(cc.pid); err != nil {
		return err
	}
	conns := dialAll(cc, res)
	defer closeAll(conns)
	time.Sleep(cc.hold)
	if res.Goroutines, res.ServerConns, err = serverGC(cc); err != nil {
		return fmt.Errorf("/gc with conns open: %w", err)
	}
	if res.RSS, res.HWM, err = procRSS(cc.pid); err != nil {
		return err
	}
	if res.OK > 0 {
		res.BytesPerConn = float64(res.RSS-res.BaseRSS) / float64(res.OK)
	}
	return nil
}

func tputTest(cc clientConfig, res *result) error {
	var err error
	if res.BaseGoroutines, _, err = serverGC(cc); err != nil {
		return fmt.Errorf("baseline /gc: %w", err)
	}
	conns := dialAll(cc, res)
	defer closeAll(conns)

	var count, bad atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		if cc.test == "paced" {
			go func() {
				defer wg.Done()
				pacedConn(cc, c, i, res.OK, &stop, &count, &bad)
			}()
			continue
		}
		go func() {
			defer wg.Done()
			msg := message(i)
			for k := 0; k < cc.window; k++ {
				if c.WriteMessage(gorilla.TextMessage, msg) != nil {
					return
				}
			}
			for !stop.Load() {
				_, got, err := c.ReadMessage()
				if err != nil {
					return
				}
				if len(got) != len(msg) {
					bad.Add(1)
				}
				count.Add(1)
				if c.WriteMessage(gorilla.TextMessage, msg) != nil {
					return
				}
			}
		}()
	}

	time.Sleep(cc.warmup)
	t0, n0 := time.Now(), count.Load()
	s0, err0 := procCPU(cc.pid)
	c0, _ := procCPU(os.Getpid())
	m0, _ := machineBusy()
	time.Sleep(cc.dur)
	t1, n1 := time.Now(), count.Load()
	s1, err1 := procCPU(cc.pid)
	c1, _ := procCPU(os.Getpid())
	m1, _ := machineBusy()
	if err := errors.Join(err0, err1); err != nil {
		return err
	}
	// Goroutines and connections while the load is still running (no GC requested).
	res.Goroutines, res.ServerConns, _ = serverCtl(cc, "/stats")
	res.RSS, res.HWM, _ = procRSS(cc.pid)

	stop.Store(true)
	for _, c := range conns {
		if c != nil {
			c.SetReadDeadline(time.Now())
		}
	}
	wg.Wait()

	res.Msgs = n1 - n0
	res.Secs = t1.Sub(t0).Seconds()
	res.MsgsPerSec = float64(res.Msgs) / res.Secs
	res.ServerCPU = s1 - s0
	res.ClientCPU = c1 - c0
	res.OtherCPU = (m1 - m0) - res.ServerCPU - res.ClientCPU
	if res.Msgs > 0 {
		res.ServerUsPerMsg = res.ServerCPU / float64(res.Msgs) * 1e6
		res.ClientUsPerMsg = res.ClientCPU / float64(res.Msgs) * 1e6
	}
	res.BadEchoes = bad.Load()
	return nil
}

// pacedConn sends one message every n/rate seconds on c (schedule staggered
// across connections) and waits for each echo, so all n connections together
// offer cc.rate messages/s.
func pacedConn(cc clientConfig, c *gorilla.Conn, i, n int, stop *atomic.Bool, count, bad *atomic.Int64) {
	interval := time.Duration(float64(time.Second) * float64(n) / cc.rate)
	msg := message(i)
	next := time.Now().Add(interval * time.Duration(i%n) / time.Duration(n))
	for !stop.Load() {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		} else if d < -interval {
			next = time.Now() // fell behind: skip, do not burst
		}
		next = next.Add(interval)
		if c.WriteMessage(gorilla.TextMessage, msg) != nil {
			return
		}
		_, got, err := c.ReadMessage()
		if err != nil {
			return
		}
		if len(got) != len(msg) {
			bad.Add(1)
		}
		count.Add(1)
	}
}
