# Consul dev agent of the Gantry stack (docker-compose.yml, service consul): one in-memory server,
# UI on :8500 (published on 127.0.0.1 only). Dev mode keeps nothing across restarts: start.sh seeds
# the KV store from kv-seed.txt at every start. Not for production (no ACLs, no TLS, no persistence).
datacenter = "dc1"
client_addr = "0.0.0.0"
bind_addr = "0.0.0.0"
log_level = "INFO"
ui_config {
  enabled = true
}
ports {
  dns = -1
}
