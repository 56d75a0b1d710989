#!/usr/bin/env bash
# Rewrite mode, the seed's example: Django 3.2 over psycopg2 (simple protocol, literal keys),
# 100 questions x 5 choices and 120 books with an author and 2 tags each. Every loop runs direct
# and through a pgfold in rewrite mode (consistency = window; max_staleness_ms: below); outputs
# are diffed and pg_stat_statements counts the statements that reached the server on the tables.
#   forward  choice.question per choice         direct 501, through pgfold at most 2
#   reverse  q.choice_set.all() per question    direct 101, at most 2
#   m2m      book.author + book.tags.all()      direct 241, at most 3
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
NPLUS1="$PGT_TESTS_DIR/clients/django/nplus1.py"
DJ_DB=fold_django

fresh_db "$DJ_DB"
if py "$NPLUS1" --port "$PG_PORT" --db "$DJ_DB" setup >"$T/setup.out" 2>&1; then
    ok "setup: $(tail -n 1 "$T/setup.out")"
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

declare -A direct_want=([forward]=501 [reverse]=101 [m2m]=241)
declare -A fold_max=([forward]=2 [reverse]=2 [m2m]=3)
declare -A lines=([forward]=500 [reverse]=100 [m2m]=120)
for loop in forward reverse m2m; do
    counted "django-$loop" 'polls_' "$PYTHON" "$NPLUS1" --port @PORT@ --db "$DJ_DB" "$loop"
    check "django $loop: ${direct_want[$loop]} statements direct" test "$N_DIRECT" = "${direct_want[$loop]}"
    folds "django $loop" "${fold_max[$loop]}"
    check "django $loop: printed ${lines[$loop]} lines, ${direct_want[$loop]} queries sent by Django" \
        grep -q "^== $loop: ${lines[$loop]} lines, ${direct_want[$loop]} queries sent by Django" "$T/django-$loop.pgfold"
done

# All three loops in one session, one after another: sources and answers of one loop must not
# leak into the next one's answers.
counted "django-all" 'polls_' "$PYTHON" "$NPLUS1" --port @PORT@ --db "$DJ_DB" all
folds "django all three loops in one session" 7

if [ "$PGFOLD_DIRECT" != 1 ]; then
    check "metrics: batches were used" test "$(metric pgfold_batches_total)" -ge 3
    check "metrics: no fallbacks" test "$(metric 'pgfold_fallbacks_total{reason="error"}')" = 0
fi

proxy_still_alive
fold_stop
DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $DJ_DB WITH (FORCE)"
test_finish
