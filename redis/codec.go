package redis

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/parley-chat/parley"
)

// The payload of a PUBLISH is one JSON object, always written in this
// order:
//
//	{"n":<node>,"t":<sent, unix ns>,"s":<seq>,"x":<except conn>,"c":<conv>,
//	 "e":<end session>,"o":<origin>,"f":<frame>}
//
// The frame, a JSON frame of the protocol, is embedded as it is (not
// base64), or, when it is not valid JSON, as "fb":<base64 string>. The
// event's users are left out: the channel names the user. The decoder
// reads this layout directly and falls back to encoding/json for anything
// else (escaped strings, other key orders), so that any JSON object with
// these keys is accepted.

// wire is the payload for encoding/json, the slow path.
type wire struct {
	Node       int64           `json:"n"`
	Sent       int64           `json:"t"`
	Seq        int64           `json:"s,omitempty"`
	ExceptConn string          `json:"x,omitempty"`
	Conv       string          `json:"c,omitempty"`
	EndSession string          `json:"e,omitempty"`
	Origin     string          `json:"o,omitempty"`
	Frame      json.RawMessage `json:"f,omitempty"`
	FrameB64   []byte          `json:"fb,omitempty"`
}

// appendEvent appends the payload of ev, published by node at sent.
func appendEvent(b []byte, ev *parley.Event, node, sent int64) []byte {
	b = append(b, `{"n":`...)
	b = strconv.AppendInt(b, node, 10)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, sent, 10)
	b = append(b, `,"s":`...)
	b = strconv.AppendInt(b, ev.Seq, 10)
	b = append(b, `,"x":`...)
	b = appendString(b, ev.ExceptConn)
	b = append(b, `,"c":`...)
	b = appendString(b, ev.Conv)
	b = append(b, `,"e":`...)
	b = appendString(b, ev.EndSession)
	b = append(b, `,"o":`...)
	b = appendString(b, ev.Origin)
	switch {
	case len(ev.Frame) == 0:
	case json.Valid(ev.Frame):
		b = append(b, `,"f":`...)
		b = append(b, ev.Frame...)
	default:
		b = append(b, `,"fb":`...)
		s, _ := json.Marshal(ev.Frame) // a base64 string
		b = append(b, s...)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

var errLayout = errors.New("not the usual layout")

// decodeEvent decodes a payload into ev (its Users left as they are) and
// returns the publishing node and the send time.
func decodeEvent(p []byte, ev *parley.Event) (node, sent int64, err error) {
	if node, sent, err = decodeFast(p, ev); err == nil {
		return node, sent, nil
	}
	var w wire
	if err := json.Unmarshal(p, &w); err != nil {
		return 0, 0, err
	}
	*ev = parley.Event{Users: ev.Users, ExceptConn: w.ExceptConn, Conv: w.Conv, Seq: w.Seq, EndSession: w.EndSession, Origin: w.Origin}
	switch {
	case len(w.Frame) > 0:
		ev.Frame = w.Frame
	case len(w.FrameB64) > 0:
		ev.Frame = w.FrameB64
	}
	return w.Node, w.Sent, nil
}

// decodeFast reads the layout that appendEvent writes.
func decodeFast(p []byte, ev *parley.Event) (node, sent int64, err error) {
	r := reader{p: p}
	r.lit(`{"n":`)
	node = r.int()
	r.lit(`,"t":`)
	sent = r.int()
	r.lit(`,"s":`)
	seq := r.int()
	r.lit(`,"x":`)
	except := r.str()
	r.lit(`,"c":`)
	conv := r.str()
	r.lit(`,"e":`)
	end := r.str()
	r.lit(`,"o":`)
	origin := r.str()
	var frame []byte
	switch {
	case r.err != nil:
	case bytes.HasPrefix(r.p, []byte(`,"f":`)) && len(r.p) > 6 && r.p[len(r.p)-1] == '}':
		// The frame runs to the closing brace; it was valid JSON when
		// published.
		frame = r.p[5 : len(r.p)-1]
		r.p = r.p[len(r.p)-1:]
	case bytes.HasPrefix(r.p, []byte(`,"fb":`)):
		return 0, 0, errLayout
	}
	r.lit(`}`)
	if r.err != nil || len(r.p) != 0 {
		return 0, 0, errLayout
	}
	*ev = parley.Event{Users: ev.Users, Frame: frame, ExceptConn: except, Conv: conv, Seq: seq, EndSession: end, Origin: origin}
	return node, sent, nil
}

// reader consumes a payload; its first failure sticks.
type reader struct {
	p   []byte
	err error
}

func (r *reader) lit(s string) {
	if r.err == nil && !bytes.HasPrefix(r.p, []byte(s)) {
		r.err = errLayout
	}
	if r.err == nil {
		r.p = r.p[len(s):]
	}
}

func (r *reader) int() int64 {
	if r.err != nil {
		return 0
	}
	i := 0
	if i < len(r.p) && r.p[i] == '-' {
		i++
	}
	for i < len(r.p) && r.p[i] >= '0' && r.p[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(string(r.p[:i]), 10, 64)
	if err != nil {
		r.err = errLayout
		return 0
	}
	r.p = r.p[i:]
	return n
}

// str reads a string of printable ASCII, as appendString writes it
// unescaped; anything else (escapes, or bytes that JSON decoding would
// replace when they are not valid UTF-8) takes the slow path.
func (r *reader) str() string {
	if r.err != nil {
		return ""
	}
	if len(r.p) == 0 || r.p[0] != '"' {
		r.err = errLayout
		return ""
	}
	for i := 1; i < len(r.p); i++ {
		switch c := r.p[i]; {
		case c == '"':
			s := string(r.p[1:i])
			r.p = r.p[i+1:]
			return s
		case c == '\\' || c < 0x20 || c >= 0x7f:
			r.err = errLayout
			return ""
		}
	}
	r.err = errLayout
	return ""
}
