#!/usr/bin/env bash
# Chaining (issue 15, item 6; docs/deploy.md): application -> pgfold -> PgBouncer -> PostgreSQL.
# The test starts Debian's PgBouncer itself (as the postgres user: it refuses root) on a free
# port in front of the shared cluster, first with pool_mode = transaction, then session, and its
# own pgfold (mode PGFOLD_MODE, max_staleness_ms = 60 s as in t_fold) with PgBouncer as upstream.
# In each pool mode:
#   - the seed's Django loops (forward, reverse, m2m; simple protocol), and a psycopg 3 loop over
#     the extended protocol with unnamed statements: output through the chain identical to
#     direct; statements on the tables counted by pg_stat_statements: folded in rewrite mode (as
#     t_fold: at most 2, 2, 3; psycopg 3 at most 3), all of them in passthrough and observe;
#   - PgBouncer's SHOW STATS proves the chained traffic went through it;
#   - pgbench -S over the simple and extended protocols through the chain; in session mode also
#     -M prepared. In transaction mode -M prepared needs PgBouncer 1.21's
#     max_prepared_statements; on 1.18 it fails with PgBouncer alone too: a note, not a check.
#   - session mode only: libpq pipeline mode (Sync groups, an error mid-group) and COPY both
#     ways (tests/tools/pqclient.c): identical to direct. (In transaction mode these clients'
#     temporary tables outlive the client on PgBouncer's server connections: PgBouncer's limit.)
# The forward loop also runs through PgBouncer alone, once per pool mode: identical, unfolded.
# Last, a query cancel through the chain (transaction mode, a PgBouncer of its own).
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
MODE="${PGFOLD_MODE:-passthrough}"
NPLUS1="$PGT_TESTS_DIR/clients/django/nplus1.py"
FOLD_CLIENTS="$PGT_TESTS_DIR/clients/fold"
# A CancelRequest: pgfold once closed its upstream connection as soon as the request was
# written. PostgreSQL reads it at once; PgBouncer 1.18 first opens a server connection for it
# and drops the cancel when the requesting connection is already gone ("client unexpected
# eof"), and in a race dies of it (FATAL "disconnect_client(): bad client state: 0", PgBouncer
# issue 801). Like libpq, pgfold now keeps it open until the server closes it (proxy/conn.c).
DJ_DB=chain_django
XDB=chain_ext
BDB=chain_bench
TABLES='\m(question|choice|book|author|tag|book_tag)\M'

if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "chain (PGFOLD_DIRECT=1: needs a pgfold of its own)"
    test_finish
fi
if ! command -v pgbouncer >/dev/null; then
    skip "chain: pgbouncer is not installed (Debian package pgbouncer; scripts/deps.sh installs it)"
    test_finish
fi
note "$(pgbouncer --version | head -n 1), pgfold mode $MODE"

# ---- PgBouncer --------------------------------------------------------------------------------
PGB_PID=""
PGB_PORT=""
PGB_DIR=""

# pgb_start POOL_MODE: PgBouncer on a free port, every database forwarded to the cluster; auth
# as the cluster's pg_hba.conf: md5 for md5_user, SCRAM for scram_user, trust for the rest
# (the user must still be in auth_file). Sets PGB_PID, PGB_PORT, PGB_DIR.
pgb_start() {
    local i
    pgt_tmpdir PGB_DIR
    PGB_PORT="$(free_port)"
    cat >"$PGB_DIR/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = hba
auth_hba_file = $PGB_DIR/hba.conf
auth_file = $PGB_DIR/userlist.txt
admin_users = postgres
pool_mode = $1
default_pool_size = 5
max_client_conn = 100
ignore_startup_parameters = extra_float_digits
logfile = $PGB_DIR/pgbouncer.log
pidfile = $PGB_DIR/pgbouncer.pid
log_connections = 0
log_disconnections = 0
EOF
    # The password users with the secrets PostgreSQL keeps (md5 hash, SCRAM verifier): PgBouncer
    # checks the client with them and logs in to PostgreSQL with them.
    {
        echo '"postgres" ""'
        DB=postgres psql_direct -At -c "SELECT '\"' || rolname || '\" \"' || rolpassword || '\"'
            FROM pg_authid WHERE rolname IN ('$MD5_USER', '$SCRAM_USER') ORDER BY 1"
    } >"$PGB_DIR/userlist.txt"
    cat >"$PGB_DIR/hba.conf" <<EOF
host all $MD5_USER   127.0.0.1/32 md5
host all $SCRAM_USER 127.0.0.1/32 scram-sha-256
host all all         127.0.0.1/32 trust
EOF
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$PGB_DIR"; fi
    chmod 755 "$PGB_DIR"
    # As the postgres user when root. Not through a shell function: "func &" forks a subshell
    # and $! would be that subshell, not PgBouncer (setpriv execs, so here $! is PgBouncer).
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=postgres --regid=postgres --init-groups -- \
            pgbouncer "$PGB_DIR/pgbouncer.ini" >"$PGB_DIR/pgbouncer.out" 2>&1 &
    else
        pgbouncer "$PGB_DIR/pgbouncer.ini" >"$PGB_DIR/pgbouncer.out" 2>&1 &
    fi
    PGB_PID=$!
    pgt_atexit "pgfold_kill $PGB_PID"
    for ((i = 0; i < 200; i++)); do
        pgb_running || break
        if port_listening "$PGB_PORT"; then
            note "PgBouncer pool_mode = $1 on port $PGB_PORT (pid $PGB_PID)"
            return 0
        fi
        sleep 0.05
    done
    fail "PgBouncer (pool_mode = $1) did not start"
    tail -n 20 "$PGB_DIR/pgbouncer.out" "$PGB_DIR/pgbouncer.log" 2>&1 | sed 's/^/       /'
    return 1
}

