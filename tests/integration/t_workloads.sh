#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2034 # WL_a_STMTS, WL_SAME, ...: set with printf -v, read by the callers
# The workloads of tests/workloads/ (issue 12): realistic applications with N+1 endpoints, each
# with a hand-optimized twin that prints the same output. Every endpoint runs three ways:
#   a  the N+1 endpoint direct to PostgreSQL
#   b  the same N+1 endpoint through pgfold in rewrite mode (this script's own instance)
#   c  the hand-optimized endpoint direct
# and pg_stat_statements counts the server statements of each run (tests/workloads/lib.sh:
# every statement of the workload's database, transaction control counted apart).
#
# Asserts behaviour only: each run exits 0; a, b and c print byte-identical output; through
# pgfold never more statements than direct (transaction control apart, see lib.sh); the N+1
# endpoint really sends more statements than its twin. No timing assertions: the table it
# prints (statements and wall times) is information; tests/workloads/bench.sh measures.
#
# It starts its own pgfold in rewrite mode (whatever PGFOLD_MODE says), so it runs in the
# rewrite pass only: in other passes it prints a skip. WL_ALL="django node" runs a subset.
# consistency = window with max_staleness_ms = 60000, as t_fold does: an endpoint that runs
# longer than the window on a loaded machine would otherwise fetch again, and a statement
# count would become a timing test.
set -euo pipefail
# shellcheck source=../lib/pg.sh
. "$(dirname "$0")/../lib/pg.sh"
need_env
# shellcheck source=../workloads/lib.sh
. "$PGT_TESTS_DIR/workloads/lib.sh"
T="$PGT_OUT"

if [ "${PGFOLD_MODE:-passthrough}" != rewrite ] && [ "$PGFOLD_DIRECT" != 1 ]; then
    skip "workloads: rewrite-mode test, runs in the PGFOLD_MODE=rewrite pass"
    test_finish
fi

over_total=()
for w in $WL_ALL; do
    if ! why="$(wl_available "$w")"; then
        fail "$w: $why"
        continue
    fi
    if wl_setup "$w" "$T/$w.setup"; then
        ok "$w setup: $(tail -n 1 "$T/$w.setup")"
    else
        fail "$w setup failed"
        sed 's/^/       /' "$T/$w.setup" | tail -n 20
        continue
    fi
    fold_start max_staleness_ms=60000
    note "== $w: $(wl_about "$w")"
    note "$(wl_table_header | sed 's/^  //')"
    for ep in $(wl_endpoints "$w"); do
        wl_three "$w" "$ep" "$PG_PORT" "$PROXY_PORT" "$T"
        note "$(wl_table_row "$w.$ep" "$WL_SAME" | sed 's/^  //')"
        base="$T/$w.$ep"
        for x in a b c; do
            if [ "$(tail -n 1 "$base.$x")" != "[exit 0]" ]; then
                fail "$w.$ep ($x): $(tail -n 1 "$base.$x")"
                grep -v '^WLSTATS' "$base.$x.err" | tail -n 15 | sed 's/^/       /'
            fi
        done
        if [ "$WL_SAME" = 1 ]; then
            ok "$w.$ep: N+1 direct, N+1 through pgfold and hand-optimized print the same ($(($(wc -l <"$base.a") - 1)) lines)"
        else
            fail "$w.$ep: outputs differ"
            wl_diff "$w" "$ep" "$T" | sed 's/^/       /'
        fi
        check "$w.$ep: through pgfold no more statements than direct ($WL_b_STMTS <= $WL_a_STMTS)" \
            test "$WL_b_STMTS" -le "$WL_a_STMTS"
        check "$w.$ep: the N+1 endpoint sends more statements than its twin ($WL_a_STMTS > $WL_c_STMTS)" \
            test "$WL_a_STMTS" -gt "$WL_c_STMTS"
        if [ $((WL_b_STMTS + WL_b_TX)) -gt $((WL_a_STMTS + WL_a_TX)) ]; then
            over_total+=("$w.$ep $((WL_b_STMTS + WL_b_TX))>$((WL_a_STMTS + WL_a_TX))")
        fi
    done
    if [ "$PGFOLD_DIRECT" != 1 ]; then
        curl -fsS --max-time 10 "http://127.0.0.1:$PGFOLD_ADMIN_PORT/patterns" >"$T/$w.patterns.json" 2>/dev/null || true
        note "$w: pgfold batches $(metric pgfold_batches_total), keys fetched $(metric pgfold_batch_keys_total), used $(metric pgfold_batch_keys_used_total), fallbacks error/size/rowdescription $(metric 'pgfold_fallbacks_total{reason="error"}')/$(metric 'pgfold_fallbacks_total{reason="size"}')/$(metric 'pgfold_fallbacks_total{reason="rowdescription"}')"
    fi
    proxy_still_alive
    fold_stop
    DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $(wl_db "$w") WITH (FORCE)" >/dev/null 2>&1 || true
done
if [ "${#over_total[@]}" -gt 0 ]; then
    note "with transaction control counted too (pgfold's SAVEPOINT/RELEASE around batches in a block), more statements through pgfold than direct: ${over_total[*]}"
fi
test_finish
