#!/usr/bin/env bash
# The local Apache Kafka broker: a single-node KRaft broker (combined
# broker+controller) on loopback, run as a plain Java process from Apache
# Kafka's own jars. Used by the tests, `npm start` and `threatrelay kafka`.
#
#   kafka.sh fetch                       fetch the jars once into the cache
#   kafka.sh start [--dir D] [--port P] [--controller-port C] [--keep-data] [--sasl]
#   kafka.sh run   [same options] [--node-id N] [--listen HOST] [--advertise HOST]
#                  [--voters V] [--roles R] [--internal-rf N]   (foreground, for containers)
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
libs="${KAFKA_LIBS:-$cache/kafka-$KAFKA_VERSION/libs}"

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
sasl=0
node_id=1
listen=127.0.0.1
advertise=""
voters=""
roles=broker,controller
internal_rf=1
cluster_id="${KAFKA_CLUSTER_ID:-}"
parse_opts() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --dir) dir="$2"; shift 2 ;;
      --port) port="$2"; shift 2 ;;
      --controller-port) cport="$2"; shift 2 ;;
      --keep-data) keep=1; shift ;;
      --sasl) sasl=1; shift ;;
      --node-id) node_id="$2"; shift 2 ;;
      --listen) listen="$2"; shift 2 ;;
      --advertise) advertise="$2"; shift 2 ;;
      --voters) voters="$2"; shift 2 ;;
      --roles) roles="$2"; shift 2 ;;
      --internal-rf) internal_rf="$2"; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  case "$roles" in
    broker | broker,controller | controller,broker) ;;
    *) die "--roles must be broker or broker,controller (a controller-only node is not supported)" ;;
  esac
  advertise="${advertise:-$listen}"
  voters="${voters:-$node_id@$advertise:$cport}"
}

# A killed broker may linger as a zombie where nothing reaps orphans; that is not alive.
proc_alive() {
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null | tr -d ' ')"
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}
pid_alive() { [ -f "$dir/broker.pid" ] && proc_alive "$(cat "$dir/broker.pid")"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# With --sasl, the client listener takes SASL/SCRAM only and the standard
# authorizer denies whatever no ACL allows. The operator's super user `admin`
# (password KAFKA_ADMIN_PASSWORD) is created when the data folder is formatted;
# `threatrelay provision` creates every other user and its ACLs. The controller
# listener authenticates too, with SASL/PLAIN as `admin` (KRaft controllers
# cannot use SCRAM, whose credentials live in their own metadata): a client
# that reaches the controller port unauthenticated gets nothing, and cannot
# grant itself ACLs through it.
plain_jaas() {
  printf 'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="%s" user_admin="%s";' "$KAFKA_ADMIN_PASSWORD" "$KAFKA_ADMIN_PASSWORD"
}

scram_jaas() {
  printf 'org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="%s";' "$KAFKA_ADMIN_PASSWORD"
}

write_properties() {
  # The files hold the admin password: readable by the broker's user only, from their first byte.
  umask 077
  local client=PLAINTEXT controller=PLAINTEXT listeners min_isr=1
  [ "$sasl" = 1 ] && client=SASL_PLAINTEXT controller=SASL_PLAINTEXT
  [ "$internal_rf" -gt 1 ] && min_isr=2
  listeners="$client://$listen:$port"
  case ",$roles," in *,controller,*) listeners="$listeners,CONTROLLER://$listen:$cport" ;; esac
  cat >"$dir/server.properties" <<EOF
process.roles=$roles
node.id=$node_id
controller.quorum.voters=$voters
listeners=$listeners
advertised.listeners=$client://$advertise:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=$client
listener.security.protocol.map=$client:$client,CONTROLLER:$controller
log.dirs=$dir/data
num.partitions=3
offsets.topic.replication.factor=$internal_rf
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$internal_rf
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$internal_rf
share.coordinator.state.topic.min.isr=$min_isr
min.insync.replicas=$min_isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
  if [ "$sasl" = 1 ]; then
    cat >>"$dir/server.properties" <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=$(scram_jaas)
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=$(scram_jaas)
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=$(plain_jaas)
super.users=User:admin
EOF
    # For Kafka's own tools (compose's healthcheck): --command-config <dir>/admin.properties
    cat >"$dir/admin.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$(scram_jaas)
EOF
    chmod 600 "$dir/server.properties" "$dir/admin.properties"
  fi
}