# pgb_running: PgBouncer's process runs (a zombie does not: it is our child until waited for).
pgb_running() {
    [ -n "$PGB_PID" ] && [ -e "/proc/$PGB_PID/status" ] && ! grep -q '^State:.*Z' "/proc/$PGB_PID/status"
}

# pgb_stop: SIGTERM (PgBouncer 1.18: immediate shutdown), then reap it.
pgb_stop() {
    local i
    [ -n "$PGB_PID" ] || return 0
    kill -TERM "$PGB_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        pgb_running || break
        sleep 0.05
    done
    kill -KILL "$PGB_PID" 2>/dev/null || true
    wait "$PGB_PID" 2>/dev/null || true
    check "PgBouncer (pid $PGB_PID) stopped" test ! -e "/proc/$PGB_PID"
    PGB_PID=""
}

# pgb_queries DB: total_query_count of DB in PgBouncer's SHOW STATS (0 when absent).
pgb_queries() {
    timeout 20 psql -X -q -h 127.0.0.1 -p "$PGB_PORT" -U postgres -d pgbouncer -F '|' -Atc 'SHOW STATS' 2>/dev/null |
        awk -F '|' -v db="$1" '$1 == db { n = $3 } END { print n + 0 }'
}

# ---- pgfold in front of PgBouncer -------------------------------------------------------------
CHAIN_PID=""
CHAIN_LOG=""

chain_start() {
    local port aport ini="$T/chain.ini"
    printf '[pgfold]\nmax_staleness_ms = 60000\n' >"$ini"
    port="$(free_port)"
    aport="$(free_port)"
    CHAIN_LOG="$T/pgfold.$port.log"
    if _pgfold_launch "$port" "$CHAIN_LOG" -c "$ini" --listen "127.0.0.1:$port" \
        --upstream "host=127.0.0.1 port=$PGB_PORT" --admin-listen "127.0.0.1:$aport" \
        --mode "$MODE" --log-level "${PGFOLD_LOG_LEVEL:-info}" 2>"$T/launch.err"; then
        CHAIN_PID="$_PGFOLD_LAUNCHED_PID"
        # counted/compare/normalize use PROXY_PORT as "the pgfold side"; metric() the admin port.
        # shellcheck disable=SC2034
        PROXY_PORT="$port" PGFOLD_ADMIN_PORT="$aport"
        note "pgfold ($MODE) on port $port -> PgBouncer $PGB_PORT -> PostgreSQL $PG_PORT"
        return 0
    fi
    fail "pgfold in front of PgBouncer did not start"
    sed 's/^/       /' "$T/launch.err"
    return 1
}

chain_stop() {
    [ -n "$CHAIN_PID" ] || return 0
    if pgfold_stop "$CHAIN_PID" "$CHAIN_LOG" 2>"$T/chain_stop.err"; then
        ok "pgfold in front of PgBouncer exited 0 on SIGTERM"
    else
        fail "pgfold in front of PgBouncer did not exit cleanly on SIGTERM"
        sed 's/^/       /' "$T/chain_stop.err"
    fi
    CHAIN_PID=""
}

chain_alive() {
    if pgfold_alive "$CHAIN_PID"; then
        ok "pgfold in front of PgBouncer still running"
    else
        fail "pgfold in front of PgBouncer is not running any more"
        pgfold_log_tail "$CHAIN_LOG" 40 2>&1
    fi
}

# statements LABEL MAX: after a counted run, in rewrite mode at most MAX statements through the
# chain; in passthrough and observe mode exactly as many as direct.
statements() {
    if [ "$MODE" = rewrite ]; then
        if [ "$N_PGFOLD" -le "$2" ]; then
            ok "$1: folded to $N_PGFOLD statements (at most $2; direct $N_DIRECT)"
        else
            fail "$1: $N_PGFOLD statements through the chain, want at most $2 (direct $N_DIRECT)"
        fi
    else
        check "$1: $MODE sends every statement ($N_DIRECT)" test "$N_PGFOLD" = "$N_DIRECT"
    fi
}

