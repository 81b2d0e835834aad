// Session: the HTTP auth API and the tokens it hands out.
//
// Tokens live in localStorage ("keep me signed in") or sessionStorage. Refresh
// tokens rotate and a rotated-out token presented again ends the whole
// session, so tabs sharing a session must never refresh with the same
// token: refreshes take a Web Lock, a tab adopts the tokens another tab got
// (storage event, BroadcastChannel), and inside the lock it refreshes only
// if it still holds the token it meant to rotate.

const KEY = 'parley.session';
const REFRESH_LEAD_MS = 60_000; // refresh this long before the access token expires
const HANDOVER_MS = 250; // how long new tokens may take to reach the other tabs

/** An HTTP API failure: message for people, status and code for programs. */
export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** POST a JSON body to a path relative to the page; returns the JSON reply. */
export function postJSON(path, body, token) {
  return requestJSON('POST', path, body === undefined ? '{}' : JSON.stringify(body), token);
}

/** GET a path relative to the page; returns the JSON reply. */
export function getJSON(path, token) {
  return requestJSON('GET', path, undefined, token);
}

async function requestJSON(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'same-origin' });
  } catch {
    throw new ApiError('Cannot reach the server. Check your connection and try again.', 0, 'unavailable');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    // An empty or non-JSON body: keep data null.
  }
  if (!res.ok) {
    const msg = (data && typeof data.error === 'string' && data.error) || `The server answered ${res.status}.`;
    throw new ApiError(msg, res.status, (data && data.code) || '');
  }
  return data || {};
}

function readStored() {
  for (const store of [sessionStorage, localStorage]) {
    try {
      const raw = store.getItem(KEY);
      if (!raw) continue;
      const s = JSON.parse(raw);
      if (s && typeof s.token === 'string' && typeof s.refreshToken === 'string' && typeof s.username === 'string') {
        s.remember = store === localStorage;
        return s;
      }
    } catch {
      // Unreadable: ignore it.
    }
  }
  return null;
}

function writeStored(s) {
  const value = JSON.stringify({
    username: s.username, token: s.token, refreshToken: s.refreshToken, expiresAt: s.expiresAt, lifetime: s.lifetime,
  });
  try {
    (s.remember ? localStorage : sessionStorage).setItem(KEY, value);
    (s.remember ? sessionStorage : localStorage).removeItem(KEY);
  } catch {
    // Storage full or disabled: the session lives in memory only.
  }
}

function clearStored() {
  try { localStorage.removeItem(KEY); } catch { /* ignore */ }
  try { sessionStorage.removeItem(KEY); } catch { /* ignore */ }
}

function fromReply(r, remember) {
  const ttl = Number(r.expiresIn) > 0 ? Number(r.expiresIn) : 900;
  return {
    username: r.username,
    token: r.token,
    refreshToken: r.refreshToken,
    expiresAt: Date.now() + ttl * 1000,
    lifetime: ttl * 1000,
    remember,
  };
}

/**
 * Session holds the signed-in user's tokens. It emits "ended" (detail:
 * {reason}) when the session is over: signed out here or in another tab,
 * or refused by the server.
 */
export class Session extends EventTarget {
  constructor() {
    super();
    this.data = readStored();
    this.refreshing = null;
    this.timer = 0;
    window.addEventListener('storage', (e) => this.onStorage(e));
    this.channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('parley.session') : null;
    if (this.channel) this.channel.onmessage = (e) => this.onRotated(e.data);
    if (this.data) this.schedule();
  }

  onRotated(msg) {
    if (!msg || !msg.data || !this.data || this.data.refreshToken !== msg.old) return;
    this.data = { ...msg.data, remember: this.data.remember };
    writeStored(this.data);
    this.schedule();
  }

  get signedIn() { return this.data !== null; }
  get username() { return this.data ? this.data.username : ''; }
  get token() { return this.data ? this.data.token : ''; }

  /** Milliseconds the current access token has left. */
  get ttl() { return this.data ? this.data.expiresAt - Date.now() : 0; }

  async register(username, password) {
    await postJSON('auth/register', { username, password });
  }

