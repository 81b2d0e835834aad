#!/usr/bin/env bash
# Starts and stops an Apache Cassandra 5.0 node for Parley's tests and for
# local clusters, with Cassandra's jars resolved from Maven Central by the
# pom.xml beside this script.
#
#   cassandra.sh start DATA_DIR [ADDRESS] [PORT]   (defaults 127.0.0.1 9042)
#   cassandra.sh stop  DATA_DIR
#   cassandra.sh status DATA_DIR
#
# start returns once the node answers CQL on ADDRESS:PORT, and at once when
# the node of DATA_DIR already runs. Several nodes run side by side on
# distinct addresses (127.0.0.2, 127.0.0.3, ...) with distinct DATA_DIRs; they
# form one cluster when started with the same PARLEY_CASSANDRA_SEEDS (default:
# the node's own address, a cluster of one). Start them one after the other.
#
# Environment:
#   PARLEY_CASSANDRA_CACHE   where the classpath is kept between runs
#                            (default ~/.cache/parley-cassandra)
#   PARLEY_CASSANDRA_SEEDS   comma-separated seed addresses
#   PARLEY_CASSANDRA_STORAGE_PORT
#                            the port nodes talk to each other on (default
#                            7000); another one lets a second node run on the
#                            same address as the first
#   PARLEY_CASSANDRA_HEAP    heap size (default 1G)
#   PARLEY_CASSANDRA_WAIT    seconds to wait for CQL (default 240)
#   JAVA_HOME                a Java 17 (default: the system's Java 17)
#
# JMX is off (no JMX port is opened), so nodes never collide on it; the
# storage port is 7000 (PARLEY_CASSANDRA_STORAGE_PORT) on each node's own
# address, so two nodes on one address need distinct storage ports as well
# as distinct CQL ports.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' "$here/pom.xml")"
cache="${PARLEY_CASSANDRA_CACHE:-${HOME:-/root}/.cache/parley-cassandra}"
lib="$cache/$version/lib"

die() { echo "cassandra.sh: $*" >&2; exit 1; }

usage() { die "usage: cassandra.sh start DATA_DIR [ADDRESS] [PORT] | stop DATA_DIR | status DATA_DIR"; }