# pgbench_at NAME PORT ARGS...: pgbench (no vacuum) on BDB; output in $T/NAME.out; returns its
# exit status.
pgbench_at() {
    local name="$1" port="$2"
    shift 2
    timeout "$PGT_CLIENT_TIMEOUT" pgbench -n -h 127.0.0.1 -p "$port" -U postgres "$@" "$BDB" \
        >"$T/$name.out" 2>&1
}

# ---- data, loaded direct ------------------------------------------------------------------------
fresh_db "$DJ_DB"
fresh_db "$XDB"
fresh_db "$BDB"
if py "$NPLUS1" --port "$PG_PORT" --db "$DJ_DB" setup >"$T/setup.out" 2>&1 &&
    py "$FOLD_CLIENTS/sqla_loops.py" --port "$PG_PORT" --db "$XDB" setup >>"$T/setup.out" 2>&1 &&
    timeout "$PGT_CLIENT_TIMEOUT" pgbench -i -q -s 1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$BDB" >>"$T/setup.out" 2>&1; then
    ok "setup: Django data, SQLAlchemy data, pgbench -i (direct)"
else
    fail "setup failed"
    sed 's/^/       /' "$T/setup.out" | tail -n 30
    test_finish
fi

declare -A dj_direct=([forward]=501 [reverse]=101 [m2m]=241)
declare -A dj_max=([forward]=2 [reverse]=2 [m2m]=3)

