#!/usr/bin/env bash
# A three-node Cassandra ring under one parleyd, and a node of the ring
# killed with SIGKILL under load: run by hand, not in CI (it needs about
# 4 GB of memory and takes a few minutes).
#
# Starts Cassandra nodes on 127.0.0.2, 127.0.0.3 and 127.0.0.4 (port 9042,
# storage port 7000 on each address) with deploy/cassandra/cassandra.sh, a
# parleyd on PostgreSQL + Cassandra (a fresh keyspace, replication 3,
# LOCAL_QUORUM) + Redis, streams one-to-one messages through it with
# parley-bench, kills 127.0.0.4 with -9 part-way, and checks from
# parley-bench's report that every message answered SUCCESS was delivered
# (lost = 0) and that sends went on after the kill. Everything it created
# (the ring's data, the database, the Redis keys) is removed at the end,
# unless KEEP=1.
#
# Usage: benchmark/cassandra-ring.sh
# Environment: PG (default postgres://postgres@127.0.0.1:5432), REDIS
# (default redis://127.0.0.1:6379/0), PORT (parleyd's, default 3201),
# USERS (default 100), RATE (messages/s, default 200), DURATION (default
# 60s), KILL_AFTER (seconds into the run, default 20), HEAP (per node,
# default 1G).
set -euo pipefail

PG="${PG:-postgres://postgres@127.0.0.1:5432}"
REDIS="${REDIS:-redis://127.0.0.1:6379/0}"
PORT="${PORT:-3201}"
USERS="${USERS:-100}" RATE="${RATE:-200}" DURATION="${DURATION:-60s}" KILL_AFTER="${KILL_AFTER:-20}"
export PARLEY_CASSANDRA_HEAP="${HEAP:-1G}"
ADDRS=(127.0.0.2 127.0.0.3 127.0.0.4)

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WORK="$(mktemp -d /tmp/parley-ring.XXXXXX)"
DB="parley_ring_$(date +%s)_$$"
PREFIX="parley-ring-$(date +%s)-$$:"
KEYSPACE="parley_ring_$$"
NAME="cassandra-ring-$(date +%Y%m%d-%H%M%S)"
SERVER=""

cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept: $WORK (ring data, logs), database $DB, Redis prefix $PREFIX"; return; fi
  for a in "${ADDRS[@]}"; do bash deploy/cassandra/cassandra.sh stop "$WORK/cassandra-$a" || true; done
  psql "$PG/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || true
  redis-cli -u "$REDIS" --scan --pattern "${PREFIX}*" | xargs -r redis-cli -u "$REDIS" del >/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }

go build -o "$WORK/bin/parleyd" ./cmd/parleyd
go build -o "$WORK/bin/parley-bench" ./cmd/parley-bench

# The ring: the first node is the seed; the others join it one at a time.
export PARLEY_CASSANDRA_SEEDS="${ADDRS[0]}"
for a in "${ADDRS[@]}"; do
  log "starting Cassandra on $a"
  bash deploy/cassandra/cassandra.sh start "$WORK/cassandra-$a" "$a" 9042
done
# JMX is off, so there is no nodetool: the seed's log says when a node is
# part of the ring.
for _ in $(seq 120); do
  joined=$(grep -E "state jump to NORMAL|is now part of the cluster" "$WORK/cassandra-${ADDRS[0]}/logs/system.log" 2>/dev/null |
    grep -oE "127\.0\.0\.[34]" | sort -u | wc -l || true)
  [ "${joined:-0}" -ge 2 ] && break
  sleep 1
done
log "ring: the seed's log names ${joined:-0} joined nodes (want 2)"
[ "${joined:-0}" -ge 2 ] || { echo "the ring did not form; see $WORK/cassandra-*/logs" >&2; KEEP=1; exit 1; }

