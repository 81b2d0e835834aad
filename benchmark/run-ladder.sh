#!/usr/bin/env bash
# The ladder, phase by phase, with parley-bench:
# the nine ladder phases one by one, prompting between phases unless
# --auto, resuming from START_PHASE, all merged into one report in
# benchmark/results/NAME/ (report.json, report.html).
#
# Usage: benchmark/run-ladder.sh NAME [START_PHASE] [--auto] [--start-server] [-- PARLEY_BENCH_FLAGS...]
#   NAME          results go to benchmark/results/NAME/
#   START_PHASE   a phase number (1-9) or name (05_stress); default the first
#   --auto        do not prompt between phases
#   --start-server  build and start a fresh parleyd for the run (temporary
#                 data dir, PARLEY_BCRYPT_COST=4, 2h access tokens, logs in
#                 the results dir) and stop it at the end
#   --keep-going  go on after a phase with problems (by default the run stops)
# Environment: SERVER (default http://127.0.0.1:3000; ignored with
# --start-server), SERVER_PID (read the server's CPU and RSS from /proc),
# PORT (for --start-server, default 3900), PAUSE (seconds between phases,
# default 10), SCALE (phase duration multiplier, default 1).
set -euo pipefail

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
NAME="$1"; shift
case "$NAME" in -*|"") usage ;; esac
START="" AUTO=0 START_SERVER=0 KEEP_GOING=0 EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --auto) AUTO=1 ;;
    --start-server) START_SERVER=1 ;;
    --keep-going) KEEP_GOING=1 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) START="$1" ;;
  esac
  shift
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RESULTS="benchmark/results/$NAME"
mkdir -p "$RESULTS"
LOG="$RESULTS/ladder_$(date -u +%Y%m%dT%H%M%SZ).log"
log() { echo "$(date '+%Y-%m-%d %H:%M:%S') $*" | tee -a "$LOG"; }

BIN="$(mktemp -d)"
SERVER_PROC=""
cleanup() {
  if [ -n "$SERVER_PROC" ]; then
    log "stopping parleyd (pid $SERVER_PROC)"
    kill -TERM "$SERVER_PROC" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$SERVER_PROC" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PROC" 2>/dev/null || true
    [ -n "${DATA_DIR:-}" ] && rm -rf "$DATA_DIR"
  fi
  rm -rf "$BIN"
}
trap cleanup EXIT

log "building parley-bench"
go build -o "$BIN/parley-bench" ./cmd/parley-bench

SERVER="${SERVER:-http://127.0.0.1:3000}"
SERVER_PID="${SERVER_PID:-}"
if [ "$START_SERVER" = 1 ]; then
  go build -o "$BIN/parleyd" ./cmd/parleyd
  PORT="${PORT:-3900}"
  DATA_DIR="$(mktemp -d)"
  SERVER="http://127.0.0.1:$PORT"
  PARLEY_HTTP_ADDR="127.0.0.1:$PORT" PARLEY_CHAT_ADDR= PARLEY_PRESENCE_ADDR= PARLEY_METRICS_ADDR= \
    PARLEY_DATA_DIR="$DATA_DIR" PARLEY_BCRYPT_COST=4 PARLEY_ACCESS_TTL=2h PARLEY_LOG_LEVEL=warn \
    PARLEY_RATE_MESSAGES_PER_SEC=0 PARLEY_RATE_HISTORY_PER_SEC=0 PARLEY_RATE_GROUPS_PER_MIN=0 \
    PARLEY_RATE_REGISTER_PER_MIN=0 PARLEY_RATE_CONNECTIONS_PER_MIN=0 PARLEY_LOGIN_MAX_FAILURES=0 \
    "$BIN/parleyd" >>"$RESULTS/server.log" 2>&1 &
  SERVER_PROC=$!
  SERVER_PID=$SERVER_PROC
  log "started parleyd pid $SERVER_PROC on $SERVER (data $DATA_DIR, bcrypt cost 4, log $RESULTS/server.log)"
fi

health() { curl -fsS --max-time 5 "$SERVER/health" >/dev/null 2>&1; }
for _ in $(seq 100); do health && break; sleep 0.2; done
if ! health; then
  log "the server at $SERVER is not answering /health; start it or use --start-server"
  exit 1
fi

PHASES=(01_baseline 02_light 03_medium 04_heavy 05_stress 06_peak 07_extreme 08_overload 09_breaking)
first=0
if [ -n "$START" ]; then
  first=-1
  for i in "${!PHASES[@]}"; do
    p="${PHASES[$i]}"
    if [ "$START" = "$p" ] || [ "$START" = "$((i + 1))" ] || [ "$START" = "0$((i + 1))" ] || [ "$START" = "${p#*_}" ]; then first=$i; fi
  done
  [ "$first" -ge 0 ] || { echo "no phase $START (1-9 or ${PHASES[*]})" >&2; exit 2; }
fi

PID_FLAG=()
[ -n "$SERVER_PID" ] && PID_FLAG=(-server-pid "$SERVER_PID")
log "ladder $NAME against $SERVER, phases ${PHASES[$first]} to ${PHASES[8]}, results in $RESULTS"
DONE=() FAILED=()
for ((i = first; i < ${#PHASES[@]}; i++)); do
  phase="${PHASES[$i]}"
  if [ "$i" -gt "$first" ]; then
    if [ "$AUTO" = 0 ]; then
      read -r -p "Next: $phase. Continue? (y/n) " -n 1 reply || reply=n
      echo
      [[ "$reply" =~ ^[Yy]$ ]] || { log "stopped before $phase"; break; }
    fi
    sleep "${PAUSE:-10}"
  fi
  health || { log "server not healthy before $phase"; FAILED+=("$phase (server down)"); break; }
  log "phase $phase"
  set +e
  "$BIN/parley-bench" ladder -server "$SERVER" "${PID_FLAG[@]}" -name "$NAME" -append \
    -phases "$phase" -scale "${SCALE:-1}" -pause 0 -progress 5s "${EXTRA[@]}" 2>&1 | tee -a "$LOG"
  code=${PIPESTATUS[0]}
  set -e
  case "$code" in
    0) DONE+=("$phase") ;;
    3) FAILED+=("$phase (problems: see the report)")
       [ "$KEEP_GOING" = 1 ] || { log "$phase had problems; stopping (use --keep-going to go on)"; break; } ;;
    *) FAILED+=("$phase (parley-bench exit $code)"); break ;;
  esac
done
log "completed: ${DONE[*]:-none}"
[ ${#FAILED[@]} -eq 0 ] || log "failed: ${FAILED[*]}"
log "report: $RESULTS/report.html"
[ ${#FAILED[@]} -eq 0 ]
