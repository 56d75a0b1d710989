#!/usr/bin/env bash
# tests/demo/demo.sh BUILD: what `make demo` runs.
#
# Starts a throwaway PostgreSQL (pg_stat_statements preloaded) and pgfold in front of it (mode
# rewrite unless PGFOLD_MODE says otherwise), loads the seed's Question/Choice example (100
# questions x 5 choices) through Django, runs the seed's N+1 loop
#     for choice in Choice.objects.all(): choice.question.question_text
# direct and through pgfold, and prints the statements the server ran and the wall time of each
# loop. Prints whatever the counts are. Stops everything on exit.
#   PGFOLD_DIRECT=1   no pgfold: both rows go to PostgreSQL (harness check)
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD" >&2
    exit 2
fi
BUILD="$(cd "$1" 2>/dev/null && pwd || echo "$1")"
export BUILD
. "$(cd "$(dirname "$0")" && pwd)/../lib/pg.sh"
export PGFOLD_MODE="${PGFOLD_MODE:-rewrite}"
NPLUS1="$PGT_TESTS_DIR/clients/django/nplus1.py"
DEMO_DB=demo

if [ "$PGFOLD_DIRECT" != 1 ] && [ ! -x "$(pgfold_bin)" ]; then
    pgt_die "$(pgfold_bin) does not exist: run make first (or PGFOLD_DIRECT=1 to check the harness)"
fi
pgt_tmpdir DEMO_TMP

echo "pgfold demo: the forward N+1 loop of tests/clients/django/nplus1.py, on the Question and"
echo "Choice models of tests/clients/django/polls/models.py (100 questions x 5 choices):"
echo "  for choice in Choice.objects.all():"
echo "      print(choice.question.question_text, ':', choice.choice_text)"
echo
echo "starting a throwaway PostgreSQL ..."
pg_start
if [ "$PGFOLD_DIRECT" = 1 ]; then
    echo "PGFOLD_DIRECT=1: NOT starting pgfold; the 'through pgfold' row goes to PostgreSQL directly"
    pgfold_start
else
    echo "starting pgfold (mode $PGFOLD_MODE) ..."
    pgfold_start
    echo "  pgfold listens on 127.0.0.1:$PROXY_PORT, PostgreSQL on 127.0.0.1:$PG_PORT"
fi

psql_direct -qc "CREATE DATABASE $DEMO_DB"
echo "loading 100 questions x 5 choices with Django ..."
py "$NPLUS1" --port "$PG_PORT" --db "$DEMO_DB" setup >"$DEMO_TMP/setup.out" 2>&1 ||
    { cat "$DEMO_TMP/setup.out" >&2; pgt_die "loading the data failed"; }
sed 's/^/  /' "$DEMO_TMP/setup.out"

# run_path NAME PORT: one untimed warm-up run (connections, caches), then a measured run with
# pg_stat_statements reset just before it. Sets COUNT_<NAME>, SECS_<NAME>, SENT_<NAME>.
run_path() {
    local name="$1" port="$2" out="$DEMO_TMP/$1.out" err="$DEMO_TMP/$1.err"
    py "$NPLUS1" --port "$port" --db "$DEMO_DB" forward >/dev/null 2>&1 || true
    stmt_reset
    if ! py "$NPLUS1" --port "$port" --db "$DEMO_DB" --timing forward >"$out" 2>"$err"; then
        echo "the loop failed on the $name path:" >&2
        tail -n 20 "$out" "$err" >&2
        [ "$name" = pgfold ] && pgfold_log_tail "$PGFOLD_LOG" 30
        exit 1
    fi
    printf -v "COUNT_$name" '%s' "$(stmt_count 'polls_')"
    printf -v "SECS_$name" '%s' "$(awk '$1 == "TIMING" {print $3}' "$err")"
    printf -v "SENT_$name" '%s' "$(sed -n 's/^== forward: .*, \([0-9]*\) queries sent by Django$/\1/p' "$out")"
}
echo "running the loop direct and through pgfold ..."
run_path direct "$PG_PORT"
run_path pgfold "$PROXY_PORT"

label="through pgfold ($PGFOLD_MODE)"
[ "$PGFOLD_DIRECT" = 1 ] && label="through pgfold (DIRECT=1)"
echo
printf '  %-28s %18s %18s %12s\n' "path" "queries by Django" "server statements" "wall time"
printf '  %-28s %18s %18s %12s\n' "----" "-----------------" "-----------------" "---------"
printf '  %-28s %18s %18s %10.3f s\n' "direct to PostgreSQL" "$SENT_direct" "$COUNT_direct" "$SECS_direct"
printf '  %-28s %18s %18s %10.3f s\n' "$label" "$SENT_pgfold" "$COUNT_pgfold" "$SECS_pgfold"
echo
echo "  server statements: counted by pg_stat_statements (reset before each run) over queries on"
echo "  the polls_ tables; wall time: the loop alone, measured in Python, one run after a warm-up."
echo

if diff -q "$DEMO_TMP/direct.out" "$DEMO_TMP/pgfold.out" >/dev/null; then
    echo "  results: identical (500 lines printed by each path)"
else
    echo "  results: DIFFERENT between direct and pgfold:"
    diff -u --label direct --label pgfold "$DEMO_TMP/direct.out" "$DEMO_TMP/pgfold.out" | head -n 20 | sed 's/^/    /'
fi
if [ "$PGFOLD_DIRECT" = 1 ]; then
    echo "  statements: both rows went straight to PostgreSQL (PGFOLD_DIRECT=1); no pgfold involved."
elif [ "$COUNT_pgfold" = "$COUNT_direct" ]; then
    echo "  statements: equal. Every statement of the loop reached the server through pgfold too:"
    echo "  nothing was folded on this run (mode $PGFOLD_MODE)."
elif [ "$COUNT_pgfold" -lt "$COUNT_direct" ]; then
    echo "  statements: pgfold folded the loop: the server ran $COUNT_pgfold statements instead of $COUNT_direct."
else
    echo "  statements: pgfold sent MORE statements than direct ($COUNT_pgfold vs $COUNT_direct): a bug."
fi

status=0
if [ "$PGFOLD_DIRECT" != 1 ]; then
    if pgfold_stop 2>&1; then
        echo "  pgfold stopped (SIGTERM, exit 0)"
    else
        echo "  pgfold did not stop cleanly (see above)"
        status=1
    fi
fi
echo "stopping PostgreSQL and removing the temporary folders"
exit $status
