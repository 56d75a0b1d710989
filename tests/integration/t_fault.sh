#!/usr/bin/env bash
# Fault injection (issue 7), in the mode run.sh gives pgfold (passthrough, then rewrite), with
# tests/tools/faultclient.c. Every case: pgfold survives; a bystander session (an N+1 loop and
# checked queries, all the time) gets only right answers; the affected client gets the error
# PostgreSQL or libpq would give, the same direct and through pgfold where timing allows a
# comparison; nothing is left behind (pgfold's fds back to where they were, no backend left).
#  1. A backend terminated (pg_terminate_backend) during COPY FROM STDIN, COPY TO STDOUT, and a
#     pipelined Sync group: FATAL 57P01, identical direct and through pgfold.
#  2. A client gone mid-result (RST with 2,000 of 100,000 rows read), and one that never reads
#     a 100 MB result: pgfold's RSS stays bounded (PostgreSQL blocks in ClientWrite), and the
#     backend ends once the client is gone. (t_libpq's slowread reads the same result slowly.)
#  3. 1,000 sessions, 50 at a time: connect, a query, disconnect (politely or abruptly,
#     mid-query too); pgfold's fds, client gauge and RSS come back. max_client_conn = 10 under
#     30 concurrent clients (passthrough pass only: a pgfold of its own): 53300 for the excess,
#     and the slots come back.
#  4. PostgreSQL restarted (pg_ctl restart -m fast) under open sessions (idle, in a
#     transaction, running pg_sleep, after an N+1 loop): what each sees is identical direct and
#     through pgfold; new sessions through pgfold work afterwards. Last: it ends every session.
# Rewrite-only faults (a batch killed, cancels racing local answers) are in t_fold_fault.sh.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
FC="$BUILD/tools/faultclient"
FDB=fault_t
[ -x "$FC" ] || pgt_die "$FC not built (make tools)"

fresh_db "$FDB"
DB="$FDB" psql_direct -q -v ON_ERROR_STOP=1 -f "$PGT_TESTS_DIR/clients/fault/setup.sql" >"$T/setup.out" 2>&1 ||
    { cat "$T/setup.out"; pgt_die "setup failed"; }
CI="$(conninfo @PORT@ "$FDB")"
PCI="$(conninfo "$PROXY_PORT" "$FDB")"
ADMIN="$(conninfo "$PG_PORT" "$FDB")"
ASAN=0
if [ "$PGFOLD_DIRECT" != 1 ] && pgfold_is_asan; then ASAN=1; fi


# fds_back NAME PID BASE: pgfold's open fds return to BASE (closing is asynchronous: wait).
fds_back() {
    local i n
    [ "$PGFOLD_DIRECT" = 1 ] && { skip "$1: fd count (PGFOLD_DIRECT=1)"; return 0; }
    for ((i = 0; i < 100; i++)); do
        n="$(fd_count "$2")"
        [ "$n" -le "$3" ] && break
        sleep 0.1
    done
    if [ "$n" -le "$3" ]; then ok "$1: pgfold's open fds back to $3"; else fail "$1: pgfold has $n open fds, $3 before"; fi
}


