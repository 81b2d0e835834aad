package bench

import (
	"errors"
	"strconv"
)

// frame is what the generator reads from a server frame: the top-level
// fields it needs, as raw bytes (strings without their quotes, escapes
// left as sent). The bench only ever sends identifiers and contents with
// nothing to escape, so raw bytes compare equal to what it sent.
type frame struct {
	typ, id, messageID, chatID, groupID, from, content, code, event []byte
	seq, count                                                      int64
	offline                                                         bool
}

var errBadFrame = errors.New("malformed frame")

// parseFrame reads the top-level fields of one JSON object without
// allocating; nested values (INIT_DATA's chats, history pages) are
// skipped. Slices in f point into b.
func parseFrame(b []byte, f *frame) error {
	*f = frame{}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errBadFrame
	}
	i++
	for {
		i = skipWS(b, i)
		if i >= len(b) {
			return errBadFrame
		}
		if b[i] == '}' {
			return nil
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '"' {
			return errBadFrame
		}
		end := stringEnd(b, i)
		if end < 0 {
			return errBadFrame
		}
		key := b[i+1 : end]
		i = skipWS(b, end+1)
		if i >= len(b) || b[i] != ':' {
			return errBadFrame
		}
		i = skipWS(b, i+1)
		vend := valueEnd(b, i)
		if vend < 0 {
			return errBadFrame
		}
		v := b[i:vend]
		var str []byte
		if len(v) >= 2 && v[0] == '"' {
			str = v[1 : len(v)-1]
		}
		switch string(key) {
		case "type":
			f.typ = str
		case "id":
			f.id = str
		case "messageId":
			f.messageID = str
		case "chatId":
			f.chatID = str
		case "groupId":
			f.groupID = str
		case "from":
			f.from = str
		case "content":
			f.content = str
		case "code":
			f.code = str
		case "event":
			f.event = str
		case "seq":
			f.seq, _ = atoi(v)
		case "count":
			f.count, _ = atoi(v)
		case "offline":
			f.offline = string(v) == "true"
		}
		i = vend
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote closing the string at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

// valueEnd returns the index just past the JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		e := stringEnd(b, i)
		if e < 0 {
			return -1
		}
		return e + 1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := stringEnd(b, j)
				if e < 0 {
					return -1
				}
				j = e
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ' ' && b[j] != '\n' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// appendSend builds ONE_TO_ONE_CHAT (key "to") or GROUP_CHAT (key
// "groupId"). Every argument must be free of characters JSON escapes.
func appendSend(b []byte, typ, id, key, target string, content []byte) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","id":"`...)
	b = append(b, id...)
	b = append(b, `","`...)
	b = append(b, key...)
	b = append(b, `":"`...)
	b = append(b, target...)
	b = append(b, `","content":"`...)
	b = append(b, content...)
	return append(b, `"}`...)
}

// appendAck builds an ACK of a chat or a group up to seq.
func appendAck(b []byte, conv string, group bool, seq int64) []byte {
	if group {
		b = append(b, `{"type":"ACK","groupId":"`...)
	} else {
		b = append(b, `{"type":"ACK","chatId":"`...)
	}
	b = append(b, conv...)
	b = append(b, `","seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, '}')
}

// content is a message body: the client id, the send time in nanoseconds
// of the run's clock, and padding up to size bytes. The receiver reads
// the first two back with parseContent.
func makeContent(b []byte, id string, sentNs int64, size int) []byte {
	b = append(b, id...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, sentNs, 10)
	b = append(b, ' ')
	for len(b) < size {
		b = append(b, 'x')
	}
	return b
}

// parseContent returns the client id and send time of a bench message;
// ok is false for content the bench did not write.
func parseContent(c []byte) (id []byte, sentNs int64, ok bool) {
	sp := -1
	for i, ch := range c {
		if ch == ' ' {
			if sp < 0 {
				sp = i
				continue
			}
			n, ok := atoi(c[sp+1 : i])
			if !ok {
				return nil, 0, false
			}
			return c[:sp], n, true
		}
	}
	return nil, 0, false
}

// atoi parses a non-negative decimal integer without allocating.
func atoi(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
