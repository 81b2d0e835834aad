package pebble

import (
	"context"
	"fmt"
	"slices"
	"strings"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/parley-chat/parley"
)

// History returns a page of a conversation: one range read.
func (l *Log) History(ctx context.Context, conv string, p parley.Page) ([]parley.Message, bool, error) {
	if err := l.use(); err != nil {
		return nil, false, err
	}
	defer l.done()
	lo, hi := msgKey(conv, 1), prefixEnd(convPrefix(conv))
	switch {
	case p.Forward:
		lo = msgKey(conv, p.After+1)
	case p.Before > 0:
		hi = msgKey(conv, p.Before)
	}
	it, err := l.db.NewIter(&pdb.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, false, fmt.Errorf("pebble: history: %w", err)
	}
	defer it.Close()
	msgs := []parley.Message{}
	if p.Forward {
		for ok := it.First(); ok && len(msgs) <= p.Limit; ok = it.Next() {
			if msgs, err = appendMessage(msgs, conv, it); err != nil {
				return nil, false, fmt.Errorf("pebble: history: %w", err)
			}
		}
	} else {
		for ok := it.Last(); ok && len(msgs) < p.Limit; ok = it.Prev() {
			if msgs, err = appendMessage(msgs, conv, it); err != nil {
				return nil, false, fmt.Errorf("pebble: history: %w", err)
			}
		}
	}
	if err := it.Error(); err != nil {
		return nil, false, fmt.Errorf("pebble: history: %w", err)
	}
	return parley.PageResult(msgs, p)
}

func appendMessage(msgs []parley.Message, conv string, it *pdb.Iterator) ([]parley.Message, error) {
	v, err := it.ValueAndErr()
	if err != nil {
		return msgs, err
	}
	r, err := decodeRecord(v)
	if err != nil {
		return msgs, err
	}
	return append(msgs, r.message(conv, seqOf(it.Key()))), nil
}

// Undelivered returns up to limit entries of conv above after that
// username did not make, messages with their current state.
func (l *Log) Undelivered(ctx context.Context, username, conv string, after int64, limit int) ([]parley.Message, error) {
	if err := l.use(); err != nil {
		return nil, err
	}
	defer l.done()
	it, err := l.db.NewIter(&pdb.IterOptions{LowerBound: msgKey(conv, after+1), UpperBound: prefixEnd(convPrefix(conv))})
	if err != nil {
		return nil, fmt.Errorf("pebble: undelivered: %w", err)
	}
	defer it.Close()
	msgs := []parley.Message{}
	for ok := it.First(); ok && len(msgs) < limit; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("pebble: undelivered: %w", err)
		}
		r, err := decodeRecord(v)
		if err != nil {
			return nil, fmt.Errorf("pebble: undelivered: %w", err)
		}
		if r.from != username {
			msgs = append(msgs, r.message(conv, seqOf(it.Key())))
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("pebble: undelivered: %w", err)
	}
	return msgs, nil
}

// Contacts lists the users who share a one-to-one chat with username.
func (l *Log) Contacts(ctx context.Context, username string) ([]string, error) {
	if err := l.use(); err != nil {
		return nil, err
	}
	defer l.done()
	peers, err := l.peers(username)
	if err != nil {
		return nil, fmt.Errorf("pebble: contacts: %w", err)
	}
	return peers, nil
}

func (l *Log) peers(username string) ([]string, error) {
	prefix := chatPrefix(username)
	it, err := l.db.NewIter(&pdb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var peers []string
	for ok := it.First(); ok; ok = it.Next() {
		peers = append(peers, string(it.Key()[len(prefix):]))
	}
	return peers, it.Error()
}

// Inbox lists username's chats and fills in the state of the given groups.
func (l *Log) Inbox(ctx context.Context, username string, groups []parley.GroupSummary) (*parley.Inbox, error) {
	if err := l.use(); err != nil {
		return nil, err
	}
	defer l.done()
	peers, err := l.peers(username)
	if err != nil {
		return nil, fmt.Errorf("pebble: inbox: %w", err)
	}
	in := &parley.Inbox{Chats: make([]parley.ChatSummary, 0, len(peers)), Groups: make([]parley.GroupSummary, 0, len(groups))}
	for _, peer := range peers {
		s := parley.ChatSummary{ChatID: parley.ChatID(username, peer), With: peer}
		if s.LastSeq, s.Cursor, s.ReadSeq, s.Unread, err = l.state(username, s.ChatID); err != nil {
			return nil, fmt.Errorf("pebble: inbox: %w", err)
		}
		if s.PeerReadSeq, err = l.getInt(readPosKey(peer, s.ChatID)); err != nil {
			return nil, fmt.Errorf("pebble: inbox: %w", err)
		}
		in.Chats = append(in.Chats, s)
	}
	// Chats come in chatId order, as the other stores list them.
	sortChats(in.Chats)
	for _, g := range groups {
		if g.LastSeq, g.Cursor, g.ReadSeq, g.Unread, err = l.state(username, g.GroupID); err != nil {
			return nil, fmt.Errorf("pebble: inbox: %w", err)
		}
		in.Groups = append(in.Groups, g)
	}
	return in, nil
}

// state reads a conversation's last seq, username's cursor and read
// position, and how many messages above the read position others sent and
// did not delete.
func (l *Log) state(username, conv string) (last, cursor, read, unread int64, err error) {
	if last, err = l.getInt(lastKey(conv)); err != nil {
		return
	}
	if cursor, err = l.getInt(cursorKey(username, conv)); err != nil {
		return
	}
	if read, err = l.getInt(readPosKey(username, conv)); err != nil || last <= read {
		return
	}
	it, err := l.db.NewIter(&pdb.IterOptions{LowerBound: msgKey(conv, read+1), UpperBound: msgKey(conv, last+1)})
	if err != nil {
		return
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, verr := it.ValueAndErr()
		if verr != nil {
			return 0, 0, 0, 0, verr
		}
		is, derr := unreadBy(v, username)
		if derr != nil {
			return 0, 0, 0, 0, derr
		}
		if is {
			unread++
		}
	}
	return last, cursor, read, unread, it.Error()
}

func sortChats(chats []parley.ChatSummary) {
	slices.SortFunc(chats, func(a, b parley.ChatSummary) int { return strings.Compare(a.ChatID, b.ChatID) })
}
