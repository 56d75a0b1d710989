#!/usr/bin/env bash
# The regression gate, pgfold --patterns-diff (issue 14, item 3), the way docs/patterns-gate.md
# tells an application to run it: its "test suite" (Django requests with sqlcommenter
# comments) runs through a pgfold in observe mode, /patterns is saved as the baseline, and
# later runs are compared with it:
#   1. the same suite on a fresh pgfold: exit 0, "0 new, 0 grown";
#   2. a suite with a new N+1 (the reverse loop, in another view): exit 1, and the report names
#      it as source query -> repeated query -> location -> suggested fix; the same from a saved
#      copy (--patterns FILE);
#   3. a suite whose N+1 grew (the forward loop twice): exit 1 past the default factor, exit 0
#      with --factor 3;
#   4. inputs that cannot be read: exit 2 (no baseline, not JSON, nothing listening, both
#      sources);
#   5. admin_token: exit 2 without the token, the same report with PGFOLD_ADMIN_TOKEN or with
#      -c FILE (admin_listen and admin_token from pgfold's own config file).
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
ADM="$PGT_TESTS_DIR/clients/admin/adminhttp.py"
NPLUS1="$PGT_TESTS_DIR/clients/django/nplus1.py"
DJ="$PGT_TESTS_DIR/clients/attrib/django_commenter.py"
GDB=gate_db
BIN="$(pgfold_bin)"

if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "gate (PGFOLD_DIRECT=1: needs pgfold instances of its own)"
    test_finish
fi
W="$(mktemp -d /tmp/pfgate.XXXXXX)"
if [ "${PGT_KEEP:-0}" = 1 ]; then pgt_log "keeping $W"; else pgt_atexit "rm -rf '$W'"; fi

eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi; }
# suite NAME LOOP:VIEW...: the application's "test suite", one request per item, through pgfold
suite() {
    local name="$1" item
    shift
    for item in "$@"; do
        py "$DJ" --port "$PROXY_PORT" --db "$GDB" --view "${item#*:}" --route "${item#*:}/" "${item%%:*}" \
            >>"$T/suite.$name.out" 2>&1 || fail "suite $name: request $item failed ($(tail -n 3 "$T/suite.$name.out" | tr '\n' ' '))"
    done
}
# gate NAME ARGS...: runs the gate; sets rc and leaves its output in $T/NAME.out
gate() {
    local name="$1"
    shift
    timeout 30 "$BIN" --patterns-diff "$@" >"$T/$name.out" 2>&1 && rc=0 || rc=$?
}
has() { # NAME FILE FIXED-STRING...: every string is in the file
    local name="$1" f="$2" s miss=""
    shift 2
    for s in "$@"; do grep -qF -- "$s" "$f" || miss="$miss [$s]"; done
    if [ -z "$miss" ]; then ok "$name"; else fail "$name: missing$miss in:"; sed 's/^/       /' "$f" | head -n 30; fi
}
fresh_pgfold() { # a new observe-mode pgfold (an empty registry), as CI would start per run
    [ -z "${PGFOLD_PID:-}" ] || pgfold_stop "$PGFOLD_PID" "$PGFOLD_LOG" >/dev/null 2>&1 || fail "pgfold did not exit 0"
    PGFOLD_MODE=observe pgfold_start "$@"
    ADMIN="http://127.0.0.1:$PGFOLD_ADMIN_PORT"
}
PGFOLD_PID=""

psql_direct -qc "DROP DATABASE IF EXISTS $GDB WITH (FORCE)" 2>/dev/null
psql_direct -qc "CREATE DATABASE $GDB"
pgt_atexit "DB=$TEST_DB psql_direct -qc 'DROP DATABASE IF EXISTS $GDB WITH (FORCE)'"
py "$NPLUS1" --port "$PG_PORT" --db "$GDB" setup >"$T/setup.out" 2>&1 || { fail "setup"; test_finish; }

# ---- the baseline ----------------------------------------------------------------------------
fresh_pgfold
suite base forward:choices
B="$W/baseline.json"
eq "baseline saved from GET /patterns" "$(py "$ADM" get --port "$PGFOLD_ADMIN_PORT" --path /patterns --out "$B")" "200 application/json"
gate same-process "$B" --admin "$ADMIN"
eq "the gate against the pgfold the baseline came from: exit 0" "$rc" 0

# ---- 1. the same suite on a fresh pgfold -----------------------------------------------------------
fresh_pgfold
suite v1 forward:choices
gate v1 "$B" --admin "$ADMIN"
eq "same suite, fresh pgfold: exit 0" "$rc" 0
has "... the summary says nothing new or grown" "$T/v1.out" "patterns-diff: 0 new, 0 grown past 1.50x"
note "$(tail -n 1 "$T/v1.out")"

