#!/usr/bin/env bash
# Log lines an operator can use (issue 15, item 2), read back from pgfold's own log after real
# psql logins, against pgfold instances of this test's own:
#   1. text format, rewrite mode, log_batch_over_ms = 0 (every batch is "slow"):
#      - a login line per connection: peer, user, database, application_name, TLS of each leg
#      - a close line: duration, client and server statements, folded, the reason
#      - failed logins with PostgreSQL's own message: wrong SCRAM and md5 passwords (28P01), a
#        database that does not exist (3D000); the passwords never reach the log
#      - an N+1 loop: the slow-batch line (keys, rows, the query) and a close line whose
#        statements / server statements / folded add up
#   2. log_format = json, the mode this pass runs: every line parses; login, close and
#      "login failed" events carry the same fields as keys, numbers as numbers
# (The TLS fields with TLS on both legs are checked in t_tls.sh.)
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
DB=logs_db

if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "logs (PGFOLD_DIRECT=1: no pgfold log to read)"
    test_finish
fi
SHARED_PID="${PGFOLD_PID:-}"

fresh_db "$DB"
pgt_atexit "DB=postgres psql_direct -qc 'DROP DATABASE IF EXISTS $DB WITH (FORCE)'"
DB="$DB" psql_direct -v ON_ERROR_STOP=1 -q <<'EOF'
CREATE TABLE lq (id int PRIMARY KEY, title text);
CREATE TABLE lc (id int PRIMARY KEY, q_id int REFERENCES lq);
INSERT INTO lq SELECT g, 'question ' || g FROM generate_series(1, 10) g;
INSERT INTO lc SELECT g, 1 + g % 10 FROM generate_series(1, 30) g;
GRANT SELECT ON lq, lc TO PUBLIC;
EOF

# start_mine KEY=VALUE...: a pgfold of this test's, from an INI file; sets PORT, PID, LOG.
N=0
start_mine() {
    local kv
    N=$((N + 1))
    PORT="$(free_port)"
    {
        echo "[pgfold]"
        echo "listen = 127.0.0.1:$PORT"
        echo "upstream = host=127.0.0.1 port=$PG_PORT"
        echo "admin_listen ="
        for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
    } >"$T/logs.$N.ini"
    pgfold_start_ini "$T/logs.$N.ini" "$PORT" || pgt_die "pgfold would not start"
    PID="$PGFOLD2_PID" LOG="$PGFOLD2_LOG"
}
stop_mine() {
    if pgfold_stop "$PID" "$LOG" 2>"$T/stop.err"; then ok "$1: pgfold exited 0 on SIGTERM"; else
        fail "$1: pgfold did not stop cleanly"
        sed 's/^/       /' "$T/stop.err"
    fi
}
# psql_as USER PASSWORD APP [psql args...]
psql_as() {
    local user="$1" pw="$2" app="$3"
    shift 3
    PGPASSWORD="$pw" timeout 20 psql -X -q "host=127.0.0.1 port=$PORT user=$user dbname=$DB application_name=$app" "$@"
}
# line EVENT APP: the last log line of that event for that application (login) or session.
line() { grep -E "$1" "$LOG" | tail -n 1; }
has() { # NAME LINE REGEX
    if grep -qE -- "$3" <<<"$2"; then ok "$1"; else
        fail "$1: want /$3/ in:"
        printf '       %s\n' "${2:-(no such line)}"
    fi
}
# sid_of APP: the session id of the (last) login line of application APP.
sid_of() { grep -E "login: .*application_name=$1 " "$LOG" | tail -n 1 | sed -E 's/.*\[s=([0-9]+)\].*/\1/'; }
# wait_close SID: until the close line of session SID is written (10 s at most); prints it.
wait_close() {
    for _ in $(seq 100); do
        grep -E "\[s=$1\] close: " "$LOG" && return 0
        sleep 0.1
    done
    return 0
}

# ---- 1. text -----------------------------------------------------------------------------------
start_mine mode=rewrite log_batch_over_ms=0 max_staleness_ms=10min
note "pgfold (rewrite, text log) on port $PORT"

