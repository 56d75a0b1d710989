#!/usr/bin/env bash
# Rewrite mode: fresh answers across sessions (issue 13; DESIGN.md §4 "Across sessions").
# Two sessions of one pgfold with two workers, as a web app with two workers: A renders a list
# page (an N+1 loop, folded), B renames a listed row and commits, A renders the detail page and
# the list page again. Every read through pgfold must be what it is direct: the new row every
# time, with a window of a minute, so only pgfold's freshness rules can make it right. The
# same with every page in a READ COMMITTED block (transaction mode) and in a REPEATABLE READ
# block (snapshot mode); the loop alone still folds to 2 statements in each mode. Then a
# cascading DELETE seen by a reverse loop, and psycopg's two-phase-commit check
# (pg_prepared_xacts, never cached).
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
FRESH="$PGT_TESTS_DIR/clients/fold/fresh.py"
FDB=fold_fresh
SELECTS='^\s*SELECT.*\m(fq|fc)\M'

fresh_db "$FDB"
if py "$FRESH" --port "$PG_PORT" --db "$FDB" setup >"$T/setup.out" 2>&1; then
    ok "setup"
else
    fail "setup failed"
    sed 's/^/       /' "$T/setup.out" | tail -n 30
    test_finish
fi

run() { # NAME WHAT [ARGS]
    local name="$1" what="$2"
    shift 2
    counted "$name" "$SELECTS" "$PYTHON" "$FRESH" --port @PORT@ --db "$FDB" "$@" "$what"
}

for mode in window:none transaction:rc snapshot:rr; do
    consistency="${mode%%:*}" blocks="${mode#*:}"
    fold_start consistency="$consistency" max_staleness_ms=60000 workers=2
    run "$consistency-pages" pages --blocks "$blocks"
    check "$consistency: the detail page after B's commit shows B's text" \
        grep -q "^A detail 7: \[(7, 'renamed by B')\]" "$T/$consistency-pages.pgfold"
    check "$consistency: so does the list page rendered again" \
        grep -q "^A list 2: .* 25:\[(7, 'renamed by B')\]" "$T/$consistency-pages.pgfold"
    check "$consistency: and the next rename, on the third list" \
        grep -q "^A list 3: .* 25:\[(7, 'renamed again')\]" "$T/$consistency-pages.pgfold"
    run "$consistency-loop" loop --blocks "$blocks"
    folds "$consistency: the list page alone" 2
done

fold_start consistency=window max_staleness_ms=60000 workers=2
run cascade cascade
check "cascade: the reverse loop sees question 5's choices gone" \
    grep -q "^A round 2: .* 5:0 " "$T/cascade.pgfold"
run prepared-xacts prepared-xacts
check "pg_prepared_xacts: the prepared transaction is seen at once" \
    grep -q "^A after PREPARE fresh-gid-1: \[(1,)\]" "$T/prepared-xacts.pgfold"
fold_stop
DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $FDB WITH (FORCE)"
test_finish
