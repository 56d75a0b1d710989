#!/usr/bin/env bash
# Rewrite mode inside explicit transactions, and batches that fail.
#  1. The seed's Django loops inside transaction.atomic() at READ COMMITTED and REPEATABLE READ
#     fold like in autocommit (pgfold wraps its batch in SAVEPOINT/RELEASE, which are not on the
#     tables); also a loop with a nested atomic() (SAVEPOINT/RELEASE) around every lookup.
#  2. Batches that fail inside the client's transaction: a tiny statement_timeout that cancels the
#     batch but not the single lookups, and a lookup that fails for one key only (division by
#     zero). The client's transaction stays usable (it writes and commits), its output is
#     identical to direct (including the error of the bad key when it asks for it), and
#     pgfold_fallbacks_total{reason="error"} goes up.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
NPLUS1="$PGT_TESTS_DIR/clients/django/nplus1.py"
FOLD_CLIENTS="$PGT_TESTS_DIR/clients/fold"
TDB=fold_tx

fresh_db "$TDB"
if py "$NPLUS1" --port "$PG_PORT" --db "$TDB" setup >"$T/setup.out" 2>&1 &&
    py "$FOLD_CLIENTS/txfail.py" --port "$PG_PORT" --db "$TDB" setup >>"$T/setup.out" 2>&1; then
    ok "setup: $(head -n 1 "$T/setup.out")"
else
    fail "setup failed"
    sed 's/^/       /' "$T/setup.out" | tail -n 30
    test_finish
fi

# consistency = window (the default) with max_staleness_ms raised from 1 s to 60 s: in window
# mode an answer is reused while it is younger than max_staleness_ms, also inside a transaction
# block (proxy/fold.c fresh()), so a loop that runs longer than the window (a loaded machine,
# make asan) legitimately fetches again and the statement count would become a timing test.
# The window itself is tested in t_fold_consistency.sh.
fold_start max_staleness_ms=60000

# --- 1. Loops inside transaction blocks -----------------------------------------------------
declare -A fold_max=([forward]=2 [reverse]=2 [m2m]=3 [forward-savepoints]=2)
declare -A direct_want=([forward]=501 [reverse]=101 [m2m]=241 [forward-savepoints]=501)
for iso in rc rr; do
    for loop in forward reverse m2m forward-savepoints; do
        counted "django-$iso-$loop" 'polls_' "$PYTHON" "$FOLD_CLIENTS/django_tx.py" --port @PORT@ --db "$TDB" --iso "$iso" "$loop"
        check "django $iso $loop: ${direct_want[$loop]} statements direct" test "$N_DIRECT" = "${direct_want[$loop]}"
        folds "django in a $iso block: $loop" "${fold_max[$loop]}"
    done
    level="$(sed -n 's/^isolation: //p' "$T/django-$iso-forward.pgfold")"
    check "django $iso block runs at the expected level ($level)" \
        test "$level" = "$([ "$iso" = rc ] && echo 'read committed' || echo 'repeatable read')"
done

# The extended protocol in transaction blocks: psycopg 3 loops over SQLAlchemy-style tables,
# unnamed statements at READ COMMITTED, named (prepare=True) at REPEATABLE READ.
if py "$FOLD_CLIENTS/sqla_loops.py" --port "$PG_PORT" --db "$TDB" setup >"$T/setup-sqla.out" 2>&1; then
    declare -A p3_max=([forward]=2 [reverse]=2 [m2m]=2)
    for iso_style in rc:unnamed rr:prepared; do
        iso="${iso_style%%:*}" style="${iso_style#*:}"
        for loop in forward reverse m2m; do
            counted "psycopg3-$iso-$loop-$style" '\m(question|choice|book|author|tag|book_tag)\M' \
                "$PYTHON" "$FOLD_CLIENTS/p3_loops.py" --port @PORT@ --db "$TDB" --iso "$iso" "$loop" "$style"
            folds "psycopg3 in a $iso block: $loop $style" "${p3_max[$loop]}"
        done
    done
else
    fail "setup of the SQLAlchemy tables failed"
    sed 's/^/       /' "$T/setup-sqla.out" | tail -n 30
fi

# --- 2. Batches that fail -------------------------------------------------------------------
fallbacks() { metric 'pgfold_fallbacks_total{reason="error"}'; }

txfail_case() { # NAME DRIVER ISO WHAT
    local name="$1" before after
    before="$(fallbacks)"
    counted "$name" '\m(slowt|slowref|divt|divref|txlog)\M' \
        "$PYTHON" "$FOLD_CLIENTS/txfail.py" --port @PORT@ --db "$TDB" --driver "$2" --iso "$3" "$4"
    after="$(fallbacks)"
    check "$name ran to the end" grep -q '^final status IDLE' "$T/$name.pgfold"
    if [ "$PGFOLD_DIRECT" = 1 ]; then return 0; fi
    if [ "$after" -gt "$before" ]; then
        ok "$name: the batch failed and was discarded (fallbacks{reason=\"error\"} $before -> $after)"
    else
        fail "$name: no failed batch (fallbacks{reason=\"error\"} stayed $before)"
    fi
}

# statement_timeout: the batch is cancelled (it holds keys the client never reads, which take
# seconds each), the single lookups (under a millisecond) are not.
txfail_case timeout-psycopg2-rc psycopg2 rc timeout
txfail_case timeout-psycopg3-rr psycopg3 rr timeout
txfail_case timeout-psycopg2-autocommit psycopg2 autocommit timeout
check "timeout: no lookup failed direct" bash -c "! grep -q ERROR '$T'/timeout-*.direct"
check "timeout: 180 lookups answered" test "$(grep -c '^slow [0-9]* \[' "$T/timeout-psycopg2-rc.pgfold")" = 180

# One key's lookup fails: the batch holding it fails, the other keys' lookups do not.
for drv in psycopg2 psycopg3; do
    for iso in rc rr; do
        txfail_case "div0-$drv-$iso" "$drv" "$iso" div0
    done
done
txfail_case div0-psycopg2-autocommit psycopg2 autocommit div0
check "div0: key 7 fails with the server's error (22012)" grep -q '^div key 7 ERROR 22012 division by zero' "$T/div0-psycopg3-rr.pgfold"
check "div0: the 19 other keys answered" test "$(grep -c '^div [0-9]* \[' "$T/div0-psycopg2-rc.pgfold")" = 19

proxy_still_alive
fold_stop
DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $TDB WITH (FORCE)"
test_finish
