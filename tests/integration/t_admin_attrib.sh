#!/usr/bin/env bash
# Attribution and savings on the admin port (issue 14, items 2 and 4), against pgfold instances
# of this test's own:
#   1. rewrite mode. Django "requests" with sqlcommenter comments (two views, and one request
#      without a comment) and ActiveRecord "requests" with marginalia comments (two
#      controller#action pairs) run their N+1 loops, each direct and through pgfold, outputs
#      compared. /patterns then has ONE pattern per loop (the same statement with and without
#      a comment is one pattern), with its database, user, application_name and the locations
#      the comments named, never their traceparent; the pattern's text shows no comment. The
#      log line names where the pattern was first seen.
#   2. savings in rewrite mode: each pattern's round trips and statements saved; statements
#      saved = what pg_stat_statements saw direct minus through pgfold, in autocommit and in a
#      transaction block (where a batch costs a SAVEPOINT and a RELEASE); /metrics, /stats and
#      the HTML page agree; nothing "would save".
#   3. observe mode: the same loops save nothing and say so ("saved": null, 0 on /metrics);
#      they "would save" lookups - loops round trips (less SAVEPOINT/RELEASE in a block).
# Counts only: the estimated time is checked to be round trips x the stated per-round-trip
# figure, never against a clock.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
ADM="$PGT_TESTS_DIR/clients/admin/adminhttp.py"
NPLUS1="$PGT_TESTS_DIR/clients/django/nplus1.py"
DJ="$PGT_TESTS_DIR/clients/attrib/django_commenter.py"
RB="$PGT_TESTS_DIR/clients/attrib/rails_marginalia.rb"
ADB=attrib_db

if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "attribution (PGFOLD_DIRECT=1: needs pgfold instances of its own)"
    test_finish
fi
W="$(mktemp -d /tmp/pfattr.XXXXXX)"
if [ "${PGT_KEEP:-0}" = 1 ]; then pgt_log "keeping $W"; else pgt_atexit "rm -rf '$W'"; fi

# ---- helpers ---------------------------------------------------------------------------------
jget() { py "$ADM" jget "$1" "$2"; }
http() { py "$ADM" get --port "$PGFOLD_ADMIN_PORT" --path "$1" --out "$2" 2>&1 || true; }
eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi; }
scrape() { py "$ADM" metrics --port "$PGFOLD_ADMIN_PORT" --out "$1.raw" >"$1" 2>"$1.err" || fail "GET /metrics: $(head -c 300 "$1.err")"; }
mval() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
# pgss: calls pg_stat_statements saw in ADB, without pgfold's catalog queries (one per worker
# and database, whenever a worker first meets it) and the queries on pg_stat_statements.
pgss() {
    DB="$TEST_DB" psql_direct -v ON_ERROR_STOP=1 -At -v db="$ADB" <<'EOF'
SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = :'db' AND query !~* 'pg_stat_statements' AND query !~* 'pg_catalog\.pg_(constraint|class)';
EOF
}
wait_idle() {
    local i v=""
    for ((i = 0; i < 100; i++)); do
        v="$(py "$ADM" metrics --port "$PGFOLD_ADMIN_PORT" 2>/dev/null | awk '$1 == "pgfold_client_connections" {print $2}')"
        [ "$v" = 0 ] && return 0
        sleep 0.1
    done
}
wait_log() {
    local i
    for ((i = 0; i < 100; i++)); do grep -qF -- "$1" "$2" && return 0; sleep 0.1; done
    return 1
}
# dj NAME PORT ARGS...: one Django request; prints the statements it sent
dj() {
    local name="$1" port="$2"
    shift 2
    py "$DJ" --port "$port" --db "$ADB" "$@" >"$T/$name.out" 2>&1 || { tail -n 20 "$T/$name.out" >&2; echo 0; return 0; }
    sed -n 's/^== .*, \([0-9]*\) queries sent by Django.*$/\1/p' "$T/$name.out"
}

# The Question/Choice forward pattern and the ActiveRecord post.author pattern.
FWD='[p for p in d if re.search(r"FROM \"polls_question\" WHERE \"polls_question\".\"id\" = \$1", p["query"]) and re.search(r"FROM \"polls_choice\"$", p["source_query"]) and p["source_column"] == "question_id"]'
AR='[p for p in d if "attr_authors" in p["query"] and "attr_posts" in p["source_query"]]'
LOCS='sorted(s["location"] for s in '

