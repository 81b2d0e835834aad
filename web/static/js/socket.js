// ChatSocket: the WebSocket to /ws/chat, with request/reply matching by the
// frame id, keepalive, and reconnection with exponential backoff and jitter.
//
// States (the "state" event): connecting → syncing (open, INIT_DATA and the
// offline messages arriving) → online (after INFO offline_delivered) →
// waiting (dropped; a reconnect is planned at detail.retryAt) → …; "ended"
// when the server closed with 1008 (session ended); "idle" when stopped.

const REPLY_TYPES = new Set([
  'SUCCESS', 'ERROR', 'PONG', 'ONE_TO_ONE_CHAT_HISTORY', 'GROUP_CHAT_HISTORY', 'GROUP_MEMBERS',
]);
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const KEEPALIVE_MS = 25_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;

/** The socket closed (or was never open) before a reply came. */
export class SocketClosed extends Error {
  constructor() { super('Not connected to the server.'); this.code = 'disconnected'; }
}

/** An ERROR frame in reply to a request. */
export class FrameError extends Error {
  constructor(frame) {
    super(frame.msg || frame.code || 'The server refused the request.');
    this.code = frame.code || 'internal';
    this.frame = frame;
  }
}

let counter = 0;

/** newId returns a fresh client frame id (at most 64 characters). */
export function newId(prefix = 'r') {
  if (prefix === 'm' && globalThis.crypto && crypto.randomUUID) return 'm-' + crypto.randomUUID();
  const rnd = new Uint32Array(2);
  crypto.getRandomValues(rnd);
  counter = (counter + 1) % 1e9;
  return `${prefix}-${Date.now().toString(36)}-${counter.toString(36)}-${rnd[0].toString(36)}${rnd[1].toString(36)}`;
}

export class ChatSocket extends EventTarget {
  constructor(session) {
    super();
    this.session = session;
    this.ws = null;
    this.state = 'idle';
    this.stopped = true;
    this.attempt = 0; // failed attempts in a row
    this.retryTimer = 0;
    this.retryAt = 0;
    this.keepaliveTimer = 0;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.tokenSuspect = false; // the last handshake failed: maybe the token
    this.refreshedInStreak = false;
    this.onWake = () => { if (this.state === 'waiting') this.retryNow(); };
    this.onVisible = () => { if (document.visibilityState === 'visible') this.onWake(); };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    window.addEventListener('online', this.onWake);
    document.addEventListener('visibilitychange', this.onVisible);
    this.connect();
  }

  /** Stops for good (sign-out): closes with 1000 and plans nothing. */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopKeepalive();
    window.removeEventListener('online', this.onWake);
    document.removeEventListener('visibilitychange', this.onVisible);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onopen = ws.onerror = null;
      try { ws.close(1000, 'bye'); } catch { /* already closed */ }
    }
    this.failPending();
    this.setState('idle');
  }

  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  get online() { return this.state === 'online'; }

  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, ...detail } }));
  }

  async connect() {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    this.setState('connecting');
    let token;
    try {
      if (this.tokenSuspect && !this.refreshedInStreak) {
        // A refused handshake looks like any network failure to a browser;
        // a 401 (expired or revoked token) is the one a refresh cures.
        this.refreshedInStreak = true;
        await this.session.refresh();
      }
      token = await this.session.freshToken();
    } catch {
      if (this.stopped || !this.session.signedIn) return; // the session ended: the app signs out
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const url = new URL('ws/chat', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = '?authToken=' + encodeURIComponent(token);
    url.hash = '';
    let ws;
    try {
      ws = new WebSocket(url.href);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.tokenSuspect = false;
      this.setState('syncing');
    };
    ws.onmessage = (e) => this.onMessage(e.data);
    ws.onerror = () => { /* a close event follows */ };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(e.code, opened);
    };
  }

  closed(code, opened) {
    this.stopKeepalive();
    this.failPending();
    this.dispatchEvent(new CustomEvent('closed', { detail: { code } }));
    if (this.stopped) return;
    if (code === 1008) {
      this.stopped = true;
      this.setState('ended');
      return;
    }
    if (!opened) this.tokenSuspect = true;
    this.scheduleReconnect(code === 1013);
  }

  /** Plans the next attempt: full jitter over an exponential window. */
  scheduleReconnect(tooSlow = false) {
    if (this.stopped) return;
    const span = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    let delay = Math.max(250, Math.random() * span);
    if (tooSlow) delay = Math.max(delay, 1_000 + Math.random() * 2_000);
    this.attempt = Math.min(this.attempt + 1, 16);
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.setState('waiting', { retryAt: this.retryAt });
  }

  /** Drops a connection that stopped answering, and reconnects. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onclose = ws.onmessage = ws.onopen = ws.onerror = null;
    try { ws.close(4000, 'keepalive timeout'); } catch { /* ignore */ }
    this.closed(1006, true);
  }

  onMessage(data) {
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    if (!f || typeof f.type !== 'string') return;
    if (f.id && REPLY_TYPES.has(f.type) && this.pending.has(f.id)) {
      const p = this.pending.get(f.id);
      this.pending.delete(f.id);
      clearTimeout(p.timer);
      if (f.type === 'ERROR') p.reject(new FrameError(f));
      else p.resolve(f);
      return;
    }
    this.dispatchEvent(new CustomEvent('frame', { detail: f }));
    if (f.type === 'INFO' && f.event === 'offline_delivered' && this.state === 'syncing') {
      this.attempt = 0;
      this.refreshedInStreak = false;
      this.startKeepalive();
      this.setState('online');
    }
  }

  /** Sends a frame that gets no reply (ACK, TYPING). */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Sends a frame and resolves with its reply (rejects with FrameError on
   * ERROR, SocketClosed if the connection ends first, or on timeout).
   */
  request(frame, timeoutMs = 15_000) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new SocketClosed());
        return;
      }
      const id = frame.id || newId();
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new SocketClosed());
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  failPending() {
    const err = new SocketClosed();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  startKeepalive() {
    this.stopKeepalive();
    this.keepaliveTimer = setInterval(() => {
      if (!this.online) return;
      this.request({ type: 'PING' }, KEEPALIVE_TIMEOUT_MS).catch((err) => {
        if (err instanceof SocketClosed && this.ws) this.drop();
      });
    }, KEEPALIVE_MS);
  }

  stopKeepalive() {
    clearInterval(this.keepaliveTimer);
  }
}
