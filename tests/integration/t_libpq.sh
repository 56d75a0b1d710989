#!/usr/bin/env bash
# libpq C client (tests/tools/pqclient.c) direct vs through pgfold: pipeline mode with several
# Sync groups and an error mid-group, PQcancel, COPY both ways, a ~100 MB result read slowly
# (pgfold's RSS sampled: bounded buffers), and password logins (md5, SCRAM, wrong passwords).
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
CI="host=127.0.0.1 port=@PORT@ dbname=$TEST_DB"

both pipeline "$PQCLIENT" pipeline "$CI user=postgres"
check "pipeline: error mid-group skipped the rest (PIPELINE_ABORTED)" grep -q 'PGRES_PIPELINE_ABORTED' "$T/pipeline.pgfold"
check "pipeline: later groups succeeded" grep -q 'out of pipeline mode' "$T/pipeline.pgfold"

# A pipeline without Sync (psycopg's test_pipeline_communicate_uniqviol): prepared INSERTs and a
# COMMIT, results read as they come, no Sync sent; then lookups followed by a Flush. pgfold once
# held them waiting for a Sync that never came (issue 13): now every result arrives as direct.
both nosync "$PQCLIENT" nosync "$CI user=postgres"
check "nosync: the unique violation came back without a Sync" grep -q 'sqlstate=23505' "$T/nosync.pgfold"
check "nosync: the lookups came back at the Flush" grep -q '^\[lookup 3\] PGRES_TUPLES_OK' "$T/nosync.pgfold"

# Cancel retries (timing) are reported on stderr only.
BOTH_STDERR=ignore both cancel "$PQCLIENT" cancel "$CI user=postgres"
check "cancel: the sleeping query got 57014" grep -q 'sqlstate=57014' "$T/cancel.pgfold"
check "cancel: the other session was not cancelled" grep -q 'bystander finished' "$T/cancel.pgfold"

both copy "$PQCLIENT" copy "$CI user=postgres"
check "copy: 10000 rows in and out" grep -q 'COPY 10000' "$T/copy.pgfold"

# --- Logins. pg_hba: md5 for md5_user, scram-sha-256 for scram_user, trust for the rest. ----
login_case() {
    local name="$1" want="$2"
    shift 2
    both "login-$name" "$PQCLIENT" login "$*"
    if grep -q "^$want" "$T/login-$name.pgfold"; then
        ok "login-$name through pgfold: $want"
    else
        fail "login-$name through pgfold: wanted '$want', got: $(head -c 300 "$T/login-$name.pgfold")"
    fi
}
login_case trust "login ok" "$CI user=postgres application_name=pgfold-libpq"
login_case md5 "login ok" "$CI user=$MD5_USER password=$MD5_PASSWORD"
login_case md5-wrong "login failed" "$CI user=$MD5_USER password=wrong-password"
login_case md5-nopass "login failed" "$CI user=$MD5_USER"
login_case scram "login ok" "$CI user=$SCRAM_USER password=$SCRAM_PASSWORD"
login_case scram-wrong "login failed" "$CI user=$SCRAM_USER password=wrong-password"
login_case scram-nopass "login failed" "$CI user=$SCRAM_USER"
login_case scram-cb-disable "login ok" "$CI user=$SCRAM_USER password=$SCRAM_PASSWORD channel_binding=disable"
login_case no-such-role "login failed" "$CI user=no_such_role"
login_case no-such-db "login failed" "host=127.0.0.1 port=@PORT@ dbname=no_such_db user=postgres"
login_case options "login ok" "$CI user=postgres options='-c application_name=from-options -c search_path=nowhere'"
login_case sslmode-disable "login ok" "$CI user=postgres sslmode=disable"
login_case sslmode-require "login failed" "$CI user=postgres sslmode=require"
check "md5 wrong password: PostgreSQL's message" grep -q 'password authentication failed for user "md5_user"' "$T/login-md5-wrong.pgfold"
check "scram wrong password: PostgreSQL's message" grep -q 'password authentication failed for user "scram_user"' "$T/login-scram-wrong.pgfold"
check "md5 login used the password" grep -q 'used_password=1' "$T/login-md5.pgfold"
check "scram login used the password" grep -q 'used_password=1' "$T/login-scram.pgfold"

# --- A ~100 MB result read slowly, in single-row mode. --------------------------------------
# Direct first, for the output; then through pgfold while sampling pgfold's RSS. The client
# reads nothing for 0.5 s, then sleeps 1 ms every 100 rows: without backpressure pgfold would
# have to hold most of the 100 MB.
limit_mb="${PGFOLD_RSS_LIMIT_MB:-64}"
asan=0
if [ -z "${PGFOLD_RSS_LIMIT_MB:-}" ] && [ "$PGFOLD_DIRECT" != 1 ] && pgfold_is_asan; then
    asan=1
    limit_mb=320 # ASan keeps up to 256 MB of freed memory in quarantine
fi
timeout "$PGT_CLIENT_TIMEOUT" "$PQCLIENT" slowread "$(conninfo "$PG_PORT")" >"$T/slowread.direct" 2>"$T/slowread.direct.err" &&
    echo "[exit 0]" >>"$T/slowread.direct" || echo "[exit $?]" >>"$T/slowread.direct"
timeout "$PGT_CLIENT_TIMEOUT" "$PQCLIENT" slowread "$(conninfo "$PROXY_PORT")" >"$T/slowread.pgfold" 2>"$T/slowread.pgfold.err" &
reader=$!
pgt_atexit "kill $reader"
max_kb=0
samples=0
if [ "$PGFOLD_DIRECT" != 1 ]; then
    base_kb="$(pgfold_rss_kb)"
    # Under ASan the shared pgfold may start with its quarantine already full (the fault tests
    # run before this one): then the bound is on growth, not on the absolute figure.
    if [ "$asan" = 1 ] && [ $((base_kb / 1024 + 64)) -gt "$limit_mb" ]; then
        limit_mb=$((base_kb / 1024 + 64))
    fi
    while kill -0 "$reader" 2>/dev/null; do
        kb="$(pgfold_rss_kb)"
        [ "${kb:-0}" -gt "$max_kb" ] && max_kb="$kb"
        samples=$((samples + 1))
        sleep 0.02
    done
fi
wait "$reader" && echo "[exit 0]" >>"$T/slowread.pgfold" || echo "[exit $?]" >>"$T/slowread.pgfold"
compare slowread "$T/slowread.direct" "$T/slowread.pgfold"
check "slowread: all 100000 rows of 1000 bytes arrived in order" grep -q 'slowread rows=100000 payload_bytes=100000000 bad_rows=0' "$T/slowread.pgfold"
if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "pgfold RSS bound (PGFOLD_DIRECT=1: no pgfold process)"
elif [ "$max_kb" -lt $((limit_mb * 1024)) ]; then
    ok "pgfold RSS stayed under $limit_mb MB during the slow read (max $((max_kb / 1024)) MB, start $((base_kb / 1024)) MB, $samples samples)"
else
    fail "pgfold RSS reached $((max_kb / 1024)) MB during the slow read (limit $limit_mb MB, start $((base_kb / 1024)) MB)"
fi

proxy_still_alive
test_finish
