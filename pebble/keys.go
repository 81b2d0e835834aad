package pebble

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/parley-chat/parley"
)

const (
	kindMessage = 'm'
	kindIdem    = 'i'
	kindCursor  = 'c'
	kindRead    = 'r'
	kindLast    = 's'
	kindChat    = 'u'
	kindMeta    = 'z'
)

var (
	countsKey = []byte{kindMeta, 'c', 'o', 'u', 'n', 't', 's'}
	importKey = []byte{kindMeta, 'i', 'm', 'p', 'o', 'r', 't'}
	readsKey  = []byte{kindMeta, 'r', 'e', 'a', 'd', 's'} // set once cursors seeded the read positions
)

// appendString appends a length-prefixed string.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, errCorrupt
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

var errCorrupt = errors.New("pebble: corrupt record")

// newKey returns an empty key of kind with room for n more bytes, so that
// building a key is one allocation.
func newKey(kind byte, n int) []byte {
	b := make([]byte, 1, 1+n)
	b[0] = kind
	return b
}

// strLen is the room appendString needs for s.
func strLen(s string) int { return binary.MaxVarintLen64 + len(s) }

// convPrefix is the prefix of every message key of conv.
func convPrefix(conv string) []byte { return appendString(newKey(kindMessage, strLen(conv)), conv) }

func msgKey(conv string, seq int64) []byte {
	return binary.BigEndian.AppendUint64(appendString(newKey(kindMessage, strLen(conv)+8), conv), uint64(seq))
}

func idemKey(from, clientID string) []byte {
	return append(appendString(newKey(kindIdem, strLen(from)+len(clientID)), from), clientID...)
}

func cursorKey(user, conv string) []byte {
	return append(appendString(newKey(kindCursor, strLen(user)+len(conv)), user), conv...)
}

// readPosKey is the key of a user's read position in conv.
func readPosKey(user, conv string) []byte {
	return append(appendString(newKey(kindRead, strLen(user)+len(conv)), user), conv...)
}

func lastKey(conv string) []byte { return append(newKey(kindLast, len(conv)), conv...) }

func chatPrefix(user string) []byte { return appendString(newKey(kindChat, strLen(user)), user) }

func chatKey(user, peer string) []byte {
	return append(appendString(newKey(kindChat, strLen(user)+len(peer)), user), peer...)
}

// prefixEnd returns the smallest key above every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func seqOf(key []byte) int64 { return int64(binary.BigEndian.Uint64(key[len(key)-8:])) }

