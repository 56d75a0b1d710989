#!/usr/bin/env bash
# tests/integration/run.sh BUILD [t_name ...]
#
# Starts one throwaway PostgreSQL cluster and one pgfold (passthrough) in front of it, then runs
# every tests/integration/t_*.sh (or only the ones named), each in its own bash with a time
# limit. Every test compares what its clients see through pgfold with what they see direct.
# Prints one PASS/FAIL line per test, the failing test's output and pgfold's log tail, and ends
# with the line "N passed, M failed". Exits non-zero if anything failed.
#
#   PGFOLD_BIN=path       test that binary instead of BUILD/pgfold
#   PGFOLD_DIRECT=1       no pgfold: the "proxied" side is PostgreSQL itself (harness self-test)
#   PGFOLD_MODE=rewrite   run pgfold in another mode (default passthrough)
#   PGT_TEST_TIMEOUT=300  seconds per test script
#   PGT_VERBOSE=1         print every test's output, not only failing ones
#   PGT_KEEP=1            keep the temporary folders
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD [t_name ...]" >&2
    exit 2
fi
BUILD="$(cd "$1" 2>/dev/null && pwd || true)"
[ -n "$BUILD" ] || { mkdir -p "$1" && BUILD="$(cd "$1" && pwd)"; }
shift
export BUILD

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib/pg.sh
. "$HERE/../lib/pg.sh"

PGT_TEST_TIMEOUT="${PGT_TEST_TIMEOUT:-300}"
start_all=$(date +%s)

# Tests to run.
tests=()
if [ $# -gt 0 ]; then
    for t in "$@"; do
        t="${t%.sh}"
        t="${t#t_}"
        [ -f "$HERE/t_$t.sh" ] || pgt_die "no test $HERE/t_$t.sh"
        tests+=("$HERE/t_$t.sh")
    done
else
    for t in "$HERE"/t_*.sh; do
        # PGT_SKIP="fold admin": leave out tests whose names start with these words (the
        # fold and admin tests start their own pgfold whatever PGFOLD_MODE says, so one pass
        # of them is enough).
        skip=0
        for w in ${PGT_SKIP:-}; do
            case "$(basename "$t")" in "t_$w"*) skip=1 ;; esac
        done
        [ "$skip" = 1 ] || tests+=("$t")
    done
fi

# The libpq test client. make integration builds it into BUILD/tools; without it (harness run
# before the proxy links) compile it here.
pgt_tmpdir RUN_TMP
export RUN_TMP
PQCLIENT="$BUILD/tools/pqclient"
if [ ! -x "$PQCLIENT" ]; then
    PQCLIENT="$RUN_TMP/pqclient"
    cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -O1 \
        -I"$(pg_config --includedir)" "$PGT_ROOT/tests/tools/pqclient.c" -o "$PQCLIENT" -lpq ||
        pgt_die "cannot compile tests/tools/pqclient.c"
    echo "note: $BUILD/tools/pqclient not built; using $PQCLIENT"
fi
export PQCLIENT

if [ "$PGFOLD_DIRECT" = 1 ]; then
    echo "PGFOLD_DIRECT=1: pgfold is NOT started; the proxied side is PostgreSQL itself"
elif [ ! -x "$(pgfold_bin)" ]; then
    pgt_die "$(pgfold_bin) does not exist (build it, or set PGFOLD_DIRECT=1 to test the harness)"
fi

# A test runs in the background and we wait for it, so a signal reaches our EXIT trap at once
# (bash defers traps while a foreground child runs). The trap stops the running test first
# (entries run in reverse order) and, after pgfold and PostgreSQL are down, waits for it.
TEST_PID=""
stop_test() { [ -z "$TEST_PID" ] || kill -TERM "$TEST_PID" 2>/dev/null || true; }
reap_test() {
    local i
    [ -n "$TEST_PID" ] || return 0
    for ((i = 0; i < 100; i++)); do kill -0 "$TEST_PID" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$TEST_PID" 2>/dev/null || true
}
pgt_atexit reap_test
pg_start
echo "postgres: port $PG_PORT, data $PG_DATA"
pgfold_start
pgt_atexit stop_test
[ "$PGFOLD_DIRECT" = 1 ] || echo "pgfold:   port $PROXY_PORT, pid $PGFOLD_PID, log $PGFOLD_LOG"

