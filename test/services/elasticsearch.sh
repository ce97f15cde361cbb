#!/bin/sh
# Elasticsearch 7.10.2 for the *.search.test suites (plugins/elk-logger): one real node from Maven Central
# (org.codelibs:elasticsearch-cluster-runner; no 8.x runner is published), HTTP on 127.0.0.1:9200,
# transport on 127.0.0.1:9300. Usage: sh test/services/elasticsearch.sh ensure|start|stop|status|fetch
# (see test/services/search/node.sh). Jars, data and logs: .cache/services/elasticsearch/.
NAME=elasticsearch
LABEL="Elasticsearch 7.10.2"
PORT=9200
TRANSPORT_PORT=9300
MAIN=GantryEsNode
RUNNER_GROUP=org.codelibs
RUNNER_ARTIFACT=elasticsearch-cluster-runner
RUNNER_VERSION=7.10.2.0
LOG4J_VERSION=2.17.2 # the runner brings log4j 2.11 (Log4Shell): pinned here
. "$(dirname "$0")/search/node.sh"
