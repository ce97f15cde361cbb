# Shared body of test/services/elasticsearch.sh and test/services/opensearch.sh (sourced, POSIX sh).
# The caller sets: NAME, PORT, TRANSPORT_PORT, MAIN (Java class in this folder), RUNNER_GROUP,
# RUNNER_ARTIFACT, RUNNER_VERSION, LOG4J_VERSION (2.17.2 or later: the runners pin Log4Shell-era or
# older log4j), and LABEL for messages.
#
# One real node in-process (the codelibs runner), loopback only, single-node discovery, heap 512m.
# Jars come from Maven Central once, into .cache/services/$NAME/lib (a generated pom and
# `mvn dependency:copy-dependencies`); the main class is compiled with javac into
# .cache/services/$NAME/classes. Data and logs live under .cache/services/$NAME/node (fresh each start).
#
#   ensure  fetch + start unless something already answers on the port; writes
#           .cache/services/$NAME/started-by-us only when this call started the node, so CI can stop
#           only what it started
#   start   the same as ensure
#   stop    stops the node this script started (by its PID, waits for the exit); nothing otherwise
#   status  prints whether it answers and who started it; exit 0 when it answers
#   fetch   fetches the jars and compiles the main class only
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=$ROOT/.cache/services/$NAME
LIB=$DIR/lib
CLASSES=$DIR/classes
NODE_DIR=$DIR/node
PIDFILE=$DIR/pid
LOGFILE=$DIR/node.log
STARTED=$DIR/started-by-us
SRC=$ROOT/test/services/search/$MAIN.java
READY_SECONDS=${SEARCH_READY_SECONDS:-60} # ~15 s when quiet, 2-3x that under load
HEAP=${SEARCH_HEAP:-512m}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
JAVAC=${JAVA_HOME:+$JAVA_HOME/bin/}javac
URL=http://127.0.0.1:$PORT

say() { echo "$NAME.sh: $*" >&2; }

answers() {
  if command -v curl >/dev/null 2>&1; then
    curl -sf --max-time 2 "$URL/_cluster/health" >/dev/null 2>&1
  else
    node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$URL/_cluster/health"
  fi
}

# Our PID, alive, and still our node (a PID can be reused by another process after a reboot).
our_pid() {
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$MAIN" || return 1
  echo "$pid"
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$(id -u)" -eq 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else return 1; fi
  say "installing Debian packages: $*"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

tools() {
  if ! command -v "$JAVAC" >/dev/null 2>&1; then apt_install openjdk-17-jdk-headless || true; fi
  if ! command -v mvn >/dev/null 2>&1; then apt_install maven || true; fi
  command -v "$JAVAC" >/dev/null 2>&1 || {
    say "javac (JDK 17) is not on PATH. Fix: apt-get install openjdk-17-jdk-headless, or set JAVA_HOME"
    exit 1
  }
}

fetch() {
  stamp="$RUNNER_GROUP:$RUNNER_ARTIFACT:$RUNNER_VERSION log4j:$LOG4J_VERSION"
  if [ ! -f "$LIB/.fetched" ] || [ "$(cat "$LIB/.fetched")" != "$stamp" ]; then
    tools
    command -v mvn >/dev/null 2>&1 || {
      say "mvn is not on PATH. Fix: apt-get install maven"
      exit 1
    }
    say "fetching $RUNNER_GROUP:$RUNNER_ARTIFACT:$RUNNER_VERSION and its dependencies from Maven Central (once)"
    mkdir -p "$DIR"
    rm -rf "$LIB"
    cat >"$DIR/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by test/services/$NAME.sh: only to resolve the runner's jars into lib/. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.gantry.test</groupId>
  <artifactId>$NAME-node</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>$RUNNER_GROUP</groupId>
      <artifactId>$RUNNER_ARTIFACT</artifactId>
      <version>$RUNNER_VERSION</version>
    </dependency>
    <!-- Named explicitly: the runner's own log4j is older than the Log4Shell fixes. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-api</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
    (cd "$DIR" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB" >&2)
    # A second log4j on the class path would defeat the pin: keep only the pinned one.
    for jar in "$LIB"/log4j-api-*.jar "$LIB"/log4j-core-*.jar; do
      case "$jar" in *"-$LOG4J_VERSION.jar") ;; *) rm -f "$jar" ;; esac
    done
    echo "$stamp" >"$LIB/.fetched"
  fi
  if [ ! -f "$CLASSES/$MAIN.class" ] || [ "$SRC" -nt "$CLASSES/$MAIN.class" ]; then
    tools
    mkdir -p "$CLASSES"
    "$JAVAC" -nowarn -cp "$LIB/*" -d "$CLASSES" "$SRC"
  fi
}

start() {
  if answers; then
    if our_pid >/dev/null; then return 0; fi
    say "something already answers on 127.0.0.1:$PORT; using it (not started by this script)"
    return 0
  fi
  if pid=$(our_pid); then
    say "our node (PID $pid) runs but does not answer: replacing it"
    stop_node
  fi
  if command -v ss >/dev/null 2>&1 && ss -ltn 2>/dev/null | grep -q "127.0.0.1:$TRANSPORT_PORT "; then
    say "port $TRANSPORT_PORT (transport) is taken. Fix: free it, or set another port in test/services/$NAME.sh"
    exit 1
  fi
  fetch
  rm -rf "$NODE_DIR"
  mkdir -p "$DIR"
  started_at=$(date +%s)
  # nohup + &: the node outlives this script; its PID is the java process itself.
  nohup "$JAVA" -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseSerialGC -Djava.awt.headless=true \
    -cp "$CLASSES:$LIB/*" "$MAIN" "$NODE_DIR" "$PORT" "$TRANSPORT_PORT" >"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  pid=$(cat "$PIDFILE")
  i=0
  while [ $i -lt "$READY_SECONDS" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "the node exited while starting; the end of $LOGFILE:"
      tail -n 30 "$LOGFILE" >&2
      rm -f "$PIDFILE"
      exit 1
    fi
    if answers && grep -q "gantry: $NAME ready" "$LOGFILE"; then
      touch "$STARTED"
      say "$LABEL ready on $URL in $(($(date +%s) - started_at)) s (PID $pid)"
      return 0
    fi
    sleep 1
    i=$((i + 1))
  done
  say "$LABEL did not answer on $URL within $READY_SECONDS s; the end of $LOGFILE:"
  tail -n 30 "$LOGFILE" >&2
  stop_node
  exit 1
}

stop_node() {
  if pid=$(our_pid); then
    kill "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      say "PID $pid did not exit within 30 s of SIGTERM: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
  fi
  rm -f "$PIDFILE" "$STARTED"
}

status() {
  if answers; then
    if pid=$(our_pid); then
      echo "$NAME: answers on $URL (PID $pid, started by this script$([ -f "$STARTED" ] && echo ', started-by-us'))"
    else
      echo "$NAME: answers on $URL (not started by this script)"
    fi
    return 0
  fi
  echo "$NAME: not answering on $URL"
  return 1
}

case "${1:-ensure}" in
  ensure | start) start ;;
  stop) stop_node ;;
  status) status ;;
  fetch) fetch ;;
  *)
    echo "usage: $NAME.sh ensure|start|stop|status|fetch" >&2
    exit 2
    ;;
esac