psql_as postgres "" t_logs_plain -Atc 'SELECT 1' >/dev/null
sid="$(sid_of t_logs_plain)"
login="$(line "\\[s=$sid\\] login: ")"
has "login line: peer, user, database, application_name, TLS of each leg (off, off)" "$login" \
    "info \\[s=$sid\\] login: peer=127\\.0\\.0\\.1:[0-9]+ user=postgres database=$DB application_name=t_logs_plain client_tls=off server_tls=off\$"
close="$(wait_close "$sid")"
has "close line: duration, 1 statement, 1 server statement, 0 folded, reason client terminated" "$close" \
    "close: peer=127\\.0\\.0\\.1:[0-9]+ user=postgres database=$DB duration_ms=[0-9]+ statements=1 server_statements=1 folded=0 reason=\"client terminated\"\$"

out="$(psql_as "$SCRAM_USER" "$SCRAM_PASSWORD" t_logs_scram -Atc 'SELECT current_user' 2>&1)"
check "a SCRAM login through pgfold works ($out)" test "$out" = "$SCRAM_USER"
has "login line for the SCRAM user" "$(line "login: .*application_name=t_logs_scram ")" "user=$SCRAM_USER database=$DB "

psql_as "$SCRAM_USER" wrong-scram-pw t_logs_bad1 -Atc 'SELECT 1' >"$T/bad1" 2>&1 || true
psql_as "$MD5_USER" wrong-md5-pw t_logs_bad2 -Atc 'SELECT 1' >"$T/bad2" 2>&1 || true
DB=no_such_db psql_as postgres "" t_logs_bad3 -Atc 'SELECT 1' >"$T/bad3" 2>&1 || true
bad1="$(line "login failed: .*application_name=t_logs_bad1 ")"
has "failed SCRAM login: PostgreSQL's 28P01 and message" "$bad1" \
    "login failed: peer=127\\.0\\.0\\.1:[0-9]+ user=$SCRAM_USER database=$DB application_name=t_logs_bad1 sqlstate=28P01 message=\"password authentication failed for user \\\\\"$SCRAM_USER\\\\\"\"\$"
has "failed md5 login: 28P01" "$(line "login failed: .*application_name=t_logs_bad2 ")" \
    "user=$MD5_USER .*sqlstate=28P01 message=\"password authentication failed for user"
has "no such database: 3D000 and PostgreSQL's message" "$(line "login failed: .*application_name=t_logs_bad3 ")" \
    "database=no_such_db .*sqlstate=3D000 message=\"database \\\\\"no_such_db\\\\\" does not exist\""
sid="$(grep -E "login failed: .*application_name=t_logs_bad1 " "$LOG" | tail -n 1 | sed -E 's/.*\[s=([0-9]+)\].*/\1/')"
has "the failed login's close line gives the failure as the reason" "$(wait_close "$sid")" \
    "statements=0 server_statements=0 folded=0 reason=\"login failed: 28P01 password authentication failed"
check "the client saw PostgreSQL's own error" grep -q 'password authentication failed for user "scram_user"' "$T/bad1"
eq_n="$(grep -c -e wrong-scram-pw -e wrong-md5-pw -e "$SCRAM_PASSWORD" -e "$MD5_PASSWORD" "$LOG" || true)"
check "no password (right or wrong) in the log" test "$eq_n" = 0

# An N+1 loop in one session: the source query, then one lookup per row (30, over 10 keys).
{
    echo "SELECT id, q_id FROM lc ORDER BY id;"
    for i in $(seq 1 30); do echo "SELECT id, title FROM lq WHERE id = $((1 + i % 10));"; done
} >"$T/loop.sql"
DB="$DB" psql_direct -At -f "$T/loop.sql" >"$T/loop.direct"
stmt_reset
psql_as postgres "" t_logs_loop -At -f "$T/loop.sql" >"$T/loop.pgfold"
seen="$(DB="$TEST_DB" psql_direct -At -v db="$DB" <<'EOF'
SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = :'db' AND query !~* 'pg_stat_statements';
EOF
)"
compare "the loop through pgfold" "$T/loop.direct" "$T/loop.pgfold"
sid="$(sid_of t_logs_loop)"
slow="$(line "\\[s=$sid\\] slow batch: ")"
has "slow batch line (log_batch_over_ms = 0): duration, 10 keys, 10 rows, the lookup" "$slow" \
    "slow batch: duration_ms=[0-9]+ keys=10 rows=10 query=\"SELECT id, title FROM lq WHERE id = "
