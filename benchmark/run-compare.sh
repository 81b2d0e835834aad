#!/usr/bin/env bash
# Runs the same scenarios against two parleyd binaries, one after the
# other, each on a fresh server: one-to-one at 10,000, 20,000 and 30,000
# msgs/s, group fan-out at 1,500 msgs/s (100 groups of 100), a ladder at a
# tenth of its length, and 15,000 idle connections (second binary only).
#
#   benchmark/run-compare.sh OLD_PARLEYD NEW_PARLEYD [RESULTS_DIR]
#
# Build the binaries first, e.g. from a worktree of the older commit:
#   git worktree add /tmp/old COMMIT && (cd /tmp/old && go build -o /tmp/parleyd-old ./cmd/parleyd)
#   go build -o /tmp/parleyd-new ./cmd/parleyd
set -u
old=${1:?usage: run-compare.sh OLD_PARLEYD NEW_PARLEYD [RESULTS_DIR]}
new=${2:?usage: run-compare.sh OLD_PARLEYD NEW_PARLEYD [RESULTS_DIR]}
results=${3:-benchmark/results}
cd "$(dirname "$0")/.."
go build -o /tmp/parley-bench-compare ./cmd/parley-bench
bench=/tmp/parley-bench-compare
run() { echo "== $*"; "$bench" "$@" -results "$results" -quiet; }
for rate in 10000 20000 30000; do
  for v in old new; do
    bin=$old; [ "$v" = new ] && bin=$new
    run one-to-one -start-server -server-bin "$bin" -users 1000 -rate "$rate" -duration 20s -warmup 3s -name "o2o-$v-$rate"
  done
done
for v in old new; do
  bin=$old; [ "$v" = new ] && bin=$new
  run group -start-server -server-bin "$bin" -groups 100 -group-size 100 -rate 1500 -duration 20s -warmup 3s -name "group-$v-1500"
done
for v in old new; do
  bin=$old; [ "$v" = new ] && bin=$new
  run ladder -start-server -server-bin "$bin" -scale 0.1 -name "ladder-$v"
done
run connections -start-server -server-bin "$new" -conns 15000 -users 15000 -name conns-new
