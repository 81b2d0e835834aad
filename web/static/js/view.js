// View: draws the App's state into the page and turns clicks and keys into
// App calls. It is made once; attach() binds it to the App of a session.

import { $, h, icon, avatar, paintAvatar, clock, dayLabel, sameDay, listTime, ago } from './dom.js';

const CLUSTER_MS = 5 * 60_000;
const PICKER = ['👍', '❤️', '😂', '😮', '😢', '🎉'];
const URL_RE = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'"]/g;
const NARROW = window.matchMedia('(max-width: 760px)');

export class View {
  constructor() {
    this.app = null;
    this.dirty = new Set();
    this.scheduled = false;
    this.rowCache = new Map(); // renderKey -> {sig, el}
    this.itemCache = new Map(); // conversation key -> list item element
    this.shownKey = null; // conversation the message list shows
    this.stickBottom = true;
    this.anchor = null; // {height, top} to keep while older messages arrive
    this.scrollToDivider = false; // scroll to "New messages" once it is drawn
    this.drafts = new Map();
    this.mode = null; // {kind: 'edit' | 'reply', key, seq}: what the composer does
    this.pickerFor = ''; // the message whose reaction picker is open
    this.deleteArmed = ''; // the message whose delete button asks to be clicked again
    this.deleteTimer = 0;
    this.searchTimer = 0;
    this.searchSeq = 0;
    this.detailsOpen = false;
    this.leaveArmed = 0;
    this.connTimer = 0;

    this.el = {
      app: $('app'), list: $('conv-list'), listEmpty: $('list-empty'), filter: $('conv-filter'),
      meName: $('me-username'), meAvatar: $('me-avatar'),
      conn: $('conn'), connText: $('conn-text'), connRetry: $('conn-retry'),
      paneEmpty: $('pane-empty'), conv: $('conv'), back: $('back'),
      convAvatar: $('conv-avatar'), convTitle: $('conv-title'), convSub: $('conv-sub'),
      membersOpen: $('members-open'), messages: $('messages'), rows: $('message-rows'),
      historyStatus: $('history-status'), typing: $('typing'), typingText: $('typing-text'),
      composer: $('composer'), input: $('composer-input'), send: $('composer-send'),
      details: $('details'), detailsClose: $('details-close'), detailsAvatar: $('details-avatar'),
      detailsName: $('details-name'), detailsVisibility: $('details-visibility'), detailsId: $('details-id'),
      detailsCopy: $('details-copy'), detailsCount: $('details-count'), memberList: $('member-list'),
      leave: $('leave-group'), compose: $('compose'), toasts: $('toasts'),
    };
    this.bind();
    setInterval(() => this.update('list', 'header'), 30_000);
  }

  attach(app) {
    this.app = app;
    this.reset();
    this.el.app.hidden = false;
    this.setMe(app.me);
    this.update('list', 'conv');
  }

  detach() {
    this.app = null;
    if (this.el.compose.open) this.el.compose.close();
    this.reset();
    this.el.app.hidden = true;
    document.title = 'Parley';
  }

  reset() {
    this.rowCache.clear();
    this.itemCache.clear();
    this.shownKey = null;
    this.drafts.clear();
    this.mode = null;
    this.pickerFor = '';
    this.detailsOpen = false;
    this.el.rows.replaceChildren();
    this.el.list.replaceChildren();
    this.el.input.value = '';
    this.el.filter.value = '';
    this.el.conv.hidden = true;
    this.el.paneEmpty.hidden = false;
    this.el.app.dataset.pane = 'list';
    this.el.toasts.replaceChildren();
  }

  // ---- events -------------------------------------------------------------