# ---- data -------------------------------------------------------------------------------------
psql_direct -qc "DROP DATABASE IF EXISTS $ADB WITH (FORCE)" 2>/dev/null
psql_direct -qc "CREATE DATABASE $ADB"
pgt_atexit "DB=$TEST_DB psql_direct -qc 'DROP DATABASE IF EXISTS $ADB WITH (FORCE)'"
if ! py "$NPLUS1" --port "$PG_PORT" --db "$ADB" setup >"$T/setup.out" 2>&1 ||
    ! timeout "$PGT_CLIENT_TIMEOUT" ruby "$RB" "$PG_PORT" "$ADB" setup >>"$T/setup.out" 2>&1; then
    fail "setup failed"
    tail -n 30 "$T/setup.out" | sed 's/^/       /'
    test_finish
fi
n_choice="$(DB="$ADB" psql_direct -Atc 'SELECT count(*) FROM polls_choice')"
n_post="$(DB="$ADB" psql_direct -Atc 'SELECT count(*) FROM attr_posts')"

# ---- 1. rewrite: locations ----------------------------------------------------------------------
printf '[pgfold]\nmax_staleness_ms = 10min\n' >"$W/rewrite.ini"
PGFOLD_MODE=rewrite pgfold_start -c "$W/rewrite.ini"
RW_LOG="$PGFOLD_LOG"
both "django view index (sqlcommenter)" "$PYTHON" "$DJ" --port @PORT@ --db "$ADB" --view index --route 'polls/' forward
both "django view detail (sqlcommenter)" "$PYTHON" "$DJ" --port @PORT@ --db "$ADB" --view detail --route 'polls/<int:question_id>/' forward
both "django without a comment" "$PYTHON" "$DJ" --port @PORT@ --db "$ADB" --no-comment forward
both "rails posts#index (marginalia)" ruby "$RB" @PORT@ "$ADB" posts index
both "rails authors#show (marginalia)" ruby "$RB" @PORT@ "$ADB" authors show
wait_idle
P="$T/patterns.rewrite.json"
eq "GET /patterns" "$(http /patterns "$P")" "200 application/json"
eq "the forward loop with and without comments is one pattern" "$(jget "$P" "len($FWD)")" 1
eq "... its text shows no comment" "$(jget "$P" "[p['query'] for p in $FWD if '/*' in p['query'] + p['source_query']]")" "[]"
eq "... seen under 3 sites: two views and the request without a comment" \
    "$(jget "$P" "${LOCS}${FWD}[0]['seen_under'])")" \
    '["", "app_name=polls controller=detail route=polls/<int:question_id>/", "app_name=polls controller=index route=polls/"]'
eq "... each site: database, user, application_name, 1 loop, comment style" \
    "$(jget "$P" "sorted('%(database)s %(user)s %(application_name)s %(loops)d %(comment_style)s' % s for s in ${FWD}[0]['seen_under'])")" \
    "[\"$ADB postgres polls-web 1 none\", \"$ADB postgres polls-web 1 sqlcommenter\", \"$ADB postgres polls-web 1 sqlcommenter\"]"
eq "... tags as an object, decoded; no traceparent, db_driver or framework in a location" \
    "$(jget "$P" "[s['tags'] for s in ${FWD}[0]['seen_under'] if s['tags'] and 'detail' in s['location']]")" \
    '[{"app_name": "polls", "controller": "detail", "route": "polls/<int:question_id>/"}]'
eq "... lookups and loops" "$(jget "$P" "'%(lookups)d %(loops)d' % ${FWD}[0]")" "$((3 * n_choice)) 3"
eq "the ActiveRecord loop is one pattern" "$(jget "$P" "len($AR)")" 1
eq "... seen under both controller#action locations, application_name blog-rails, tags style" \
    "$(jget "$P" "sorted('%(location)s|%(application_name)s|%(comment_style)s' % s for s in ${AR}[0]['seen_under'])")" \
    '["application=Blog controller=authors action=show|blog-rails|tags", "application=Blog controller=posts action=index|blog-rails|tags"]'
