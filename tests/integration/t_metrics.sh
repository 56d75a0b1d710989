#!/usr/bin/env bash
# /metrics complete and the HTML page (issue 15, item 4), against pgfold instances of this
# test's own (t_admin checks the statement and batch counters against pg_stat_statements):
#   1. promtool check metrics (Debian's prometheus package) passes on /metrics, with traffic
#   2. connections: accepted, rejected (max_client_conn), current, login failures and upstream
#      connect failures, counted by the test itself; uptime, workers, pgfold_info
#   3. every figure /stats has is a metric
#   4. the HTML page: version, mode and uptime, and the counters as a table
#   5. observe mode: the patterns' round trips are labelled as would-be savings (JSON, HTML and
#      the console), never as saved; nothing was batched
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
DB=metrics_db

if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "/metrics (PGFOLD_DIRECT=1: needs a pgfold of its own)"
    test_finish
fi
SHARED_PID="${PGFOLD_PID:-}"
VERSION="$("$(pgfold_bin)" --version | awk '{print $2}')"

fresh_db "$DB"
pgt_atexit "DB=postgres psql_direct -qc 'DROP DATABASE IF EXISTS $DB WITH (FORCE)'"
DB="$DB" psql_direct -v ON_ERROR_STOP=1 -q <<'EOF'
CREATE TABLE mq (id int PRIMARY KEY, title text);
CREATE TABLE mc (id int PRIMARY KEY, q_id int REFERENCES mq);
INSERT INTO mq SELECT g, 'question ' || g FROM generate_series(1, 10) g;
INSERT INTO mc SELECT g, 1 + g % 10 FROM generate_series(1, 30) g;
EOF

N=0
start_mine() { # MODE KEY=VALUE...: sets PORT, APORT, PID, LOG
    local mode="$1" kv
    shift
    N=$((N + 1))
    PORT="$(free_port)"
    APORT="$(free_port)"
    {
        echo "[pgfold]"
        echo "listen = 127.0.0.1:$PORT"
        echo "upstream = host=127.0.0.1 port=$PG_PORT"
        echo "admin_listen = 127.0.0.1:$APORT"
        echo "mode = $mode"
        echo "workers = 2"
        for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
    } >"$T/metrics.$N.ini"
    pgfold_start_ini "$T/metrics.$N.ini" "$PORT" || pgt_die "pgfold would not start"
    PID="$PGFOLD2_PID" LOG="$PGFOLD2_LOG"
}
stop_mine() {
    if pgfold_stop "$PID" "$LOG" 2>"$T/stop.err"; then ok "$1: pgfold exited 0 on SIGTERM"; else
        fail "$1: pgfold did not stop cleanly"
        sed 's/^/       /' "$T/stop.err"
    fi
}
scrape() { curl -fsS --max-time 10 "http://127.0.0.1:$APORT/metrics" >"$1"; }
mval() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi; }
promcheck() { # NAME FILE
    if promtool check metrics <"$2" >"$2.promtool" 2>&1 && [ ! -s "$2.promtool" ]; then
        ok "$1: promtool check metrics passes, no lint warning"
    else
        fail "$1: promtool check metrics:"
        sed 's/^/       /' "$2.promtool" | head -n 20
    fi
}
q() { timeout 20 psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d "$DB" "$@"; }

if ! command -v promtool >/dev/null; then
    skip "promtool not installed (Debian's prometheus package): the lint is not run"
    promcheck() { :; }
fi

# ---- 1-4. connections, promtool, /stats, the page ---------------------------------------------------
start_mine "${PGFOLD_MODE:-passthrough}" max_client_conn=3
conns=0
for i in 1 2 3; do q -Atc "SELECT $i" >/dev/null; conns=$((conns + 1)); done
PGPASSWORD=wrong timeout 20 psql -X -h 127.0.0.1 -p "$PORT" -U "$SCRAM_USER" -d "$DB" -c 'SELECT 1' >/dev/null 2>&1 || true
conns=$((conns + 1))
# Three sessions held open (max_client_conn = 3): a fourth is refused with 53300.
declare -a FDS=()
for i in 1 2 3; do
    mkfifo "$T/hold$i"
    timeout 60 psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d "$DB" <"$T/hold$i" >"$T/hold$i.out" 2>&1 &
    pgt_atexit "kill $! 2>/dev/null"
    exec {fd}>"$T/hold$i"
    FDS+=("$fd")
    echo "SELECT 1;" >&"$fd"
    conns=$((conns + 1))
done
for _ in $(seq 100); do
    scrape "$T/m.held"
    [ "$(mval pgfold_client_connections "$T/m.held")" = 3 ] && break
    sleep 0.1
done
out="$(q -Atc 'SELECT 1' 2>&1 || true)"
conns=$((conns + 1))
check "a fourth session is refused: 53300 too many clients ($out)" grep -q 'sorry, too many clients already' <<<"$out"
scrape "$T/m.held"
promcheck "with traffic and 3 open sessions" "$T/m.held"
eq "pgfold_client_connections while 3 sessions are open" "$(mval pgfold_client_connections "$T/m.held")" 3
eq "pgfold_connections_accepted_total = connections the test made" \
    "$(mval pgfold_connections_accepted_total "$T/m.held")" "$conns"
eq "pgfold_connections_rejected_total (max_client_conn)" "$(mval pgfold_connections_rejected_total "$T/m.held")" 1
eq "pgfold_login_failures_total (one wrong password)" "$(mval pgfold_login_failures_total "$T/m.held")" 1
eq "pgfold_upstream_connect_failures_total" "$(mval pgfold_upstream_connect_failures_total "$T/m.held")" 0
eq "pgfold_workers" "$(mval pgfold_workers "$T/m.held")" 2
eq "pgfold_info names the version and the mode" \
    "$(grep -c "^pgfold_info{version=\"$VERSION\",mode=\"${PGFOLD_MODE:-passthrough}\"} 1\$" "$T/m.held")" 1
