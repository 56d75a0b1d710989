#!/usr/bin/env bash
# Rewrite mode with lookups whose key is written with a cast: `id = 5::int8`, CAST('x' AS
# bigint), `uid = '...'::uuid` (psycopg2, simple protocol) and `id = $1::int8`, a binary int4
# through `::int4`, a str through `::uuid`, a prepared statement (psycopg 3). A cast to a key
# type folds; one pgfold cannot predict (varchar(1), a double cast) is forwarded; a cast that
# fails on one key (70000::int2) still fails on that key alone. Outputs, errors included, must
# be identical to direct.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
CS="$PGT_TESTS_DIR/clients/fold/casts.py"
CDB=fold_casts

fresh_db "$CDB"
if py "$CS" --port "$PG_PORT" --db "$CDB" setup >"$T/setup.out" 2>&1; then
    ok "$(cat "$T/setup.out")"
else
    fail "setup failed"
    sed 's/^/       /' "$T/setup.out" | tail -n 30
    test_finish
fi

# max_staleness_ms raised as in t_fold_textkeys.sh: the counts must not depend on timing.
fold_start max_staleness_ms=60000

# psycopg2: 8 loops of 31 lookups, plus the children query before each. Five fold (a forwarded
# first lookup and one batch each), the two unpredictable casts are forwarded (31 each), and the
# ::int2 loop folds the keys that fit, its 70000 failing on the server as it does direct.
counted casts-psycopg2 '\mcs_(parent|child)\M' "$PYTHON" "$CS" --port @PORT@ --db "$CDB" psycopg2
# (pg_stat_statements does not count the statement that failed)
check "casts psycopg2: $((8 * 32 - 1)) statements direct" test "$N_DIRECT" = $((8 * 32 - 1))
check "casts psycopg2: one key fails, as direct" test "$(grep -c '22003 smallint out of range' "$T/casts-psycopg2.pgfold")" = 1
folds "casts psycopg2 (6 loops fold, 2 forwarded)" $((8 + 6 * 2 + 2 * 31))
# psycopg 3: 5 loops, all foldable.
counted casts-psycopg3 '\mcs_(parent|child)\M' "$PYTHON" "$CS" --port @PORT@ --db "$CDB" psycopg3
check "casts psycopg3: $((5 * 32 - 1)) statements direct" test "$N_DIRECT" = $((5 * 32 - 1))
check "casts psycopg3: one key fails, as direct" test "$(grep -c '22003 smallint out of range' "$T/casts-psycopg3.pgfold")" = 1
folds "casts psycopg3 (5 loops fold)" $((5 + 5 * 2))

if [ "$PGFOLD_DIRECT" != 1 ]; then
    check "metrics: no fallbacks" test "$(metric 'pgfold_fallbacks_total{reason="error"}')" = 0
fi
proxy_still_alive
fold_stop
DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $CDB WITH (FORCE)"
test_finish