# ---- 2. a new N+1 ----------------------------------------------------------------------------------
fresh_pgfold
suite v2 forward:choices reverse:questions
gate v2 "$B" --admin "$ADMIN"
eq "a new N+1 in the suite: exit 1" "$rc" 1
# (How many of the reverse loop's lookups observe mode traces is the engine's business: each
# lookup's own result is remembered too, and pushes the source out of the last 32.)
check "... reported with its lookups and loops" grep -qE '^NEW N\+1 pattern \([0-9]+ lookups in 1 loop\)$' "$T/v2.out"
has "... as source query -> repeated query -> location -> fix" "$T/v2.out" \
    'source query     SELECT "polls_question"."id", "polls_question"."question_text", "polls_question"."pub_date" FROM "polls_question" (column id)' \
    '-> repeated query   SELECT "polls_choice"."id", "polls_choice"."question_id", "polls_choice"."choice_text", "polls_choice"."votes" FROM "polls_choice" WHERE "polls_choice"."question_id" = $1' \
    "-> location         database $GDB, user postgres, application_name polls-web, at app_name=polls controller=questions route=questions/ (1 loop)" \
    "-> fix              load the polls_choice rows of all polls_question rows at once: Django prefetch_related('choice_set')" \
    "patterns-diff: 1 new, 0 grown"
check "... in that order" bash -c "grep -n -e '^NEW' -e 'source query' -e '-> repeated' -e '-> location' -e '-> fix' '$T/v2.out' | cut -d: -f1 | paste -sd' ' | awk '{for (i = 2; i <= NF; i++) if (\$i != \$(i-1) + 1) exit 1}'"
check "... and the forward pattern, unchanged, is not reported" bash -c "! grep -q 'polls_question\".\"id\" = \\\$1' '$T/v2.out'"
sed 's/^/       /' "$T/v2.out" | head -n 8
NOW="$W/now.json"
py "$ADM" get --port "$PGFOLD_ADMIN_PORT" --path /patterns --out "$NOW" >/dev/null
gate v2-file "$B" --patterns "$NOW"
eq "the same from a saved copy (--patterns FILE): exit 1" "$rc" 1
eq "... with the same report (but the name of what was compared)" \
    "$(diff <(sed '$d' "$T/v2.out") <(sed '$d' "$T/v2-file.out") >/dev/null && echo same)" same
gate v2-back "$NOW" --patterns "$B"
eq "the other way round, a pattern gone is no failure: exit 0" "$rc" 0
has "... it is counted as gone" "$T/v2-back.out" "0 new, 0 grown past 1.50x, 1 within, 1 gone"

# ---- 3. an N+1 that grew ---------------------------------------------------------------------------
fresh_pgfold
suite v3 forward:choices forward:choices
gate v3 "$B" --admin "$ADMIN"
eq "the forward loop run twice (lookups 2x the baseline's): exit 1" "$rc" 1
has "... reported as grown" "$T/v3.out" "GROWN N+1 pattern: 1000 lookups, baseline 500 (2.00x > 1.50x)" \
    "controller=choices route=choices/ (2 loops)" "select_related('question')"
gate v3-factor "$B" --admin "$ADMIN" --factor 3
eq "... within --factor 3: exit 0" "$rc" 0

# ---- 4. inputs that cannot be read ----------------------------------------------------------------------
gate no-baseline "$W/missing.json" --admin "$ADMIN"
eq "no baseline file: exit 2" "$rc" 2
printf '{"patterns": 7}\n' >"$W/bad.json"
gate bad-baseline "$W/bad.json" --admin "$ADMIN"
eq "a baseline that is no pattern list: exit 2" "$rc" 2
printf '[{"fingerprint": "x", "lookups": 5' >"$W/cut.json"
gate cut-baseline "$W/cut.json" --patterns "$NOW"
eq "a cut JSON file: exit 2" "$rc" 2
has "... naming the file and the place" "$T/cut-baseline.out" "$W/cut.json: not JSON"
gate nothing-listening "$B" --admin "127.0.0.1:$(free_port)" --timeout-ms 3000
eq "nothing on the admin address: exit 2" "$rc" 2
has "... saying so" "$T/nothing-listening.out" "Connection refused"
gate both-sources "$B" --admin "$ADMIN" --patterns "$NOW"
eq "--admin and --patterns together: exit 2" "$rc" 2
gate help --help
eq "pgfold --patterns-diff --help: exit 0" "$rc" 0

# ---- 5. admin_token ------------------------------------------------------------------------------------
printf '[pgfold]\nadmin_token = gate-%s\n' "$$" >"$W/token.ini"
fresh_pgfold -c "$W/token.ini"
suite v5 forward:choices reverse:questions
gate token-none "$B" --admin "$ADMIN"
eq "admin_token set, no token given: exit 2" "$rc" 2
has "... saying why" "$T/token-none.out" "HTTP 401"
PGFOLD_ADMIN_TOKEN="gate-$$" timeout 30 "$BIN" --patterns-diff "$B" --admin "$ADMIN" >"$T/token-env.out" 2>&1 && rc=0 || rc=$?
eq "PGFOLD_ADMIN_TOKEN: the new pattern found, exit 1" "$rc $(grep -c '^NEW N+1' "$T/token-env.out")" "1 1"
printf '[pgfold]\nadmin_listen = 127.0.0.1:%s\nadmin_token = gate-%s\n' "$PGFOLD_ADMIN_PORT" "$$" >"$W/client.ini"
gate token-config "$B" -c "$W/client.ini"
eq "-c FILE (admin_listen and admin_token from it): exit 1" "$rc $(grep -c '^NEW N+1' "$T/token-config.out")" "1 1"
check "the token is never printed" bash -c "! grep -q 'gate-$$' '$T/token-none.out' '$T/token-env.out' '$T/token-config.out'"
pgfold_stop "$PGFOLD_PID" "$PGFOLD_LOG" >/dev/null 2>&1 || fail "pgfold did not exit 0"
test_finish