eq "... lookups and loops" "$(jget "$P" "'%(lookups)d %(loops)d' % ${AR}[0]")" "$((2 * n_post)) 2"
check "log: the forward pattern's line names where it was first seen" wait_log \
    "seen under database $ADB, user postgres, application_name polls-web, at app_name=polls controller=index route=polls/" "$RW_LOG"
check "log: the ActiveRecord pattern's line names its first location" wait_log \
    "seen under database $ADB, user postgres, application_name blog-rails, at application=Blog controller=posts action=index" "$RW_LOG"
note "log: $(grep -m1 'N+1 pattern:.*attr_authors' "$RW_LOG" | cut -c1-400)"

# ---- 2. rewrite: what folding saved ----------------------------------------------------------------
eq "forward pattern saved: round trips, statements = lookups answered locally - batches; would_save null" \
    "$(jget "$P" "'%s %s %s' % (${FWD}[0]['saved']['roundtrips'], ${FWD}[0]['saved']['statements'], ${FWD}[0]['would_save'])")" \
    "$((3 * (n_choice - 1))) $((3 * (n_choice - 1))) None"
eq "ActiveRecord pattern saved = lookups - batches (each batch took its trigger's round trip)" \
    "$(jget "$P" "${AR}[0]['saved']['roundtrips'] == ${AR}[0]['lookups'] - ${AR}[0]['batches'] and ${AR}[0]['batches'] > 0")" True
eq "roundtrips_saved (the old field) = saved.roundtrips, per pattern" \
    "$(jget "$P" "all(p['roundtrips_saved'] == (p['saved'] or {}).get('roundtrips', 0) for p in d)")" True
eq "estimated time = round trips x the per-round-trip figure it states" \
    "$(jget "$P" "all(abs(p['saved']['estimated_time_ms'] - p['saved']['roundtrips'] * p['saved']['per_roundtrip_ms']) <= 0.001 + p['saved']['roundtrips'] * 0.0005 for p in d if p['saved'])")" True

# statements saved against pg_stat_statements: direct minus through pgfold, same request
saved_vs_pgss() { # NAME ARGS...: one request direct, one through pgfold
    local name="$1" before after direct via
    shift
    stmt_reset
    dj "$name.direct" "$PG_PORT" "$@" >/dev/null
    direct="$(pgss)"
    scrape "$T/m.before"
    stmt_reset
    dj "$name.pgfold" "$PROXY_PORT" "$@" >/dev/null
    wait_idle
    via="$(pgss)"
    scrape "$T/m.after"
    before="$(mval pgfold_statements_saved "$T/m.before")" after="$(mval pgfold_statements_saved "$T/m.after")"
    eq "$name: pgfold_statements_saved grew by direct - through pgfold in pg_stat_statements ($direct - $via)" \
        "$((after - before))" "$((direct - via))"
}
saved_vs_pgss "autocommit loop" --view index --route 'polls/' forward
saved_vs_pgss "loop in transaction.atomic()" --view index --route 'polls/' --atomic forward
blocks="$(DB="$TEST_DB" psql_direct -Atc "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ~ 'SAVEPOINT pgfold_batch'")"
note "pg_stat_statements saw $blocks SAVEPOINT/RELEASE of pgfold's in the atomic() loop"
http /patterns "$P" >/dev/null
eq "forward pattern after the atomic() loop: statements saved = round trips - 2 x batches in a block" \
    "$(jget "$P" "${FWD}[0]['saved']['roundtrips'] - ${FWD}[0]['saved']['statements']")" 2
M="$T/metrics.rewrite"
scrape "$M"
S="$T/stats.json"
http /stats "$S" >/dev/null
eq "/metrics: pgfold_roundtrips_would_save_total and pgfold_statements_would_save in rewrite mode" \
    "$(mval pgfold_roundtrips_would_save_total "$M")/$(mval pgfold_statements_would_save "$M")" "0/0"
eq "/metrics: pgfold_statements_saved = the patterns' (no repeated answers)" \
    "$(mval pgfold_statements_saved "$M") $(mval pgfold_repeat_answers_total "$M")" \
    "$(jget "$P" "sum(p['saved']['statements'] for p in d if p['saved'])") 0"
