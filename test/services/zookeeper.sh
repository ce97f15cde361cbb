#!/bin/sh
# ZooKeeper for Kafka in ZooKeeper mode (test/services/kafka.sh): one standalone server on loopback,
# with a fresh data folder each start. Jars come from Maven Central once (mvn) into
# .cache/services/zookeeper/lib; data, config, log and PID live beside them.
#
# Usage: sh test/services/zookeeper.sh ensure|start|stop|status
#   ensure  starts it unless it already answers; prints "started" (and writes
#           .cache/services/zookeeper/started-by-us) or "running" on stdout
#   start   (re)starts it with an empty data folder; prints "started"
#   stop    stops the server this script started (by its PID; waits for the exit). Stop Kafka first.
#   status  prints "running <pid> <rss MiB>", "running (not ours)" or "stopped"; exit 0 only when it answers
# ZOOKEEPER_PORT (default 2181), ZOOKEEPER_VERSION (default 3.8.4), ZOOKEEPER_READY_SECONDS (default 20),
# ZOOKEEPER_HEAP_OPTS (default -Xms32m -Xmx128m), JAVA_HOME.
set -e
NAME=zookeeper
. "$(dirname "$0")/jvm-common.sh"
PORT=${ZOOKEEPER_PORT:-2181}
VERSION=${ZOOKEEPER_VERSION:-3.8.4}
READY_SECONDS=${ZOOKEEPER_READY_SECONDS:-20}
HEAP=${ZOOKEEPER_HEAP_OPTS:--Xms32m -Xmx128m}
# The server pom marks these `provided`; without metrics-core the server dies at start.
JARS="org.apache.zookeeper:zookeeper:$VERSION io.dropwizard.metrics:metrics-core:4.1.12.1 org.xerial.snappy:snappy-java:1.1.10.5 commons-cli:commons-cli:1.5.0"

# "imok" to the four-letter word ruok (whitelisted below).
answers() {
  node -e '
    const s = require("net").connect({ host: "127.0.0.1", port: Number(process.argv[1]) }, () => s.end("ruok"));
    let got = "";
    s.setTimeout(1500, () => process.exit(1));
    s.on("data", (d) => { got += d; });
    s.on("end", () => process.exit(got === "imok" ? 0 : 1));
    s.on("error", () => process.exit(1));
  ' "$PORT"
}

start() {
  stop_pid 20
  if port_open "$PORT"; then
    say "something else listens on 127.0.0.1:$PORT. Fix: stop it, or pick another port with ZOOKEEPER_PORT"
    exit 1
  fi
  fetch_jars "$JARS"
  java=$(java_bin)
  rm -rf "$DIR/data"
  mkdir -p "$DIR/data"
  cat >"$DIR/zoo.cfg" <<CFG
# Written by test/services/zookeeper.sh at each start.
tickTime=2000
dataDir=$DIR/data
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat
CFG
  cat >"$DIR/logback.xml" <<'XML'
<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{ISO8601} %-5level [%thread] %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="OUT"/></root>
</configuration>
XML
  # shellcheck disable=SC2086 # HEAP is a list of JVM options
  nohup "$java" $HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlogback.configurationFile="$DIR/logback.xml" -Dzookeeper.jmx.log4j.disable=true \
    -cp "$LIB/*" org.apache.zookeeper.server.ZooKeeperServerMain "$DIR/zoo.cfg" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_ready "$READY_SECONDS" answers
}

case "${1:-ensure}" in
  ensure)
    if answers; then echo running; exit 0; fi
    start
    mark_started
    echo started
    ;;
  start)
    start
    echo started
    ;;
  stop)
    stop_pid 20
    unmark_started
    ;;
  status)
    if pid_running && answers; then echo "running $(cat "$PIDFILE") $(rss_mib)"; exit 0; fi
    if answers; then echo "running (not ours)"; exit 0; fi
    echo stopped
    exit 1
    ;;
  *) echo "usage: zookeeper.sh ensure|start|stop|status" >&2; exit 2 ;;
esac
