// Artillery processor for ladder.yml: Parley accounts, friend receivers
// that ACK, and delivery latency (sender and receiver share this
// process's clock). Environment: PARLEY_HTTP (default: the target's host
// over http), POOL (sender accounts, default 200), FRIENDS (receivers,
// default 20), PREFIX (usernames, default "art"), DELIVERY_TIMEOUT_MS
// (default 10000).
'use strict';

const path = require('path');

// ws is Artillery's own dependency: found beside this file when installed
// here, else in the Artillery installation that loaded this processor.
function loadWS() {
  try { return require('ws'); } catch (e) { /* look in Artillery's tree */ }
  for (const file of Object.keys(require.cache)) {
    if (!file.includes(`${path.sep}artillery`) && !file.includes(`${path.sep}@artilleryio`)) continue;
    try { return require(require.resolve('ws', { paths: [path.dirname(file)] })); } catch (e) { /* next */ }
  }
  throw new Error("cannot find the 'ws' package: run Artillery 2 (which bundles it) or npm install ws here");
}
const WebSocket = loadWS();

const POOL = Number(process.env.POOL || 200);
const FRIENDS = Number(process.env.FRIENDS || 20);
const PREFIX = process.env.PREFIX || 'art';
const DELIVERY_TIMEOUT_MS = Number(process.env.DELIVERY_TIMEOUT_MS || 10000);
const RUN = Date.now().toString(36) + process.pid.toString(36);

let vuSeq = 0;
let msgSeq = 0;
const tokens = new Map(); // username -> Promise<token>
const receivers = new Map(); // friend -> Promise<WebSocket>
const pending = new Map(); // message id -> {sentAt, resolve}

function httpBase(target) {
  if (process.env.PARLEY_HTTP) return process.env.PARLEY_HTTP.replace(/\/$/, '');
  const u = new URL(target);
  return (u.protocol === 'wss:' ? 'https://' : 'http://') + u.host;
}

async function post(base, path, body) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  return { status: res.status, data };
}

// token registers (once) and logs in (once) an account of the pool.
function token(base, username) {
  if (!tokens.has(username)) {
    const password = 'bench-pw-' + username;
    tokens.set(username, (async () => {
      let r = await post(base, '/auth/login', { username, password });
      if (r.status === 401) {
        await post(base, '/auth/register', { username, password });
        r = await post(base, '/auth/login', { username, password });
      }
      if (r.status !== 200) throw new Error(`login ${username}: HTTP ${r.status}`);
      return r.data.token;
    })());
    tokens.get(username).catch(() => tokens.delete(username));
  }
  return tokens.get(username);
}

// receiver opens (once) the friend's chat socket: it times deliveries of
// this run's messages and ACKs cumulatively per chat every 50 ms.
function receiver(target, base, friend) {
  if (!receivers.has(friend)) {
    receivers.set(friend, (async () => {
      const t = await token(base, friend);
      const ws = new WebSocket(target + '?authToken=' + encodeURIComponent(t));
      const acks = new Map(); // chatId -> highest seq not yet ACKed
      const seen = new Map(); // chatId -> highest seq seen (duplicates)
      ws.on('message', (data) => {
        let f;
        try { f = JSON.parse(data); } catch (e) { return; }
        if (f.type !== 'ONE_TO_ONE_CHAT') return;
        if ((seen.get(f.chatId) || 0) >= f.seq) { dupes++; return; }
        seen.set(f.chatId, f.seq);
        acks.set(f.chatId, f.seq);
        const [id] = String(f.content).split(' ');
        const p = pending.get(id);
        if (p && !f.offline) {
          pending.delete(id);
          p.resolve(Date.now() - p.sentAt);
        }
      });
      const timer = setInterval(() => {
        for (const [chatId, seq] of acks) ws.send(JSON.stringify({ type: 'ACK', chatId, seq }));
        acks.clear();
      }, 50);
      timer.unref();
      ws.on('close', () => { clearInterval(timer); receivers.delete(friend); });
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      return ws;
    })());
    receivers.get(friend).catch(() => receivers.delete(friend));
  }
  return receivers.get(friend);
}
let dupes = 0;

function connectHandler(params, context, next) {
  const n = vuSeq++;
  const target = params.target;
  const base = httpBase(target);
  const username = `${PREFIX}_u${n % POOL}`;
  const friend = `${PREFIX}_f${n % FRIENDS}`;
  context.vars.username = username;
  context.vars.friend = friend;
  context.vars.sent = [];
  Promise.all([token(base, username), receiver(target, base, friend)]).then(([t]) => {
    params.target = target + '?authToken=' + encodeURIComponent(t);
    context.vars.connectStart = Date.now();
    next();
  }, (err) => next(err));
}

function postConnectionHandler(context, events, next) {
  events.emit('histogram', 'handshake_latency', Date.now() - context.vars.connectStart);
  next();
}

function preMessageSend(context, events, next) {
  const id = `${RUN}-${++msgSeq}`;
  const sentAt = Date.now();
  context.vars.msgId = id;
  context.vars.sentAt = sentAt;
  let resolve;
  const delivered = new Promise((r) => { resolve = r; });
  pending.set(id, { sentAt, resolve });
  context.vars.sent.push({ id, delivered });
  events.emit('counter', 'messages_sent', 1);
  next();
}

function waitForDelivery(context, events, next) {
  const timeout = new Promise((r) => setTimeout(() => r(null), DELIVERY_TIMEOUT_MS).unref());
  Promise.all(context.vars.sent.map((m) => Promise.race([m.delivered, timeout]).then((ms) => {
    if (ms === null) {
      pending.delete(m.id);
      events.emit('counter', 'messages_lost', 1);
    } else {
      events.emit('histogram', 'delivery_latency', ms);
      events.emit('counter', 'messages_delivered', 1);
    }
  }))).then(() => {
    if (dupes > 0) { events.emit('counter', 'messages_duplicated', dupes); dupes = 0; }
    next();
  });
}

module.exports = { connectHandler, postConnectionHandler, preMessageSend, waitForDelivery };