# Writes the broker's config and formats its data folder (KRaft) when new.
prepare() {
  if [ "$sasl" = 1 ]; then
    [ -n "${KAFKA_ADMIN_PASSWORD:-}" ] || die "--sasl needs KAFKA_ADMIN_PASSWORD (the password of the super user admin)"
    [[ "$KAFKA_ADMIN_PASSWORD" =~ ^[A-Za-z0-9._~+/=-]{12,}$ ]] ||
      die "KAFKA_ADMIN_PASSWORD must be at least 12 characters of A-Z a-z 0-9 . _ ~ + / = -"
  fi
  mkdir -p "$dir"
  if [ "$keep" = 0 ] || [ ! -f "$dir/data/meta.properties" ]; then
    rm -rf "$dir/data"
    mkdir -p "$dir/data"
  fi
  write_properties
  if [ ! -f "$dir/data/meta.properties" ]; then
    if [ -z "$cluster_id" ]; then
      cluster_id="$(java -Dlog4j2.configurationFile="$here/log4j2.properties" -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    fi
    format_storage
  fi
}

# StorageTool takes the admin's SCRAM credential as an argument, and a process's
# arguments are readable by every user (ps, /proc/PID/cmdline). So the main class
# and its arguments go into a Java @argfile, readable by this user only from its
# first byte and removed when the step ends (or the script dies): the command line
# shows only the file's name.
format_storage() {
  local argfile="$dir/format.args" rc=0
  case "$dir" in *'"'* | *\\*) die "--dir must not contain a double quote or a backslash" ;; esac
  rm -f "$argfile"
  trap 'rm -f "$argfile"' EXIT
  (
    umask 077
    printf '%s\n' kafka.tools.StorageTool format -t "$cluster_id" -c "\"$dir/server.properties\"" >"$argfile"
    # The password's characters (checked in prepare) need no quoting in an argfile.
    [ "$sasl" = 1 ] && printf '%s\n' --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]" >>"$argfile"
    true
  )
  java -Dlog4j2.configurationFile="$here/log4j2.properties" -cp "$libs/*" "@$argfile" >"$dir/format.log" 2>&1 || rc=$?
  rm -f "$argfile"
  trap - EXIT
  [ "$rc" = 0 ] || { cat "$dir/format.log" >&2; die "formatting the KRaft data folder failed"; }
}

# In the foreground, for a container (docker-compose.yml runs it in the apache/kafka
# image with KAFKA_LIBS=/opt/kafka/libs): the broker replaces this shell and gets its signals.
cmd_run() {
  [ -n "${KAFKA_LIBS:-}" ] || cmd_fetch
  prepare
  exec java -Xms256m -Xmx768m -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.properties" -cp "$libs/*" kafka.Kafka "$dir/server.properties"
}

cmd_start() {
  cmd_fetch
  if pid_alive; then
    echo "kafka.sh: a broker already runs from $dir (pid $(cat "$dir/broker.pid"))" >&2
    cat "$dir/bootstrap"
    return 0
  fi
  if port_open "$port"; then die "port $port on 127.0.0.1 is already in use"; fi
  prepare
  # A restart on kept data (--keep-data) appends to the log: what the broker did
  # before it was stopped or killed is what a post-mortem needs.
  if [ "$keep" = 1 ] && [ -f "$dir/broker.log" ]; then
    echo "===== kafka.sh: broker restarted on its data at $(date -u +%Y-%m-%dT%H:%M:%SZ) =====" >>"$dir/broker.log"
  else
    : >"$dir/broker.log"
  fi
  # setsid: the broker outlives this script and ignores the caller's Ctrl-C;
  # `kafka.sh stop` ends it.
  setsid nohup java -Xms256m -Xmx768m -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.properties" \
    -cp "$libs/*" kafka.Kafka "$dir/server.properties" >>"$dir/broker.log" 2>&1 </dev/null &
  echo $! >"$dir/broker.pid"
  echo "$advertise:$port" >"$dir/bootstrap"
  local i mode=PLAINTEXT
  [ "$sasl" = 1 ] && mode="SASL/SCRAM, ACLs enforced"
  for i in $(seq 1 240); do
    if ! pid_alive; then
      tail -n 40 "$dir/broker.log" >&2
      die "the broker exited during start (log: $dir/broker.log)"
    fi
    if port_open "$port"; then
      echo "kafka.sh: Apache Kafka $KAFKA_VERSION (KRaft, $mode) listening on $advertise:$port, pid $(cat "$dir/broker.pid"), log $dir/broker.log" >&2
      echo "$advertise:$port"
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
  run) parse_opts "$@"; cmd_run ;;
  stop) parse_opts "$@"; cmd_stop ;;
  status) parse_opts "$@"; cmd_status ;;
  version) echo "$KAFKA_VERSION" ;;
  *) die "usage: kafka.sh fetch|start|run|stop|status|version [--dir D] [--port P] [--controller-port C] [--keep-data] [--sasl] [--node-id N] [--listen HOST] [--advertise HOST] [--voters V] [--roles R] [--internal-rf N]" ;;
esac