  bind() {
    const e = this.el;
    e.list.addEventListener('click', (ev) => {
      const item = ev.target.closest('[data-conv]');
      if (item && this.app) this.app.open(item.dataset.conv);
    });
    e.filter.addEventListener('input', () => this.update('list'));
    e.back.addEventListener('click', () => this.app && this.app.close());
    e.connRetry.addEventListener('click', () => this.app && this.app.socket.retryNow());
    for (const id of ['compose-open', 'list-empty-start', 'pane-empty-start']) {
      $(id).addEventListener('click', () => this.openCompose('chat'));
    }
    $('compose-close').addEventListener('click', () => e.compose.close());
    e.compose.addEventListener('click', (ev) => { if (ev.target === e.compose) e.compose.close(); });
    for (const tab of e.compose.querySelectorAll('[data-tab]')) {
      tab.addEventListener('click', () => this.composeTab(tab.dataset.tab));
    }
    $('form-chat').addEventListener('submit', (ev) => { ev.preventDefault(); this.submitChat(); });
    $('form-group').addEventListener('submit', (ev) => { ev.preventDefault(); this.submitGroup(); });
    $('form-join').addEventListener('submit', (ev) => { ev.preventDefault(); this.submitJoin(); });

    e.composer.addEventListener('submit', (ev) => { ev.preventDefault(); this.submitMessage(); });
    e.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.submitMessage();
      } else if (ev.key === 'Escape' && this.mode) {
        ev.preventDefault();
        ev.stopPropagation();
        this.setMode(null);
      } else if (ev.key === 'ArrowUp' && e.input.value === '' && !this.mode) {
        // Up in an empty composer edits the user's last message.
        const c = this.app && this.app.active;
        const last = c && c.lastOf(this.app.me);
        if (last) {
          ev.preventDefault();
          this.startEdit(c, last);
        }
      }
    });
    $('composer-mode-cancel').addEventListener('click', () => this.setMode(null));
    $('chat-username').addEventListener('input', () => this.searchPeople());
    $('people-results').addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-username]');
      if (!b) return;
      $('chat-username').value = b.dataset.username;
      this.submitChat();
    });
    e.input.addEventListener('input', () => {
      e.send.disabled = e.input.value.trim() === '';
      const c = this.app && this.app.active;
      if (c && e.input.value !== '') this.app.typed(c);
    });
    e.messages.addEventListener('scroll', () => this.onScroll(), { passive: true });
    e.rows.addEventListener('click', (ev) => this.onRowClick(ev));

    e.membersOpen.addEventListener('click', () => this.toggleDetails(!this.detailsOpen));
    e.detailsClose.addEventListener('click', () => this.toggleDetails(false));
    e.detailsCopy.addEventListener('click', () => this.copyGroupId());
    e.leave.addEventListener('click', () => this.leave());
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.detailsOpen && !e.compose.open) this.toggleDetails(false);
    });
    NARROW.addEventListener('change', () => this.update('conv'));
  }

  onScroll() {
    const m = this.el.messages;
    this.stickBottom = m.scrollHeight - m.scrollTop - m.clientHeight < 48;
    const c = this.app && this.app.active;
    if (c && m.scrollTop < 160) this.app.loadOlder(c);
  }

  onRowClick(ev) {
    const btn = ev.target.closest('button[data-action]');
    if (!btn || !this.app) return;
    const c = this.app.active;
    const row = btn.closest('[data-testid="message"]');
    if (!c || !row) return;
    const action = btn.dataset.action;
    if (action === 'retry') this.app.retry(c, row.dataset.clientId);
    if (action === 'discard') this.app.discard(c, row.dataset.clientId);
    const msg = c.bySeq.get(Number(row.dataset.seq) || 0);
    if (!msg || msg.hidden) return;
    switch (action) {
      case 'reply': this.setMode({ kind: 'reply', key: c.key, seq: msg.seq }); break;
      case 'edit': this.startEdit(c, msg); break;
      case 'delete':
        // Two clicks: the first arms the button, for a few seconds.
        if (this.deleteArmed === msg.key) {
          this.deleteArmed = '';
          this.app.remove(c, msg);
        } else {
          this.deleteArmed = msg.key;
          clearTimeout(this.deleteTimer);
          this.deleteTimer = setTimeout(() => { this.deleteArmed = ''; this.update('conv'); }, 4000);
        }
        this.update('conv');
        break;
      case 'react':
        this.pickerFor = this.pickerFor === msg.key ? '' : msg.key;
        this.update('conv');
        break;
      case 'pick':
      case 'toggle-reaction':
        this.pickerFor = '';
        this.app.react(c, msg, btn.dataset.emoji);
        this.update('conv');
        break;
      case 'goto': this.goTo(c, Number(btn.dataset.seq)); break;
      default: break;
    }
  }

  /** Scrolls to the message with seq and flashes it. */
  goTo(c, seq) {
    const row = this.el.rows.querySelector(`[data-testid="message"][data-seq="${seq}"]`);
    if (!row) {
      this.toast('That message is further back: scroll up to load it.', 'info');
      return;
    }
    row.scrollIntoView({ block: 'center' });
    row.classList.remove('flash');
    void row.offsetWidth; // restart the animation
    row.classList.add('flash');
  }

  startEdit(c, msg) {
    this.setMode({ kind: 'edit', key: c.key, seq: msg.seq });
    this.el.input.value = msg.content;
    this.el.send.disabled = false;
  }

  /** Sets what the composer does (null: send a new message) and shows it. */
  setMode(mode) {
    const e = this.el;
    const wasEdit = this.mode && this.mode.kind === 'edit';
    this.mode = mode;
    const bar = $('composer-mode');
    const c = this.app && this.app.active;
    const msg = mode && c && c.bySeq.get(mode.seq);
    if (!mode || !msg) {
      this.mode = null;
      bar.hidden = true;
      if (wasEdit) e.input.value = '';
      e.send.disabled = e.input.value.trim() === '';
      return;
    }
    bar.hidden = false;
    bar.dataset.mode = mode.kind;
    $('composer-mode-text').textContent = mode.kind === 'edit'
      ? 'Editing your message · Esc to cancel'
      : `Replying to ${msg.from === this.app.me ? 'yourself' : msg.from}: ${snippet(msg)}`;
    e.input.focus();
  }

  submitMessage() {
    const c = this.app && this.app.active;
    if (!c) return;
    const mode = this.mode && this.mode.key === c.key ? this.mode : null;
    const target = mode && c.bySeq.get(mode.seq);
    let err;
    if (mode && mode.kind === 'edit' && target) err = this.app.edit(c, target, this.el.input.value);
    else err = this.app.send(c, this.el.input.value, mode && mode.kind === 'reply' && target ? target.seq : 0);
    if (err) {
      if (this.el.input.value.trim() !== '') this.toast(err);
      return;
    }
    this.el.input.value = '';
    this.el.send.disabled = true;
    this.drafts.delete(c.key);
    this.setMode(null);
    this.el.input.focus();
  }

  /** The people search of the new-chat form: names that start with what
   *  is typed, asked of the server a moment after typing stops. */
  searchPeople() {
    clearTimeout(this.searchTimer);
    const list = $('people-results');
    const prefix = $('chat-username').value.trim().replace(/^@/, '');
    if (!prefix || !this.app) {
      list.replaceChildren();
      list.hidden = true;
      return;
    }
    const seq = ++this.searchSeq;
    this.searchTimer = setTimeout(async () => {
      let names = [];
      try {
        names = await this.app.findUsers(prefix);
      } catch {
        names = []; // the search is a convenience: typing the name still works
      }
      if (seq !== this.searchSeq) return; // a newer search is on its way
      list.replaceChildren(...names.map((n) => h('li', null,
        h('button', { type: 'button', class: 'person', testid: 'people-result', dataset: { username: n } },
          avatar(n, { cls: 'avatar-sm' }), h('span', null, n)))));
      list.hidden = names.length === 0;
    }, 200);
  }

  // ---- compose dialog ---------------------------------------------------

  openCompose(tab) {
    if (!this.app) return;
    for (const f of this.el.compose.querySelectorAll('form')) {
      f.reset();
      this.formError(f, '');
    }
    $('people-results').replaceChildren();
    $('people-results').hidden = true;
    this.composeTab(tab);
    if (!this.el.compose.open) this.el.compose.showModal();
  }

  composeTab(tab) {
    for (const b of this.el.compose.querySelectorAll('[data-tab]')) {
      b.setAttribute('aria-selected', String(b.dataset.tab === tab));
    }
    for (const p of this.el.compose.querySelectorAll('[data-tab-panel]')) {
      p.hidden = p.dataset.tabPanel !== tab;
      if (!p.hidden) {
        const first = p.querySelector('input');
        if (first) first.focus();
      }
    }
  }

  formError(form, msg) {
    const el = form.querySelector('[data-role="error"]');
    el.textContent = msg;
    el.hidden = !msg;
  }

  async busy(form, fn) {
    const btn = form.querySelector('button[type="submit"]');
    btn.disabled = true;
    this.formError(form, '');
    try {
      await fn();
      this.el.compose.close();
    } catch (err) {
      this.formError(form, err.code === 'disconnected' ? 'Not connected to the server. Try again in a moment.' : err.message);
    } finally {
      btn.disabled = false;
    }
  }

  submitChat() {
    const form = $('form-chat');
    this.busy(form, () => this.app.startChat($('chat-username').value));
  }

  submitGroup() {
    const form = $('form-group');
    const name = $('group-name').value.trim();
    if (!name) {
      this.formError(form, 'Give the group a name.');
      return;
    }
    const members = $('group-members').value.split(/[\s,;]+/);
    this.busy(form, () => this.app.createGroup(name, members, $('group-private').checked));
  }

  submitJoin() {
    const form = $('form-join');
    this.busy(form, () => this.app.joinGroup($('join-id').value));
  }

  // ---- details panel ----------------------------------------------------

  toggleDetails(open) {
    const c = this.app && this.app.active;
    this.detailsOpen = open && !!c && c.kind === 'group';
    if (this.detailsOpen) this.app.loadMembers(c);
    this.disarmLeave();
    this.update('details');
  }

  async copyGroupId() {
    const id = this.el.detailsId.textContent;
    try {
      await navigator.clipboard.writeText(id);
      this.toast('Group ID copied.', 'info');
    } catch {
      const range = document.createRange();
      range.selectNodeContents(this.el.detailsId);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
  }

  async leave() {
    const c = this.app && this.app.active;
    if (!c || c.kind !== 'group') return;
    if (!this.leaveArmed) {
      this.el.leave.textContent = 'Click again to leave';
      this.el.leave.classList.add('armed');
      this.leaveArmed = setTimeout(() => this.disarmLeave(), 4000);
      return;
    }
    this.disarmLeave();
    this.el.leave.disabled = true;
    try {
      await this.app.leaveGroup(c);
      this.detailsOpen = false;
    } catch (err) {
      this.toast(`Could not leave the group: ${err.message}`);
    } finally {
      this.el.leave.disabled = false;
      this.update('details');
    }
  }

  disarmLeave() {
    clearTimeout(this.leaveArmed);
    this.leaveArmed = 0;
    this.el.leave.textContent = 'Leave group';
    this.el.leave.classList.remove('armed');
  }

  // ---- outputs the App calls --------------------------------------------

  setMe(name) {
    this.el.meName.textContent = name;
    paintAvatar(this.el.meAvatar, name);
  }

  connection(state, retryAt) {
    const e = this.el;
    clearInterval(this.connTimer);
    e.conn.dataset.state = state;
    e.connRetry.hidden = state !== 'waiting';
    const text = {
      connecting: 'Connecting…', syncing: 'Syncing…', online: 'Online', idle: 'Offline', ended: 'Signed out',
    };
    if (state === 'waiting') {
      const tick = () => {
        const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
        e.connText.textContent = s > 0 ? `Offline · retrying in ${s}s` : 'Offline · retrying…';
      };
      tick();
      this.connTimer = setInterval(tick, 1000);
    } else {
      e.connText.textContent = text[state] || state;
    }
  }

  toast(msg, kind = 'error') {
    const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status', testid: 'toast' },
      icon(kind === 'error' ? 'alert' : 'check', 'icon toast-icon'), h('span', null, msg));
    this.el.toasts.append(t);
    while (this.el.toasts.children.length > 4) this.el.toasts.firstElementChild.remove();
    setTimeout(() => {
      t.classList.add('leaving');
      setTimeout(() => t.remove(), 300);
    }, kind === 'error' ? 6000 : 3500);
  }

  showConversation(c) {
    const e = this.el;
    if (this.shownKey && this.shownKey !== (c && c.key)) {
      this.drafts.set(this.shownKey, e.input.value);
    }
    if (!c) {
      this.shownKey = null;
      e.app.dataset.pane = 'list';
      this.update('list', 'conv');
      return;
    }
    if (this.shownKey !== c.key) {
      this.shownKey = c.key;
      this.rowCache.clear();
      e.rows.replaceChildren();
      this.stickBottom = true;
      this.anchor = null;
      this.detailsOpen = false;
      this.disarmLeave();
      this.scrollToDivider = c.firstUnreadSeq > 0;
      this.pickerFor = '';
      this.setMode(null);
      e.input.value = this.drafts.get(c.key) || '';
      e.send.disabled = e.input.value.trim() === '';
    }
    e.app.dataset.pane = 'conv';
    this.update('list', 'conv');
    if (!NARROW.matches) e.input.focus({ preventScroll: true });
  }

  /** Keeps the visible messages in place while older ones are added above. */
  keepScroll() {
    const m = this.el.messages;
    this.anchor = { height: m.scrollHeight, top: m.scrollTop };
  }

  scrollToEnd() {
    this.stickBottom = true;
  }

  // ---- rendering ----------------------------------------------------------

  update(...parts) {
    for (const p of parts) this.dirty.add(p);
    if (this.scheduled) return;
    this.scheduled = true;
    // Animation frames stop in hidden tabs; the timeout still draws there.
    const run = () => {
      if (!this.scheduled) return;
      this.scheduled = false;
      this.render();
    };
    requestAnimationFrame(run);
    setTimeout(run, 120);
  }

  render() {
    const parts = this.dirty;
    this.dirty = new Set();
    if (!this.app) return;
    if (parts.has('list')) this.renderList();
    const all = parts.has('conv');
    if (all || parts.has('header')) this.renderHeader();
    if (all) this.renderMessages();
    if (all || parts.has('typing')) this.renderTyping();
    if (all || parts.has('details')) this.renderDetails();
    const n = this.app.totalUnread();
    document.title = n > 0 ? `(${n}) Parley` : 'Parley';
  }

  renderList() {
    const app = this.app;
    const q = this.el.filter.value.trim().toLowerCase();
    const items = [];
    const convs = app.list();
    const seen = new Set();
    for (const c of convs) {
      if (q && !c.title.toLowerCase().includes(q)) continue;
      items.push(this.listItem(c));
      seen.add(c.key);
    }
    for (const key of this.itemCache.keys()) if (!seen.has(key)) this.itemCache.delete(key);
    const current = this.el.list.children;
    let same = current.length === items.length;
    for (let i = 0; same && i < items.length; i++) same = current[i] === items[i];
    if (!same) this.el.list.replaceChildren(...items);
    this.el.listEmpty.hidden = convs.length > 0;
    if (q && items.length === 0) {
      this.el.list.append(h('p', { class: 'list-note' }, `No conversations match “${this.el.filter.value.trim()}”.`));
    }
  }

  listItem(c) {
    const app = this.app;
    const last = c.latest();
    let preview = '';
    let typing = false;
    if (c.typing.size > 0) {
      typing = true;
      preview = c.kind === 'group' ? `${[...c.typing.keys()][0]} is typing…` : 'typing…';
    } else if (last) {
      const who = last.from === app.me ? 'You: ' : c.kind === 'group' ? `${last.from}: ` : '';
      preview = who + (last.deleted ? 'Message deleted' : last.content.replace(/\s+/g, ' '));
    } else if (c.kind === 'group') {
      preview = 'No messages yet';
    } else {
      preview = 'Say hello';
    }
    const active = c.key === app.activeKey;
    const status = c.kind === 'chat' ? (c.status || 'UNKNOWN') : null;
    // The button stays the same element while its content changes, so that
    // a click is not lost to a redraw between mousedown and mouseup.
    let el = this.itemCache.get(c.key);
    if (!el) {
      el = h('button', { type: 'button', testid: 'conv-item', dataset: { conv: c.key, kind: c.kind } });
      el.sig = '';
      this.itemCache.set(c.key, el);
    }
    el.className = `conv-item${active ? ' active' : ''}${c.unread > 0 ? ' has-unread' : ''}`;
    el.dataset.title = c.title;
    if (active) el.setAttribute('aria-current', 'true');
    else el.removeAttribute('aria-current');
    const when = last ? listTime(last.time) : '';
    const sig = [c.title, status, preview, typing, when, c.unread].join('\u0000');
    if (el.sig === sig) return el;
    el.sig = sig;
    el.replaceChildren(
      avatar(c.title, { group: c.kind === 'group', status }),
      h('span', { class: 'conv-item-main' },
        h('span', { class: 'conv-item-row' },
          h('span', { class: 'conv-name', testid: 'conv-title' }, c.title),
          last ? h('time', { class: 'conv-time', datetime: last.time.toISOString() }, when) : null),
        h('span', { class: 'conv-item-row' },
          h('span', { class: `conv-preview${typing ? ' is-typing' : ''}`, testid: 'conv-preview' }, preview),
          c.unread > 0 ? h('span', { class: 'badge', testid: 'conv-unread', 'aria-label': `${c.unread} unread` },
            c.unread > 99 ? '99+' : String(c.unread)) : null)));
    return el;
  }

  renderHeader() {
    const c = this.app.active;
    const e = this.el;
    e.conv.hidden = !c;
    e.paneEmpty.hidden = !!c;
    if (!c) return;
    paintAvatar(e.convAvatar, c.title, c.kind === 'group');
    e.convTitle.textContent = c.title;
    e.membersOpen.hidden = c.kind !== 'group';
    e.membersOpen.setAttribute('aria-expanded', String(this.detailsOpen));
    let sub = '';
    let state = '';
    if (c.kind === 'chat') {
      if (c.status === 'ONLINE') {
        sub = 'Online';
        state = 'online';
      } else if (c.status === 'OFFLINE') {
        sub = c.lastSeen ? `Last seen ${ago(c.lastSeen)}` : 'Offline';
        state = 'offline';
      } else {
        sub = 'Direct message';
      }
    } else if (c.members) {
      const online = [...c.members.values()].filter((s) => s === 'ONLINE').length;
      sub = `${c.members.size} member${c.members.size === 1 ? '' : 's'}` + (online > 0 ? ` · ${online} online` : '');
    } else {
      sub = 'Group';
    }
    e.convSub.textContent = sub;
    e.convSub.dataset.state = state;
  }

  renderTyping() {
    const c = this.app.active;
    const e = this.el;
    if (!c || c.typing.size === 0) {
      e.typing.hidden = true;
      return;
    }
    const names = [...c.typing.keys()];
    let text;
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else text = 'Several people are typing…';
    e.typingText.textContent = text;
    e.typing.hidden = false;
  }

  renderMessages() {
    const c = this.app.active;
    const e = this.el;
    if (!c) return;
    const m = e.messages;
    const wasAtBottom = this.stickBottom;

    // History status above the first message.
    let status = '';
    if (c.loadingOlder || (c.opened && c.historyFrom === null)) status = 'Loading messages…';
    else if (c.hasMore) status = '';
    else if (c.historyFrom !== null && c.visible().length > 0) {
      status = c.kind === 'group' ? `This is the start of “${c.title}”.` : `This is the start of your conversation with ${c.with}.`;
    }
    e.historyStatus.textContent = status;
    e.historyStatus.dataset.state = c.loadingOlder ? 'loading' : c.hasMore ? 'more' : 'start';

    const nodes = [];
    const used = new Set();
    const put = (key, sig, make) => {
      used.add(key);
      const hit = this.rowCache.get(key);
      if (hit && hit.sig === sig) {
        nodes.push(hit.el);
        return;
      }
      const el = make();
      this.rowCache.set(key, { sig, el });
      nodes.push(el);
    };

    const msgs = c.visible();
    let lastMine = null;
    for (const m of msgs) if (m.from === this.app.me && m.seq && !m.deleted) lastMine = m;
    const notes = [...c.notes].sort((a, b) => a.time - b.time);
    let ni = 0;
    let prev = null; // previous message, for clustering
    let prevDay = null;
    const dayRow = (d) => {
      if (prevDay && sameDay(prevDay, d)) return;
      prevDay = d;
      prev = null;
      const label = dayLabel(d);
      put('d:' + label, label, () => h('div', { class: 'day', role: 'separator' }, h('span', null, label)));
    };
    const noteRow = (n) => {
      dayRow(n.time);
      prev = null;
      put(n.key, n.text, () => h('div', { class: 'note', testid: 'event-note' }, h('span', null, n.text)));
    };

    if (msgs.length === 0 && notes.length === 0 && c.historyFrom !== null && !c.hasMore) {
      nodes.push(this.emptyConversation(c));
    }
    for (let i = 0; i < msgs.length; i++) {
      const msg = msgs[i];
      while (ni < notes.length && notes[ni].time <= msg.time && msg.seq) noteRow(notes[ni++]);
      dayRow(msg.time);
      if (c.firstUnreadSeq && msg.seq === c.firstUnreadSeq && msg.from !== this.app.me) {
        put('unread', 'unread', () => h('div', { class: 'unread-line', testid: 'unread-divider', role: 'separator' },
          h('span', null, 'New messages')));
        prev = null;
      }
      const next = msgs[i + 1];
      const first = !prev || prev.from !== msg.from || msg.time - prev.time > CLUSTER_MS;
      const last = !next || next.from !== msg.from || next.time - msg.time > CLUSTER_MS ||
        !sameDay(next.time, msg.time) || (c.firstUnreadSeq && next.seq === c.firstUnreadSeq) ||
        (ni < notes.length && notes[ni].time <= next.time);
      const mine = msg.from === this.app.me;
      const showAuthor = first && !mine && c.kind === 'group';
      const receipt = mine && msg.state === 'sent' ? this.receipt(c, msg, msg === lastMine) : null;
      const quoted = msg.replyTo ? c.bySeq.get(msg.replyTo) : null;
      const quote = msg.replyTo ? (quoted && !quoted.hidden ? `${quoted.from}: ${snippet(quoted)}` : 'an earlier message') : '';
      const canDelete = mine || (c.kind === 'group' && c.owner === this.app.me);
      const picker = this.pickerFor === msg.key;
      const armed = this.deleteArmed === msg.key;
      const sig = [msg.state, msg.error || '', msg.seq, first, last, showAuthor, clock(msg.time), msg.content,
        msg.edited, msg.deleted, JSON.stringify(msg.reactions || []), JSON.stringify(receipt), quote, canDelete, picker, armed].join('|');
      put(msg.renderKey, sig, () => this.messageRow(msg, { mine, first, last, showAuthor, receipt, quote, canDelete, picker, armed }));
      prev = msg;
    }
    while (ni < notes.length) noteRow(notes[ni++]);

    for (const key of this.rowCache.keys()) if (!used.has(key)) this.rowCache.delete(key);
    const current = e.rows.children;
    let same = current.length === nodes.length;
    for (let i = 0; same && i < nodes.length; i++) same = current[i] === nodes[i];
    if (!same) e.rows.replaceChildren(...nodes);

    // Scroll: keep the reader's place, follow new messages at the bottom.
    if (this.anchor) {
      m.scrollTop = this.anchor.top + (m.scrollHeight - this.anchor.height);
      this.anchor = null;
    } else if (this.scrollToDivider) {
      const line = e.rows.querySelector('.unread-line');
      if (line) {
        this.scrollToDivider = false;
        line.scrollIntoView({ block: 'center' });
        this.stickBottom = m.scrollHeight - m.scrollTop - m.clientHeight < 48;
      } else if (wasAtBottom) {
        m.scrollTop = m.scrollHeight;
      }
    } else if (wasAtBottom) {
      m.scrollTop = m.scrollHeight;
    }
    // Not enough messages to scroll: fetch older ones right away.
    if (c.hasMore && !c.loadingOlder && m.scrollHeight <= m.clientHeight + 160) this.app.loadOlder(c);
  }

  emptyConversation(c) {
    return h('div', { class: 'conv-empty', testid: 'conversation-empty' },
      avatar(c.title, { group: c.kind === 'group', cls: 'avatar-xl' }),
      h('h3', null, c.kind === 'group' ? c.title : `Say hello to ${c.with}`),
      h('p', null, c.kind === 'group'
        ? 'No messages yet. Start the conversation.'
        : 'Messages you send appear here, and they wait for them if they are offline.'));
  }

  /** What the user knows of who got one of their messages: in a chat
   *  sent, delivered (the peer was online since, or has read past it) or
   *  read; in a group, who has read it (shown on the newest one). */
  receipt(c, msg, newest) {
    if (c.kind === 'group') {
      const seen = newest && !msg.deleted ? c.seenBy(msg.seq, this.app.me) : [];
      return seen.length ? { seen } : null;
    }
    if ((c.reads.get(c.with) || 0) >= msg.seq) return { state: 'read' };
    return { state: msg.delivered || c.status === 'ONLINE' ? 'delivered' : 'sent' };
  }

  messageRow(msg, { mine, first, last, showAuthor, receipt, quote, canDelete, picker, armed }) {
    const cls = ['msg', mine ? 'mine' : 'theirs'];
    if (first) cls.push('first');
    if (last) cls.push('last');
    if (msg.state !== 'sent') cls.push('is-' + msg.state);
    const meta = [h('time', { datetime: msg.time.toISOString(), title: msg.time.toLocaleString() }, clock(msg.time))];
    if (mine) {
      const state = msg.state === 'sent' && receipt && receipt.state ? receipt.state : msg.state;
      const label = { pending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Not sent' }[state];
      const glyph = { pending: 'clock', failed: 'alert', delivered: 'checks', read: 'checks' }[state] || 'check';
      meta.push(h('span', { class: 'msg-state is-' + state, testid: 'message-status', dataset: { receipt: state }, title: label, 'aria-label': label },
        icon(glyph, 'icon tiny')));
    }
    const stored = msg.state === 'sent' && msg.seq > 0 && !msg.deleted;
    const actions = stored
      ? h('div', { class: 'msg-actions', testid: 'message-actions' },
        actionButton('reply', 'Reply', icon('reply', 'icon small')),
        actionButton('react', 'React', icon('smile', 'icon small')),
        mine ? actionButton('edit', 'Edit', icon('edit', 'icon small')) : null,
        canDelete ? actionButton('delete', armed ? 'Click again to delete' : 'Delete', armed ? 'Delete?' : icon('trash', 'icon small'), armed) : null)
      : null;
    const row = h('div', {
      class: cls.join(' '),
      testid: 'message',
      dataset: { messageId: msg.messageId || '', from: msg.from, status: msg.state, seq: String(msg.seq || '') },
    },
    showAuthor ? h('div', { class: 'msg-author', testid: 'message-author' }, msg.from) : null,
    h('div', { class: 'msg-line' },
      h('div', { class: 'bubble' },
        quote && !msg.deleted ? h('button', { type: 'button', class: 'msg-quote', testid: 'message-quote', dataset: { action: 'goto', seq: String(msg.replyTo) } }, quote) : null,
        msg.deleted
          ? h('span', { class: 'msg-text msg-deleted', testid: 'message-text' }, 'Message deleted')
          : h('span', { class: 'msg-text', testid: 'message-text' }, ...linkify(msg.content)),
        msg.edited && !msg.deleted ? h('span', { class: 'msg-edited', testid: 'message-edited' }, 'edited') : null,
        h('span', { class: 'msg-meta' }, ...meta)),
      actions),
    picker && stored
      ? h('div', { class: 'picker', testid: 'reaction-picker', role: 'group', 'aria-label': 'Pick a reaction' },
        ...PICKER.map((emoji) => h('button', { type: 'button', class: 'pick', testid: 'reaction-pick', dataset: { action: 'pick', emoji }, 'aria-label': 'React with ' + emoji }, emoji)))
      : null,
    msg.reactions && msg.reactions.length
      ? h('div', { class: 'msg-reactions', testid: 'message-reactions' },
        ...msg.reactions.map((r) => h('button', {
          type: 'button',
          class: 'reaction' + (r.users.includes(this.app.me) ? ' is-mine' : ''),
          testid: 'reaction',
          title: r.users.join(', '),
          'aria-pressed': String(r.users.includes(this.app.me)),
          disabled: !stored,
          dataset: { action: 'toggle-reaction', emoji: r.emoji },
        }, `${r.emoji} ${r.users.length}`)))
      : null,
    receipt && receipt.seen
      ? h('div', { class: 'msg-seen', testid: 'message-seen', title: 'Seen by ' + receipt.seen.join(', ') },
        `Seen by ${receipt.seen.length}`)
      : null);
    if (msg.clientId) row.dataset.clientId = msg.clientId;
    if (msg.state === 'failed') {
      row.append(h('div', { class: 'msg-error', testid: 'message-error' },
        h('span', null, `Not sent${msg.error ? ': ' + msg.error : ''}`),
        h('button', { type: 'button', class: 'link', dataset: { action: 'retry' } }, 'Retry'),
        h('button', { type: 'button', class: 'link muted', dataset: { action: 'discard' } }, 'Discard')));
    }
    return row;
  }

  renderDetails() {
    const c = this.app.active;
    const e = this.el;
    const open = this.detailsOpen && c && c.kind === 'group';
    e.details.hidden = !open;
    e.conv.classList.toggle('with-details', !!open);
    e.membersOpen.setAttribute('aria-expanded', String(!!open));
    if (!open) return;
    paintAvatar(e.detailsAvatar, c.title, true);
    e.detailsName.textContent = c.title;
    e.detailsVisibility.textContent = c.owner ? `Owner: ${c.owner === this.app.me ? 'you' : c.owner}` : '';
    e.detailsId.textContent = c.id;
    const members = c.members ? [...c.members.entries()] : [];
    members.sort((a, b) => (b[0] === c.owner) - (a[0] === c.owner) || (b[1] === 'ONLINE') - (a[1] === 'ONLINE') ||
      a[0].localeCompare(b[0]));
    e.detailsCount.textContent = c.members ? `${members.length} member${members.length === 1 ? '' : 's'}` : 'Members';
    e.memberList.replaceChildren(...members.map(([name, status]) =>
      h('li', { class: 'member', testid: 'member-item', dataset: { username: name } },
        avatar(name, { status: status || 'UNKNOWN' }),
        h('span', { class: 'member-name' }, name, name === this.app.me ? h('span', { class: 'muted' }, ' (you)') : null),
        name === c.owner ? h('span', { class: 'tag' }, 'Owner') : null)));
  }
}

function actionButton(action, label, glyph, armed = false) {
  return h('button', { type: 'button', class: 'msg-action' + (armed ? ' is-armed' : ''), testid: 'message-' + action, dataset: { action }, title: label, 'aria-label': label }, glyph);
}

/** A message's text for a one-line quote. */
function snippet(msg) {
  if (msg.deleted) return 'Message deleted';
  const text = msg.content.replace(/\s+/g, ' ');
  return text.length > 80 ? text.slice(0, 79) + '…' : text;
}

/** Splits text into strings and links for http(s) URLs. The text stays
 *  text: a link's label and address come from the same characters, set as
 *  textContent and href, never parsed as HTML. */
function linkify(text) {
  const out = [];
  let at = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url;
    try {
      url = new URL(m[0]);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    if (m.index > at) out.push(text.slice(at, m.index));
    out.push(h('a', { href: url.href, target: '_blank', rel: 'noopener noreferrer', testid: 'message-link' }, m[0]));
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}
