# tests/lib/pg.sh: shared shell helpers for pgfold's integration tests and the demo.
# Source it from bash; it never runs anything by itself except installing an EXIT trap that
# runs whatever cleanup the sourcing script registered (pgt_atexit).
#
# Owners (tests/integration/run.sh, tests/demo/demo.sh) call pg_start and pgfold_start; they
# export PG_PORT, PROXY_PORT, PGFOLD_PID, ... so the test scripts they run (which source this
# file again) find the cluster and the proxy through the environment.
#
# PGFOLD_DIRECT=1: do not start pgfold at all; PROXY_PORT is PostgreSQL's own port. The whole
# harness then compares PostgreSQL with itself, which proves the harness (determinism of every
# client's output, statement counting, cleanup) before the proxy exists.
#
# Environment read here:
#   PGFOLD_DIRECT   1 = skip pgfold (see above)
#   PGFOLD_BIN      the binary to test (default $BUILD/pgfold)
#   PGFOLD_MODE     mode passed to pgfold_start (default passthrough)
#   PGFOLD_LOG_LEVEL  default info
#   PG_BIN          PostgreSQL server binaries (default: pg_config --bindir, else /usr/lib/postgresql/15/bin)
#   PGT_KEEP=1      keep temporary folders (they are printed)
#   PGT_CLIENT_TIMEOUT  seconds for every client run through the helpers (default 120)

# ---------------------------------------------------------------------------------------------
# Environment hygiene: libpq variables from the caller's shell must not leak into the tests.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSERVICE PGSERVICEFILE \
    PGOPTIONS PGAPPNAME PGSSLMODE PGREQUIRESSL PGCHANNELBINDING PGTARGETSESSIONATTRS PGTZ PGDATESTYLE \
    PGCLIENTENCODING PGCONNECT_TIMEOUT 2>/dev/null || true
export PGPASSFILE=/nonexistent/pgfold-test-pgpass
export PGCONNECT_TIMEOUT=10
export PYTHONDONTWRITEBYTECODE=1
export LC_ALL=C.UTF-8 LANG=C.UTF-8

PGT_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PGT_TESTS_DIR="$(cd "$PGT_LIB_DIR/.." && pwd)"
PGT_ROOT="$(cd "$PGT_TESTS_DIR/.." && pwd)"
PYTHON=/usr/bin/python3
PGT_CLIENT_TIMEOUT="${PGT_CLIENT_TIMEOUT:-120}"
TEST_DB="${TEST_DB:-pgfold_test}"
PGFOLD_DIRECT="${PGFOLD_DIRECT:-0}"

# Passwords of the two password-authenticated roles the cluster creates (pg_hba requires them).
MD5_USER=md5_user
MD5_PASSWORD='md5-secret'
SCRAM_USER=scram_user
SCRAM_PASSWORD='scram-secret'
export MD5_USER MD5_PASSWORD SCRAM_USER SCRAM_PASSWORD TEST_DB PGFOLD_DIRECT

if [ -z "${PG_BIN:-}" ]; then
    if [ -x /usr/lib/postgresql/15/bin/postgres ]; then
        PG_BIN=/usr/lib/postgresql/15/bin
    else
        PG_BIN="$(pg_config --bindir 2>/dev/null || true)"
        [ -x "$PG_BIN/postgres" ] || PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    fi
fi
export PG_BIN

# ---------------------------------------------------------------------------------------------
# Cleanup registry. Every process started and every folder created registers how to undo it;
# the EXIT trap runs the list in reverse order, whatever way the script ends.
PGT_ATEXIT=()

pgt_atexit() { PGT_ATEXIT+=("$1"); }

