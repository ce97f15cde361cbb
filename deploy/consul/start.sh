#!/bin/sh
# Entrypoint of the consul service: the dev agent, then the KV seed from kv-seed.txt, then the marker
# key `gantry/sandbox/compose/.seeded` the health check reads (healthy = agent up and KV seeded).
set -eu
consul agent -dev -config-file=/deploy/consul/consul.hcl &
agent=$!
trap 'kill -TERM "$agent"; wait "$agent"' TERM INT
until consul members >/dev/null 2>&1; do sleep 1; done
grep -v '^[[:space:]]*#' /deploy/consul/kv-seed.txt | grep -v '^[[:space:]]*$' | while IFS= read -r line; do
  key=${line%%=*}
  value=${line#*=}
  consul kv put "$key" "$value" >/dev/null
done
consul kv put gantry/sandbox/compose/.seeded "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
wait "$agent"