for pool in transaction session; do
    echo "  -- PgBouncer pool_mode = $pool"
    pgb_start "$pool" || continue
    # PgBouncer alone: same output, every statement (it pools, it does not fold).
    SAVED_PROXY_PORT="$PROXY_PORT"
    PROXY_PORT="$PGB_PORT"
    counted "$pool-bouncer-alone-forward" 'polls_' "$PYTHON" "$NPLUS1" --port @PORT@ --db "$DJ_DB" forward
    check "$pool: PgBouncer alone sends every statement ($N_DIRECT)" test "$N_PGFOLD" = "$N_DIRECT"
    PROXY_PORT="$SAVED_PROXY_PORT"

    chain_start || { pgb_stop; continue; }
    before="$(pgb_queries "$DJ_DB")"
    for loop in forward reverse m2m; do
        counted "$pool-django-$loop" 'polls_' "$PYTHON" "$NPLUS1" --port @PORT@ --db "$DJ_DB" "$loop"
        check "$pool: django $loop: ${dj_direct[$loop]} statements direct" test "$N_DIRECT" = "${dj_direct[$loop]}"
        statements "$pool: django $loop through pgfold -> PgBouncer" "${dj_max[$loop]}"
    done
    check "$pool: django forward printed 500 choices through the chain" \
        grep -q '^== forward: 500 lines, 501 queries sent by Django' "$T/$pool-django-forward.pgfold"
    if [ "$MODE" = rewrite ]; then
        check "$pool: pgfold's /metrics count the batches (pgfold_batches_total >= 3)" \
            test "$(metric pgfold_batches_total)" -ge 3
    fi
    after="$(pgb_queries "$DJ_DB")"
    check "$pool: the chained loops went through PgBouncer (SHOW STATS queries $before -> $after)" \
        test "$after" -gt "$before"

    # Passwords go through pgfold verbatim; PgBouncer checks them. Right and wrong passwords
    # through the chain give what PgBouncer alone gives.
    for who in "$MD5_USER:$MD5_PASSWORD" "$MD5_USER:wrong" "$SCRAM_USER:$SCRAM_PASSWORD" "$SCRAM_USER:wrong"; do
        u="${who%%:*}" pw="${who#*:}"
        for side in alone chain; do
            port="$PROXY_PORT"
            [ "$side" = alone ] && port="$PGB_PORT"
            PGPASSWORD="$pw" timeout 30 psql -X -q -h 127.0.0.1 -p "$port" -U "$u" -d "$TEST_DB" \
                -Atc "SELECT current_user" >"$T/$pool-login.$side" 2>&1 && echo "[exit 0]" >>"$T/$pool-login.$side" ||
                echo "[exit $?]" >>"$T/$pool-login.$side"
            sed -i "s/port $port/port PORT/g" "$T/$pool-login.$side"
        done
        tag="right password"
        [ "$pw" = wrong ] && tag="wrong password"
        if cmp -s "$T/$pool-login.alone" "$T/$pool-login.chain"; then
            ok "$pool: $u, $tag: as through PgBouncer alone ($(grep -m 1 -oE 'FATAL: .*' "$T/$pool-login.chain" || head -n 1 "$T/$pool-login.chain"))"
        else
            fail "$pool: $u, $tag: through the chain differs from PgBouncer alone"
            diff -u --label alone --label chain "$T/$pool-login.alone" "$T/$pool-login.chain" | sed 's/^/       /'
        fi
    done

    counted "$pool-psycopg3-forward-unnamed" "$TABLES" "$PYTHON" "$FOLD_CLIENTS/p3_loops.py" --port @PORT@ --db "$XDB" forward unnamed
    check "$pool: psycopg3 forward unnamed: 501 statements direct" test "$N_DIRECT" = 501
    statements "$pool: psycopg3 forward (extended protocol, unnamed) through the chain" 3
    if [ "$pool" = session ]; then
        counted "$pool-psycopg3-forward-prepared" "$TABLES" "$PYTHON" "$FOLD_CLIENTS/p3_loops.py" --port @PORT@ --db "$XDB" forward prepared
        statements "$pool: psycopg3 forward (named prepared statement) through the chain" 3
    fi

    for m in simple extended; do
        if pgbench_at "$pool-pgbench-$m" "$PROXY_PORT" -S -M "$m" -c 4 -j 2 -t 100; then
            ok "$pool: pgbench -S -M $m -c 4 through the chain"
        else
            fail "$pool: pgbench -S -M $m -c 4 through the chain failed"
            tail -n 15 "$T/$pool-pgbench-$m.out" | sed 's/^/       /'
        fi
    done
    if [ "$pool" = session ]; then
        if pgbench_at "$pool-pgbench-prepared" "$PROXY_PORT" -S -M prepared -c 4 -j 2 -t 100; then
            ok "$pool: pgbench -S -M prepared -c 4 through the chain"
        else
            fail "$pool: pgbench -S -M prepared -c 4 through the chain failed"
            tail -n 15 "$T/$pool-pgbench-prepared.out" | sed 's/^/       /'
        fi
    else
        # Named prepared statements live on one server connection; PgBouncer 1.18 in
        # transaction mode hands each transaction any connection. PgBouncer's limit, with or
        # without pgfold: recorded, not asserted (which connection a transaction gets is luck).
        for side in alone chain; do
            port="$PROXY_PORT"
            [ "$side" = alone ] && port="$PGB_PORT"
            pgbench_at "$pool-pgbench-prepared-$side" "$port" -S -M prepared -c 4 -j 2 -t 100 && rc=0 || rc=$?
            f="$T/$pool-pgbench-prepared-$side.out"
            nerr="$(grep -c 'ERROR: ' "$f" || true)"
            why="$(grep -m 1 -oE 'prepared statement "[^"]*" (does not exist|already exists)' "$f" || true)"
            label="pgfold -> PgBouncer"
            [ "$side" = alone ] && label="PgBouncer alone"
            note "$pool: pgbench -S -M prepared -c 4 through $label: exit $rc, $nerr errors${why:+ (first: $why)}"
        done
    fi
    if [ "$pool" = session ]; then
        CI="host=127.0.0.1 port=@PORT@ dbname=$TEST_DB user=postgres"
        both "$pool-pipeline" "$PQCLIENT" pipeline "$CI"
        check "$pool: pipeline: later groups succeeded through the chain" grep -q 'out of pipeline mode' "$T/$pool-pipeline.pgfold"
        both "$pool-copy" "$PQCLIENT" copy "$CI"
    fi
    chain_alive
    chain_stop
    pgb_stop
done

# ---- cancel through the chain ---------------------------------------------------------------------
echo "  -- query cancel through pgfold -> PgBouncer (transaction mode)"
if pgb_start transaction && chain_start; then
    timeout "$PGT_CLIENT_TIMEOUT" "$PQCLIENT" cancel "host=127.0.0.1 port=$PROXY_PORT dbname=$TEST_DB user=postgres" \
        >"$T/cancel.chain" 2>"$T/cancel.chain.err" && rc=0 || rc=$?
    cancelled=0
    grep -q '^\[victim\] .*sqlstate=57014' "$T/cancel.chain" && cancelled=1
    bouncer_alive=1
    pgb_running || bouncer_alive=0
    crash="$(grep -m 1 -o 'FATAL @.*' "$PGB_DIR/pgbouncer.log" 2>/dev/null || true)"
    check "cancel through the chain: the victim got 57014 (pqclient exit $rc)" test "$cancelled" = 1
    check "cancel through the chain: the bystander finished" grep -q 'bystander finished' "$T/cancel.chain"
    check "cancel through the chain: PgBouncer still running${crash:+ ($crash)}" test "$bouncer_alive" = 1
    chain_stop
    pgb_stop
fi

proxy_still_alive
for db in "$DJ_DB" "$XDB" "$BDB"; do
    DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
done
test_finish