eq "/stats: savings.saved = /metrics; would_save null" \
    "$(jget "$S" "'%s %s %s' % (d['counters']['savings']['saved']['roundtrips'], d['counters']['savings']['saved']['statements'], d['counters']['savings']['would_save'])")" \
    "$(mval pgfold_roundtrips_saved_total "$M") $(mval pgfold_statements_saved "$M") None"
eq "GET /" "$(http / "$T/index.html")" "200 text/html; charset=utf-8"
check "/: a column per pattern with what it saved, and where it was seen" bash -c \
    "grep -q '<th>saved, or would save</th><th>seen under</th>' '$T/index.html' &&
     grep -qE 'saved: [0-9]+ round trips, [0-9]+ statements, ~[0-9.]+ ms \\(estimate\\)' '$T/index.html' &&
     grep -qF 'at app_name=polls controller=detail route=polls/&lt;int:question_id&gt;/ (1 loop)' '$T/index.html' &&
     ! grep -q 'would save (observe' '$T/index.html'"
pgfold_stop "$PGFOLD_PID" "$PGFOLD_LOG" >/dev/null 2>&1 || fail "rewrite pgfold did not exit 0"

# ---- 3. observe mode ---------------------------------------------------------------------------------
PGFOLD_MODE=observe pgfold_start
OB_LOG="$PGFOLD_LOG"
stmt_reset
dj ob.auto "$PROXY_PORT" --view index --route 'polls/' forward >/dev/null
dj ob.atomic "$PROXY_PORT" --view index --route 'polls/' --atomic forward >/dev/null
wait_idle
eq "observe: no SAVEPOINT of pgfold's reached the server" \
    "$(DB="$TEST_DB" psql_direct -Atc "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ~ 'pgfold'")" 0
P="$T/patterns.observe.json"
http /patterns "$P" >/dev/null
eq "observe: forward pattern: saved null, roundtrips_saved 0" \
    "$(jget "$P" "'%s %s' % (${FWD}[0]['saved'], ${FWD}[0]['roundtrips_saved'])")" "None 0"
# (Summed over the patterns of the forward query: in observe mode, without the foreign keys,
# the engine may trace a loop's first lookups to another source column.)
QALL='[p for p in d if re.search(r"FROM \"polls_question\" WHERE \"polls_question\".\"id\" = \$1", p["query"])]'
eq "observe: would_save = lookups - loops round trips; statements 2 fewer (the loop in a block)" \
    "$(jget "$P" "'%d %d' % (sum(p['would_save']['roundtrips'] for p in $QALL), sum(p['would_save']['statements'] for p in $QALL))")" \
    "$((2 * (n_choice - 1))) $((2 * (n_choice - 1) - 2))"
eq "observe: the site is recorded as in rewrite mode" \
    "$(jget "$P" "${LOCS}${FWD}[0]['seen_under'])")" '["app_name=polls controller=index route=polls/"]'
M="$T/metrics.observe"
scrape "$M"
eq "observe /metrics: saved series 0; would-save series = the pattern's" \
    "$(mval pgfold_roundtrips_saved_total "$M") $(mval pgfold_statements_saved "$M") $(mval pgfold_estimated_time_saved_seconds "$M") $(mval pgfold_roundtrips_would_save_total "$M") $(mval pgfold_statements_would_save "$M")" \
    "0 0 0 $((2 * (n_choice - 1))) $((2 * (n_choice - 1) - 2))"
http /stats "$S" >/dev/null
eq "observe /stats: savings.saved null, would_save.roundtrips" \
    "$(jget "$S" "'%s %s' % (d['counters']['savings']['saved'], d['counters']['savings']['would_save']['roundtrips'])")" \
    "None $((2 * (n_choice - 1)))"
http / "$T/index.observe.html" >/dev/null
check "observe /: 'would save (observe mode, nothing batched)' and no 'saved:' claim" bash -c \
    "grep -q 'would save (observe mode, nothing batched): [0-9]* round trips' '$T/index.observe.html' && ! grep -q '>saved: \\|<br>saved: ' '$T/index.observe.html'"
check "observe log: the line names the location and says nothing was batched" wait_log \
    "at app_name=polls controller=index route=polls/; observe mode: not batched" "$OB_LOG"
pgfold_stop "$PGFOLD_PID" "$PGFOLD_LOG" >/dev/null 2>&1 || fail "observe pgfold did not exit 0"
test_finish
