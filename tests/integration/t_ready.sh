#!/usr/bin/env bash
# Readiness (issue 15, item 3): GET /ready is 200 only while the upstream accepts a connection;
# GET /health stays 200 (liveness) throughout. Against pgfold instances of this test's own:
#   1. the test cluster up: /ready 200, and the probe leaves nothing in PostgreSQL's log
#   2. the cluster stopped (pg_ctl stop): /ready 503 naming the refusal, /health 200, a client
#      gets 08006 and pgfold_upstream_connect_failures_total counts it
#   3. the cluster started again: /ready 200 again
#   4. a stand-in upstream (tests/clients/admin/fakeready.py) answering every startup packet
#      with 57P03 "starting up": 503; with a password request, or 28000 "role does not exist":
#      200 (the server is up; whose login works is the clients' business); ready_user empty:
#      a connect is enough
#   5. with admin_token set, /ready (like /health) needs no token
# The cluster is the shared one: it is always started again before the test ends.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
FAKE="$PGT_TESTS_DIR/clients/admin/fakeready.py"

if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "/ready (PGFOLD_DIRECT=1: needs a pgfold of its own)"
    test_finish
fi
SHARED_PID="${PGFOLD_PID:-}"

# start_mine UPSTREAM_PORT KEY=VALUE...: a pgfold of this test's; sets PORT, APORT, PID, LOG.
N=0
start_mine() {
    local up="$1" kv
    shift
    N=$((N + 1))
    PORT="$(free_port)"
    APORT="$(free_port)"
    {
        echo "[pgfold]"
        echo "listen = 127.0.0.1:$PORT"
        echo "upstream = host=127.0.0.1 port=$up"
        echo "admin_listen = 127.0.0.1:$APORT"
        echo "mode = ${PGFOLD_MODE:-passthrough}"
        echo "connect_timeout_ms = 3s"
        for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
    } >"$T/ready.$N.ini"
    pgfold_start_ini "$T/ready.$N.ini" "$PORT" || pgt_die "pgfold would not start"
    PID="$PGFOLD2_PID" LOG="$PGFOLD2_LOG"
}
stop_mine() {
    if pgfold_stop "$PID" "$LOG" 2>"$T/stop.err"; then ok "$1: pgfold exited 0 on SIGTERM"; else
        fail "$1: pgfold did not stop cleanly"
        sed 's/^/       /' "$T/stop.err"
    fi
}
# get PATH: "CODE BODY" of one GET to the admin port.
get() {
    local body code
    body="$(curl -s --max-time 10 -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$APORT$1" 2>/dev/null || true)"
    code="$body"
    printf '%s %s\n' "$code" "$(tr -d '\n' <"$T/body" 2>/dev/null)"
}
# wait_code PATH CODE: until GET PATH answers CODE (the answer is cached for a second), 15 s at
# most; prints the last answer.
wait_code() {
    local r=""
    for _ in $(seq 150); do
        r="$(get "$1")"
        [ "${r%% *}" = "$2" ] && break
        sleep 0.1
    done
    printf '%s\n' "$r"
}
eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi; }
pg_back() { pg_alive || pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOGFILE" -w -t 60 start >/dev/null 2>&1 || true; }
pgt_atexit pg_back

# ---- 1. up -------------------------------------------------------------------------------------
start_mine "$PG_PORT"
fatal_before="$(grep -c 'FATAL' "$PG_LOGFILE" || true)"
eq "cluster up: /ready" "$(get /ready)" "200 ready: accepting connections"
eq "cluster up: /health" "$(get /health)" "200 ok"
sleep 1.1 # past the cached answer: a second probe
eq "cluster up: /ready again (a new probe)" "$(get /ready)" "200 ready: accepting connections"
eq "the probes left no FATAL in PostgreSQL's log" "$(grep -c 'FATAL' "$PG_LOGFILE" || true)" "$fatal_before"

# ---- 2. down -----------------------------------------------------------------------------------
failures_before="$(curl -s "http://127.0.0.1:$APORT/metrics" | awk '$1 == "pgfold_upstream_connect_failures_total" {print $2}')"
if pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >"$T/pg_ctl.out" 2>&1; then
    ok "PostgreSQL stopped (pg_ctl stop -m fast)"
else
    fail "pg_ctl stop failed"
    sed 's/^/       /' "$T/pg_ctl.out"
fi
r="$(wait_code /ready 503)"
eq "cluster down: /ready is 503 naming the refusal" "$r" "503 not ready: upstream: connect: connection refused"
eq "cluster down: /health still 200 (liveness)" "$(get /health)" "200 ok"
out="$(timeout 20 psql -X -h 127.0.0.1 -p "$PORT" -U postgres -d "$TEST_DB" -c 'SELECT 1' 2>&1 || true)"
check "cluster down: a client through pgfold gets 08006-style refusal ($out)" \
    grep -q 'could not connect to upstream' <<<"$out"
failures="$(curl -s "http://127.0.0.1:$APORT/metrics" | awk '$1 == "pgfold_upstream_connect_failures_total" {print $2}')"
eq "cluster down: pgfold_upstream_connect_failures_total counted it" "$((failures - failures_before))" 1

# ---- 3. up again ------------------------------------------------------------------------------
if pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOGFILE" -w -t 60 start >"$T/pg_ctl.out" 2>&1; then
    ok "PostgreSQL started again"
else
    fail "pg_ctl start failed"
    sed 's/^/       /' "$T/pg_ctl.out"
fi
eq "cluster up again: /ready" "$(wait_code /ready 200)" "200 ready: accepting connections"
eq "cluster up again: a client through pgfold" \
    "$(timeout 20 psql -X -h 127.0.0.1 -p "$PORT" -U postgres -d "$TEST_DB" -Atc 'SELECT 42' 2>&1)" 42
stop_mine "cluster up, down, up"

# ---- 4. what the server answers -----------------------------------------------------------------
fake() { # ANSWER: a stand-in upstream; sets FPORT and FOUT (what it printed)
    FPORT="$(free_port)"
    FOUT="$T/fake.$1.$FPORT"
    py "$FAKE" --port "$FPORT" --answer "$1" >"$FOUT" 2>&1 &
    pgt_atexit "kill $! 2>/dev/null"
    for _ in $(seq 100); do grep -q listening "$FOUT" && return 0; sleep 0.05; done
    pgt_die "fakeready.py did not start"
}
fake starting
start_mine "$FPORT"
eq "upstream starting up (57P03): /ready 503 with the server's words" "$(get /ready)" \
    "503 not ready: upstream: 57P03 the database system is starting up"
stop_mine "57P03"
fake md5
start_mine "$FPORT"
eq "upstream asks for a password: /ready 200" "$(get /ready)" "200 ready: accepting connections"
check "... the probe named ready_user's default role and left at the password request" \
    grep -q 'answered md5' "$FOUT"
stop_mine "md5"
fake role
start_mine "$FPORT"
eq "upstream: role does not exist (28000): /ready 200" "$(get /ready)" "200 ready: accepting connections"
stop_mine "28000"
fake starting
start_mine "$FPORT" "ready_user="
eq "ready_user empty: a connect is enough, even to a server starting up" "$(get /ready)" \
    "200 ready: accepting connections (connect only: ready_user is empty)"
check "... and no startup packet was sent" bash -c "! grep -q answered '$FOUT'"
stop_mine "connect only"

# ---- 5. admin_token ---------------------------------------------------------------------------
start_mine "$PG_PORT" "admin_token=tok-$$"
eq "admin_token: /ready without a token" "$(get /ready)" "200 ready: accepting connections"
eq "admin_token: /metrics without a token is still 401" "$(get /metrics | cut -d' ' -f1)" 401
stop_mine "admin_token"

check "PostgreSQL is up for the tests that follow" pg_alive
check "the shared pgfold (pid $SHARED_PID) still running" pgfold_alive "$SHARED_PID"
test_finish