pgt_run_atexit() {
    local rc=$? i
    set +e
    for ((i = ${#PGT_ATEXIT[@]} - 1; i >= 0; i--)); do
        eval "${PGT_ATEXIT[$i]}" >/dev/null 2>&1
    done
    PGT_ATEXIT=()
    return $rc
}
trap pgt_run_atexit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

pgt_log() { printf '%s\n' "$*" >&2; }
pgt_die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# pgt_tmpdir VAR: creates a temporary folder, stores its path in VAR, removes it at exit.
pgt_tmpdir() {
    local __d
    __d="$(mktemp -d "${TMPDIR:-/tmp}/pgfold-test.XXXXXX")"
    if [ "${PGT_KEEP:-0}" = 1 ]; then
        pgt_log "keeping $__d"
    else
        pgt_atexit "rm -rf '$__d'"
    fi
    printf -v "$1" '%s' "$__d"
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    "$PYTHON" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# port_listening PORT: true when something listens on 127.0.0.1:PORT. Uses ss, never connects,
# so it does not count as a client (max_client_conn tests depend on that).
port_listening() {
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL: one throwaway cluster, run as the postgres user.

pg_as() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# pg_start: initdb into a temporary folder, configure (pg_stat_statements preloaded,
# track = all; md5_user and scram_user need passwords; trust for everyone else), start,
# create TEST_DB with the extension. Exports PG_PORT, PG_DATA, PG_SOCKDIR, PG_LOGFILE.
pg_start() {
    local dir port
    pgt_tmpdir dir
    PG_TMP="$dir"
    PG_DATA="$dir/data"
    PG_SOCKDIR="$dir/sock"
    PG_LOGFILE="$dir/postgres.log"
    mkdir -p "$PG_SOCKDIR"
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; fi
    chmod 755 "$dir"

    if ! pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        pgt_die "initdb failed"
    fi
    port="$(free_port)"
    pg_as tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# pgfold test cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$PG_SOCKDIR'
max_connections = 100
max_prepared_transactions = 10
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.max = 10000
pg_stat_statements.track_utility = on
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
datestyle = 'ISO, MDY'
lc_messages = 'C'
password_encryption = 'scram-sha-256'
log_min_messages = warning
log_connections = off
EOF
    pg_as tee "$PG_DATA/pg_hba.conf" >/dev/null <<EOF
# TYPE  DATABASE  USER        ADDRESS        METHOD
local   all       $MD5_USER                  md5
host    all       $MD5_USER   127.0.0.1/32   md5
local   all       $SCRAM_USER                scram-sha-256
host    all       $SCRAM_USER 127.0.0.1/32   scram-sha-256
local   all       all                        trust
host    all       all         127.0.0.1/32   trust
host    all       all         ::1/128        trust
EOF
    # Register the stop before starting, so a start that half-works is still cleaned up.
    pgt_atexit "pg_stop"
    if ! pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOGFILE" -w -t 60 start >"$dir/pg_ctl.log" 2>&1; then
        cat "$dir/pg_ctl.log" "$PG_LOGFILE" >&2 || true
        pgt_die "pg_ctl start failed"
    fi
    PG_PORT="$port"
    export PG_PORT PG_DATA PG_SOCKDIR PG_LOGFILE PG_TMP

    psql_at "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 >/dev/null <<EOF || pgt_die "cluster setup failed"
SET password_encryption = 'md5';
CREATE ROLE $MD5_USER LOGIN PASSWORD '$MD5_PASSWORD';
SET password_encryption = 'scram-sha-256';
CREATE ROLE $SCRAM_USER LOGIN PASSWORD '$SCRAM_PASSWORD';
\\c template1
CREATE EXTENSION pg_stat_statements;
\\c postgres
CREATE EXTENSION pg_stat_statements;
CREATE DATABASE $TEST_DB;
GRANT ALL ON DATABASE $TEST_DB TO $MD5_USER, $SCRAM_USER;
\\c $TEST_DB
GRANT ALL ON SCHEMA public TO PUBLIC;
EOF
}

# pg_stop: fast shutdown of the cluster pg_start made (immediate if fast does not finish).
pg_stop() {
    [ -n "${PG_DATA:-}" ] && [ -d "$PG_DATA" ] || return 0
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
        pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
}

# pg_alive: true while the cluster accepts connections.
pg_alive() {
    timeout 20 pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -d "$TEST_DB" -U postgres
}

# ---------------------------------------------------------------------------------------------
# pgfold

# pgfold_bin: the binary under test.
pgfold_bin() { printf '%s\n' "${PGFOLD_BIN:-${BUILD:-.}/pgfold}"; }

# _pgfold_launch PORT LOGFILE ARGS...: starts "$(pgfold_bin)" ARGS in the background, waits
# until PORT listens. Sets _PGFOLD_LAUNCHED_PID. Returns 1 (log printed) if pgfold exits or
# never listens.
_pgfold_launch() {
    local port="$1" log="$2" i rc bin a prev="" ini=""
    shift 2
    bin="$(pgfold_bin)"
    [ -x "$bin" ] || pgt_die "no pgfold binary at $bin"
    # Shadow verification (verify_fraction, default 0.01) runs sampled lookups upstream again,
    # which pg_stat_statements counts like the client's: tests that count statements would
    # depend on the draw. It is off unless a test's config file sets it (t_fold_verify does),
    # or PGT_VERIFY_FRACTION asks for it everywhere.
    for a in "$@"; do
        [ "$prev" = -c ] && ini="$a"
        case "$a" in --config=*) ini="${a#--config=}" ;; esac
        prev="$a"
    done
    if [ -z "$ini" ]; then
        ini="$log.ini"
        printf '[pgfold]\n' >"$ini"
        set -- -c "$ini" "$@"
    fi
    if [ -f "$ini" ] && ! grep -q '^[[:space:]]*verify_fraction' "$ini"; then
        printf 'verify_fraction = %s\n' "${PGT_VERIFY_FRACTION:-0}" >>"$ini"
    fi
    "$bin" "$@" >>"$log" 2>&1 &
    _PGFOLD_LAUNCHED_PID=$!
    pgt_atexit "pgfold_kill $_PGFOLD_LAUNCHED_PID"
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$_PGFOLD_LAUNCHED_PID" 2>/dev/null; then
            wait "$_PGFOLD_LAUNCHED_PID" 2>/dev/null && rc=0 || rc=$?
            pgt_log "pgfold exited (status $rc) before listening on $port: $bin $*"
            pgfold_log_tail "$log" 40
            return 1
        fi
        # Listening, and still alive (not someone else who took the port first).
        if port_listening "$port" && kill -0 "$_PGFOLD_LAUNCHED_PID" 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    pgt_log "pgfold did not listen on $port within 10 s: $bin $*"
    pgfold_log_tail "$log" 40
    pgfold_kill "$_PGFOLD_LAUNCHED_PID"
    return 1
}

# pgfold_start [EXTRA ARGS...]: starts pgfold in front of the cluster on a free port.
# Exports PROXY_PORT, PGFOLD_PID, PGFOLD_LOG, PGFOLD_ADMIN_PORT. With PGFOLD_DIRECT=1 starts
# nothing and sets PROXY_PORT=PG_PORT.
pgfold_start() {
    local attempt port aport
    if [ "$PGFOLD_DIRECT" = 1 ]; then
        PROXY_PORT="$PG_PORT" PGFOLD_PID="" PGFOLD_LOG=/dev/null PGFOLD_ADMIN_PORT=""
        export PROXY_PORT PGFOLD_PID PGFOLD_LOG PGFOLD_ADMIN_PORT
        return 0
    fi
    if [ -z "${PGFOLD_TMP:-}" ]; then pgt_tmpdir PGFOLD_TMP; fi
    for attempt in 1 2 3; do
        port="$(free_port)"
        aport="$(free_port)"
        PGFOLD_LOG="$PGFOLD_TMP/pgfold.$port.log"
        if _pgfold_launch "$port" "$PGFOLD_LOG" \
            --listen "127.0.0.1:$port" \
            --upstream "host=127.0.0.1 port=$PG_PORT" \
            --admin-listen "127.0.0.1:$aport" \
            --mode "${PGFOLD_MODE:-passthrough}" \
            --log-level "${PGFOLD_LOG_LEVEL:-info}" "$@"; then
            PROXY_PORT="$port" PGFOLD_ADMIN_PORT="$aport" PGFOLD_PID="$_PGFOLD_LAUNCHED_PID"
            export PROXY_PORT PGFOLD_PID PGFOLD_LOG PGFOLD_ADMIN_PORT PGFOLD_TMP
            return 0
        fi
        # A port taken between free_port and bind shows up as an early exit: try another.
    done
    pgt_die "pgfold would not start"
}

# pgfold_start_ini INIFILE PORT: starts pgfold with only "-c INIFILE" (the file must listen on
# 127.0.0.1:PORT). Sets PGFOLD2_PID and PGFOLD2_LOG; the main instance's variables are untouched.
pgfold_start_ini() {
    local ini="$1" port="$2"
    if [ -z "${PGFOLD_TMP:-}" ] || [ ! -d "$PGFOLD_TMP" ]; then pgt_tmpdir PGFOLD_TMP; fi
    PGFOLD2_LOG="$PGFOLD_TMP/pgfold.$port.log"
    _pgfold_launch "$port" "$PGFOLD2_LOG" -c "$ini" || return 1
    PGFOLD2_PID="$_PGFOLD_LAUNCHED_PID"
}

# pgfold_stop [PID [LOG]]: SIGTERM, wait (up to 45 s: shutdown_timeout defaults to 30 s),
# require exit status 0. Defaults to the main instance. Returns non-zero with the log tail
# printed otherwise.
pgfold_stop() {
    local pid="${1:-${PGFOLD_PID:-}}" log="${2:-${PGFOLD_LOG:-/dev/null}}" i rc
    [ -n "$pid" ] || return 0
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null && rc=0 || rc=$?
        pgt_log "pgfold (pid $pid) was already gone before SIGTERM (status $rc)"
        pgfold_log_tail "$log" 40
        return 1
    fi
    kill -TERM "$pid"
    for ((i = 0; i < 900; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        pgt_log "pgfold (pid $pid) still running 45 s after SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        pgfold_log_tail "$log" 40
        return 1
    fi
    wait "$pid" 2>/dev/null && rc=0 || rc=$?
    if [ "$rc" != 0 ]; then
        pgt_log "pgfold (pid $pid) exited with status $rc after SIGTERM (expected 0)"
        pgfold_log_tail "$log" 40
        return 1
    fi
    if [ "$pid" = "${PGFOLD_PID:-}" ]; then PGFOLD_PID=""; fi
    return 0
}

# pgfold_kill PID: cleanup only; no checks.
pgfold_kill() {
    local pid="$1" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

# pgfold_alive [PID]: true when the (main) pgfold process still runs. Direct mode: the cluster.
pgfold_alive() {
    local pid="${1:-${PGFOLD_PID:-}}"
    if [ "$PGFOLD_DIRECT" = 1 ] && [ -z "${1:-}" ]; then
        pg_alive
        return
    fi
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ -e "/proc/$pid/status" ] &&
        ! grep -q '^State:.*Z' "/proc/$pid/status"
}

# pgfold_log_tail [LOG [LINES]]
pgfold_log_tail() {
    local log="${1:-${PGFOLD_LOG:-}}" n="${2:-40}"
    [ -n "$log" ] && [ -f "$log" ] && [ "$log" != /dev/null ] || return 0
    printf -- '----- pgfold log (%s), last %s lines -----\n' "$log" "$n" >&2
    tail -n "$n" "$log" >&2
    printf -- '----- end of pgfold log -----\n' >&2
}

# pgfold_rss_kb [PID]: current resident set size of pgfold in kB (VmRSS).
pgfold_rss_kb() {
    local pid="${1:-$PGFOLD_PID}"
    awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0
}

# pgfold_is_asan: true when the pgfold binary is built with AddressSanitizer.
pgfold_is_asan() {
    [ -x "$(pgfold_bin)" ] && grep -q -a '__asan_init' "$(pgfold_bin)"
}

# ---------------------------------------------------------------------------------------------
# Clients. Every one runs under timeout. DB=... selects another database.

# conninfo PORT [DB [USER [PASSWORD]]]: libpq key=value string.
conninfo() {
    local s="host=127.0.0.1 port=$1 dbname=${2:-${DB:-$TEST_DB}} user=${3:-postgres}"
    [ -n "${4:-}" ] && s="$s password=$4"
    printf '%s\n' "$s"
}

# psql_at PORT [ARGS...]: psql without psqlrc, quiet, as postgres on TEST_DB (or $DB).
psql_at() {
    local port="$1"
    shift
    timeout "$PGT_CLIENT_TIMEOUT" psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d "${DB:-$TEST_DB}" "$@"
}
psql_direct() { psql_at "$PG_PORT" "$@"; }
psql_proxy() { psql_at "$PROXY_PORT" "$@"; }

# py [ARGS...]: the Debian python (the one with psycopg2, psycopg, Django, SQLAlchemy).
py() { timeout "$PGT_CLIENT_TIMEOUT" "$PYTHON" "$@"; }

# stmt_reset: forget every pg_stat_statements entry.
stmt_reset() {
    DB="$TEST_DB" psql_direct -v ON_ERROR_STOP=1 -Atc 'SELECT pg_stat_statements_reset()' >/dev/null
}

# stmt_count REGEX: sum of calls over statements whose text matches REGEX (case-insensitive),
# leaving out the queries on pg_stat_statements itself. Counts statements that reached the server.
stmt_count() {
    DB="$TEST_DB" psql_direct -v ON_ERROR_STOP=1 -At -v pat="$1" <<'EOF'
SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
 WHERE query ~* :'pat' AND query !~* 'pg_stat_statements';
EOF
}

# ---------------------------------------------------------------------------------------------
# Checks inside a test script. A test runs all its checks, then calls test_finish, which exits
# non-zero if any failed. Output of failed checks (diffs) goes to stdout.
PGT_FAILED=0
PGT_CHECKS=0

ok() { PGT_CHECKS=$((PGT_CHECKS + 1)); printf '  ok   %s\n' "$*"; }
fail() { PGT_CHECKS=$((PGT_CHECKS + 1)); PGT_FAILED=$((PGT_FAILED + 1)); printf '  FAIL %s\n' "$*"; }
skip() { printf '  skip %s\n' "$*"; }
note() { printf '  .    %s\n' "$*"; }

# check NAME CMD...: runs CMD; ok when it exits 0, FAIL otherwise (its output is shown).
check() {
    local name="$1" out rc
    shift
    out="$("$@" 2>&1)" && rc=0 || rc=$?
    if [ "$rc" = 0 ]; then
        ok "$name"
    else
        fail "$name (exit $rc)"
        if [ -n "$out" ]; then printf '%s\n' "$out" | sed 's/^/       /' | head -n 60; fi
    fi
    return 0
}

# normalize FILE: replaces what legitimately differs between direct and proxied runs: the two
# port numbers (in libpq's messages), backend process ids (printed as "PID n", "pid=n") and
# the temporary schema's number (pg_temp_N follows the backend slot). It also drops the log
# line psycopg 3 prints when a pipeline's error arrives while the pipeline block is already
# exiting ("error ignored terminating <psycopg.Pipeline ...>"): which of the two happens first
# depends on timing, not on what the server sent (seen once through pgfold in ~17 runs of
# each, and not reproducible on demand either way).
normalize() {
    sed -E \
        -e '/^error ignored terminating <psycopg\.Pipeline/d' \
        -e "s/([Pp]ort[ =:]?\"?)(${PG_PORT}|${PROXY_PORT})\\b/\\1PORT/g" \
        -e 's/(server process with PID|backend PID|[Pp][Ii][Dd][ =:]+) ?[0-9]+/\1 N/g' \
        -e 's/pg_temp_[0-9]+/pg_temp_N/g' \
        "$1"
}

# compare NAME DIRECT_FILE PROXY_FILE: normalizes both and diffs; ok or FAIL with the diff.
compare() {
    local name="$1" a="$2" b="$3" d
    PGT_LAST_COMPARE=1
    if [ ! -s "$a" ]; then
        fail "$name: direct output is empty ($a)"
        return
    fi
    d="$(diff -u --label direct --label pgfold <(normalize "$a") <(normalize "$b"))" || true
    if [ -z "$d" ]; then
        PGT_LAST_COMPARE=0
        ok "$name (identical, $(wc -l <"$a") lines)"
    else
        PGT_LAST_COMPARE=1
        fail "$name: output through pgfold differs from direct"
        printf '%s\n' "$d" | head -n 80 | sed 's/^/       /'
        if [ "$(printf '%s\n' "$d" | wc -l)" -gt 80 ]; then printf '       ... (diff truncated)\n'; fi
    fi
}

# both NAME CMD ARGS...: runs CMD twice, first with every "@PORT@" inside ARGS replaced by
# PostgreSQL's port, then by pgfold's. Compares stdout and stderr (merged, in order) plus the
# exit status. BOTH_STDERR=ignore keeps stderr out of the comparison (timing-dependent
# progress messages); it is still shown when the outputs differ. BOTH_DIR: where outputs go.
both() {
    local name="$1" side port out a
    shift
    local dir="${BOTH_DIR:-$PGT_OUT}"
    local -a args
    for side in direct pgfold; do
        port="$PG_PORT"
        [ "$side" = pgfold ] && port="$PROXY_PORT"
        args=()
        for a in "$@"; do args+=("${a//@PORT@/$port}"); done
        out="$dir/$name.$side"
        if [ "${BOTH_STDERR:-merge}" = ignore ]; then
            timeout "$PGT_CLIENT_TIMEOUT" "${args[@]}" >"$out" 2>"$out.err" </dev/null &&
                echo "[exit 0]" >>"$out" || echo "[exit $?]" >>"$out"
        else
            timeout "$PGT_CLIENT_TIMEOUT" "${args[@]}" >"$out" 2>&1 </dev/null &&
                echo "[exit 0]" >>"$out" || echo "[exit $?]" >>"$out"
        fi
    done
    compare "$name" "$dir/$name.direct" "$dir/$name.pgfold"
    if [ "$PGT_LAST_COMPARE" != 0 ] && [ "${BOTH_STDERR:-merge}" = ignore ]; then
        printf '       stderr direct: %s\n' "$(tr '\n' ' ' <"$dir/$name.direct.err" | cut -c1-300)"
        printf '       stderr pgfold: %s\n' "$(tr '\n' ' ' <"$dir/$name.pgfold.err" | cut -c1-300)"
    fi
}

# proxy_still_alive: a check that pgfold did not die during the test.
proxy_still_alive() {
    if pgfold_alive; then
        ok "pgfold still running"
    else
        fail "pgfold is not running any more"
        pgfold_log_tail "$PGFOLD_LOG" 40 2>&1
    fi
}

test_finish() {
    if [ "$PGT_FAILED" != 0 ]; then
        printf '  %s of %s checks failed\n' "$PGT_FAILED" "$PGT_CHECKS"
        exit 1
    fi
    printf '  all %s checks passed\n' "$PGT_CHECKS"
    exit 0
}

# need_env: test scripts call this first; they only run under run.sh (or with its variables).
# Also makes PGT_OUT, the folder for this test's outputs.
need_env() {
    local v
    for v in PG_PORT PROXY_PORT BUILD PQCLIENT; do
        [ -n "${!v:-}" ] || pgt_die "$v not set: run tests through tests/integration/run.sh BUILD"
    done
    pgt_tmpdir PGT_OUT
}

# ---------------------------------------------------------------------------------------------
# Helpers for the batching tests (tests/integration/t_fold*.sh). Each such test starts its own
# pgfold in rewrite mode (the instance run.sh started is left alone) and may restart it with
# other settings. FOLD_PID/FOLD_LOG: the instance the current script started.

FOLD_PID=""
FOLD_LOG=""
FOLD_N=0

# fold_stop: SIGTERM the instance fold_start made (must exit 0); a FAIL check if it does not.
fold_stop() {
    [ -n "$FOLD_PID" ] || return 0
    if pgfold_stop "$FOLD_PID" "$FOLD_LOG" 2>"$PGFOLD_TMP/fold_stop.err"; then
        ok "pgfold (rewrite) exited 0 on SIGTERM"
    else
        fail "pgfold (rewrite) did not exit cleanly on SIGTERM"
        sed 's/^/       /' "$PGFOLD_TMP/fold_stop.err"
    fi
    FOLD_PID=""
}

# fold_start [KEY=VALUE ...]: stops this script's previous instance, then starts pgfold with
# mode = rewrite and the given config keys (written to a temporary ini passed with -c; flags
# for listen/upstream/admin win over the file). Sets PROXY_PORT, PGFOLD_PID, PGFOLD_LOG,
# PGFOLD_ADMIN_PORT for this script, and FOLD_PID/FOLD_LOG. PGFOLD_DIRECT=1: starts nothing.
fold_start() {
    local ini kv
    fold_stop
    if [ -z "${PGFOLD_TMP:-}" ] || [ ! -d "$PGFOLD_TMP" ]; then pgt_tmpdir PGFOLD_TMP; fi
    FOLD_N=$((FOLD_N + 1))
    ini="$PGFOLD_TMP/fold.$FOLD_N.ini"
    {
        echo "[pgfold]"
        echo "mode = rewrite"
        for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
    } >"$ini"
    PGFOLD_MODE=rewrite pgfold_start -c "$ini"
    if [ "$PGFOLD_DIRECT" = 1 ]; then
        FOLD_PID="" FOLD_LOG=/dev/null
    else
        FOLD_PID="$PGFOLD_PID" FOLD_LOG="$PGFOLD_LOG"
        note "pgfold rewrite on port $PROXY_PORT (admin $PGFOLD_ADMIN_PORT): ${*:-defaults}"
    fi
}

# metric NAME: the value of one /metrics line of this script's instance (NAME may carry labels,
# e.g. 'pgfold_fallbacks_total{reason="error"}'); 0 when absent or without pgfold.
metric() {
    [ -n "${PGFOLD_ADMIN_PORT:-}" ] || { echo 0; return 0; }
    curl -fsS --max-time 10 "http://127.0.0.1:$PGFOLD_ADMIN_PORT/metrics" 2>/dev/null |
        awk -v n="$1" '$1 == n { v = $2 } END { print (v == "" ? 0 : v) }'
}

# counted NAME REGEX CMD ARGS...: like both (ARGS with @PORT@, stdout+stderr merged, exit status
# appended, outputs compared), and around each side resets pg_stat_statements and counts the
# statements matching REGEX. Sets N_DIRECT and N_PGFOLD. COUNTED_DIR: where outputs go.
counted() {
    local name="$1" re="$2" side port a out
    shift 2
    local dir="${COUNTED_DIR:-$PGT_OUT}"
    local -a args
    for side in direct pgfold; do
        port="$PG_PORT"
        [ "$side" = pgfold ] && port="$PROXY_PORT"
        args=()
        for a in "$@"; do args+=("${a//@PORT@/$port}"); done
        out="$dir/$name.$side"
        stmt_reset
        timeout "$PGT_CLIENT_TIMEOUT" "${args[@]}" >"$out" 2>&1 </dev/null &&
            echo "[exit 0]" >>"$out" || echo "[exit $?]" >>"$out"
        if [ "$side" = direct ]; then N_DIRECT="$(stmt_count "$re")"; else N_PGFOLD="$(stmt_count "$re")"; fi
    done
    compare "$name" "$dir/$name.direct" "$dir/$name.pgfold"
    note "$name: statements on the tables direct=$N_DIRECT through-pgfold=$N_PGFOLD"
}

# folds NAME MAX: checks that the last counted run sent at most MAX statements through pgfold
# (skipped with PGFOLD_DIRECT=1, where nothing folds).
folds() {
    if [ "$PGFOLD_DIRECT" = 1 ]; then
        skip "$1: folding (PGFOLD_DIRECT=1)"
        return 0
    fi
    if [ "$N_PGFOLD" -le "$2" ]; then
        ok "$1: folded to $N_PGFOLD statements (at most $2; direct $N_DIRECT)"
    else
        fail "$1: $N_PGFOLD statements through pgfold, want at most $2 (direct $N_DIRECT)"
    fi
}

# fresh_db NAME: (re)creates database NAME, direct.
fresh_db() {
    DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1 || true
    DB=postgres psql_direct -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $1" >/dev/null ||
        pgt_die "cannot create database $1"
}

# ---------------------------------------------------------------------------------------------
# Helpers for the fault tests (t_fault.sh, t_fold_fault.sh).

# fd_count PID: open file descriptors of a process.
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# no_backends APP: a check that no backend of that application_name is left (waits up to 10 s;
# asks on the database $FDB).
no_backends() {
    local i n
    for ((i = 0; i < 100; i++)); do
        n="$(DB="$FDB" psql_direct -Atc "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$1'")"
        [ "$n" = 0 ] && break
        sleep 0.1
    done
    check "no $1 backend left" test "$n" = 0
}