passed=0
failed=0
failed_names=()

for t in "${tests[@]}"; do
    name="$(basename "$t" .sh)"
    log="$RUN_TMP/$name.out"
    t0=$(date +%s)
    log_lines_before=0
    if [ -f "$PGFOLD_LOG" ]; then log_lines_before=$(wc -l <"$PGFOLD_LOG"); fi
    rc=0
    timeout -k 10 "$PGT_TEST_TIMEOUT" bash "$t" >"$log" 2>&1 </dev/null &
    TEST_PID=$!
    wait "$TEST_PID" || rc=$?
    TEST_PID=""
    secs=$(($(date +%s) - t0))
    why=""
    if [ "$rc" = 124 ]; then why=" (timed out after ${PGT_TEST_TIMEOUT}s)"; fi
    if ! pgfold_alive; then
        rc=1
        why="$why (pgfold died during this test)"
    fi
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        printf 'PASS %-14s %4ss\n' "$name" "$secs"
        if [ "${PGT_VERBOSE:-0}" = 1 ]; then
            sed 's/^/    /' "$log"
        else
            # Notes (statement counts, versions) and skips are worth seeing on success too.
            grep -E '^  (\.   |skip) ' "$log" | sed 's/^/    /' || true
        fi
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        printf 'FAIL %-14s %4ss%s\n' "$name" "$secs" "$why"
        sed 's/^/    /' "$log" | tail -n 300
        if [ "$PGFOLD_DIRECT" != 1 ] && [ -f "$PGFOLD_LOG" ]; then
            echo "    ----- pgfold log lines written during $name (last 60) -----"
            tail -n +"$((log_lines_before + 1))" "$PGFOLD_LOG" | tail -n 60 | sed 's/^/    /'
            echo "    ----- end of pgfold log -----"
        fi
    fi
    # A test that killed pgfold must not take the rest down with it.
    if [ "$PGFOLD_DIRECT" != 1 ] && ! pgfold_alive; then
        echo "    restarting pgfold for the remaining tests"
        pgfold_start
    fi
    if ! pg_alive; then
        echo "    PostgreSQL is down; cannot continue"
        tail -n 40 "$PG_LOGFILE" | sed 's/^/    /'
        break
    fi
done

# SIGTERM must drain and exit 0: part of the contract, counted as a test.
if [ "$PGFOLD_DIRECT" != 1 ]; then
    # Not in $(...): wait needs pgfold to be a child of this very shell.
    if pgfold_stop 2>"$RUN_TMP/stop.err"; then
        passed=$((passed + 1))
        printf 'PASS %-14s\n' "sigterm-exit0"
    else
        failed=$((failed + 1))
        failed_names+=("sigterm-exit0")
        printf 'FAIL %-14s\n' "sigterm-exit0"
        sed 's/^/    /' "$RUN_TMP/stop.err"
    fi
fi

# Any server-side crash or assertion during the run is a failure even if the clients coped.
if grep -qE 'server process .* was terminated by signal|PANIC:' "$PG_LOGFILE" 2>/dev/null; then
    failed=$((failed + 1))
    failed_names+=("postgres-log")
    echo "FAIL postgres-log: a backend crashed during the run"
    grep -E 'terminated by signal|PANIC' "$PG_LOGFILE" | head -n 10 | sed 's/^/    /'
fi

echo "total time $(($(date +%s) - start_all))s${failed_names[*]:+; failed: ${failed_names[*]}}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
