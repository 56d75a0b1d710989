#!/bin/sh
# pgfold-healthcheck [health|ready]: the image's HEALTHCHECK (Dockerfile) and compose's.
#   health  GET /health: pgfold itself answers (liveness)
#   ready   GET /ready: pgfold answers and its upstream accepts a connection (readiness)
# Asks the admin port named by PGFOLD_ADMIN_LISTEN (a wildcard address is asked on loopback).
# /health needs no admin_token; exit 0 on HTTP 2xx, 1 otherwise.
set -eu
what="${1:-health}"
case "$what" in
health | ready) ;;
*) echo "usage: pgfold-healthcheck [health|ready]" >&2; exit 1 ;;
esac
addr="${PGFOLD_ADMIN_LISTEN:-127.0.0.1:6433}"
port="${addr##*:}"
host="${addr%:*}"
case "$host" in
'' | '*' | 0.0.0.0) host=127.0.0.1 ;;
'[::]') host='[::1]' ;;
esac
# Docker reads exit 1 as unhealthy and reserves 2: map every curl failure to 1.
curl -fsS --max-time 3 -o /dev/null "http://$host:$port/$what" || exit 1
