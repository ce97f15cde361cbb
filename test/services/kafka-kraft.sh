#!/bin/sh
# Apache Kafka 4.4.0 in KRaft mode for the *.kraft.test suites: one node that is broker and controller,
# on 127.0.0.1, no ZooKeeper. Each start formats an empty data folder with a new cluster id, so runs are
# independent. Jars come from Maven Central once (mvn) into .cache/services/kafka-kraft/lib; config,
# data, log and PID live beside them.
#
# Usage: sh test/services/kafka-kraft.sh ensure|start|stop|status [--keep-data]
#   ensure  starts the node unless it already answers; prints "started" (and writes
#           .cache/services/kafka-kraft/started-by-us) or "running" on stdout
#   start   (re)starts it fresh; `start --keep-data` restarts it on the data of the last start
#   stop    stops the node this script started (by its PID; waits for the exit); `stop --keep-data`
#           is an outage: the started-by-us marker stays for the restart
#   status  prints "running <pid> <rss MiB>", "running (not ours)" or "stopped"; exit 0 only when it answers
# KAFKA_KRAFT_PORT (default 9094), KAFKA_KRAFT_CONTROLLER_PORT (default 9095), KAFKA_KRAFT_READY_SECONDS
# (default 60), KAFKA_KRAFT_HEAP_OPTS (default -Xms128m -Xmx512m), JAVA_HOME (Java 17 or newer).
set -e
NAME=kafka-kraft
. "$(dirname "$0")/jvm-common.sh"
PORT=${KAFKA_KRAFT_PORT:-9094}
CONTROLLER_PORT=${KAFKA_KRAFT_CONTROLLER_PORT:-9095}
VERSION=4.4.0
READY_SECONDS=${KAFKA_KRAFT_READY_SECONDS:-60}
HEAP=${KAFKA_KRAFT_HEAP_OPTS:--Xms128m -Xmx512m}
# Kafka 4 logs through log4j 2 and needs an slf4j 2 binding named explicitly.
JARS="org.apache.kafka:kafka_2.13:$VERSION org.apache.kafka:kafka-tools:$VERSION org.slf4j:slf4j-api:2.0.17 org.apache.logging.log4j:log4j-api:2.25.5 org.apache.logging.log4j:log4j-core:2.25.5 org.apache.logging.log4j:log4j-slf4j2-impl:2.25.5"

started_line() {
  port_open "$PORT" && grep -q 'Kafka Server started' "$LOG" 2>/dev/null
}

start() {
  keep=$1
  stop_pid 40
  for p in "$PORT" "$CONTROLLER_PORT"; do
    if port_open "$p"; then
      say "something else listens on 127.0.0.1:$p. Fix: stop it, or pick other ports with KAFKA_KRAFT_PORT / KAFKA_KRAFT_CONTROLLER_PORT"
      exit 1
    fi
  done
  fetch_jars "$JARS"
  java=$(java_bin)
  cat >"$DIR/log4j2.properties" <<'CFG'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
CFG
  jvm="-Djava.awt.headless=true -Dlog4j2.configurationFile=$DIR/log4j2.properties -Dkafka.logs.dir=$DIR"
  if [ "$keep" = keep ] && [ -f "$DIR/server.properties" ] && [ -f "$DIR/data/meta.properties" ]; then
    say "restarting on the data of the last start"
  else
    rm -rf "$DIR/data"
    mkdir -p "$DIR/data"
    cat >"$DIR/server.properties" <<CFG
# Written by test/services/kafka-kraft.sh at each fresh start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DIR/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=16777216
CFG
    # A cluster id is 16 random bytes in URL-safe base64 without padding (what `random-uuid` prints).
    # Like Kafka's Uuid.randomUuid, never one starting with "-": the storage tool would read it as an
    # option and refuse the format (one start in 32 failed that way).
    cluster=$(node -e 'const c=require("crypto");let id;do id=c.randomBytes(16).toString("base64url");while(id[0]==="-");process.stdout.write(id)')
    # shellcheck disable=SC2086 # jvm is a list of JVM options
    if ! "$java" -Xmx256m -XX:TieredStopAtLevel=1 $jvm -cp "$LIB/*" kafka.tools.StorageTool format \
      -t "$cluster" -c "$DIR/server.properties" >"$DIR/format.log" 2>&1; then
      say "formatting the data folder failed:"
      cat "$DIR/format.log" >&2
      exit 1
    fi
  fi
  # shellcheck disable=SC2086 # HEAP and jvm are lists of JVM options
  nohup "$java" $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1 $jvm \
    -cp "$LIB/*" kafka.Kafka "$DIR/server.properties" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_ready "$READY_SECONDS" started_line
}

broker_command "$@"
