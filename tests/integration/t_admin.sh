#!/usr/bin/env bash
# The admin port, observe mode, the command line and SIGHUP (issue 5), against pgfold
# instances of this test's own (the shared passthrough one is not touched):
#   1. rewrite mode: after the seed's forward, reverse and m2m Django loops, /metrics (parsed
#      strictly as Prometheus text 0.0.4) against what the test counted itself: statements
#      pg_stat_statements saw through pgfold, statements Django sent, lookups, batch keys.
#   2. /stats and /patterns are JSON; /patterns names the Question/Choice patterns; / is HTML.
#   3. observe mode: the forward loop still costs the server 501 statements; /patterns reports
#      the pattern; one info log line for it.
#   4. malformed, oversized, half-sent and concurrent junk HTTP requests; idle admin
#      connections beyond pgfold's file descriptor limit.
#   5. --help lists every DESIGN.md §2 key with its default; --version; bad config files exit 2.
#   6. SIGHUP: max_batch_keys changes in the running pgfold; a bad value keeps the old one.
# Every file named on a pgfold command line lives in a folder without "pgfold" in its path.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
ADM="$PGT_TESTS_DIR/clients/admin/adminhttp.py"
NPLUS1="$PGT_TESTS_DIR/clients/django/nplus1.py"
DJ_DB=admin_django

if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "admin port (PGFOLD_DIRECT=1: needs pgfold instances of its own)"
    test_finish
fi

SHARED_PID="${PGFOLD_PID:-}"
W="$(mktemp -d /tmp/pfadm.XXXXXX)"
if [ "${PGT_KEEP:-0}" = 1 ]; then pgt_log "keeping $W"; else pgt_atexit "rm -rf '$W'"; fi
BIN="$(pgfold_bin)"

# ---- helpers ----------------------------------------------------------------------------------

# pgss_total: calls pg_stat_statements saw in DJ_DB (pgfold's traffic; the harness's own
# queries run in TEST_DB and the ones on pg_stat_statements are left out).
pgss_total() {
    DB="$TEST_DB" psql_direct -v ON_ERROR_STOP=1 -At -v db="$DJ_DB" -v pat="${1:-.}" <<'EOF'
SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = :'db' AND query ~* :'pat' AND query !~* 'pg_stat_statements';
EOF
}
pgss_dump() {
    DB="$TEST_DB" psql_direct -At -v db="$DJ_DB" <<'EOF'
SELECT calls, left(regexp_replace(query, '\s+', ' ', 'g'), 150) FROM pg_stat_statements s
  JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = :'db' ORDER BY calls DESC, query;
EOF
}

# django LOOP PORT OUT: runs one loop; prints the number of queries Django says it sent
# (0 when the loop failed: the checks on the counts then fail and show why).
django() {
    if ! py "$NPLUS1" --port "$2" --db "$DJ_DB" "$1" >"$3" 2>&1; then
        echo "  django $1 loop through port $2 failed:" >&2
        tail -n 20 "$3" | sed 's/^/       /' >&2
        echo 0
        return 0
    fi
    sed -n "s/^== $1: .*, \\([0-9]*\\) queries sent by Django\$/\\1/p" "$3"
}

# scrape FILE [WHAT]: /metrics of the current pgfold, parsed strictly and checked against the
# contract's names and types, as "series value" lines in FILE. With WHAT, a check.
scrape() {
    if py "$ADM" metrics --port "$PGFOLD_ADMIN_PORT" --out "$1.raw" >"$1" 2>"$1.err"; then
        [ -z "${2:-}" ] || ok "$2: GET /metrics parses as Prometheus text 0.0.4 with the contract's names and types"
        return 0
    fi
    fail "${2:-}${2:+: }GET /metrics is not valid Prometheus text, or misses the contract ($1.raw):"
    sed 's/^/       /' "$1.err" | head -n 20
}
mval() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

# jget FILE EXPR: a value out of a JSON file (d is the document).
jget() { py "$ADM" jget "$1" "$2"; }

# http PATH OUT: GET; prints "STATUS CONTENT-TYPE".
http() { py "$ADM" get --port "$PGFOLD_ADMIN_PORT" --path "$1" --out "$2" 2>&1 || true; }

