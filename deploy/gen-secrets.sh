#!/usr/bin/env bash
# Creates what deploy/compose.yaml needs to run MongoDB with authentication and TLS:
#   secrets/ca.pem, secrets/ca.key       a private CA (keep ca.key offline once done)
#   secrets/mongo{1,2,3}.pem             each member's certificate and key (serverAuth + clientAuth,
#                                        names mongoN and localhost), signed by the CA
#   secrets/mongo-keyfile                the replica set's internal authentication key
#   secrets/mongo-root-password          the root user's password
#   .env                                 CUSTODIA_DB_PASSWORD, the API user's password
# Existing files are kept (run with --force to replace them). Needs openssl.
#
#   deploy/gen-secrets.sh [--force] [output directory, default: the folder of this script]
set -euo pipefail
force=false
if [ "${1:-}" = "--force" ]; then force=true; shift; fi
dir="${1:-$(cd "$(dirname "$0")" && pwd)}"
secrets="$dir/secrets"
mkdir -p "$secrets"
chmod 700 "$secrets"
umask 077

fresh() { $force || [ ! -e "$1" ]; }
password() { openssl rand -base64 33 | tr -d '/+=\n' | cut -c1-40; }

if fresh "$secrets/ca.pem"; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -days 1825 -nodes -subj "/CN=custodia MongoDB CA" \
    -keyout "$secrets/ca.key" -out "$secrets/ca.pem" 2>/dev/null
  chmod 644 "$secrets/ca.pem"
fi
for m in mongo1 mongo2 mongo3; do
  fresh "$secrets/$m.pem" || continue
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -nodes -subj "/CN=$m" -keyout "$secrets/$m.key" -out "$secrets/$m.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\nbasicConstraints=CA:FALSE\n' "$m" > "$secrets/$m.ext"
  openssl x509 -req -sha256 -days 825 -in "$secrets/$m.csr" -CA "$secrets/ca.pem" -CAkey "$secrets/ca.key" \
    -CAcreateserial -extfile "$secrets/$m.ext" -out "$secrets/$m.crt" 2>/dev/null
  cat "$secrets/$m.crt" "$secrets/$m.key" > "$secrets/$m.pem"
  rm -f "$secrets/$m.csr" "$secrets/$m.ext" "$secrets/$m.crt" "$secrets/$m.key"
done
rm -f "$secrets/ca.srl"
if fresh "$secrets/mongo-keyfile"; then openssl rand -base64 756 > "$secrets/mongo-keyfile"; fi
if fresh "$secrets/mongo-root-password"; then password > "$secrets/mongo-root-password"; fi
if fresh "$dir/.env"; then printf 'CUSTODIA_DB_PASSWORD=%s\n' "$(password)" > "$dir/.env"; fi
echo "secrets in $secrets and $dir/.env; add the identity provider's key as $secrets/idp-public.pem"
