#!/usr/bin/env bash
# Runs every candidate through the idle, saturated-throughput and paced tests,
# each on a fresh server process, and writes raw/<stamp>.{jsonl,md,log}.
# Bounded: each server exits by itself after -maxlife, each client runs under
# timeout, and every server started here is killed by pid before the next one.
# All traffic goes to 127.0.0.0/8.
set -euo pipefail
cd "$(dirname "$0")"

IMPLS=${IMPLS:-"gorilla gorilla-lean gorilla-lean-inline gws nbio-std nbio gnet-gobwas"}
TESTS=${TESTS:-"idle tput paced"}
N_IDLE=${N_IDLE:-15000}
N_TPUT=${N_TPUT:-1000}
RATE=${RATE:-30000}
HOLD=${HOLD:-10s}
DUR=${DUR:-10s}

mkdir -p raw
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=raw/$stamp.jsonl
cmds=raw/$stamp.log
go build -o wsbench .

port=9001
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

run() { # run IMPL TEST [client flags...]
	local impl=$1 test=$2
	shift 2
	local ctl=127.0.0.1:$((port + 100))
	local scmd="./wsbench -mode server -impl $impl -addr 127.0.0.1:$port -ctl $ctl -maxlife 5m"
	echo "$scmd" >>"$cmds"
	$scmd >>"raw/$stamp-server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do curl -fs -o /dev/null "http://$ctl/stats" && break; sleep 0.1; done
	local ccmd="./wsbench -mode client -test $test -label $impl -pid $server_pid -url ws://127.0.0.1:$port/ws -ctl $ctl $*"
	echo "$ccmd" >>"$cmds"
	echo ">> $impl $test" >&2
	if ! timeout 300 $ccmd >>"$out" 2>>"$cmds"; then
		echo "{\"label\":\"$impl\",\"test\":\"$test\",\"first_err\":\"client failed, see $cmds\"}" >>"$out"
	fi
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
	port=$((port + 1))
	sleep 3 # let the closed connections drain
}

for impl in $IMPLS; do
	for test in $TESTS; do
		case $test in
		idle) run "$impl" idle -n "$N_IDLE" -hold "$HOLD" ;;
		tput) run "$impl" tput -n "$N_TPUT" -window 8 -dur "$DUR" ;;
		paced) run "$impl" paced -n "$N_TPUT" -rate "$RATE" -dur "$DUR" ;;
		esac
	done
done

./wsbench -mode report "$out" | tee "raw/$stamp.md"
echo "raw results: $out, commands: $cmds" >&2