  async login(username, password, remember) {
    const r = await postJSON('auth/login', { username, password });
    this.data = fromReply(r, remember);
    writeStored(this.data);
    this.schedule();
  }

  /** Returns a token good for at least minMs, refreshing it if needed. */
  async freshToken(minMs = 30_000) {
    if (!this.data) throw new ApiError('Not signed in.', 401, 'unauthorized');
    const need = Math.min(minMs, (this.data.lifetime || 900_000) / 3);
    if (this.ttl > need) return this.data.token;
    await this.refresh();
    return this.data.token;
  }

  /** Refreshes the tokens (one refresh at a time, across tabs). */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => { this.refreshing = null; });
    }
    return this.refreshing;
  }

  async doRefresh() {
    if (!this.data) throw new ApiError('Not signed in.', 401, 'unauthorized');
    const held = this.data.refreshToken;
    const run = async () => {
      if (!this.data) throw new ApiError('Not signed in.', 401, 'unauthorized');
      if (this.data.refreshToken !== held) return; // another tab refreshed for us meanwhile
      const stored = readStored();
      if (stored && stored.username === this.data.username && stored.refreshToken !== held &&
          stored.expiresAt - Date.now() > Math.min(REFRESH_LEAD_MS, (stored.lifetime || 900_000) / 5)) {
        // Another tab refreshed already: take its tokens.
        this.data = { ...stored, remember: this.data.remember };
        return;
      }
      try {
        const r = await postJSON('auth/refresh', { refreshToken: held });
        if (!this.data || this.data.refreshToken !== held) return; // signed out meanwhile
        this.data = fromReply(r, this.data.remember);
        writeStored(this.data);
        // Tabs that hold the same tokens without sharing storage (a
        // duplicated tab with sessionStorage) take the new ones too.
        if (this.channel) this.channel.postMessage({ old: held, data: this.data });
        // Storage and the channel reach other tabs a moment later, not
        // at once: keep the lock until they have, or the next tab in
        // line would still read the token just rotated out.
        await new Promise((resolve) => { setTimeout(resolve, HANDOVER_MS); });
      } catch (err) {
        if (err.status === 401 || err.status === 400) this.end('expired');
        throw err;
      }
    };
    try {
      if (navigator.locks && navigator.locks.request) {
        await navigator.locks.request('parley.refresh', run);
      } else {
        await run();
      }
    } finally {
      this.schedule();
    }
  }

  /** Plans the next refresh shortly before the access token expires. */
  schedule() {
    clearTimeout(this.timer);
    if (!this.data) return;
    const lead = Math.min(REFRESH_LEAD_MS, (this.data.lifetime || 900_000) / 5);
    const wait = Math.max(1_000, this.ttl - lead);
    this.timer = setTimeout(() => {
      this.refresh().catch(() => {
        // A network failure: try again soon (an ended session stops here).
        if (this.data) { clearTimeout(this.timer); this.timer = setTimeout(() => this.schedule(), 5_000); }
      });
    }, wait);
  }

  /** Signs out: the server ends the session and closes its sockets. */
  async logout() {
    if (!this.data) return;
    const { token } = this.data;
    try {
      await postJSON('auth/logout', undefined, token);
    } catch (err) {
      if (err.status === 401 && this.data) {
        // The access token expired: refresh once and try again.
        try {
          await this.refresh();
          await postJSON('auth/logout', undefined, this.data.token);
        } catch { /* the session is over either way */ }
      }
    }
    this.end('signed_out');
  }

  /** Forgets the session locally and tells listeners. */
  end(reason) {
    if (!this.data) return;
    this.data = null;
    clearTimeout(this.timer);
    clearStored();
    this.dispatchEvent(new CustomEvent('ended', { detail: { reason } }));
  }

  onStorage(e) {
    if (e.key !== KEY && e.key !== null) return;
    if (!this.data || !this.data.remember) return;
    const stored = readStored();
    if (!stored) {
      // Signed out in another tab.
      this.end('signed_out_elsewhere');
      return;
    }
    if (stored.username === this.data.username && stored.refreshToken !== this.data.refreshToken) {
      this.data = { ...stored, remember: true };
      this.schedule();
    }
  }
}
