// The client's model of conversations and their messages. No DOM here.
//
// Each conversation keeps the messages it has seen keyed by messageId (so a
// message delivered twice, as at-least-once delivery allows, is kept once)
// and by seq. historyFrom is the lowest seq paged in from history: what lies
// at or above it is shown; messages below it (offline deliveries of a
// conversation never opened) wait until paging reaches them. Gaps above it
// are filled with history "after" requests.

/** The chatId of two users: their names sorted bytewise, joined by "-". */
export function chatIdOf(a, b) {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

export function convKey(kind, id) {
  return (kind === 'group' ? 'g:' : 'c:') + id;
}

export function parseTime(s) {
  if (!s) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

export class Conversation {
  constructor(kind, id) {
    this.kind = kind; // 'chat' | 'group'
    this.id = id; // chatId or groupId
    this.key = convKey(kind, id);
    this.name = ''; // group name
    this.with = ''; // the other user of a chat
    this.status = null; // 'ONLINE' | 'OFFLINE' | null (unknown)
    this.lastSeen = null; // Date
    this.lastSeq = 0; // highest seq known to exist
    this.unread = 0;
    this.ackedSeq = 0; // highest seq acknowledged by this client
    this.msgs = new Map(); // key (messageId, or "l:"+clientId while pending) -> message
    this.bySeq = new Map(); // seq -> message
    this.historyFrom = null; // lowest seq paged in; null: history not loaded yet
    this.hasMore = false; // older history exists below historyFrom
    this.loadingOlder = false;
    this.filling = false; // a gap-filling "after" request is out
    this.opened = false; // the newest page was requested
    this.firstUnreadSeq = 0; // where the "new messages" line goes
    this.notes = []; // group events shown between messages, by time: {key, text, time}
    this.typing = new Map(); // username -> timeout id
    this.members = null; // Map username -> status, once loaded
    this.owner = '';
    this.reads = new Map(); // username -> read position (READ_RECEIPT, INIT_DATA, GET_GROUP_MEMBERS)
    this.lastActivity = 0; // ms of the newest message, for ordering the list
    this.previewRequested = false;
    this.sortedCache = null;
  }

  get title() {
    return this.kind === 'group' ? (this.name || 'Group') : this.with;
  }

  /** The addressing fields of frames about this conversation. */
  get target() {
    return this.kind === 'group' ? { groupId: this.id } : { chatId: this.id };
  }

  changed() {
    this.sortedCache = null;
  }

  /** Records that user has read up to seq (positions never move back). */
  read(user, seq) {
    const s = Number(seq) || 0;
    if (!user || s <= (this.reads.get(user) || 0)) return false;
    this.reads.set(user, s);
    this.changed();
    return true;
  }

  /** The participants other than from who have read up to seq. */
  seenBy(seq, from) {
    const out = [];
    for (const [user, at] of this.reads) if (user !== from && at >= seq) out.push(user);
    return out.sort();
  }

  /** Marks user's stored messages delivered: the peer was online after
   *  they were stored. */
  markDelivered(user) {
    for (const m of this.msgs.values()) if (!m.hidden && m.seq && m.from === user) m.delivered = true;
    this.changed();
  }

  /** The newest stored message of user that is not deleted, or null. */
  lastOf(user) {
    let best = null;
    for (const m of this.msgs.values()) {
      if (!m.hidden && m.seq && m.from === user && !m.deleted && (!best || m.seq > best.seq)) best = m;
    }
    return best;
  }

  /** Adds a delivered or historical entry; returns it when it is new. An
   *  edit, deletion or reaction (protocol 1.1) is kept, hidden, for its seq,
   *  and changes the message it acts on; a message comes with its state. */
  addMessage(m) {
    if (!m || typeof m.messageId !== 'string' || this.msgs.has(m.messageId)) return null;
    const kind = typeof m.kind === 'string' ? m.kind : 'message';
    if (kind !== 'message') return this.addEntry(m, kind);
    const msg = {
      key: m.messageId,
      renderKey: 'm:' + m.messageId,
      messageId: m.messageId,
      seq: Number(m.seq) || 0,
      from: String(m.from || ''),
      // An erased message (its sender's account was deleted with its
      // messages) keeps its place in the conversation, without content.
      content: m.erased === true ? '(message erased)' : String(m.content ?? ''),
      time: parseTime(m.timestamp) || new Date(),
      state: 'sent',
      edited: m.edited === true,
      deleted: m.deleted === true,
      replyTo: Number(m.replyTo) || 0,
      reactions: Array.isArray(m.reactions)
        ? m.reactions.map((r) => ({ emoji: String(r.emoji || ''), users: Array.isArray(r.users) ? r.users.map(String) : [] }))
        : [],
    };
    if (msg.deleted) msg.content = '';
    this.msgs.set(msg.key, msg);
    if (msg.seq) this.bySeq.set(msg.seq, msg);
    this.bump(msg);
    return msg;
  }

  /** Keeps an edit, deletion or reaction (hidden) and applies it to its
   *  target when the target is here. A message listed later by history
   *  brings its own state, which already includes the entry. */
  addEntry(m, kind) {
    const entry = {
      key: m.messageId, messageId: m.messageId, seq: Number(m.seq) || 0, from: String(m.from || ''),
      kind, hidden: true, time: parseTime(m.timestamp) || new Date(),
    };
    this.msgs.set(entry.key, entry);
    if (entry.seq) this.bySeq.set(entry.seq, entry);
    if (entry.seq > this.lastSeq) this.lastSeq = entry.seq;
    const target = this.bySeq.get(Number(m.target) || 0);
    if (target && !target.hidden) {
      if (kind === 'edit' && !target.deleted) {
        target.content = String(m.content ?? '');
        target.edited = true;
      } else if (kind === 'delete') {
        target.deleted = true;
        target.content = '';
      } else if (kind === 'reaction') {
        react(target, String(m.emoji || ''), entry.from, m.removed === true);
      }
    }
    this.changed();
    return entry;
  }

  /** Adds an outgoing message waiting for its SUCCESS (replyTo: the seq
   *  it answers, or 0). */
  addPending(clientId, from, content, replyTo = 0) {
    const msg = {
      key: 'l:' + clientId,
      renderKey: 'l:' + clientId,
      clientId,
      messageId: '',
      seq: 0,
      from,
      content,
      time: new Date(),
      state: 'pending',
      replyTo,
      reactions: [],
    };
    this.msgs.set(msg.key, msg);
    this.bump(msg);
    return msg;
  }

  /** Marks an outgoing message stored: it gets its messageId and seq. */
  confirm(clientId, reply) {
    const msg = this.msgs.get('l:' + clientId);
    if (!msg) return null;
    this.msgs.delete(msg.key);
    if (this.msgs.has(reply.messageId)) {
      // History brought the stored copy first.
      this.changed();
      return null;
    }
    msg.key = reply.messageId;
    msg.messageId = reply.messageId;
    msg.seq = Number(reply.seq) || 0;
    msg.time = parseTime(reply.timestamp) || msg.time;
    msg.state = 'sent';
    msg.error = '';
    this.msgs.set(msg.key, msg);
    if (msg.seq) this.bySeq.set(msg.seq, msg);
    this.bump(msg);
    return msg;
  }

  failed(clientId, error) {
    const msg = this.msgs.get('l:' + clientId);
    if (!msg) return null;
    msg.state = 'failed';
    msg.error = error;
    this.changed();
    return msg;
  }

  pendingMessage(clientId) {
    return this.msgs.get('l:' + clientId) || null;
  }

  bump(msg) {
    if (msg.seq > this.lastSeq) this.lastSeq = msg.seq;
    const t = msg.time.getTime();
    if (t > this.lastActivity) this.lastActivity = t;
    this.changed();
  }

  /** Messages to show, oldest first; pending ones last. */
  visible() {
    if (this.sortedCache) return this.sortedCache;
    const from = this.historyFrom ?? -Infinity;
    const out = [];
    for (const m of this.msgs.values()) {
      if (!m.hidden && (m.seq === 0 || m.seq >= from)) out.push(m);
    }
    out.sort((a, b) => (a.seq || Infinity) - (b.seq || Infinity) || a.time - b.time);
    this.sortedCache = out;
    return out;
  }

  /** The newest message, for the conversation list. */
  latest() {
    let best = null;
    for (const m of this.msgs.values()) {
      if (m.hidden) continue;
      if (!best || (m.seq || Infinity) > (best.seq || Infinity) ||
          ((m.seq || Infinity) === (best.seq || Infinity) && m.time > best.time)) best = m;
    }
    return best;
  }

  /** Highest seq such that every message from historyFrom up to it is here. */
  contiguousMax() {
    if (this.historyFrom === null) return 0;
    let s = this.historyFrom - 1;
    while (this.bySeq.has(s + 1)) s++;
    return s;
  }

  /** The seq after which messages are missing, or -1 when none are. */
  gapAfter() {
    if (this.historyFrom === null) return -1;
    const top = this.contiguousMax();
    return top < this.lastSeq ? top : -1;
  }

  /** Merges a history page. */
  addHistory(messages, hasMore, direction) {
    for (const m of messages) this.addMessage(m);
    if (direction !== 'after') {
      const lowest = messages.length ? Number(messages[0].seq) : (this.historyFrom ?? this.lastSeq + 1);
      if (this.historyFrom === null || lowest < this.historyFrom) this.historyFrom = lowest;
      this.hasMore = hasMore && this.historyFrom > 1;
    }
    this.changed();
  }

  addNote(text) {
    this.notes.push({ key: 'n:' + this.notes.length + ':' + Date.now(), text, time: new Date() });
    this.changed();
  }
}

/** Adds (or, with remove, takes back) user's emoji on a message. */
function react(msg, emoji, user, remove) {
  if (!emoji) return;
  let r = msg.reactions.find((x) => x.emoji === emoji);
  if (remove) {
    if (!r) return;
    r.users = r.users.filter((u) => u !== user);
    if (!r.users.length) msg.reactions = msg.reactions.filter((x) => x !== r);
    return;
  }
  if (!r) {
    r = { emoji, users: [] };
    msg.reactions.push(r);
  }
  if (!r.users.includes(user)) r.users.push(user);
}
