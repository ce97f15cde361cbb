#!/bin/sh
# Apache Kafka 3.9.1 in ZooKeeper mode (the last line that has it) for the *.kafka.test suites: one
# broker on 127.0.0.1, on the ZooKeeper of test/services/zookeeper.sh. Each start uses a fresh
# ZooKeeper chroot and an empty log folder, so runs are independent. Jars come from Maven Central once
# (mvn) into .cache/services/kafka/lib; config, data, log and PID live beside them.
#
# Usage: sh test/services/kafka.sh ensure|start|stop|status [--keep-data]
#   ensure  starts the broker unless it already answers; prints "started" (and writes
#           .cache/services/kafka/started-by-us) or "running" on stdout. ZooKeeper must answer.
#   start   (re)starts it fresh; `start --keep-data` restarts it on the chroot and data of the last
#           start instead (a broker outage in a test: topics, offsets and groups survive)
#   stop    stops the broker this script started (by its PID; waits for the controlled shutdown);
#           `stop --keep-data` is an outage: the started-by-us marker stays for the restart.
#           Stop Kafka before ZooKeeper, or the broker waits for it.
#   status  prints "running <pid> <rss MiB>", "running (not ours)" or "stopped"; exit 0 only when it answers
# KAFKA_PORT (default 9092), ZOOKEEPER_PORT (default 2181), KAFKA_READY_SECONDS (default 45),
# KAFKA_HEAP_OPTS (default -Xms128m -Xmx512m), JAVA_HOME.
set -e
NAME=kafka
. "$(dirname "$0")/jvm-common.sh"
PORT=${KAFKA_PORT:-9092}
ZK_PORT=${ZOOKEEPER_PORT:-2181}
VERSION=3.9.1
READY_SECONDS=${KAFKA_READY_SECONDS:-45}
HEAP=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
JARS="org.apache.kafka:kafka_2.13:$VERSION org.apache.kafka:kafka-tools:$VERSION ch.qos.reload4j:reload4j:1.2.25 org.slf4j:slf4j-reload4j:1.7.36"

# The broker logs this line once it serves requests.
started_line() {
  port_open "$PORT" && grep -q 'started (kafka.server.KafkaServer)' "$LOG" 2>/dev/null
}

start() {
  keep=$1
  stop_pid 40
  if port_open "$PORT"; then
    say "something else listens on 127.0.0.1:$PORT. Fix: stop it, or pick another port with KAFKA_PORT"
    exit 1
  fi
  if ! port_open "$ZK_PORT"; then
    say "ZooKeeper does not answer on 127.0.0.1:$ZK_PORT. Fix: sh test/services/zookeeper.sh ensure"
    exit 1
  fi
  fetch_jars "$JARS"
  java=$(java_bin)
  if [ "$keep" = keep ] && [ -f "$DIR/server.properties" ] && [ -d "$DIR/data" ]; then
    say "restarting on the data of the last start"
  else
    rm -rf "$DIR/data"
    mkdir -p "$DIR/data"
    chroot=/gantry-kafka-$(date +%s)-$$
    cat >"$DIR/server.properties" <<CFG
# Written by test/services/kafka.sh at each fresh start.
broker.id=0
listeners=PLAINTEXT://127.0.0.1:$PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
log.dirs=$DIR/data
zookeeper.connect=127.0.0.1:$ZK_PORT$chroot
zookeeper.connection.timeout.ms=18000
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=16777216
CFG
  fi
  cat >"$DIR/log4j.properties" <<'CFG'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.zookeeper=WARN
CFG
  # shellcheck disable=SC2086 # HEAP is a list of JVM options
  nohup "$java" $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$DIR/log4j.properties" -Dkafka.logs.dir="$DIR" \
    -cp "$LIB/*" kafka.Kafka "$DIR/server.properties" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_ready "$READY_SECONDS" started_line
}

broker_command "$@"
