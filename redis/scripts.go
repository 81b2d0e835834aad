package redis

import "github.com/redis/go-redis/v9"

// The scripts build some key names from the prefix (ARGV) instead of
// declaring them in KEYS, so they need a single Redis server (or a
// replicated primary), not Redis Cluster. Times come from the server's
// clock (TIME), so that nodes' clocks never have to agree.

// luaNow is the server time in milliseconds.
const luaNow = `
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// luaTotal sums a user's connections across nodes.
const luaTotal = `
local function total(key)
  local n = 0
  for _, v in ipairs(redis.call('HVALS', key)) do n = n + tonumber(v) end
  return n
end
`

// claimScript takes a node id. KEYS[1] nodes. ARGV: prefix, token, ttl ms,
// wanted id (-1: the first free one), number of ids. Returns {id, users
// left by the id's previous holder, when that holder was last seen (ms)};
// id -1 means the wanted id is held, -2 that none is free.
//
// A derived id must be free in every way: no lease, no unswept entries
// (a dead node waiting for the sweeper), no tombstone (a node swept
// recently, which may be alive but stalled and will come back for it).
var claimScript = redis.NewScript(luaNow + `
local p, token, ttl, want, max = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local function take(n)
  local lease = p .. 'node:' .. n
  local seen = redis.call('ZSCORE', KEYS[1], n) or 0
  redis.call('SET', lease, token, 'PX', ttl)
  redis.call('DEL', lease .. ':gone')
  redis.call('ZADD', KEYS[1], now(), n)
  return {n, redis.call('SCARD', p .. 'nu:' .. n), tonumber(seen)}
end
if want >= 0 then
  if redis.call('EXISTS', p .. 'node:' .. want) == 1 then return {-1, 0, 0} end
  return take(want)
end
for n = 0, max - 1 do
  local lease = p .. 'node:' .. n
  if redis.call('EXISTS', lease) == 0 and redis.call('EXISTS', lease .. ':gone') == 0
     and not redis.call('ZSCORE', KEYS[1], n) then
    return take(n)
  end
end
return {-2, 0, 0}
`)

// heartbeatScript renews the lease. KEYS: lease, nodes. ARGV: token, ttl
// ms, node. Returns 1 renewed, 2 the lease had expired and was taken
// again (the node's presence may have been swept: restore it), 0 another
// node holds it.
var heartbeatScript = redis.NewScript(luaNow + `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], now(), ARGV[3])
  return 1
end
if v then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[1] .. ':gone')
redis.call('ZADD', KEYS[2], now(), ARGV[3])
return 2
`)

// releaseScript gives the id up on Close, once the node's users are
// removed. KEYS: lease, nodes. ARGV: token, node.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
`)

// changeScript adds delta to this node's count of a user's connections.
// KEYS: p:<user>, nu:<node>. ARGV: node, user, delta. Returns {this
// node's count, the user's total}.
var changeScript = redis.NewScript(luaTotal + `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[3])
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
else
  redis.call('SADD', KEYS[2], ARGV[2])
end
return {n, total(KEYS[1])}
`)

// setScript sets this node's count of a user's connections (reconciling
// after an outage). KEYS: p:<user>, nu:<node>. ARGV: node, user, count.
// Returns {total before, total after}.
var setScript = redis.NewScript(luaTotal + `
local before = total(KEYS[1])
if tonumber(ARGV[3]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('SADD', KEYS[2], ARGV[2])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
return {before, total(KEYS[1])}
`)

// deadScript lists the nodes whose lease is gone. KEYS: nodes. ARGV:
// prefix. Returns {node, last seen ms, ...}.
var deadScript = redis.NewScript(`
local r = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #r, 2 do
  if redis.call('EXISTS', ARGV[1] .. 'node:' .. r[i]) == 0 then
    out[#out + 1] = r[i]
    out[#out + 1] = r[i + 1]
  end
end
return out
`)

// sweepScript removes up to ARGV[3] users of a node from presence. KEYS:
// lease, nu:<node>, nodes. ARGV: node, prefix, count, tombstone ms (0:
// none), own ("1": the node removing itself, or a new incarnation its
// leftovers). Unless own, it does nothing when the lease exists again:
// the node came back. Returns {state, users now offline everywhere...}:
// state -1 the node is alive, 0 more to do, 1 done.
var sweepScript = redis.NewScript(`
if ARGV[5] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local out = {0}
for _, u in ipairs(redis.call('SPOP', KEYS[2], tonumber(ARGV[3]))) do
  local k = ARGV[2] .. 'p:' .. u
  redis.call('HDEL', k, ARGV[1])
  if redis.call('EXISTS', k) == 0 then out[#out + 1] = u end
end
if redis.call('SCARD', KEYS[2]) == 0 then
  out[1] = 1
  if ARGV[5] ~= '1' then
    redis.call('ZREM', KEYS[3], ARGV[1])
    if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[1] .. ':gone', '1', 'PX', ARGV[4]) end
  end
end
return out
`)

// unlockScript releases a lock if it is still ours. KEYS: lock. ARGV:
// token.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

var allScripts = []*redis.Script{claimScript, heartbeatScript, releaseScript, changeScript, setScript, deadScript, sweepScript, unlockScript}
