# Shared by the JVM service scripts (zookeeper.sh, kafka.sh, kafka-kraft.sh); sourced, not run.
# The caller sets NAME (the cache folder under .cache/services/) before sourcing. Provides:
#   fetch_jars "group:artifact:version ..."  resolves the artifacts and their runtime dependencies
#                                           from Maven Central once into $DIR/lib (mvn copy-dependencies)
#   java_bin                                 the java to run (JAVA_HOME, else java on PATH; needs 17+)
#   port_open PORT                           true when something accepts TCP on 127.0.0.1:PORT
#   pid_running                              true when the PID in $PIDFILE is alive
#   wait_ready SECONDS CHECK...              polls CHECK until it passes or the process died / time ran out
#   stop_pid SECONDS                         TERM the PID in $PIDFILE, wait for exit, KILL after SECONDS
#   mark_started / unmark_started            the started-by-us marker for `ensure`
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${GANTRY_SERVICES_CACHE:-$ROOT/.cache/services}
DIR=$CACHE/$NAME
LIB=$DIR/lib
PIDFILE=$DIR/$NAME.pid
LOG=$DIR/$NAME.log
MARKER=$DIR/started-by-us

say() { echo "$NAME.sh: $*" >&2; }

java_bin() {
  if [ -n "$JAVA_HOME" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; return 0; fi
  if command -v java >/dev/null 2>&1; then command -v java; return 0; fi
  say "no java found. Fix: install a JDK 17 (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
  return 1
}

# $1: space-separated group:artifact:version coordinates. The list is written into lib/.coordinates;
# a lib folder made from another list (a version bump) is fetched again.
fetch_jars() {
  want=$1
  if [ -f "$LIB/.coordinates" ] && [ "$(cat "$LIB/.coordinates")" = "$want" ]; then return 0; fi
  command -v mvn >/dev/null 2>&1 || { say "mvn is not installed. Fix: apt-get install maven (it fetches the jars from Maven Central once)"; return 1; }
  say "fetching $want and their dependencies from Maven Central into ${LIB#"$ROOT"/}"
  mkdir -p "$DIR"
  pom=$DIR/pom.xml
  {
    echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
    echo "<groupId>gantry.services</groupId><artifactId>$NAME</artifactId><version>0</version><packaging>pom</packaging>"
    echo '<dependencies>'
    for c in $want; do
      g=${c%%:*}; rest=${c#*:}; a=${rest%%:*}; v=${rest#*:}
      echo "<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
    done
    echo '</dependencies></project>'
  } >"$pom"
  rm -rf "$LIB.tmp"
  # runtime scope: compile + runtime dependencies, not test/provided ones (named explicitly above when needed).
  # GANTRY_MAVEN_REPO: a Maven local repository other than ~/.m2/repository (a cold-cache measurement, CI caches).
  if ! mvn -q -B ${GANTRY_MAVEN_REPO:+-Dmaven.repo.local="$GANTRY_MAVEN_REPO"} -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" >"$DIR/mvn.log" 2>&1; then
    say "mvn could not fetch the jars; its log (${DIR#"$ROOT"/}/mvn.log):"
    tail -30 "$DIR/mvn.log" >&2
    return 1
  fi
  echo "$want" >"$LIB.tmp/.coordinates"
  rm -rf "$LIB"
  mv "$LIB.tmp" "$LIB"
}

port_open() {
  node -e '
    const s = require("net").connect({ host: "127.0.0.1", port: Number(process.argv[1]) });
    s.setTimeout(1000, () => process.exit(1));
    s.on("connect", () => process.exit(0));
    s.on("error", () => process.exit(1));
  ' "$1"
}

# Alive and not a zombie (a container's PID 1 may never reap the JVM we detached).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

pid_running() {
  [ -f "$PIDFILE" ] && alive "$(cat "$PIDFILE")"
}

# Milliseconds since the epoch (GNU date; whole seconds elsewhere).
now_ms() {
  ms=$(date +%s%3N 2>/dev/null)
  case $ms in *N) echo $(($(date +%s) * 1000)) ;; *) echo "$ms" ;; esac
}

# $1: seconds; the rest: a command that succeeds when the service is ready.
wait_ready() {
  limit=$1
  shift
  start=$(now_ms)
  while :; do
    if ! pid_running; then
      say "the process exited during start; the end of its log (${LOG#"$ROOT"/}):"
      tail -40 "$LOG" >&2
      rm -f "$PIDFILE"
      return 1
    fi
    if "$@"; then
      say "ready after $(($(now_ms) - start)) ms"
      return 0
    fi
    if [ $(($(now_ms) - start)) -ge $((limit * 1000)) ]; then
      say "not ready within ${limit} s; the end of its log (${LOG#"$ROOT"/}):"
      tail -40 "$LOG" >&2
      stop_pid 20
      return 1
    fi
    sleep 0.3
  done
}

# $1: seconds to wait after TERM before KILL.
stop_pid() {
  [ -f "$PIDFILE" ] || return 0
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    i=0
    while alive "$pid" && [ $i -lt $(($1 * 5)) ]; do sleep 0.2; i=$((i + 1)); done
    if alive "$pid"; then
      say "PID $pid did not exit within $1 s of TERM; killing it"
      kill -9 "$pid" 2>/dev/null || true
      i=0
      while alive "$pid" && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    fi
  fi
  rm -f "$PIDFILE"
}

mark_started() { date -u +%Y-%m-%dT%H:%M:%SZ >"$MARKER"; }
unmark_started() { rm -f "$MARKER"; }

# Resident memory of the service in MiB (status output).
rss_mib() {
  pid_running || return 0
  awk '/VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$(cat "$PIDFILE")/status" 2>/dev/null || true
}

# The commands of a broker script (kafka.sh, kafka-kraft.sh), which defines `start fresh|keep` and PORT.
broker_command() {
  case "${1:-ensure}" in
    ensure)
      # The jars first, even when a broker already answers: the tests run Kafka's console tools from them.
      fetch_jars "$JARS"
      if port_open "$PORT"; then echo running; exit 0; fi
      start fresh
      mark_started
      echo started
      ;;
    start)
      if [ "${2:-}" = --keep-data ]; then start keep; else start fresh; fi
      echo started
      ;;
    stop)
      stop_pid 40
      # `stop --keep-data` is the first half of an outage (a test restarts it with `start --keep-data`):
      # whoever started it still owns it, so the started-by-us marker stays.
      [ "${2:-}" = --keep-data ] || unmark_started
      ;;
    fetch)
      # Only the jars (Kafka's console tools for tests against a broker started elsewhere, e.g. a CI service container).
      fetch_jars "$JARS"
      echo fetched
      ;;
    status)
      if pid_running && port_open "$PORT"; then echo "running $(cat "$PIDFILE") $(rss_mib)"; exit 0; fi
      if port_open "$PORT"; then echo "running (not ours)"; exit 0; fi
      echo stopped
      exit 1
      ;;
    *) echo "usage: $NAME.sh ensure|start|stop|status|fetch [--keep-data]" >&2; exit 2 ;;
  esac
}
