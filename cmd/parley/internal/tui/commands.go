package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
)

// Help lists the slash commands.
const Help = `/chat USER            open the one-to-one chat with USER
/create NAME [USER…]  create a group (quote a NAME with spaces) with members
/join GROUP_ID        join an open group
/leave                leave the group shown
/members              list the members of the group shown
/add USER, /remove USER   add or remove a member of the group shown
/edit [#N] TEXT, /delete [#N]   edit or delete your last message (or #N)
/react [#N] EMOJI     react to the last message (or #N); again to undo
/reply [#N] TEXT      reply to the last message of someone else (or #N)
/seqs                 show or hide message numbers (#N)
/find PREFIX          find people whose name starts with PREFIX
/quit                 leave parley (also ctrl+c)
keys: tab/shift+tab (ctrl+n/ctrl+p) switch conversations; pgup/pgdown,
up/down and the mouse wheel scroll (older history loads at the top);
esc jumps to the newest message; //text sends "/text".`

// command runs a slash command line.
func (m *Model) command(line string) tea.Cmd {
	args := fields(line)
	name, args := args[0], args[1:]
	c := m.Selected()
	group := func() bool {
		if c == nil || !c.Group {
			m.setError(name + ": show a group first")
			return false
		}
		return true
	}
	usage := func(u string) tea.Cmd {
		m.setError("usage: " + u)
		return nil
	}
	switch name {
	case "/quit", "/exit", "/q":
		return tea.Quit
	case "/help", "/h", "/?":
		if c == nil {
			m.setStatus("the commands are listed on the right")
			return nil
		}
		for _, l := range strings.Split(Help, "\n") {
			c.addNotice(l) // wrapped to the pane when drawn
		}
	case "/chat", "/msg":
		if len(args) != 1 {
			return usage("/chat USER")
		}
		if args[0] == m.me {
			m.setError("that is you")
			return nil
		}
		key := ChatID(m.me, args[0])
		m.ensure(key, false, args[0])
		m.selectKey(key)
	case "/create":
		if len(args) < 1 {
			return usage("/create NAME [USER…]")
		}
		f := map[string]any{"type": "CREATE_GROUP", "name": args[0]}
		if len(args) > 1 {
			f["members"] = args[1:]
		}
		m.send(request{kind: reqCreate}, f)
	case "/join":
		if len(args) != 1 {
			return usage("/join GROUP_ID")
		}
		m.send(request{kind: reqJoin, key: args[0]}, map[string]any{"type": "JOIN_GROUP", "groupId": args[0]})
	case "/leave", "/part":
		if !group() {
			return nil
		}
		m.send(request{kind: reqLeave, key: c.Key}, map[string]any{"type": "LEAVE_GROUP", "groupId": c.Key})
	case "/members", "/who":
		if !group() {
			return nil
		}
		m.send(request{kind: reqMembers, key: c.Key}, map[string]any{"type": "GET_GROUP_MEMBERS", "groupId": c.Key})
	case "/add", "/remove", "/kick":
		if len(args) != 1 {
			return usage(name + " USER")
		}
		if !group() {
			return nil
		}
		kind, typ := reqAdd, "ADD_GROUP_MEMBER"
		if name != "/add" {
			kind, typ = reqRemove, "REMOVE_GROUP_MEMBER"
		}
		m.send(request{kind: kind, key: c.Key, arg: args[0]}, map[string]any{"type": typ, "groupId": c.Key, "username": args[0]})
	case "/find":
		return m.find(args)
	case "/seqs":
		m.showSeqs = !m.showSeqs
	default:
		if m.timelineCommand(name, args) {
			return nil
		}
		m.setError("unknown command " + name + " (/help lists them)")
	}
	return nil
}

// fields splits a command line on spaces; "double quotes" keep spaces.
func fields(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}
