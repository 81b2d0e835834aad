// App: the signed-in client. It turns socket frames into conversation state
// and user actions into frames; the View draws the state.

import { ChatSocket, FrameError, SocketClosed, newId } from './socket.js';
import { Conversation, chatIdOf, convKey, parseTime } from './store.js';
import { getJSON } from './session.js';

const PAGE = 50;
const GAP_PAGE = 200;
const TYPING_SEND_EVERY_MS = 2_500;
const TYPING_SHOW_MS = 3_500;
const PREVIEWS_PER_SEC = 5; // stay well under the server's history rate limit
const USERNAME = /^[A-Za-z0-9_.]{3,32}$/;
const MAX_CONTENT_BYTES = 4096;

export class App {
  constructor(session, view) {
    this.session = session;
    this.view = view;
    this.me = session.username;
    this.socket = new ChatSocket(session);
    this.convs = new Map(); // key -> Conversation
    this.activeKey = null;
    this.outbox = new Map(); // clientId -> {frame, key, failed}
    this.previewQueue = [];
    this.previewTimer = 0;
    this.typingSentAt = new Map(); // conv key -> ms
    this.synced = false; // INIT_DATA of the current connection seen
    this.socket.addEventListener('frame', (e) => this.onFrame(e.detail));
    this.socket.addEventListener('state', (e) => this.onState(e.detail));
    this.onVisibility = () => { if (document.visibilityState === 'visible') this.ackActive(); };
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  start() {
    this.socket.start();
  }

  stop() {
    this.socket.stop();
    clearInterval(this.previewTimer);
    document.removeEventListener('visibilitychange', this.onVisibility);
    for (const c of this.convs.values()) for (const t of c.typing.values()) clearTimeout(t);
  }

  get active() {
    return this.activeKey ? this.convs.get(this.activeKey) || null : null;
  }

  /** The conversations, newest activity first. */
  list() {
    return [...this.convs.values()].sort((a, b) =>
      (b.lastActivity - a.lastActivity) || (b.unread - a.unread) || a.title.localeCompare(b.title));
  }

  totalUnread() {
    let n = 0;
    for (const c of this.convs.values()) n += c.unread;
    return n;
  }

  // ---- conversations ----------------------------------------------------

  chat(withUser, chatId = chatIdOf(this.me, withUser)) {
    const key = convKey('chat', chatId);
    let c = this.convs.get(key);
    if (!c) {
      c = new Conversation('chat', chatId);
      c.with = withUser;
      this.convs.set(key, c);
    }
    return c;
  }

  group(groupId, name) {
    const key = convKey('group', groupId);
    let c = this.convs.get(key);
    if (!c) {
      c = new Conversation('group', groupId);
      this.convs.set(key, c);
    }
    if (name) c.name = name;
    return c;
  }

  removeConv(key) {
    const c = this.convs.get(key);
    if (!c) return;
    for (const t of c.typing.values()) clearTimeout(t);
    this.convs.delete(key);
    for (const [id, e] of this.outbox) if (e.key === key) this.outbox.delete(id);
    if (this.activeKey === key) this.close();
    this.view.update('list');
  }

  /** Shows a conversation: loads its newest page, acknowledges what is shown. */
  open(key) {
    const c = this.convs.get(key);
    if (!c) return;
    if (this.activeKey !== key) {
      const prev = this.active;
      if (prev) prev.firstUnreadSeq = 0;
      this.activeKey = key;
      c.firstUnreadSeq = c.unread > 0 ? Math.max(1, c.lastSeq - c.unread + 1) : 0;
    }
    this.view.showConversation(c);
    if (!c.opened) this.loadNewest(c);
    else this.fillGap(c);
    if (c.kind === 'group' && !c.members) this.loadMembers(c);
    this.ackActive();
  }

  close() {
    const prev = this.active;
    if (prev) prev.firstUnreadSeq = 0;
    this.activeKey = null;
    this.view.showConversation(null);
  }

  /** Whether the user is looking at this conversation right now. */
  reading(c) {
    return c.key === this.activeKey && document.visibilityState === 'visible';
  }

  /** Mark everything shown in the open conversation read (cumulative):
   *  READ moves the read position and is also an ACK. */
  ackActive() {
    const c = this.active;
    if (!c || !this.reading(c)) return;
    const top = c.contiguousMax();
    if (c.unread !== 0) {
      c.unread = 0;
      this.view.update('list');
    }
    if (top > c.ackedSeq && this.synced) {
      if (this.socket.send({ type: 'READ', ...c.target, seq: top })) c.ackedSeq = top;
    }
  }

  // ---- history ----------------------------------------------------------

  historyFrame(c, extra) {
    return c.kind === 'group'
      ? { type: 'GET_GROUP_CHAT_HISTORY', groupId: c.id, ...extra }
      : { type: 'GET_ONE_TO_ONE_HISTORY', chatId: c.id, ...extra };
  }

  async loadNewest(c) {
    if (!this.socket.online) return; // done after the next sync
    c.opened = true;
    this.view.update('conv');
    try {
      const r = await this.socket.request(this.historyFrame(c, { limit: PAGE }));
      c.addHistory(r.messages || [], !!r.hasMore, 'newest');
    } catch (err) {
      c.opened = false;
      if (err instanceof FrameError) this.view.toast(`Could not load messages: ${err.message}`);
      return;
    } finally {
      this.view.update('conv', 'list');
    }
    this.fillGap(c);
    if (c.key === this.activeKey) this.ackActive();
  }

  async loadOlder(c) {
    if (!c.hasMore || c.loadingOlder || c.historyFrom === null || !this.socket.online) return;
    c.loadingOlder = true;
    this.view.update('conv');
    try {
      const r = await this.socket.request(this.historyFrame(c, { before: c.historyFrom, limit: PAGE }));
      this.view.keepScroll();
      c.addHistory(r.messages || [], !!r.hasMore, 'before');
    } catch (err) {
      if (err instanceof FrameError) this.view.toast(`Could not load earlier messages: ${err.message}`);
    } finally {
      c.loadingOlder = false;
      this.view.update('conv');
    }
  }

  /** Fetches messages missing between what is shown and the newest. */
  async fillGap(c) {
    if (c.filling || !this.socket.online) return;
    const after = c.gapAfter();
    if (after < 0) return;
    c.filling = true;
    let more = false;
    try {
      const r = await this.socket.request(this.historyFrame(c, { after, limit: GAP_PAGE }));
      const msgs = r.messages || [];
      for (const m of msgs) c.addMessage(m);
      c.changed();
      more = msgs.length > 0 && !!r.hasMore;
    } catch {
      // Retried at the next delivery or sync.
    } finally {
      c.filling = false;
      this.view.update('conv', 'list');
    }
    if (more) this.fillGap(c);
    if (c.key === this.activeKey) this.ackActive();
  }

  /** Fetches the newest message of conversations that have none, for the list. */
  queuePreviews() {
    for (const c of this.convs.values()) {
      if (c.lastSeq > 0 && c.msgs.size === 0 && !c.previewRequested) {
        c.previewRequested = true;
        this.previewQueue.push(c.key);
      }
    }
    if (this.previewQueue.length === 0 || this.previewTimer) return;
    this.previewTimer = setInterval(() => {
      const key = this.previewQueue.shift();
      if (!key) {
        clearInterval(this.previewTimer);
        this.previewTimer = 0;
        return;
      }
      const c = this.convs.get(key);
      if (!c || c.msgs.size > 0 || !this.socket.online) {
        if (c && c.msgs.size === 0) c.previewRequested = false;
        return;
      }
      this.socket.request(this.historyFrame(c, { limit: 1 }))
        .then((r) => {
          for (const m of r.messages || []) c.addMessage(m);
          this.view.update('list');
          if (c.key === this.activeKey) this.view.update('conv');
        })
        .catch(() => { c.previewRequested = false; });
    }, 1000 / PREVIEWS_PER_SEC);
  }

  // ---- sending ----------------------------------------------------------

  /** Sends a message, as a reply to the message with seq replyTo when it
   *  is not 0; returns an error text when it cannot. */
  send(c, text, replyTo = 0) {
    const content = text.trim();
    const bad = checkContent(content);
    if (bad) return bad;
    const clientId = newId('m');
    const frame = c.kind === 'group'
      ? { type: 'GROUP_CHAT', id: clientId, groupId: c.id, content }
      : { type: 'ONE_TO_ONE_CHAT', id: clientId, to: c.with, content };
    if (replyTo > 0) frame.replyTo = replyTo;
    c.addPending(clientId, this.me, content, replyTo);
    this.outbox.set(clientId, { frame, key: c.key, failed: false });
    this.typingSentAt.delete(c.key);
    this.view.update('conv', 'list');
    this.view.scrollToEnd();
    this.transmit(clientId);
    return '';
  }

  /**
   * Sends an outbox entry. SUCCESS marks it sent; ERROR marks it failed; a
   * dropped connection leaves it pending, to be sent again with the same id
   * (the idempotency key) after the next sync.
   */
  transmit(clientId) {
    const e = this.outbox.get(clientId);
    if (!e || e.failed || e.inflight || !this.socket.online) return;
    e.inflight = true;
    this.socket.request(e.frame, 20_000)
      .then((r) => {
        this.outbox.delete(clientId);
        const c = this.convs.get(e.key);
        if (!c) return;
        c.confirm(clientId, r);
        this.view.update('conv', 'list');
        this.fillGap(c);
        if (c.key === this.activeKey) this.ackActive();
      })
      .catch((err) => {
        e.inflight = false;
        if (err instanceof SocketClosed) return; // resent after the reconnect
        e.failed = true;
        const c = this.convs.get(e.key);
        if (c) c.failed(clientId, err.message);
        this.view.update('conv', 'list');
      });
  }

  /** Changes the text of one of the user's messages; returns an error text
   *  when it cannot. The sending connection gets only SUCCESS, so the edit
   *  is applied here. */
  edit(c, msg, text) {
    const content = text.trim();
    const bad = checkContent(content);
    if (bad) return bad;
    if (content === msg.content) return '';
    this.timeline(c, { type: 'EDIT_MESSAGE', ...c.target, seq: msg.seq, content }, 'edit', { content });
    return '';
  }

  /** Deletes a message (the user's own, or anyone's in a group they own). */
  remove(c, msg) {
    this.timeline(c, { type: 'DELETE_MESSAGE', ...c.target, seq: msg.seq }, 'delete', {});
  }

  /** Adds the user's reaction with emoji to a message, or takes it back. */
  react(c, msg, emoji) {
    const mine = (msg.reactions || []).some((r) => r.emoji === emoji && r.users.includes(this.me));
    this.timeline(c, { type: 'REACT', ...c.target, seq: msg.seq, emoji, remove: mine }, 'reaction',
      { emoji, removed: mine });
  }

  /** Sends an edit, deletion or reaction and applies what SUCCESS stored. */
  timeline(c, frame, kind, fields) {
    if (!this.socket.online) {
      this.view.toast('You are offline. Try again once reconnected.');
      return;
    }
    this.socket.request(frame)
      .then((r) => {
        if (!r.messageId) return; // a reaction that changed nothing
        c.addMessage({ ...fields, kind, messageId: r.messageId, seq: r.seq, target: r.target, from: this.me, timestamp: r.timestamp });
        this.view.update('conv', 'list');
        if (c.key === this.activeKey) this.ackActive();
      })
      .catch((err) => {
        if (!(err instanceof SocketClosed)) this.view.toast(err.message || 'The server refused that.');
      });
  }

  /** Usernames that start with prefix (GET /users), for the people search. */
  async findUsers(prefix) {
    const token = await this.session.freshToken();
    const r = await getJSON('users?prefix=' + encodeURIComponent(prefix) + '&limit=8', token);
    return Array.isArray(r.users) ? r.users.filter((u) => u !== this.me) : [];
  }

  retry(c, clientId) {
    const e = this.outbox.get(clientId);
    const msg = c.pendingMessage(clientId);
    if (!e || !msg) return;
    e.failed = false;
    msg.state = 'pending';
    msg.error = '';
    c.changed();
    this.view.update('conv', 'list');
    this.transmit(clientId);
  }

  discard(c, clientId) {
    this.outbox.delete(clientId);
    c.msgs.delete('l:' + clientId);
    c.changed();
    this.view.update('conv', 'list');
  }

  resendOutbox() {
    for (const id of this.outbox.keys()) this.transmit(id);
  }

  /** The user typed in the composer: tell the others, at most every 2.5 s. */
  typed(c) {
    if (!this.socket.online) return;
    const now = Date.now();
    if (now - (this.typingSentAt.get(c.key) || 0) < TYPING_SEND_EVERY_MS) return;
    this.typingSentAt.set(c.key, now);
    this.socket.send(c.kind === 'group' ? { type: 'TYPING', groupId: c.id } : { type: 'TYPING', to: c.with });
  }

  // ---- starting conversations and groups -------------------------------

  /** Opens the chat with a user, after checking that the user exists. */
  async startChat(username) {
    const name = username.trim().replace(/^@/, '');
    if (!USERNAME.test(name)) throw new Error('Usernames are 3–32 letters, digits, _ or .');
    if (name === this.me) throw new Error('That is you. Pick someone else.');
    if (!this.convs.has(convKey('chat', chatIdOf(this.me, name))) && this.socket.online) {
      try {
        await this.socket.request({ type: 'GET_ONE_TO_ONE_HISTORY', to: name, limit: 1 });
      } catch (err) {
        if (err instanceof FrameError && err.code === 'not_found') throw new Error(`There is no user named “${name}”.`);
        // Anything else: open the chat anyway; sending will tell.
      }
    }
    const c = this.chat(name);
    this.view.update('list');
    this.open(c.key);
    return c;
  }

  async createGroup(name, members, isPrivate) {
    const list = [...new Set(members.map((m) => m.trim().replace(/^@/, '')).filter(Boolean))];
    for (const m of list) {
      if (!USERNAME.test(m)) throw new Error(`“${m}” is not a valid username.`);
    }
    const r = await this.socket.request({
      type: 'CREATE_GROUP', name: name.trim(), members: list.filter((m) => m !== this.me), private: !!isPrivate,
    });
    const c = this.group(r.groupId, r.name || name.trim());
    c.owner = this.me;
    c.opened = true;
    c.historyFrom = 1;
    c.members = new Map([[this.me, 'ONLINE'], ...list.filter((m) => m !== this.me).map((m) => [m, this.statusOf(m)])]);
    c.addNote('You created this group');
    c.lastActivity = Date.now();
    this.view.update('list');
    this.open(c.key);
    this.loadMembers(c);
    return c;
  }

  async joinGroup(groupId) {
    const id = groupId.trim();
    if (!id) throw new Error('Enter a group ID.');
    await this.socket.request({ type: 'JOIN_GROUP', groupId: id });
    const c = this.group(id);
    c.lastActivity = Date.now();
    await this.loadMembers(c);
    c.addNote('You joined');
    this.view.update('list');
    this.open(c.key);
    return c;
  }

  async leaveGroup(c) {
    await this.socket.request({ type: 'LEAVE_GROUP', groupId: c.id });
    this.view.toast(`You left “${c.title}”.`, 'info');
    this.removeConv(c.key);
  }

  async loadMembers(c) {
    try {
      const r = await this.socket.request({ type: 'GET_GROUP_MEMBERS', groupId: c.id });
      c.name = r.name || c.name;
      c.owner = r.owner || '';
      c.members = new Map((r.members || []).map((m) => [m.username, m.status]));
      for (const m of r.members || []) c.read(m.username, m.readSeq);
    } catch (err) {
      if (err instanceof FrameError) this.view.toast(`Could not load members: ${err.message}`);
    }
    this.view.update('conv', 'list');
  }

  /** A user's presence as far as this client knows it. */
  statusOf(username) {
    for (const c of this.convs.values()) {
      if (c.kind === 'chat' && c.with === username && c.status) return c.status;
    }
    return null;
  }

  // ---- frames from the server ------------------------------------------

  onState({ state, retryAt }) {
    this.view.connection(state, retryAt);
    if (state === 'connecting' || state === 'waiting') this.synced = false;
    if (state === 'online') this.afterSync();
    if (state === 'ended') this.session.end('ended');
  }

  /** After INIT_DATA and the offline messages: catch up on the rest. */
  afterSync() {
    this.resendOutbox();
    const c = this.active;
    if (c) {
      if (!c.opened) this.loadNewest(c);
      else this.fillGap(c);
      if (c.kind === 'group') this.loadMembers(c);
      this.ackActive();
    }
    this.queuePreviews();
  }

  onFrame(f) {
    switch (f.type) {
      case 'INIT_DATA': this.onInit(f); break;
      case 'ONE_TO_ONE_CHAT': this.onDelivery('chat', f); break;
      case 'GROUP_CHAT': this.onDelivery('group', f); break;
      case 'MESSAGE_EDITED': case 'MESSAGE_DELETED': case 'REACTION':
        this.onDelivery(f.groupId ? 'group' : 'chat', f); break;
      case 'PRESENCE_UPDATE': this.onPresence(f); break;
      case 'TYPING': this.onTyping(f); break;
      case 'READ_RECEIPT': this.onReadReceipt(f); break;
      case 'GROUP_MEMBER_JOINED': this.onJoined(f); break;
      case 'GROUP_MEMBER_LEFT': this.onLeft(f); break;
      case 'ERROR': this.view.toast(f.msg || `The server reported an error (${f.code}).`); break;
      default: break; // INFO, and replies nobody waits for any more
    }
  }

  onInit(f) {
    this.synced = true;
    if (f.username) this.me = f.username;
    const groups = new Set();
    this.applyChats(f.chats);
    this.applyGroups(f.groups, groups);
    this.view.setMe(this.me);
    if (f.moreChats || f.moreGroups) {
      // INIT_DATA lists a bounded number of each: page in the rest.
      this.loadRest(f, groups);
      return;
    }
    this.dropLeftGroups(groups);
    this.view.update('list', 'conv');
  }

  applyChats(chats) {
    for (const ch of chats || []) {
      const c = this.chat(ch.with, ch.chatId);
      c.status = ch.status || null;
      c.lastSeen = parseTime(ch.lastSeen);
      c.read(ch.with, ch.peerReadSeq);
      this.applyCounts(c, ch);
    }
  }

  applyGroups(list, seen) {
    for (const g of list || []) {
      const c = this.group(g.groupId, g.name);
      seen.add(c.key);
      this.applyCounts(c, g);
    }
  }

  /** Groups left while this client was away. */
  dropLeftGroups(seen) {
    for (const c of [...this.convs.values()]) {
      if (c.kind === 'group' && !seen.has(c.key)) this.removeConv(c.key);
    }
  }

  /** Pages in the chats and groups that INIT_DATA did not list. */
  async loadRest(init, groups) {
    try {
      for (const [type, more, list] of [['GET_CHATS', init.moreChats, init.chats], ['GET_GROUPS', init.moreGroups, init.groups]]) {
        let offset = (list || []).length;
        for (let again = more; again;) {
          const page = await this.socket.request({ type, offset });
          if (type === 'GET_CHATS') this.applyChats(page.chats);
          else this.applyGroups(page.groups, groups);
          offset += (page.chats || page.groups || []).length;
          again = page.hasMore;
        }
      }
      this.dropLeftGroups(groups);
    } catch {
      // The connection ended: the next INIT_DATA starts over.
    }
    this.view.update('list', 'conv');
  }

  applyCounts(c, info) {
    const lastSeq = Number(info.lastSeq) || 0;
    const unread = Number(info.unread) || 0;
    if (lastSeq > c.lastSeq) c.lastSeq = lastSeq;
    c.unread = unread;
    c.ackedSeq = Math.max(0, lastSeq - unread);
    if (c.key !== this.activeKey) c.firstUnreadSeq = 0;
  }

  onDelivery(kind, f) {
    let c;
    if (kind === 'group') {
      if (!f.groupId) return;
      c = this.group(f.groupId);
      if (!c.name && !c.members && !c.membersRequested) {
        // A group this client has not heard of yet: learn its name.
        c.membersRequested = true;
        this.loadMembers(c);
      }
    } else {
      if (!f.chatId) return;
      const other = f.from === this.me ? f.to : f.from;
      if (!other) return;
      c = this.chat(other, f.chatId);
    }
    const msg = c.addMessage(f);
    if (!msg) return; // seen already (at-least-once delivery)
    if (msg.from !== this.me && !msg.hidden) {
      this.stopTyping(c, msg.from);
      if (this.reading(c)) {
        // Shown now: acknowledged below.
      } else if (!f.offline && msg.seq > c.ackedSeq) {
        // Offline messages are in INIT_DATA's unread already.
        c.unread += 1;
        if (!c.firstUnreadSeq && c.key === this.activeKey) c.firstUnreadSeq = msg.seq;
      }
    }
    if (c.opened) this.fillGap(c);
    this.view.update('list');
    if (c.key === this.activeKey) {
      this.view.update('conv');
      this.ackActive();
    }
  }

  onPresence(f) {
    const lastSeen = parseTime(f.lastSeen);
    for (const c of this.convs.values()) {
      if (c.kind === 'chat' && c.with === f.username) {
        // The peer was online until now, or is from now: what is stored
        // has reached them (the view shows it while they stay online).
        if (c.status === 'ONLINE' || f.status === 'ONLINE') c.markDelivered(this.me);
        c.status = f.status;
        c.lastSeen = lastSeen;
      }
      if (c.members && c.members.has(f.username)) c.members.set(f.username, f.status);
    }
    this.view.update('list', 'conv');
  }

  onReadReceipt(f) {
    const key = f.groupId ? convKey('group', f.groupId) : convKey('chat', f.chatId || '');
    const c = this.convs.get(key);
    if (c && c.read(f.username, f.seq) && key === this.activeKey) this.view.update('conv');
  }

  onTyping(f) {
    if (!f.from || f.from === this.me) return;
    const key = f.groupId ? convKey('group', f.groupId) : convKey('chat', f.chatId || '');
    const c = this.convs.get(key);
    if (!c) return;
    clearTimeout(c.typing.get(f.from));
    c.typing.set(f.from, setTimeout(() => this.stopTyping(c, f.from), TYPING_SHOW_MS));
    this.view.update('list', 'typing');
  }

  stopTyping(c, user) {
    if (!c.typing.has(user)) return;
    clearTimeout(c.typing.get(user));
    c.typing.delete(user);
    this.view.update('list', 'typing');
  }

  who(user) {
    return user === this.me ? 'You' : user;
  }

  onJoined(f) {
    if (!f.groupId || !f.username) return;
    const isNew = !this.convs.has(convKey('group', f.groupId));
    const c = this.group(f.groupId, f.name);
    if (c.members) c.members.set(f.username, c.members.get(f.username) || this.statusOf(f.username));
    if (isNew) c.lastActivity = Date.now();
    let note;
    if (f.username === f.by) note = isNew ? `${this.who(f.by)} created this group` : `${this.who(f.by)} joined`;
    else note = `${this.who(f.by)} added ${f.username === this.me ? 'you' : f.username}`;
    c.addNote(note);
    if (f.username === this.me && f.by !== this.me) this.view.toast(`${f.by} added you to “${c.title}”.`, 'info');
    this.view.update('list', 'conv');
  }

  onLeft(f) {
    if (!f.groupId || !f.username) return;
    const key = convKey('group', f.groupId);
    const c = this.convs.get(key);
    if (!c) return;
    if (f.username === this.me) {
      this.view.toast(f.by === this.me ? `You left “${c.title}”.` : `${f.by} removed you from “${c.title}”.`, 'info');
      this.removeConv(key);
      return;
    }
    if (c.members) c.members.delete(f.username);
    if (f.owner) c.owner = f.owner;
    this.stopTyping(c, f.username);
    c.addNote(f.by === f.username ? `${f.username} left` : `${this.who(f.by)} removed ${f.username}`);
    this.view.update('list', 'conv');
  }
}

/** Why content cannot be sent, or ''. */
function checkContent(content) {
  if (!content) return 'Type a message first.';
  if (new TextEncoder().encode(content).length > MAX_CONTENT_BYTES) {
    return `Messages can be at most ${MAX_CONTENT_BYTES} bytes long.`;
  }
  return '';
}
