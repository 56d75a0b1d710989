#!/usr/bin/env bash
# Django 3.2 + psycopg2 (Debian packages) running the seed's loops direct and through pgfold:
# forward FK (the seed's 501-query example), reverse FK, and m2m/nested. Outputs are diffed;
# pg_stat_statements counts the statements each loop sent to the server on each path.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
NPLUS1="$PGT_TESTS_DIR/clients/django/nplus1.py"
DJ_DB=django_test

psql_direct -qc "DROP DATABASE IF EXISTS $DJ_DB WITH (FORCE)" 2>/dev/null
psql_direct -qc "CREATE DATABASE $DJ_DB"

# Load the data direct (a broken load through pgfold would poison both sides of the diff).
if py "$NPLUS1" --port "$PG_PORT" --db "$DJ_DB" setup >"$T/setup.out" 2>&1; then
    ok "setup: $(tail -n 1 "$T/setup.out")"
else
    fail "setup failed"
    sed 's/^/       /' "$T/setup.out" | tail -n 30
    test_finish
fi

# Statements each loop sends direct (1 + one lazy load per row): what pg_stat_statements must see.
declare -A want=([forward]=501 [reverse]=101 [m2m]=241)
for loop in forward reverse m2m; do
    for side in direct pgfold; do
        port="$PG_PORT"
        [ "$side" = pgfold ] && port="$PROXY_PORT"
        stmt_reset
        py "$NPLUS1" --port "$port" --db "$DJ_DB" "$loop" >"$T/$loop.$side" 2>&1 &&
            echo "[exit 0]" >>"$T/$loop.$side" || echo "[exit $?]" >>"$T/$loop.$side"
        printf -v "n_$side" '%s' "$(stmt_count 'polls_')"
    done
    compare "django $loop loop" "$T/$loop.direct" "$T/$loop.pgfold"
    note "$loop loop: server statements direct=$n_direct through-pgfold=$n_pgfold (${PGFOLD_MODE:-passthrough} mode)"
    check "$loop loop: $((${want[$loop]})) statements direct" test "$n_direct" = "${want[$loop]}"
    # Passthrough forwards every statement; a batching mode may send fewer, never more.
    if [ "${PGFOLD_MODE:-passthrough}" = passthrough ]; then
        check "$loop loop: passthrough sends the same statements" test "$n_pgfold" = "$n_direct"
    else
        check "$loop loop: pgfold sends no more statements than direct" test "$n_pgfold" -le "$n_direct"
    fi
done
check "forward loop printed 500 choices" grep -q '^== forward: 500 lines, 501 queries sent by Django' "$T/forward.pgfold"

psql_direct -qc "DROP DATABASE IF EXISTS $DJ_DB WITH (FORCE)"
proxy_still_alive
test_finish