# wait_idle: until pgfold_client_connections is 0 (Django's Terminate is handled
# asynchronously), at most 10 s. Returns the last value seen.
wait_idle() {
    local i v=""
    for ((i = 0; i < 100; i++)); do
        v="$(py "$ADM" metrics --port "$PGFOLD_ADMIN_PORT" 2>/dev/null | awk '$1 == "pgfold_client_connections" {print $2}')"
        [ "$v" = 0 ] && break
        sleep 0.1
    done
    printf '%s\n' "$v"
}

# wait_log REGEX FILE: until a line of FILE matches (10 s at most).
wait_log() {
    local i
    for ((i = 0; i < 100; i++)); do
        grep -qE -- "$1" "$2" && return 0
        sleep 0.1
    done
    return 1
}

# eq NAME GOT WANT: check with both values in the message.
eq() {
    if [ "$2" = "$3" ]; then ok "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi
}

# report FILE: turns the "ok ..."/"FAIL ..." lines of adminhttp.py into checks.
report() {
    local line
    while IFS= read -r line; do
        case "$line" in
        "ok "*) ok "${line#ok }" ;;
        "FAIL "*) fail "${line#FAIL }" ;;
        *) note "$line" ;;
        esac
    done <"$1"
}

stop_mine() {
    if pgfold_stop "$PGFOLD_PID" "$PGFOLD_LOG" 2>"$T/stop.err"; then
        ok "$1: pgfold exited 0 on SIGTERM"
    else
        fail "$1: pgfold did not stop cleanly"
        sed 's/^/       /' "$T/stop.err"
    fi
}

# ---- data -------------------------------------------------------------------------------------
psql_direct -qc "DROP DATABASE IF EXISTS $DJ_DB WITH (FORCE)" 2>/dev/null
psql_direct -qc "CREATE DATABASE $DJ_DB"
pgt_atexit "DB=$TEST_DB psql_direct -qc 'DROP DATABASE IF EXISTS $DJ_DB WITH (FORCE)'"
if ! py "$NPLUS1" --port "$PG_PORT" --db "$DJ_DB" setup >"$T/setup.out" 2>&1; then
    fail "Django setup failed"
    sed 's/^/       /' "$T/setup.out" | tail -n 30
    test_finish
