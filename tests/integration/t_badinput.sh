#!/usr/bin/env bash
# Bad protocol input (tests/clients/py/badinput.py): garbage before startup, malformed startup
# packets, bad lengths and unknown message types after login, half-open connections. pgfold
# must stay up, other sessions must keep getting correct answers; in the startup phase it does
# exactly what PostgreSQL does, and after login the client gets SQLSTATE 08P01. Then max_client_conn: a second pgfold from an
# INI file with max_client_conn = 2; the third client gets 53300.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
BAD_PY="$PGT_TESTS_DIR/clients/py/badinput.py"

expect=proxy
[ "$PGFOLD_DIRECT" = 1 ] && expect=direct
if py "$BAD_PY" --port "$PROXY_PORT" --db "$TEST_DB" --expect "$expect" >"$T/bad.out" 2>&1; then
    ok "bad input cases (expecting $expect behaviour):"
    sed 's/^/     /' "$T/bad.out"
else
    fail "bad input cases (expecting $expect behaviour):"
    sed 's/^/     /' "$T/bad.out"
fi
proxy_still_alive

# The startup phase, exactly as PostgreSQL does it (issue 13): silent closes where PostgreSQL only
# logs (a Terminate ahead of the startup packet, bad lengths, cancel requests of the wrong size),
# the same FATAL where it sends one, bytes pipelined behind an SSLRequest refused.
if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "startup phase against PostgreSQL (PGFOLD_DIRECT=1)"
elif py "$BAD_PY" --port "$PROXY_PORT" --pg-port "$PG_PORT" --db "$TEST_DB" >"$T/same.out" 2>&1; then
    ok "startup phase: every case as PostgreSQL does it"
    sed 's/^/     /' "$T/same.out"
else
    fail "startup phase differs from PostgreSQL:"
    sed 's/^/     /' "$T/same.out"
fi
proxy_still_alive

# After all that, ordinary clients still work and see the same thing direct and through pgfold.
both after-bad-input psql -X -h 127.0.0.1 -p @PORT@ -U postgres -d "$TEST_DB" -Atc \
    "SELECT count(*), sum(g) FROM generate_series(1, 1000) g"

# --- max_client_conn from an INI file. --------------------------------------------------------
if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "max_client_conn (PGFOLD_DIRECT=1: needs a pgfold of its own)"
else
    port2="$(free_port)"
    aport2="$(free_port)"
    cat >"$T/maxconn.ini" <<EOF
; written by tests/integration/t_badinput.sh
[pgfold]
listen = 127.0.0.1:$port2
upstream = host=127.0.0.1 port=$PG_PORT
admin_listen = 127.0.0.1:$aport2
mode = passthrough
max_client_conn = 2
log_level = info
EOF
    if pgfold_start_ini "$T/maxconn.ini" "$port2" 2>"$T/maxconn-start.err"; then
        ok "second pgfold started from $T/maxconn.ini (pid $PGFOLD2_PID)"
        if py "$BAD_PY" --port "$port2" --db "$TEST_DB" --maxconn 2 >"$T/maxconn.out" 2>&1; then
            ok "max_client_conn = 2:"
        else
            fail "max_client_conn = 2:"
        fi
        sed 's/^/     /' "$T/maxconn.out"
        if pgfold_stop "$PGFOLD2_PID" "$PGFOLD2_LOG" 2>"$T/maxconn-stop.err"; then
            ok "second pgfold exited 0 on SIGTERM"
        else
            fail "second pgfold did not exit cleanly on SIGTERM"
            sed 's/^/       /' "$T/maxconn-stop.err"
        fi
        if [ "$PGT_FAILED" != 0 ]; then pgfold_log_tail "$PGFOLD2_LOG" 20 2>&1; fi
    else
        fail "second pgfold (-c $T/maxconn.ini) did not start"
        sed 's/^/       /' "$T/maxconn-start.err"
    fi
fi

proxy_still_alive
test_finish
