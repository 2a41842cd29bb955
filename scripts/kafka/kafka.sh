#!/usr/bin/env bash
# The local Apache Kafka broker: a single-node KRaft broker (combined
# broker+controller) on loopback, run as a plain Java process from Apache
# Kafka's own jars. Used by the tests, `npm start` and `threatrelay kafka`.
#
#   kafka.sh fetch                       fetch the jars once into the cache
#   kafka.sh start [--dir D] [--port P] [--controller-port C] [--keep-data]
#   kafka.sh stop  [--dir D]
#   kafka.sh status [--dir D]
#
# The jars come from Maven Central through scripts/kafka/pom.xml; without
# Maven, from the Apache binary release, checked against its published SHA-512.
# The cache (THREATRELAY_CACHE, default <repo>/.cache) is ignored by git.
set -euo pipefail

KAFKA_VERSION=4.4.0
SCALA_VERSION=2.13
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${THREATRELAY_CACHE:-$repo/.cache}"
libs="$cache/kafka-$KAFKA_VERSION/libs"

die() { echo "kafka.sh: $*" >&2; exit 1; }

fetch_with_maven() {
  local tmp="$libs.partial"
  rm -rf "$tmp"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$tmp" -DincludeScope=runtime >&2
  mv "$tmp" "$libs"
}

fetch_release_tarball() {
  command -v curl >/dev/null || die "neither mvn nor curl is installed: cannot fetch Apache Kafka"
  local name="kafka_${SCALA_VERSION}-${KAFKA_VERSION}"
  local base="https://archive.apache.org/dist/kafka/${KAFKA_VERSION}"
  local tmp
  tmp="$(mktemp -d)"
  curl -fsSL -o "$tmp/$name.tgz" "$base/$name.tgz"
  curl -fsSL -o "$tmp/$name.tgz.sha512" "$base/$name.tgz.sha512"
  # Apache publishes the digest as "file: HEX HEX ..." over several lines.
  local want got
  want="$(sed -e 's/^[^:]*://' "$tmp/$name.tgz.sha512" | tr -d ' \n\r' | tr 'A-F' 'a-f')"
  got="$(sha512sum "$tmp/$name.tgz" | cut -d' ' -f1)"
  [ "$want" = "$got" ] || die "checksum mismatch for $name.tgz (want $want, got $got)"
  tar -xzf "$tmp/$name.tgz" -C "$tmp"
  mkdir -p "$(dirname "$libs")"
  mv "$tmp/$name/libs" "$libs"
  rm -rf "$tmp"
}

cmd_fetch() {
  if [ -f "$libs/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" ]; then
    return 0
  fi
  command -v java >/dev/null || die "Java 17 or newer is required to run the local broker"
  mkdir -p "$(dirname "$libs")"
  echo "kafka.sh: fetching Apache Kafka $KAFKA_VERSION jars into $libs" >&2
  if command -v mvn >/dev/null; then
    fetch_with_maven
  else
    fetch_release_tarball
  fi
}

dir="$cache/broker"
port=9092
cport=9093
keep=0
parse_opts() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --dir) dir="$2"; shift 2 ;;
      --port) port="$2"; shift 2 ;;
      --controller-port) cport="$2"; shift 2 ;;
      --keep-data) keep=1; shift ;;
      *) die "unknown option $1" ;;
    esac
  done
}

# A killed broker may linger as a zombie where nothing reaps orphans; that is not alive.
proc_alive() {
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null | tr -d ' ')"
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}
pid_alive() { [ -f "$dir/broker.pid" ] && proc_alive "$(cat "$dir/broker.pid")"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd_start() {
  cmd_fetch
  if pid_alive; then
    echo "kafka.sh: a broker already runs from $dir (pid $(cat "$dir/broker.pid"))" >&2
    cat "$dir/bootstrap"
    return 0
  fi
  if port_open "$port"; then die "port $port on 127.0.0.1 is already in use"; fi
  mkdir -p "$dir"
  if [ "$keep" = 0 ] || [ ! -f "$dir/data/meta.properties" ]; then
    rm -rf "$dir/data"
    mkdir -p "$dir/data"
  fi
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
  local cp="$libs/*"
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id="$(java -Dlog4j2.configurationFile="$here/log4j2.properties" -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    java -Dlog4j2.configurationFile="$here/log4j2.properties" -cp "$cp" kafka.tools.StorageTool \
      format -t "$cluster_id" -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
      { cat "$dir/format.log" >&2; die "formatting the KRaft data folder failed"; }
  fi
  # setsid: the broker outlives this script and ignores the caller's Ctrl-C;
  # `kafka.sh stop` ends it.
  setsid nohup java -Xms256m -Xmx768m -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.properties" \
    -cp "$cp" kafka.Kafka "$dir/server.properties" >"$dir/broker.log" 2>&1 </dev/null &
  echo $! >"$dir/broker.pid"
  echo "127.0.0.1:$port" >"$dir/bootstrap"
  local i
  for i in $(seq 1 240); do
    if ! pid_alive; then
      tail -n 40 "$dir/broker.log" >&2
      die "the broker exited during start (log: $dir/broker.log)"
    fi
    if port_open "$port"; then
      echo "kafka.sh: Apache Kafka $KAFKA_VERSION (KRaft) listening on 127.0.0.1:$port, pid $(cat "$dir/broker.pid"), log $dir/broker.log" >&2
      echo "127.0.0.1:$port"
      return 0
    fi
    sleep 0.25
  done
  cmd_stop
  die "the broker did not open 127.0.0.1:$port within 60 s (log: $dir/broker.log)"
}

cmd_stop() {
  if ! pid_alive; then
    rm -f "$dir/broker.pid"
    return 0
  fi
  local pid i
  pid="$(cat "$dir/broker.pid")"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 120); do
    proc_alive "$pid" || { rm -f "$dir/broker.pid"; return 0; }
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/broker.pid"
}

cmd_status() {
  if pid_alive; then
    echo "running: pid $(cat "$dir/broker.pid"), bootstrap $(cat "$dir/bootstrap"), Apache Kafka $KAFKA_VERSION"
  else
    echo "stopped"
    return 1
  fi
}

sub="${1:-}"
[ $# -gt 0 ] && shift
case "$sub" in
  fetch) cmd_fetch; echo "$libs" ;;
  start) parse_opts "$@"; cmd_start ;;
  stop) parse_opts "$@"; cmd_stop ;;
  status) parse_opts "$@"; cmd_status ;;
  version) echo "$KAFKA_VERSION" ;;
  *) die "usage: kafka.sh fetch|start|stop|status|version [--dir D] [--port P] [--controller-port C] [--keep-data]" ;;
esac