fi
# What the loops must look up, counted from the data itself (distinct keys = keys used).
read -r n_choice n_qkeys n_question n_book n_akeys < <(DB="$DJ_DB" psql_direct -At -F ' ' -c \
    "SELECT (SELECT count(*) FROM polls_choice), (SELECT count(DISTINCT question_id) FROM polls_choice),
            (SELECT count(*) FROM polls_question), (SELECT count(*) FROM polls_book),
            (SELECT count(DISTINCT author_id) FROM polls_book)")
lookups_want=$((n_choice + n_question + 2 * n_book))        # 500 + 100 + 120 author + 120 tags
keys_want=$((n_qkeys + n_question + n_akeys + n_book))      # 100 + 100 + 12 + 120
note "data: $n_choice choices of $n_qkeys questions, $n_question questions, $n_book books of $n_akeys authors"

# ---- 0. passthrough: Django's connection-setup statements, and the counters' base case ----------
PGFOLD_MODE=passthrough pgfold_start
stmt_reset
sent_pt="$(django forward "$PROXY_PORT" "$T/pt.forward")"
idle="$(wait_idle)"
pt_total="$(pgss_total)"
setup_stmts=$((pt_total - sent_pt))
note "passthrough: Django sent $sent_pt, pg_stat_statements saw $pt_total: $setup_stmts connection-setup statement(s) per Django connection"
pgss_dump >"$T/pgss.passthrough"
scrape "$T/metrics.passthrough" passthrough
eq "passthrough: pgfold_server_statements_total = pg_stat_statements" \
    "$(mval pgfold_server_statements_total "$T/metrics.passthrough")" "$pt_total"
eq "passthrough: pgfold_client_statements_total = pg_stat_statements" \
    "$(mval pgfold_client_statements_total "$T/metrics.passthrough")" "$pt_total"
eq "passthrough: pgfold_client_connections back to 0 after Django closed" "$idle" 0
stop_mine passthrough

# ---- 1. rewrite: /metrics against the test's own counts --------------------------------------------
# A long staleness window so no answer can expire mid-loop on a slow machine: the counts below
# are then exact, whatever the speed.
cat >"$W/rewrite.ini" <<EOF
; written by tests/integration/t_admin.sh
[pgfold]
max_staleness_ms = 10min
max_batch_keys = 1000
EOF
PGFOLD_MODE=rewrite pgfold_start -c "$W/rewrite.ini"
RW_LOG="$PGFOLD_LOG" RW_PORT="$PROXY_PORT" RW_PID="$PGFOLD_PID"
stmt_reset
sent=0
declare -A sent_by
for loop in forward reverse m2m; do
    sent_by[$loop]="$(django "$loop" "$PROXY_PORT" "$T/rw.$loop")"
    sent=$((sent + sent_by[$loop]))
done
note "rewrite: Django sent forward=${sent_by[forward]} reverse=${sent_by[reverse]} m2m=${sent_by[m2m]}"
eq "rewrite: pgfold_client_connections back to 0 when the clients are gone" "$(wait_idle)" 0
eq "rewrite: pgfold_client_connections while 3 sessions are open" \
    "$(py "$ADM" conns --port "$PGFOLD_ADMIN_PORT" --sql-port "$PROXY_PORT" --db "$DJ_DB" --n 3 2>&1)" 3
eq "rewrite: pgfold_client_connections back to 0 after they close" "$(wait_idle)" 0
server_seen="$(pgss_total)"
batches_seen="$(pgss_total 'pgfold_k')"
loopq_seen="$(pgss_total '^SELECT "polls_')"   # the loops' queries and any lookup forwarded
catalog_seen="$(pgss_total 'pg_catalog\.pg_constraint')" # pgfold's foreign-key query (per worker and database)
pgss_dump >"$T/pgss.rewrite"
note "rewrite: pg_stat_statements saw $server_seen statements: $loopq_seen on polls_ tables, $batches_seen batches, $catalog_seen catalog queries of pgfold's, $((3 * setup_stmts)) setup"
M="$T/metrics.rewrite"
scrape "$M" rewrite
client_want=$((sent + 3 * setup_stmts))
local_want=$((sent - 3)) # every lazy load; the three loop queries reach the server
eq "pgfold_server_statements_total = statements pg_stat_statements saw through pgfold" \
    "$(mval pgfold_server_statements_total "$M")" "$server_seen"
eq "pg_stat_statements saw the 3 loop queries, no lookup, and 4 batches (forward 1, reverse 1, m2m 2)" \
    "$loopq_seen/$batches_seen" "3/4"
eq "pg_stat_statements saw nothing else than those, setup statements and pgfold's catalog queries" \
    "$server_seen" "$((loopq_seen + batches_seen + catalog_seen + 3 * setup_stmts))"
eq "pgfold_client_statements_total = Django's queries + $setup_stmts setup statement(s) x 3 connections" \
    "$(mval pgfold_client_statements_total "$M")" "$client_want"
eq "pgfold_batches_total = batches pg_stat_statements ran" "$(mval pgfold_batches_total "$M")" "$batches_seen"
eq "pgfold_batch_answers_total = lookups answered locally (Django's lazy loads: $local_want)" \
    "$(mval pgfold_batch_answers_total "$M")" "$local_want"
eq "pgfold_repeat_answers_total (no forwarded answer was reused)" "$(mval pgfold_repeat_answers_total "$M")" 0
eq "pgfold_batch_keys_used_total = distinct keys the loops looked up" \
    "$(mval pgfold_batch_keys_used_total "$M")" "$keys_want"
eq "pgfold_batch_keys_total = keys fetched (every fetched key was used)" \
    "$(mval pgfold_batch_keys_total "$M")" "$keys_want"
# Lookups answered locally, less the batches' own round trips. (pgfold's catalog queries are
# not charged against it: client - server statements would be $((client_want - server_seen)).)
eq "pgfold_roundtrips_saved_total = lookups answered locally - batches" \
    "$(mval pgfold_roundtrips_saved_total "$M")" "$((local_want - batches_seen))"
eq "pgfold_lookups_total = eligible lookups the loops made" "$(mval pgfold_lookups_total "$M")" "$lookups_want"
eq "pgfold_fallbacks_total (error, size, rowdescription)" \
    "$(mval 'pgfold_fallbacks_total{reason="error"}' "$M")/$(mval 'pgfold_fallbacks_total{reason="size"}' "$M")/$(mval 'pgfold_fallbacks_total{reason="rowdescription"}' "$M")" "0/0/0"
eq "pgfold_patterns (forward, reverse, m2m author, m2m tags)" "$(mval pgfold_patterns "$M")" 4
eq "pgfold_client_connections" "$(mval pgfold_client_connections "$M")" 0
for h in pgfold_client_statement_seconds pgfold_upstream_roundtrip_seconds; do
    check "histogram $h: _count, _sum and le=\"+Inf\" lines present" bash -c \
        "grep -q '^${h}_count [0-9]' '$M' && grep -q '^${h}_sum [0-9]' '$M' && grep -qF '${h}_bucket{le=\"+Inf\"} ' '$M'"
done
# Each client statement is observed once; each upstream round trip (a forwarded simple Query,
# or a batch) once.
eq "pgfold_client_statement_seconds_count = client statements" \
    "$(mval pgfold_client_statement_seconds_count "$M")" "$client_want"
eq "pgfold_upstream_roundtrip_seconds_count = round trips (statements the server ran)" \
    "$(mval pgfold_upstream_roundtrip_seconds_count "$M")" "$server_seen"

# ---- 2. /stats, /patterns, /, /health ------------------------------------------------------------
S="$T/stats.json"
P="$T/patterns.json"
eq "GET /stats" "$(http /stats "$S")" "200 application/json"
eq "GET /patterns" "$(http /patterns "$P")" "200 application/json"
check "/stats parses as JSON" jget "$S" 'type(d).__name__ == "dict" or 1/0'
check "/patterns parses as JSON (a list)" jget "$P" 'type(d).__name__ == "list" or 1/0'
version="$("$BIN" --version | awk '{print $2}')"
eq "/stats version = pgfold --version" "$(jget "$S" 'd["version"]')" "$version"
eq "/stats uptime_seconds is a number >= 0" "$(jget "$S" 'isinstance(d["uptime_seconds"], (int, float)) and d["uptime_seconds"] >= 0')" True
eq "/stats config: mode, consistency, max_staleness_ms, max_batch_keys" \
    "$(jget "$S" '"%s %s %s %s" % (d["config"]["mode"], d["config"]["consistency"], d["config"]["max_staleness_ms"], d["config"]["max_batch_keys"])')" \
    "rewrite window 600000 1000"
eq "/stats config has every DESIGN.md §2 key (upstream as its parts)" \
    "$(jget "$S" '[k for k in ("listen", "admin_listen", "mode", "consistency", "max_staleness_ms", "max_batch_keys", "max_batch_bytes", "session_cache_bytes", "max_client_conn", "workers", "log_level", "log_format") if k not in d["config"]] + ([] if any(k.startswith("upstream") for k in d["config"]) else ["upstream"])')" "[]"
check "/stats holds no secret (no password, secret or key material)" \
    bash -c "! grep -qiE 'passw|secret|pwd|md5|scram' '$S'"
eq "/stats counters = /metrics (no traffic in between)" \
    "$(jget "$S" '"%(client_statements)s %(server_statements)s %(batches)s %(batch_keys)s %(batch_keys_used)s %(batch_answers)s %(roundtrips_saved)s" % d["counters"]')" \
    "$(for k in client_statements server_statements batches batch_keys batch_keys_used batch_answers roundtrips_saved; do mval "pgfold_${k}_total" "$M"; done | paste -sd ' ')"
eq "/patterns: every entry has the issue's fields" \
    "$(jget "$P" 'sorted({k for p in d for k in ("fingerprint", "query", "source_query", "source_column", "first_seen_ms", "last_seen_ms", "loops", "lookups", "batches", "keys_fetched", "keys_used", "roundtrips_saved", "backoff", "suggestion") if k not in p})')" "[]"
eq "/patterns: one entry per pattern (= pgfold_patterns)" "$(jget "$P" 'len(d)')" "$(mval pgfold_patterns "$M")"
# The forward loop: polls_question looked up by id for each row of the polls_choice query.
FWD='[p for p in d if re.search(r"FROM \"polls_question\" WHERE \"polls_question\".\"id\" = \$1", p["query"]) and re.search(r"FROM \"polls_choice\"$", p["source_query"])]'
eq "/patterns: the Question/Choice pattern is there once" "$(jget "$P" "len($FWD)")" 1
eq "/patterns: Question/Choice source_column, lookups, batches, keys fetched/used, round trips saved" \
    "$(jget "$P" '"%(source_column)s %(lookups)s %(batches)s %(keys_fetched)s %(keys_used)s %(roundtrips_saved)s" % '"$FWD"'[0]')" \
    "question_id $n_choice 1 $n_qkeys $n_qkeys $((n_choice - 1))"
eq "/patterns: Question/Choice suggestion names select_related/prefetch_related('question')" \
    "$(jget "$P" 'bool(re.search(r"(select|prefetch)_related\(.question.\)", '"$FWD"'[0]["suggestion"]))')" True
REV='[p for p in d if re.search(r"FROM \"polls_choice\" WHERE \"polls_choice\".\"question_id\" = \$1", p["query"]) and re.search(r"FROM \"polls_question\"$", p["source_query"])]'
eq "/patterns: the reverse loop (choice_set) pattern: source_column, lookups, batches" \
    "$(jget "$P" '"%d %s %s %s" % (len('"$REV"'), '"$REV"'[0]["source_column"], '"$REV"'[0]["lookups"], '"$REV"'[0]["batches"])')" \
    "1 id $n_question 1"
eq "/patterns: the reverse loop's suggestion is prefetch_related('choice_set')" \
    "$(jget "$P" 'bool(re.search(r"prefetch_related\(.choice_set.\)", '"$REV"'[0]["suggestion"]))')" True
eq "/patterns: lookups add up to the loops' lookups" "$(jget "$P" 'sum(p["lookups"] for p in d)')" "$lookups_want"
eq "/patterns: batches and keys used add up to the counters" \
    "$(jget "$P" '"%d %d" % (sum(p["batches"] for p in d), sum(p["keys_used"] for p in d))')" \
    "$(mval pgfold_batches_total "$M") $(mval pgfold_batch_keys_used_total "$M")"
note "m2m suggestions: $(jget "$P" '[p["suggestion"].split(";")[0] for p in d if "polls_book" in p["source_query"]]')"
eq "GET /" "$(http / "$T/index.html")" "200 text/html; charset=utf-8"
check "/ is a page with the patterns table, escaped, and no script" bash -c \
    "grep -q '<table' '$T/index.html' && grep -q '&quot;polls_question&quot;' '$T/index.html' && ! grep -qi '<script' '$T/index.html'"
eq "GET /health" "$(http /health "$T/health")" "200 text/plain"

# ---- 4. malformed and oversized requests (against the rewrite pgfold) ---------------------------
py "$ADM" abuse --port "$PGFOLD_ADMIN_PORT" --sql-port "$PROXY_PORT" --db "$TEST_DB" \
    >"$T/abuse.out" 2>&1 || true
report "$T/abuse.out"
check "pgfold (rewrite) still running after the junk" pgfold_alive "$RW_PID"
eq "afterwards: GET /health" "$(http /health "$T/health2")" "200 text/plain"
eq "afterwards: psql through pgfold" \
    "$(psql_at "$RW_PORT" -Atc 'SELECT count(*), sum(g) FROM generate_series(1, 1000) g' 2>&1)" "1000|500500"

# ---- 6. SIGHUP reload of the rewrite pgfold ---------------------------------------------------------
sed -i 's/^max_batch_keys = .*/max_batch_keys = 5/' "$W/rewrite.ini"
kill -HUP "$RW_PID"
if wait_log 'reload: .*max_batch_keys 1000 -> 5' "$RW_LOG"; then
    ok "SIGHUP: the log shows the change: $(grep -E 'reload: .*max_batch_keys' "$RW_LOG" | tail -n 1 | cut -c1-120)"
else
    fail "SIGHUP: no 'reload: ... max_batch_keys 1000 -> 5' line in the log"
    tail -n 5 "$RW_LOG" | sed 's/^/       /'
fi
http /stats "$S" >/dev/null
eq "SIGHUP: /stats shows max_batch_keys 5" "$(jget "$S" 'd["config"]["max_batch_keys"]')" 5
scrape "$T/metrics.before_reload"
before="$(mval pgfold_server_statements_total "$T/metrics.before_reload")"
stmt_reset
django forward "$RW_PORT" "$T/rw.forward5" >/dev/null
seen5="$(pgss_total)"
scrape "$T/metrics.reload"
# pgfold's catalog query runs once per worker and database: a worker new to this database may
# send one here, so it is left out of the loop's count (not out of the metric's).
eq "SIGHUP: the forward loop now takes 1 + $n_qkeys/5 batches" \
    "$((seen5 - $(pgss_total 'pg_catalog\.pg_constraint')))" "$((setup_stmts + 1 + n_qkeys / 5))"
eq "SIGHUP: pgfold_server_statements_total grew by what pg_stat_statements saw" \
    "$(($(mval pgfold_server_statements_total "$T/metrics.reload") - before))" "$seen5"
sed -i 's/^max_batch_keys = .*/max_batch_keys = lots/' "$W/rewrite.ini"
kill -HUP "$RW_PID"
if wait_log "reload failed.*rewrite\\.ini:[0-9]+: key 'max_batch_keys'" "$RW_LOG"; then
    ok "SIGHUP with a bad value: logged, naming file, line and key: $(grep -E 'reload failed' "$RW_LOG" | tail -n 1 | cut -c25-160)"
else
    fail "SIGHUP with a bad value: no 'reload failed ... rewrite.ini:N: key 'max_batch_keys'' line"
    tail -n 5 "$RW_LOG" | sed 's/^/       /'
fi
check "SIGHUP with a bad value: pgfold still running" pgfold_alive "$RW_PID"
http /stats "$S" >/dev/null
eq "SIGHUP with a bad value: /stats still shows max_batch_keys 5" "$(jget "$S" 'd["config"]["max_batch_keys"]')" 5
stmt_reset
django forward "$RW_PORT" "$T/rw.forward5b" >/dev/null
eq "SIGHUP with a bad value: the forward loop still takes 1 + $n_qkeys/5 batches" \
    "$(($(pgss_total) - $(pgss_total 'pg_catalog\.pg_constraint')))" "$((setup_stmts + 1 + n_qkeys / 5))"
stop_mine rewrite

# ---- 3. observe mode ---------------------------------------------------------------------------------
PGFOLD_MODE=observe pgfold_start
OB_LOG="$PGFOLD_LOG"
ob_sent=0
for run in 1 2; do
    stmt_reset
    n="$(django forward "$PROXY_PORT" "$T/ob.forward$run")"
    ob_sent=$((ob_sent + n))
    eq "observe, forward loop run $run: the server ran what Django sent, as direct" "$(pgss_total)" "$((n + setup_stmts))"
done
wait_idle >/dev/null
M="$T/metrics.observe"
scrape "$M" observe
eq "observe: pgfold_server_statements_total = pgfold_client_statements_total" \
    "$(mval pgfold_server_statements_total "$M")" "$(mval pgfold_client_statements_total "$M")"
eq "observe: nothing batched or answered locally (batches, batch answers, repeat answers)" \
    "$(mval pgfold_batches_total "$M")/$(mval pgfold_batch_answers_total "$M")/$(mval pgfold_repeat_answers_total "$M")" "0/0/0"
eq "observe: pgfold_lookups_total" "$(mval pgfold_lookups_total "$M")" "$((2 * n_choice))"
http /patterns "$P" >/dev/null
eq "observe: /patterns has the Question/Choice pattern: count, source column, lookups, batches, keys fetched" \
    "$(jget "$P" '"%d %s %s %s %s" % (len('"$FWD"'), '"$FWD"'[0]["source_column"], '"$FWD"'[0]["lookups"], '"$FWD"'[0]["batches"], '"$FWD"'[0]["keys_fetched"])')" \
    "1 question_id $((2 * n_choice)) 0 0"
note "observe: /patterns roundtrips_would_save = $(jget "$P" "${FWD}[0]['roundtrips_would_save']") for 2 loops; rewrite saved $((n_choice - 1)) per loop"
eq "observe: exactly one 'N+1 pattern' info line in the log" "$(grep -c 'info .*N+1 pattern' "$OB_LOG")" 1
grep 'N+1 pattern' "$OB_LOG" | head -n 1 >"$T/observe.line" || true
note "observe log line: $(cut -c1-160 "$T/observe.line")..."
check "observe: the log line gives the repeated query and the source query" bash -c \
    "grep -qF 'FROM \"polls_question\" WHERE' '$T/observe.line' && grep -qF 'FROM \"polls_choice\"' '$T/observe.line'"
# Issue 5: "one info log line gives the repeated query, the source query and the loop's
# lookup count". The queries contain no digits but \$1 and \$2.
check "observe: the log line gives the loop's lookup count ($n_choice)" \
    grep -qE "(^|[^0-9\$])$n_choice([^0-9]|\$)" "$T/observe.line"
stop_mine observe

# ---- 4b. idle admin connections past pgfold's file descriptor limit ---------------------------------
# Started with RLIMIT_NOFILE 64 (a small stand-in for a default 1024 and a few hundred idle
# connections); the admin port has no idle timeout and no connection cap.
cat >"$W/lowfd" <<EOF
#!/bin/sh
ulimit -n 64 || exit 3
exec "$BIN" "\$@"
EOF
chmod +x "$W/lowfd"
PGFOLD_BIN="$W/lowfd" PGFOLD_MODE=passthrough pgfold_start --workers 1
py "$ADM" flood --port "$PGFOLD_ADMIN_PORT" --sql-port "$PROXY_PORT" --db "$TEST_DB" --conns 100 \
    >"$T/flood.out" 2>&1 || true
report "$T/flood.out"
note "low-fd pgfold logged $(grep -c 'Too many open files' "$PGFOLD_LOG" || true) 'Too many open files' lines"
stop_mine "low-fd"
rm -f "$PGFOLD_LOG"

# ---- 5. command line ---------------------------------------------------------------------------------
"$BIN" --help >"$T/help.out" 2>&1 && rc=0 || rc=$?
eq "pgfold --help exits 0" "$rc" 0
declare -A defaults=([listen]=127.0.0.1:6432 [upstream]="" [admin_listen]=127.0.0.1:6433 [mode]=rewrite
    [consistency]=window [max_staleness_ms]=1000 [max_batch_keys]=1000 [max_batch_bytes]=16MB
    [session_cache_bytes]=8MB [max_client_conn]=1000 [workers]=0 [log_level]=info [log_format]=text)
missing=""
for k in listen upstream admin_listen mode consistency max_staleness_ms max_batch_keys max_batch_bytes \
    session_cache_bytes max_client_conn workers log_level log_format; do
    got="$(sed -nE "s/^ +$k +=( *([^ ;]*))? *(;.*)?\$/\\2/p" "$T/help.out" | head -n 1)"
    if ! grep -qE "^ +$k +=" "$T/help.out"; then
        missing="$missing $k(absent)"
    elif [ "$got" != "${defaults[$k]}" ]; then
        missing="$missing $k(default '$got', want '${defaults[$k]}')"
    elif [ -z "$got" ] && ! grep -qE "^ +$k +=.*; .*empty" "$T/help.out"; then
        missing="$missing $k(empty default not explained)"
    fi
done
eq "pgfold --help lists every DESIGN.md §2 key with its default" "${missing:-none missing}" "none missing"
check "pgfold --help lists the flags (-c, --listen, --upstream, --admin-listen, --mode, --version)" bash -c \
    "for f in -c, --listen --upstream --admin-listen --mode --version --help; do grep -q -- \"\$f\" '$T/help.out' || { echo \"no \$f\"; exit 1; }; done"
"$BIN" --version >"$T/version.out" 2>&1 && rc=0 || rc=$?
eq "pgfold --version exits 0 and prints a version" "$rc $(grep -cE '^pgfold [0-9]+\.[0-9]+\.[0-9]+' "$T/version.out")" "0 1"

# bad_conf SLUG LINE KEY CONTENT: pgfold -c FILE exits 2 with FILE:LINE and KEY in its message.
bad_conf() {
    local f="$W/$1.ini" rc
    printf '%b' "$4" >"$f"
    timeout 10 "$BIN" -c "$f" >"$T/$1.out" 2>&1 && rc=0 || rc=$?
    if [ "$rc" = 2 ] && grep -qF "$f:$2:" "$T/$1.out" && grep -qF "'$3'" "$T/$1.out"; then
        ok "config with $1: exit 2: $(head -n 1 "$T/$1.out")"
    else
        fail "config with $1: want exit 2 and '$f:$2:' and '$3' in the message; got exit $rc:"
        sed 's/^/       /' "$T/$1.out" | head -n 5
    fi
}
bad_conf unknown-key 4 max_batch_keyz '[pgfold]\nlisten = 127.0.0.1:1\n; comment\nmax_batch_keyz = 5\n'
bad_conf bad-number 3 max_batch_keys '[pgfold]\nlisten = 127.0.0.1:1\nmax_batch_keys = lots\n'
bad_conf bad-enum 2 consistency '[pgfold]\nconsistency = eventual\n'
bad_conf out-of-range 2 max_batch_keys '[pgfold]\nmax_batch_keys = 0\n'
bad_conf bad-size 2 max_batch_bytes '[pgfold]\nmax_batch_bytes = 16 parsecs\n'
timeout 10 "$BIN" -c "$W/does-not-exist.ini" >"$T/noexist.out" 2>&1 && rc=0 || rc=$?
eq "config file that cannot be read: exit 2 naming the file" \
    "$rc $(grep -cF "$W/does-not-exist.ini" "$T/noexist.out")" "2 1"

# --- admin_token: a bearer token for everything but /health; the token never reaches the log.
printf '[pgfold]\nadmin_token = tok-%s\n' "$$" >"$W/token.ini"
PGFOLD_MODE=passthrough pgfold_start -c "$W/token.ini"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "http://127.0.0.1:$PGFOLD_ADMIN_PORT$P"; }
P=/metrics; eq "admin_token: /metrics without a token is 401" "$(code)" 401
P=/metrics; eq "admin_token: /metrics with a wrong token is 401" "$(code -H "Authorization: Bearer tok-x")" 401
P=/metrics; eq "admin_token: /metrics with the token is 200" "$(code -H "Authorization: Bearer tok-$$")" 200
P=/patterns; eq "admin_token: /patterns with the token is 200" "$(code -H "authorization: bearer tok-$$")" 200
P=/health; eq "admin_token: /health needs no token" "$(code)" 200
hdr="$(curl -s -D - -o /dev/null --max-time 10 "http://127.0.0.1:$PGFOLD_ADMIN_PORT/stats" | tr -d '\r' | grep -i '^WWW-Authenticate' || true)"
eq "admin_token: 401 names the Bearer scheme" "$hdr" 'WWW-Authenticate: Bearer realm="pgfold"'
printf '[pgfold]\nadmin_token = tok2-%s\n' "$$" >"$W/token.ini"
kill -HUP "$PGFOLD_PID"
for _ in $(seq 50); do grep -q "admin_token" "$PGFOLD_LOG" && break; sleep 0.1; done
P=/metrics; eq "admin_token: a new token applies on SIGHUP" "$(code -H "Authorization: Bearer tok2-$$")" 200
eq "admin_token: the token is never written to the log" "$(grep -c "tok-$$\|tok2-$$" "$PGFOLD_LOG" || true)" 0
pgfold_stop >/dev/null 2>&1 || fail "pgfold with admin_token did not exit 0"

check "the shared pgfold (pid $SHARED_PID) still running" pgfold_alive "$SHARED_PID"
test_finish