close="$(wait_close "$sid")"
has "the loop's close line: 31 statements, 30 folded, server statements = what pg_stat_statements saw ($seen)" \
    "$close" "statements=31 server_statements=$seen folded=30 reason=\"client terminated\""
stop_mine "text log"

# ---- 2. JSON -------------------------------------------------------------------------------------
start_mine "mode=${PGFOLD_MODE:-passthrough}" log_format=json
psql_as postgres "" t_logs_json -Atc 'SELECT 1' >/dev/null
psql_as "$SCRAM_USER" wrong-json-pw t_logs_json_bad -Atc 'SELECT 1' >/dev/null 2>&1 || true
sid="$(grep -F '"application_name":"t_logs_json"' "$LOG" | head -n 1 | sed -E 's/.*"session":([0-9]+).*/\1/')"
for _ in $(seq 100); do grep -q "\"session\":$sid,\"msg\":\"close:" "$LOG" && break; sleep 0.1; done
py - "$LOG" >"$T/json.check" 2>&1 <<'EOF' || true
import json, sys
want = {
    "login": {"peer": str, "user": str, "database": str, "application_name": str,
              "client_tls": str, "server_tls": str},
    "close": {"peer": str, "user": str, "database": str, "duration_ms": int, "statements": int,
              "server_statements": int, "folded": int, "reason": str},
    "login failed": {"peer": str, "user": str, "database": str, "application_name": str,
                     "sqlstate": str, "message": str},
}
seen = {}
for n, text in enumerate(open(sys.argv[1]), 1):
    try:
        d = json.loads(text)
    except ValueError as e:
        print("FAIL line %d is not JSON: %s: %s" % (n, e, text.strip()))
        continue
    ev = d.get("event")
    if ev not in want:
        continue
    for k, t in want[ev].items():
        if not isinstance(d.get(k), t):
            print("FAIL line %d (%s): %s is %r, want %s" % (n, ev, k, d.get(k), t.__name__))
    if not d["msg"].startswith(ev + ":"):
        print("FAIL line %d: msg %r does not start with the event" % (n, d["msg"]))
    seen.setdefault(ev, []).append(d)
for ev in want:
    print("%s %d" % (ev, len(seen.get(ev, []))))
ok = [d for d in seen.get("login", []) if d["application_name"] == "t_logs_json"]
print("login of t_logs_json: user=%s database=%s" % (ok[0]["user"], ok[0]["database"]) if ok else "no login line")
bad = [d for d in seen.get("login failed", []) if d["application_name"] == "t_logs_json_bad"]
print("failed: %s %s" % (bad[0]["sqlstate"], bad[0]["message"]) if bad else "no login failed line")
EOF
check "json: every line parses and every event field has its type" bash -c "! grep -q '^FAIL' '$T/json.check'"
grep '^FAIL' "$T/json.check" | head -n 5 | sed 's/^/       /' || true
has "json: login, close and login failed events are there" "$(head -n 3 "$T/json.check" | paste -sd ' ')" \
    '^login [1-9][0-9]* close [1-9][0-9]* login failed [1-9][0-9]*$'
has "json: the login event's user and database" "$(cat "$T/json.check")" "login of t_logs_json: user=postgres database=$DB"
has "json: the failed login's SQLSTATE and PostgreSQL's message" "$(cat "$T/json.check")" \
    "failed: 28P01 password authentication failed for user \"$SCRAM_USER\""
check "json: no password in the log" bash -c "! grep -q -e wrong-json-pw -e '$SCRAM_PASSWORD' '$LOG'"
stop_mine "json log"

check "the shared pgfold (pid $SHARED_PID) still running" pgfold_alive "$SHARED_PID"
test_finish
