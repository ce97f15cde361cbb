#!/bin/sh
# Starts or stops the JVM services of the service suites, one after another (together they take about
# 1.5 GiB; starting them at once on two cores only makes each slower): ZooKeeper, Kafka on it, Kafka
# KRaft, and Elasticsearch / OpenSearch when their scripts exist. `up` runs each script's `ensure`
# (what already answers is left alone); `down` stops, in reverse order (Kafka before ZooKeeper), what
# these scripts started.
# Usage: sh test/services/all.sh up|down
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
SERVICES="zookeeper kafka kafka-kraft elasticsearch opensearch"

present() { [ -f "$HERE/$1.sh" ]; }

case "${1:-}" in
  up)
    for s in $SERVICES; do
      present "$s" || continue
      echo "all.sh: $s: $(sh "$HERE/$s.sh" ensure)" >&2
    done
    ;;
  down)
    status=0
    for s in $(echo "$SERVICES" | tr ' ' '\n' | sed '1!G;h;$!d'); do
      present "$s" || continue
      sh "$HERE/$s.sh" stop || status=1
    done
    exit $status
    ;;
  *) echo "usage: all.sh up|down" >&2; exit 2 ;;
esac