func encodeInt(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func decodeInt(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, errCorrupt
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// record is a stored entry as it is encoded in a message key's value.
//
// A plain message (kind message, no reply, never edited, deleted or
// reacted to) is encoded as it always was: created (8 BE), id, sender,
// client id, then the content to the end. Any other record starts with
// extMark, which no plain record can start with (its first byte is the
// top byte of a Unix time in ms), and carries the timeline's fields
// between the client id and the content.
type record struct {
	created  int64 // Unix ms
	id       string
	from     string
	clientID string
	content  string

	kind    parley.EntryKind
	target  int64 // the message an edit, deletion or reaction acts on
	replyTo int64
	emoji   string
	removed bool
	// The state of a message: edited (when, in Unix ms; 0 if never),
	// deleted (by the entry at deletedBy) and its reactions.
	editedAt  int64
	deletedBy int64
	reactions []parley.Reaction
}

// extMark starts a record with timeline fields.
const extMark = 0xff

// Flags of an extended record.
const (
	flagRemoved = 1 << iota
	flagEdited
	flagDeleted
)

func (r *record) plain() bool {
	return r.kind == parley.KindMessage && r.replyTo == 0 && r.editedAt == 0 && r.deletedBy == 0 && len(r.reactions) == 0
}

func (r *record) encode() []byte {
	b := make([]byte, 0, 8+strLen(r.id)+strLen(r.from)+strLen(r.clientID)+len(r.content))
	if !r.plain() {
		b = append(b, extMark)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(r.created))
	b = appendString(b, r.id)
	b = appendString(b, r.from)
	b = appendString(b, r.clientID)
	if !r.plain() {
		var flags byte
		if r.removed {
			flags |= flagRemoved
		}
		if r.editedAt != 0 {
			flags |= flagEdited
		}
		if r.deletedBy != 0 {
			flags |= flagDeleted
		}
		b = append(b, byte(r.kind), flags)
		b = binary.AppendUvarint(b, uint64(r.target))
		b = binary.AppendUvarint(b, uint64(r.replyTo))
		b = binary.AppendVarint(b, r.editedAt)
		b = binary.AppendUvarint(b, uint64(r.deletedBy))
		b = appendString(b, r.emoji)
		b = binary.AppendUvarint(b, uint64(len(r.reactions)))
		for _, x := range r.reactions {
			b = appendString(b, x.Emoji)
			b = binary.AppendUvarint(b, uint64(len(x.Users)))
			for _, u := range x.Users {
				b = appendString(b, u)
			}
		}
	}
	return append(b, r.content...)
}

func decodeRecord(b []byte) (record, error) {
	var r record
	ext := len(b) > 0 && b[0] == extMark
	if ext {
		b = b[1:]
	}
	if len(b) < 8 {
		return r, errCorrupt
	}
	r.created = int64(binary.BigEndian.Uint64(b))
	var err error
	b = b[8:]
	if r.id, b, err = readString(b); err != nil {
		return r, err
	}
	if r.from, b, err = readString(b); err != nil {
		return r, err
	}
	if r.clientID, b, err = readString(b); err != nil {
		return r, err
	}
	if ext {
		if b, err = r.decodeExt(b); err != nil {
			return r, err
		}
	}
	r.content = string(b)
	return r, nil
}

// decodeExt reads the timeline's fields of an extended record and returns
// what follows them (the content).
func (r *record) decodeExt(b []byte) ([]byte, error) {
	if len(b) < 2 {
		return nil, errCorrupt
	}
	r.kind, r.removed = parley.EntryKind(b[0]), b[1]&flagRemoved != 0
	b = b[2:]
	var ok bool
	var v uint64
	if v, b, ok = uvarint(b); !ok {
		return nil, errCorrupt
	}
	r.target = int64(v)
	if v, b, ok = uvarint(b); !ok {
		return nil, errCorrupt
	}
	r.replyTo = int64(v)
	at, k := binary.Varint(b)
	if k <= 0 {
		return nil, errCorrupt
	}
	r.editedAt, b = at, b[k:]
	if v, b, ok = uvarint(b); !ok {
		return nil, errCorrupt
	}
	r.deletedBy = int64(v)
	var err error
	if r.emoji, b, err = readString(b); err != nil {
		return nil, err
	}
	n, b, ok := uvarint(b)
	if !ok || n > parley.MaxReactionEmoji {
		return nil, errCorrupt
	}
	for range n {
		var x parley.Reaction
		if x.Emoji, b, err = readString(b); err != nil {
			return nil, err
		}
		users, rest, ok := uvarint(b)
		if !ok || users > uint64(len(rest)) {
			return nil, errCorrupt
		}
		b = rest
		x.Users = make([]string, users)
		for i := range x.Users {
			if x.Users[i], b, err = readString(b); err != nil {
				return nil, err
			}
		}
		r.reactions = append(r.reactions, x)
	}
	return b, nil
}

func uvarint(b []byte) (uint64, []byte, bool) {
	v, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, nil, false
	}
	return v, b[k:], true
}

// senderOf reads only the sender of an encoded record.
func senderOf(b []byte) (string, error) {
	if len(b) > 0 && b[0] == extMark {
		b = b[1:]
	}
	if len(b) < 8 {
		return "", errCorrupt
	}
	_, rest, err := readString(b[8:])
	if err != nil {
		return "", err
	}
	from, _, err := readString(rest)
	return from, err
}

// unreadBy reports whether an encoded record is a message, not deleted,
// that someone other than username sent: one of username's unread
// messages when it lies above their read position.
func unreadBy(b []byte, username string) (bool, error) {
	from, err := senderOf(b)
	if err != nil || from == username {
		return false, err
	}
	if len(b) == 0 || b[0] != extMark {
		return true, nil
	}
	r, err := decodeRecord(b)
	return err == nil && r.kind == parley.KindMessage && r.deletedBy == 0, err
}

// message builds the parley.Message of a record stored at conv, seq.
func (r *record) message(conv string, seq int64) parley.Message {
	m := parley.Message{ID: r.id, Conv: conv, Seq: seq, From: r.from, Content: r.content, Time: time.UnixMilli(r.created).UTC(),
		Kind: r.kind, Target: r.target, ReplyTo: r.replyTo, Emoji: r.emoji, Removed: r.removed,
		Edited: r.editedAt != 0, Deleted: r.deletedBy != 0, Reactions: r.reactions}
	if m.Edited {
		m.EditedAt = time.UnixMilli(r.editedAt).UTC()
	}
	if !parley.IsGroupID(conv) {
		m.To = parley.ChatPeer(conv, r.from)
	}
	return m
}

func encodeIdem(conv string, seq int64) []byte {
	return binary.BigEndian.AppendUint64(appendString(make([]byte, 0, strLen(conv)+8), conv), uint64(seq))
}

func decodeIdem(b []byte) (string, int64, error) {
	conv, rest, err := readString(b)
	if err != nil || len(rest) != 8 {
		return "", 0, errCorrupt
	}
	return conv, int64(binary.BigEndian.Uint64(rest)), nil
}