check "pgfold_uptime_seconds is a positive number" \
    awk '$1 == "pgfold_uptime_seconds" && $2 ~ /^[0-9]+\.[0-9]+$/ && $2 > 0 {f = 1} END {exit !f}' "$T/m.held"
for fd in "${FDS[@]}"; do exec {fd}>&-; done
for _ in $(seq 100); do
    scrape "$T/m.after"
    [ "$(mval pgfold_client_connections "$T/m.after")" = 0 ] && break
    sleep 0.1
done
eq "pgfold_client_connections back to 0 once they closed" "$(mval pgfold_client_connections "$T/m.after")" 0

# 3. every /stats figure, under its metric name.
curl -fsS "http://127.0.0.1:$APORT/stats" >"$T/stats.json"
scrape "$T/m.stats"
py - "$T/stats.json" "$T/m.stats" >"$T/stats.cmp" 2>&1 <<'EOF' || true
import json, re, sys
d = json.load(open(sys.argv[1]))
names = {l.split()[0].split("{")[0] for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")}
metric_of = {"version": "pgfold_info", "uptime_seconds": "pgfold_uptime_seconds",
             "workers_running": "pgfold_workers", "client_connections": "pgfold_client_connections",
             "accepted_connections": "pgfold_connections_accepted_total",
             "rejected_connections": "pgfold_connections_rejected_total",
             "login_failures": "pgfold_login_failures_total",
             "upstream_connect_failures": "pgfold_upstream_connect_failures_total"}
missing = []
for k in d:
    if k in ("counters", "config"):
        continue
    if metric_of.get(k) not in names:
        missing.append(k)
for k in d["counters"]:
    if k == "savings":  # savings.c's own families: checked below and in t_admin_attrib
        for m in ("pgfold_roundtrips_would_save_total", "pgfold_statements_saved"):
            if m not in names:
                missing.append("counters.savings:" + m)
        continue
    want = "pgfold_%s_total" % k
    if want not in names:
        missing.append("counters." + k)
print("missing: %s" % (" ".join(missing) or "none"))
EOF
eq "every figure of /stats has its metric (config aside)" "$(cat "$T/stats.cmp")" "missing: none"

# 4. the page.
curl -fsS "http://127.0.0.1:$APORT/" >"$T/index.html"
check "the page: version, mode and uptime rows" bash -c \
    "grep -q '<th>version</th><td>$VERSION</td>' '$T/index.html' && grep -q '<th>mode</th><td>${PGFOLD_MODE:-passthrough}</td>' '$T/index.html' && grep -qE '<th>uptime</th><td>[0-9]+\\.[0-9]{3} s</td>' '$T/index.html'"
check "the page: the counters as a table, a row each" bash -c \
    "grep -q '<th>counter</th><th>value</th>' '$T/index.html' && grep -qE '<tr><td><code>connections_accepted</code></td><td class=\"n\">$conns</td>' '$T/index.html' && grep -qE '<tr><td><code>client_statements</code></td><td class=\"n\">[0-9]+</td>' '$T/index.html'"
check "the page: no JSON blob any more, no script" bash -c "! grep -qE '<pre>|<script' '$T/index.html'"
stop_mine "connections"

# ---- 5. observe mode ---------------------------------------------------------------------------
start_mine observe
{
    echo "SELECT id, q_id FROM mc ORDER BY id;"
    for i in $(seq 1 30); do echo "SELECT id, title FROM mq WHERE id = $((1 + i % 10));"; done
} >"$T/loop.sql"
q -At -f "$T/loop.sql" >/dev/null
curl -fsS "http://127.0.0.1:$APORT/patterns" >"$T/patterns.json"
read -r ob_batches ob_saved ob_would < <(py -c 'import json,sys; p=[p for p in json.load(open(sys.argv[1])) if "mq" in p["query"]][0]; print(p["batches"], p["roundtrips_saved"], p.get("roundtrips_would_save"))' "$T/patterns.json")
check "observe: /patterns: batches 0, roundtrips_saved 0, roundtrips_would_save > 0 ($ob_batches $ob_saved $ob_would)" \
    test "$ob_batches $ob_saved" = "0 0" -a "${ob_would:-0}" -gt 0
scrape "$T/m.observe"
promcheck "observe mode with a pattern" "$T/m.observe"
eq "observe: pgfold_roundtrips_saved_total and pgfold_batches_total" \
    "$(mval pgfold_roundtrips_saved_total "$T/m.observe") $(mval pgfold_batches_total "$T/m.observe")" "0 0"
curl -fsS "http://127.0.0.1:$APORT/" >"$T/observe.html"
check "observe: the page says the round trips are what batching would save" bash -c \
    "grep -q '<th>round trips it would save</th>' '$T/observe.html' && grep -q 'Observe mode: nothing is batched' '$T/observe.html' && ! grep -q '<th>round trips saved</th>' '$T/observe.html'"
eq "observe: the console's SHOW PATTERNS labels the column roundtrips_would_save" \
    "$(timeout 20 psql -X -h 127.0.0.1 -p "$PORT" -U postgres -d pgfold --csv -c 'SHOW PATTERNS' | py -c 'import csv,sys; r=list(csv.DictReader(sys.stdin)); print(r[0].get("roundtrips_would_save"), "roundtrips_saved" in r[0])')" \
    "$ob_would False"
stop_mine "observe"

check "the shared pgfold (pid $SHARED_PID) still running" pgfold_alive "$SHARED_PID"
test_finish