psql "$PG/postgres?sslmode=disable" -qc "CREATE DATABASE $DB" >/dev/null
hosts="$(printf '%s:9042,' "${ADDRS[@]}")"
env PARLEY_HTTP_ADDR="127.0.0.1:$PORT" PARLEY_CHAT_ADDR= PARLEY_PRESENCE_ADDR= PARLEY_METRICS_ADDR= \
  PARLEY_DATA_DIR="$WORK/parleyd" \
  PARLEY_POSTGRES_URL="$PG/$DB?sslmode=disable" \
  PARLEY_CASSANDRA_HOSTS="${hosts%,}" PARLEY_CASSANDRA_KEYSPACE="$KEYSPACE" \
  PARLEY_CASSANDRA_CONSISTENCY=LOCAL_QUORUM \
  PARLEY_CASSANDRA_REPLICATION="{'class': 'SimpleStrategy', 'replication_factor': 3}" \
  PARLEY_REDIS_URL="$REDIS" PARLEY_REDIS_PREFIX="$PREFIX" \
  PARLEY_JWT_SECRET="cassandra-ring-sh-benchmark-secret-$$-0123456789" \
  PARLEY_BCRYPT_COST=4 PARLEY_ACCESS_TTL=2h PARLEY_LOG_LEVEL=warn \
  PARLEY_RATE_MESSAGES_PER_SEC=0 PARLEY_RATE_HISTORY_PER_SEC=0 PARLEY_RATE_GROUPS_PER_MIN=0 \
  PARLEY_RATE_REGISTER_PER_MIN=0 PARLEY_RATE_CONNECTIONS_PER_MIN=0 PARLEY_LOGIN_MAX_FAILURES=0 \
  "$WORK/bin/parleyd" >"$WORK/parleyd.log" 2>&1 &
SERVER=$!
for _ in $(seq 600); do
  curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/parleyd.log"; exit 1; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null || { cat "$WORK/parleyd.log"; exit 1; }
log "parleyd ready on :$PORT (keyspace $KEYSPACE, replication 3, LOCAL_QUORUM)"

log "streaming: $USERS users, $RATE messages/s for $DURATION; killing ${ADDRS[2]} after ${KILL_AFTER}s"
"$WORK/bin/parley-bench" one-to-one --name "$NAME" --server "http://127.0.0.1:$PORT" --server-pid "$SERVER" \
  --users "$USERS" --rate "$RATE" --duration "$DURATION" --progress 5s &
BENCH=$!
sleep "$KILL_AFTER"
victim="$(cat "$WORK/cassandra-${ADDRS[2]}/cassandra.pid")"
kill -9 "$victim"
killed_at=$(date +%s)
log "killed the Cassandra node on ${ADDRS[2]} (pid $victim) with SIGKILL"
status=0
wait "$BENCH" || status=$?

report="benchmark/results/$NAME/report.json"
[ -f "$report" ] || { echo "no report at $report (parley-bench exited $status)" >&2; exit 1; }
jq -r '.phases[] | "phase \(.name): sent \(.counts.sent), acknowledged \(.counts.acknowledged), rejected \(.counts.rejected), unanswered \(.counts.unanswered), delivered \(.counts.delivered), lost \(.counts.lost), duplicated \(.counts.duplicated), errors \(.counts.errors // {} | tostring)"' "$report"
jq -r '.phases[] | "latency: \(.latency | to_entries | map("\(.key) p50 \(.value.p50Ms) ms, p99 \(.value.p99Ms) ms, max \(.value.maxMs) ms") | join("; "))"' "$report" || true
lost=$(jq '[.phases[].counts.lost] | add' "$report")
acked=$(jq '[.phases[].counts.acknowledged] | add' "$report")
# Sends went on after the kill: the timeline (seconds since the run
# started) has acknowledgements from two seconds after it on.
k=$(( killed_at - $(date -d "$(jq -r .started "$report")" +%s) ))
after=$(jq --argjson k "$k" '[.timeline[] | select(.t > ($k + 2)) | .ackedPerSec] | add // 0 | floor' "$report")
errs=$(jq --argjson k "$k" '[.timeline[] | select(.t > $k) | .errors] | add // 0' "$report")
echo "acknowledged $acked, lost $lost; acknowledged from 2 s after the kill (${k}s into the run) on: about $after; errors after the kill: $errs"
if [ "$lost" != 0 ]; then echo "FAIL: $lost acknowledged messages were not delivered" >&2; exit 1; fi
if [ "$acked" = 0 ]; then echo "FAIL: nothing was acknowledged" >&2; exit 1; fi
if [ "$after" = 0 ]; then echo "FAIL: no send was acknowledged after the kill" >&2; exit 1; fi
echo "OK: no acknowledged message lost with one of three Cassandra nodes killed (parley-bench exit status $status)"
