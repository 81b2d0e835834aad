#!/usr/bin/env bash
# A parley-bench scenario against two parleyd nodes on one PostgreSQL
# database and one Redis, as "Scaling out" in the README runs them: the
# users are spread over both nodes, so messages cross between them through
# Redis. Creates a fresh database and Redis key prefix, and removes both at
# the end.
#
# Usage: benchmark/run-cluster.sh NAME SCENARIO [PARLEY_BENCH_FLAGS...]
#   e.g. benchmark/run-cluster.sh cluster-one-to-one one-to-one --users 1000 --rate max --duration 15s
# Environment: PG (default postgres://postgres@127.0.0.1:5432), REDIS
# (default redis://127.0.0.1:6379/0), PORTS (default "3101 3102").
# CASSANDRA=1 keeps the messages in a private Cassandra node started for
# the run (127.0.0.1:9142, storage port 7142, stopped and removed after).
# Both nodes' CPU (and Cassandra's) is printed at the end (parley-bench
# measures the first).
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
NAME="$1" SCENARIO="$2"; shift 2
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
REDIS="${REDIS:-redis://127.0.0.1:6379/0}"
read -r -a PORTS <<<"${PORTS:-3101 3102}"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WORK="$(mktemp -d)"
DB="parley_cluster_$(date +%s)_$$"
PREFIX="parley-cluster-$(date +%s)-$$:"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql "$PG/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || true
  redis-cli -u "$REDIS" --scan --pattern "${PREFIX}*" | xargs -r redis-cli -u "$REDIS" del >/dev/null || true
  if [ -n "${CASSANDRA:-}" ]; then bash deploy/cassandra/cassandra.sh stop "$WORK/cassandra" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

go build -o "$WORK/parleyd" ./cmd/parleyd
go build -o "$WORK/parley-bench" ./cmd/parley-bench
psql "$PG/postgres?sslmode=disable" -qc "CREATE DATABASE $DB" >/dev/null
messages=()
if [ -n "${CASSANDRA:-}" ]; then
  PARLEY_CASSANDRA_STORAGE_PORT=7142 bash deploy/cassandra/cassandra.sh start "$WORK/cassandra" 127.0.0.1 9142
  messages=(PARLEY_CASSANDRA_HOSTS=127.0.0.1:9142 PARLEY_CASSANDRA_KEYSPACE=parley_bench)
  # One node creates the keyspace and tables before both start serving.
  env PARLEY_POSTGRES_URL="$PG/$DB?sslmode=disable" "${messages[@]}" "$WORK/parleyd" migrate
fi

chat=()
for i in "${!PORTS[@]}"; do
  port="${PORTS[$i]}"
  mkdir -p "$WORK/node$i"
  env PARLEY_HTTP_ADDR="127.0.0.1:$port" PARLEY_CHAT_ADDR= PARLEY_PRESENCE_ADDR= PARLEY_METRICS_ADDR= \
    PARLEY_DATA_DIR="$WORK/node$i" \
    PARLEY_POSTGRES_URL="$PG/$DB?sslmode=disable" PARLEY_REDIS_URL="$REDIS" PARLEY_REDIS_PREFIX="$PREFIX" \
    "${messages[@]}" \
    PARLEY_JWT_SECRET="run-cluster-sh-benchmark-secret-$$-0123456789" \
    PARLEY_BCRYPT_COST=4 PARLEY_ACCESS_TTL=2h PARLEY_LOG_LEVEL=warn \
    PARLEY_RATE_MESSAGES_PER_SEC=0 PARLEY_RATE_HISTORY_PER_SEC=0 PARLEY_RATE_GROUPS_PER_MIN=0 \
    PARLEY_RATE_REGISTER_PER_MIN=0 PARLEY_RATE_CONNECTIONS_PER_MIN=0 PARLEY_LOGIN_MAX_FAILURES=0 \
    "$WORK/parleyd" >"$WORK/node$i.log" 2>&1 &
  PIDS+=("$!")
  chat+=("ws://127.0.0.1:$port/ws/chat")
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/ready" >/dev/null || { cat "$WORK/node$i.log"; exit 1; }
done

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
before=(); for pid in "${PIDS[@]}"; do before+=("$(cpu "$pid")"); done
jvm=""
if [ -n "${CASSANDRA:-}" ]; then jvm=$(cat "$WORK/cassandra/cassandra.pid"); jvmBefore=$(cpu "$jvm"); fi
start=$(date +%s.%N)
status=0
"$WORK/parley-bench" "$SCENARIO" --name "$NAME" \
  --server "http://127.0.0.1:${PORTS[0]}" --server-pid "${PIDS[0]}" \
  --chat-url "$(IFS=,; echo "${chat[*]}")" "$@" || status=$?
took=$(echo "$(date +%s.%N) - $start" | bc)
ticks=$(getconf CLK_TCK)
for i in "${!PIDS[@]}"; do
  used=$(( $(cpu "${PIDS[$i]}") - before[i] ))
  echo "node$i (port ${PORTS[$i]}): $(echo "scale=1; 100 * $used / $ticks / $took" | bc) % of one core over ${took%.*} s"
done
if [ -n "$jvm" ]; then
  echo "cassandra: $(echo "scale=1; 100 * ($(cpu "$jvm") - $jvmBefore) / $ticks / $took" | bc) % of one core over ${took%.*} s"
fi
exit "$status"
