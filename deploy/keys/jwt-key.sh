#!/bin/sh
# Prints an auth-jwt key ring entry (ES256, PKCS#8 PEM) as JSON, for GANTRY_AUTH_JWT_KEYS in .env.
#   sh deploy/keys/jwt-key.sh k-2026-12              -> [{"kid":"k-2026-12","privateKey":"-----BEGIN ..."}]
# Rotation (docs/operations.md): append a new key to the array, later replace the old key's privateKey by
# its publicKey (`openssl pkey -pubout`), then remove it once its tokens have expired.
set -eu
kid=${1:?usage: jwt-key.sh <kid>}
pem=$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null)
printf '[{"kid":"%s","privateKey":"%s"}]\n' "$kid" "$(printf '%s' "$pem" | awk '{printf "%s\\n", $0}')"