# java17 prints the path of a Java 17 binary.
java17() {
  local c
  for c in "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/java-17-openjdk-amd64/bin/java \
    /usr/lib/jvm/java-17-openjdk-arm64/bin/java /usr/lib/jvm/java-17-openjdk/bin/java "$(command -v java || true)"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    if "$c" -version 2>&1 | grep -qE 'version "17[."]'; then echo "$c"; return; fi
  done
  die "no Java 17 found (set JAVA_HOME)"
}

# classpath resolves Cassandra's jars once per machine; concurrent first runs
# each resolve into their own directory and the first to finish wins.
classpath() {
  if [ ! -f "$lib/.complete" ]; then
    command -v mvn >/dev/null || die "mvn is needed to resolve Cassandra's jars"
    mkdir -p "$cache/$version"
    local tmp
    tmp="$(mktemp -d "$cache/$version/lib.XXXXXX")"
    echo "cassandra.sh: resolving cassandra-all $version and its dependencies into $lib" >&2
    if ! (cd "$here" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp") >"$tmp.log" 2>&1; then
      cat "$tmp.log" >&2
      rm -rf "$tmp" "$tmp.log"
      die "mvn dependency:copy-dependencies failed"
    fi
    rm -f "$tmp.log"
    touch "$tmp/.complete"
    mv -T "$tmp" "$lib" 2>/dev/null || rm -rf "$tmp"
    [ -f "$lib/.complete" ] || die "resolving the classpath into $lib failed"
  fi
  local jars=("$lib"/*.jar)
  local IFS=:
  echo "${jars[*]}"
}

# running prints the PID of DATA_DIR's node and succeeds when it runs.
running() {
  local pidfile="$1/cassandra.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q CassandraDaemon || return 1
  echo "$pid"
}

# cql_ready succeeds when ADDRESS:PORT answers a CQL OPTIONS request with a
# response frame (its first byte has the response bit, 0x80, set).
cql_ready() {
  local addr="$1" port="$2" first
  first="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x04\x00\x00\x00\x05\x00\x00\x00\x00" >&3
    head -c 1 <&3 | od -An -tx1' "$addr" "$port" 2>/dev/null | tr -d ' \n')" || return 1
  case "$first" in 8?) return 0 ;; *) return 1 ;; esac
}

wait_ready() {
  local dir="$1" addr="$2" port="$3" deadline
  deadline=$(( $(date +%s) + ${PARLEY_CASSANDRA_WAIT:-240} ))
  until cql_ready "$addr" "$port"; do
    if ! running "$dir" >/dev/null; then
      tail -n 40 "$dir/logs/system.log" "$dir/logs/stdout.log" >&2 2>/dev/null || true
      die "the node of $dir exited before answering CQL on $addr:$port"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "no CQL on $addr:$port after ${PARLEY_CASSANDRA_WAIT:-240}s; see $dir/logs"
    sleep 1
  done
}

start() {
  local dir="$1" addr="${2:-127.0.0.1}" port="${3:-9042}"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if running "$dir" >/dev/null; then
    wait_ready "$dir" "$addr" "$port"
    return
  fi
  local java cp
  java="$(java17)"
  cp="$(classpath)"
  mkdir -p "$dir/conf" "$dir/logs" "$dir/data" "$dir/commitlog" "$dir/saved_caches" "$dir/hints" "$dir/cdc_raw" "$dir/triggers"
  # A node alone is its own seed, named with its storage port, so that a
  # node on another storage port never takes a node on 7000 for its seed.
  local sport="${PARLEY_CASSANDRA_STORAGE_PORT:-7000}"
  local seeds="${PARLEY_CASSANDRA_SEEDS:-$addr:$sport}"
  sed -e "s|@ADDRESS@|$addr|g" -e "s|@PORT@|$port|g" -e "s|@DATA_DIR@|$dir|g" \
    -e "s|@STORAGE_PORT@|$sport|g" \
    -e "s|@SEEDS@|$seeds|g" "$here/cassandra.yaml" >"$dir/conf/cassandra.yaml"
  cp "$here/logback.xml" "$dir/conf/logback.xml"

  local heap="${PARLEY_CASSANDRA_HEAP:-1G}" ring_delay=0
  # A seed starts with no wait for a ring; a node joining one must hear from
  # a seed within the ring delay before it bootstraps.
  case ",$seeds," in *",$addr,"* | *",$addr:$sport,"*) ;; *) ring_delay=10000 ;; esac
  local opts=(
    -ea -Xss256k -Xms"$heap" -Xmx"$heap"
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m
    -XX:MaxGCPauseMillis=300 -XX:+UseThreadPriorities -XX:+PerfDisableSharedMem
    -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath="$dir/logs" -XX:+ExitOnOutOfMemoryError
    -Djdk.attach.allowAttachSelf=true
    # The module exports and opens that Cassandra 5.0 lists for Java 17.
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
    # jamm measures object sizes for memtable accounting.
    -javaagent:"$(ls "$lib"/jamm-*.jar | head -1)"
    -Dcassandra.config="file://$dir/conf/cassandra.yaml"
    -Dcassandra.storagedir="$dir"
    -Dcassandra.logdir="$dir/logs"
    -Dcassandra.triggers_dir="$dir/triggers"
    -Dlogback.configurationFile="file://$dir/conf/logback.xml"
    -Dcassandra-foreground=yes
    # A test node: no waiting for gossip or a ring to settle.
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms="${PARLEY_CASSANDRA_RING_DELAY_MS:-$ring_delay}"
    -Dcassandra.superuser_setup_delay_ms=0
    -Dcassandra.join_ring=true
  )
  cd "$dir"
  nohup "$java" "${opts[@]}" -cp "$dir/conf:$cp" org.apache.cassandra.service.CassandraDaemon \
    >"$dir/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/cassandra.pid"
  wait_ready "$dir" "$addr" "$port"
}

stop() {
  local dir="$1" pid i
  pid="$(running "$dir")" || { rm -f "$dir/cassandra.pid"; return 0; }
  kill -TERM "$pid"
  for i in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$dir/cassandra.pid"; return 0; }
    sleep 0.5
  done
  echo "cassandra.sh: node $pid did not stop in 60s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  rm -f "$dir/cassandra.pid"
}

[ $# -ge 2 ] || usage
case "$1" in
  start) shift; start "$@" ;;
  stop) stop "$2" ;;
  status) if pid="$(running "$2")"; then echo "running, pid $pid"; else echo "stopped"; exit 1; fi ;;
  *) usage ;;
esac
