#!/bin/sh
# A self-signed development certificate for nginx (localhost and 127.0.0.1), valid 30 days:
#   sh deploy/nginx/dev-cert.sh [out-dir]     (default deploy/nginx/certs, git-ignored)
# Browsers warn about it: it is for a laptop, never for a host others reach.
set -eu
out=${1:-$(dirname "$0")/certs}
mkdir -p "$out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$out/dev.key" -out "$out/dev.crt" 2>/dev/null
chmod 600 "$out/dev.key"
echo "dev-cert.sh: wrote $out/dev.crt and $out/dev.key"