# The bystander: started before the faults, checked after them. BASE_FDS: pgfold's open fds
# with the bystander connected; IDLE_FDS: without. A few sessions first: libuv keeps one fd per
# loop (a reserve for EMFILE) from the first stream a worker opens.
"$FC" churn "$PCI" 8 2 >/dev/null 2>&1 || true
IDLE_FDS=0
[ "$PGFOLD_DIRECT" = 1 ] || IDLE_FDS="$(fd_count "$PGFOLD_PID")"
BY_STOP="$T/bystander.stop"
"$FC" bystander "$PCI" "$BY_STOP" >"$T/bystander.out" 2>"$T/bystander.err" &
BY_PID=$!
pgt_atexit "touch '$BY_STOP'; kill $BY_PID"
for ((i = 0; i < 100; i++)); do
    [ "$(DB="$FDB" psql_direct -Atc "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fault_bystander'")" = 1 ] && break
    sleep 0.1
done
BASE_FDS=0
[ "$PGFOLD_DIRECT" = 1 ] || BASE_FDS="$(fd_count "$PGFOLD_PID")"

# --- 1. Backends terminated mid-COPY and mid-pipeline -----------------------------------------
for what in copyin copyout pipeline; do
    # stderr: how much libpq had buffered when it noticed the close (timing), not compared.
    BOTH_STDERR=ignore both "kill-$what" "$FC" "kill-$what" "$CI" "$ADMIN"
    check "kill-$what: FATAL 57P01 reached the client through pgfold" \
        grep -q 'FATAL sqlstate=57P01 message=terminating connection due to administrator command' "$T/kill-$what.pgfold"
done
check "kill-pipeline: the group before the kill completed" grep -q '^\[before kill\] PGRES_PIPELINE_SYNC' "$T/kill-pipeline.pgfold"
proxy_still_alive

# --- 2. Clients that go away or never read ----------------------------------------------------
"$FC" gone "$PCI" "$ADMIN" midresult >"$T/gone-midresult.out" 2>&1 && rc=0 || rc=$?
check "client gone mid-result: the backend ended (exit $rc)" grep -q 'backend ended after the client went away: yes' "$T/gone-midresult.out"
no_backends fault_gone

limit_mb="${PGFOLD_RSS_LIMIT_MB:-64}"
if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "client that never reads: pgfold's RSS (PGFOLD_DIRECT=1)"
else
    "$FC" gone "$PCI" "$ADMIN" noread "$PGFOLD_PID" $((limit_mb * 1024)) 3 >"$T/gone-noread.out" 2>&1 && rc=0 || rc=$?
    check "never-reading client: PostgreSQL blocked writing (pgfold stopped reading it)" grep -q 'backpressure): yes' "$T/gone-noread.out"
    if [ "$ASAN" = 1 ]; then
        # ASan's quarantine keeps up to 256 MB of freed memory: RSS says nothing here.
        note "never-reading client: not asserted under ASan ($(sed -n 's/^# //p' "$T/gone-noread.out"))"
    else
        check "never-reading client: pgfold's RSS stayed under $limit_mb MB ($(sed -n 's/^# //p' "$T/gone-noread.out"))" \
            grep -q 'did not read: yes' "$T/gone-noread.out"
    fi
    check "never-reading client gone: the backend ended" grep -q 'went away: yes' "$T/gone-noread.out"
    no_backends fault_gone
fi
fds_back "clients gone" "${PGFOLD_PID:-0}" "$BASE_FDS"

# --- 3. Churn ---------------------------------------------------------------------------------
conns_gauge() { curl -fsS --max-time 10 "http://127.0.0.1:$1/metrics" | awk '$1 == "pgfold_client_connections" {print $2}'; }
"$FC" churn "$PCI" 100 20 >"$T/churn-warmup.out" 2>&1 || true # allocator and thread arenas
sleep 0.5
rss0=0
[ "$PGFOLD_DIRECT" = 1 ] || rss0="$(pgfold_rss_kb)"
if "$FC" churn "$PCI" 1000 50 >"$T/churn.out" 2>"$T/churn.err"; then
    ok "1,000 sessions, 50 at a time: $(cat "$T/churn.out")"
else
    fail "churn: $(cat "$T/churn.out")"
    head -n 20 "$T/churn.err" | sed 's/^/       /'
fi
check "churn: nobody refused" grep -q 'rejected=0 failed=0 wrong=0' "$T/churn.out"
no_backends fault_churn
fds_back "churn" "${PGFOLD_PID:-0}" "$BASE_FDS"
if [ "$PGFOLD_DIRECT" != 1 ]; then
    # One session (the bystander) is still open.
    check "churn: pgfold_client_connections back to 1" test "$(conns_gauge "$PGFOLD_ADMIN_PORT")" = 1
    rss1="$(pgfold_rss_kb)"
    if [ "$ASAN" = 1 ]; then
        note "churn: RSS $((rss0 / 1024)) MB -> $((rss1 / 1024)) MB (not asserted under ASan: quarantine; LSan checks leaks at exit)"
    elif [ "$rss1" -le $((rss0 + 16384)) ]; then
        ok "churn: pgfold's RSS back near where it was ($((rss0 / 1024)) MB -> $((rss1 / 1024)) MB)"
    else
        fail "churn: pgfold's RSS grew from $((rss0 / 1024)) MB to $((rss1 / 1024)) MB over 1,000 sessions"
    fi
fi

# max_client_conn under churn: a pgfold of its own (once, in the passthrough pass).
if [ "$PGFOLD_DIRECT" = 1 ] || [ "${PGFOLD_MODE:-passthrough}" != passthrough ]; then
    skip "max_client_conn under churn (passthrough pass only)"
else
    port2="$(free_port)" aport2="$(free_port)"
    cat >"$T/maxconn.ini" <<EOF
[pgfold]
listen = 127.0.0.1:$port2
upstream = host=127.0.0.1 port=$PG_PORT
admin_listen = 127.0.0.1:$aport2
mode = passthrough
max_client_conn = 10
EOF
    if pgfold_start_ini "$T/maxconn.ini" "$port2" 2>"$T/maxconn-start.err"; then
        "$FC" churn "$(conninfo "$port2" "$FDB")" 8 2 >/dev/null 2>&1 || true
        fds2="$(fd_count "$PGFOLD2_PID")"
        "$FC" churn "$(conninfo "$port2" "$FDB")" 300 30 >"$T/maxconn.out" 2>"$T/maxconn.err" && rc=0 || rc=$?
        note "max_client_conn = 10, 30 at a time: $(cat "$T/maxconn.out")"
        check "max_client_conn: some sessions got 53300, none failed otherwise, no wrong answer" \
            grep -qE 'rejected=[1-9][0-9]* failed=0 wrong=0' "$T/maxconn.out"
        fds_back "max_client_conn churn" "$PGFOLD2_PID" "$fds2"
        check "max_client_conn: every slot came back (client gauge 0)" test "$(conns_gauge "$aport2")" = 0
        check "max_client_conn: a new session works" psql_at "$port2" -d "$FDB" -Atc "SELECT 'slot free'"
        if pgfold_stop "$PGFOLD2_PID" "$PGFOLD2_LOG" 2>"$T/maxconn-stop.err"; then
            ok "max_client_conn pgfold exited 0 on SIGTERM"
        else
            fail "max_client_conn pgfold did not exit cleanly"
            sed 's/^/       /' "$T/maxconn-stop.err"
        fi
    else
        fail "pgfold with max_client_conn = 10 did not start"
        sed 's/^/       /' "$T/maxconn-start.err"
    fi
fi

# The bystander ran through all of the above.
touch "$BY_STOP"
wait "$BY_PID" && rc=0 || rc=$?
if [ "$rc" = 0 ]; then
    ok "bystander session unaffected: $(cat "$T/bystander.out")"
else
    fail "bystander session (exit $rc): $(cat "$T/bystander.out")"
    head -n 20 "$T/bystander.err" | sed 's/^/       /'
fi
proxy_still_alive

# --- 4. PostgreSQL restarted under open sessions ----------------------------------------------
for side in direct pgfold; do
    port="$PG_PORT"
    [ "$side" = pgfold ] && port="$PROXY_PORT"
    rm -f "$T/restart.$side.ready" "$T/restart.$side.go"
    "$FC" restart "$(conninfo "$port" "$FDB")" "$T/restart.$side.ready" "$T/restart.$side.go" \
        >"$T/restart.$side" 2>"$T/restart.$side.err" &
    eval "RS_$side=\$!"
    pgt_atexit "touch '$T/restart.$side.go'"
done
for ((i = 0; i < 300; i++)); do
    [ -e "$T/restart.direct.ready" ] && [ -e "$T/restart.pgfold.ready" ] && break
    sleep 0.1
done
if pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOGFILE" -m fast -w -t 60 restart >"$T/pg_ctl.out" 2>&1; then
    ok "PostgreSQL restarted (pg_ctl restart -m fast)"
else
    fail "pg_ctl restart failed"
    sed 's/^/       /' "$T/pg_ctl.out"
fi
touch "$T/restart.direct.go" "$T/restart.pgfold.go"
# shellcheck disable=SC2154
wait "$RS_direct" && echo "[exit 0]" >>"$T/restart.direct" || echo "[exit $?]" >>"$T/restart.direct"
# shellcheck disable=SC2154
wait "$RS_pgfold" && echo "[exit 0]" >>"$T/restart.pgfold" || echo "[exit $?]" >>"$T/restart.pgfold"
compare restart "$T/restart.direct" "$T/restart.pgfold"
check "restart: the running query got FATAL 57P01" grep -q '^\[busy\] .*FATAL sqlstate=57P01' "$T/restart.pgfold"
check "restart: new sessions through pgfold work" grep -q '^\[new\] 5 of 5 new sessions' "$T/restart.pgfold"
no_backends fault_restart
fds_back "restart" "${PGFOLD_PID:-0}" "$IDLE_FDS"
both after-restart psql -X -h 127.0.0.1 -p @PORT@ -U postgres -d "$FDB" -Atc \
    "SELECT count(*), sum(item_id) FROM fault_ref"

proxy_still_alive
DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $FDB WITH (FORCE)"
test_finish
