#!/usr/bin/env bash
# Rewrite mode with text keys containing single and double quotes, backslashes, SQL-looking
# text, whitespace, control characters and unicode (O'Brien, a\b, "q", ünï 💥, ...): a parent/
# child loop in both directions folds (keys are bound array parameters, never spliced into SQL),
# with the keys as quoted literals (psycopg2, simple protocol) and as bound parameters (psycopg 3:
# unnamed statement, and prepare=True). Outputs must be identical to direct, byte for byte.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
TK="$PGT_TESTS_DIR/clients/fold/textkeys.py"
KDB=fold_textkeys

fresh_db "$KDB"
if py "$TK" --port "$PG_PORT" --db "$KDB" setup >"$T/setup.out" 2>&1; then
    ok "$(cat "$T/setup.out")"
else
    fail "setup failed"
    sed 's/^/       /' "$T/setup.out" | tail -n 30
    test_finish
fi
persons="$(DB=$KDB psql_direct -Atc 'SELECT count(*) FROM tk_person')"
pets="$(DB=$KDB psql_direct -Atc 'SELECT count(*) FROM tk_pet')"

# consistency = window (the default) with max_staleness_ms raised from 1 s to 60 s: in window
# mode an answer is reused while it is younger than max_staleness_ms, also inside a transaction
# block (proxy/fold.c fresh()), so a loop that runs longer than the window (a loaded machine,
# make asan) legitimately fetches again and the statement count would become a timing test.
# The window itself is tested in t_fold_consistency.sh.
fold_start max_staleness_ms=60000

for drv in psycopg2 psycopg3-unnamed psycopg3-prepared; do
    counted "textkeys-$drv-forward" '\mtk_(person|pet)\M' "$PYTHON" "$TK" --port @PORT@ --db "$KDB" --driver "$drv" forward
    check "textkeys $drv forward: $((pets + 1)) statements direct" test "$N_DIRECT" = "$((pets + 1))"
    folds "textkeys $drv forward (pet -> owner by name)" 3
    counted "textkeys-$drv-reverse" '\mtk_(person|pet)\M' "$PYTHON" "$TK" --port @PORT@ --db "$KDB" --driver "$drv" reverse
    check "textkeys $drv reverse: $((persons + 1)) statements direct" test "$N_DIRECT" = "$((persons + 1))"
    folds "textkeys $drv reverse (person -> pets by owner)" 3
done
for drv in psycopg2 psycopg3-unnamed; do
    f="$T/textkeys-$drv-reverse.pgfold"
    check "textkeys $drv: O'Brien's pets" grep -qF "(\"O'Brien\", 'person #1') -> [(1, \"O'Brien\", " "$f"
    check "textkeys $drv: a\\b's pets" grep -qF "('a\\\\b', 'person #2') -> [(2, 'a\\\\b', " "$f"
    check "textkeys $drv: \"q\"'s pets" grep -qF "('\"q\"', 'person #3') -> [(3, '\"q\"', " "$f"
    check "textkeys $drv: ünï 💥's pets" grep -qF "('ünï 💥', 'person #4') -> [(4, 'ünï 💥', " "$f"
done
check "textkeys: the tables are intact" test "$(DB=$KDB psql_direct -Atc 'SELECT count(*) FROM tk_pet')" = "$pets"

if [ "$PGFOLD_DIRECT" != 1 ]; then
    check "metrics: no fallbacks" test "$(metric 'pgfold_fallbacks_total{reason="error"}')" = 0
fi
proxy_still_alive
fold_stop
DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $KDB WITH (FORCE)"
test_finish
