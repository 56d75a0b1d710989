#!/usr/bin/env bash
# The admin console over the PostgreSQL protocol (issue 15, item 1), with psql, against pgfold
# instances of this test's own (2 workers; the mode run.sh was given):
#   1. open over the unix socket and loopback: SHOW VERSION, HELP, STATS, CONFIG, PATTERNS,
#      CLIENTS in psql's aligned, \x, -At and --csv output; SHOW STATS has every figure /stats
#      has; SHOW CLIENTS lists the sessions of both workers with their user, database,
#      application_name, state and statements
#   2. anything else gets an ERROR (42601, 42704; 0A000 for the extended protocol, with
#      psycopg 3) and the same session goes on
#   3. RELOAD applies a changed file, as SIGHUP does
#   4. over a non-loopback address of this machine: refused (28000) without admin_token
#   5. admin_token set: it is the password (SCRAM-SHA-256) from anywhere; a wrong one gets
#      28P01; the token is never in the log
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
EXT="$PGT_TESTS_DIR/clients/admin/console_ext.py"

if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "console (PGFOLD_DIRECT=1: PostgreSQL has no pgfold console)"
    test_finish
fi

SHARED_PID="${PGFOLD_PID:-}"
BIN="$(pgfold_bin)"
VERSION="$("$BIN" --version | awk '{print $2}')"
MODE="${PGFOLD_MODE:-passthrough}"
SOCK="$(mktemp -d /tmp/pfcon.XXXXXX)"
pgt_atexit "rm -rf '$SOCK'"
chmod 777 "$SOCK"
# A non-loopback address of this machine, to be refused from (none: that part is skipped).
ADDR="$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')"

# start_mine INI: pgfold on 127.0.0.1:PORT, the unix socket SOCK/.s.PGSQL.PORT and ADDR:PORT.
start_mine() {
    local listen
    PORT="$(free_port)"
    APORT="$(free_port)"
    LOG="$T/pgfold.$PORT.log"
    listen="127.0.0.1:$PORT,$SOCK:$PORT${ADDR:+,$ADDR:$PORT}"
    _pgfold_launch "$PORT" "$LOG" -c "$1" --listen "$listen" --upstream "host=127.0.0.1 port=$PG_PORT" \
        --admin-listen "127.0.0.1:$APORT" --workers 2 --mode "$MODE" || pgt_die "pgfold would not start"
    PID="$_PGFOLD_LAUNCHED_PID"
}
stop_mine() {
    if pgfold_stop "$PID" "$LOG" 2>"$T/stop.err"; then ok "$1: pgfold exited 0 on SIGTERM"; else
        fail "$1: pgfold did not stop cleanly"
        sed 's/^/       /' "$T/stop.err"
    fi
}
# con [psql args...]: psql to the console over loopback TCP.
con() { timeout 20 psql -X -h 127.0.0.1 -p "$PORT" -U postgres -d pgfold "$@"; }
eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi; }
has() { # NAME FILE REGEX
    if grep -qE -- "$3" "$2"; then ok "$1"; else
        fail "$1: no line matching '$3' in:"
        sed 's/^/       /' "$2" | head -n 20
    fi
}

# ---- 1. open over the unix socket and loopback ---------------------------------------------------
printf '[pgfold]\nmax_batch_keys = 1000\n' >"$T/plain.ini"
start_mine "$T/plain.ini"
note "pgfold ($MODE) on 127.0.0.1:$PORT, $SOCK and ${ADDR:-no other address}; admin $APORT"

eq "SHOW VERSION over the unix socket" \
    "$(timeout 20 psql -X -h "$SOCK" -p "$PORT" -U postgres -d pgfold -Atc 'SHOW VERSION' 2>&1)" "pgfold $VERSION"
eq "SHOW VERSION over loopback, psql -At" "$(con -Atc 'show version;' 2>&1)" "pgfold $VERSION"
con -Atc 'SHOW HELP' >"$T/help" 2>&1
eq "SHOW HELP lists the seven commands" \
    "$(cut -d'|' -f1 "$T/help" | paste -sd ,)" "SHOW STATS,SHOW PATTERNS,SHOW CLIENTS,SHOW CONFIG,SHOW VERSION,SHOW HELP,RELOAD"

con -c 'SHOW STATS' >"$T/stats.aligned" 2>&1
has "SHOW STATS, aligned: a header and a row count" "$T/stats.aligned" '^ +stat +\| +value *$'
has "SHOW STATS, aligned: (N rows)" "$T/stats.aligned" '^\([0-9]+ rows\)$'
con -At -F ' ' -c 'SHOW STATS' >"$T/stats" 2>&1
curl -fsS --max-time 10 "http://127.0.0.1:$APORT/stats" >"$T/stats.json"
# Every figure of /stats, under the console's name for it.
missing=""
for k in uptime_seconds workers client_connections connections_accepted connections_rejected \
    login_failures upstream_connect_failures $(py -c 'import json,sys; print(" ".join(k for k in json.load(open(sys.argv[1]))["counters"] if k not in ("fallbacks", "savings")))' "$T/stats.json") \
    fallbacks_error fallbacks_size fallbacks_rowdescription cache_bytes patterns; do
    grep -qE "^$k [0-9.]+\$" "$T/stats" || missing="$missing $k"
done
eq "SHOW STATS has every figure /stats has, each a number" "${missing:-none missing}" "none missing"
eq "SHOW STATS: connections_accepted counts the console's own sessions" \
    "$(awk '$1 == "connections_accepted" {print ($2 >= 5)}' "$T/stats")" 1

con --csv -c 'SHOW CONFIG' >"$T/config.csv" 2>&1
eq "SHOW CONFIG --csv: header" "$(head -n 1 "$T/config.csv")" "key,value,default,reloadable,description"
has "SHOW CONFIG --csv: mode row" "$T/config.csv" "^mode,$MODE,rewrite,yes,"
has "SHOW CONFIG --csv: admin_database row" "$T/config.csv" '^admin_database,pgfold,pgfold,yes,'
has "SHOW CONFIG --csv: listen needs a restart" "$T/config.csv" '^listen,("[^"]*"|[^,]*),127\.0\.0\.1:6432,no,'
eq "SHOW CONFIG: every key of pgfold --help" \
    "$(tail -n +2 "$T/config.csv" | cut -d, -f1 | sort | paste -sd ' ')" \
    "$("$BIN" --help | sed -nE 's/^  ([a-z_]+) += .*/\1/p' | sort | paste -sd ' ')"
eq "SHOW PATTERNS: a result with the pattern columns (none yet)" \
    "$(con --csv -c 'SHOW PATTERNS' 2>&1 | head -n 1)" \
    "fingerprint,query,source_query,source_column,loops,lookups,batches,keys_fetched,keys_used,$([ "$MODE" = observe ] && echo roundtrips_would_save || echo roundtrips_saved),backoff,suggestion"

# SHOW CLIENTS: three sessions into the test database, dealt round-robin to the two workers, stay
# open (psql reading a fifo) while the console lists them.
declare -a HOLD_FD=()
for i in 1 2 3; do
    mkfifo "$T/hold$i"
    timeout 60 psql -X -q "host=127.0.0.1 port=$PORT user=postgres dbname=$TEST_DB application_name=t_console_hold$i" \
        <"$T/hold$i" >"$T/hold$i.out" 2>&1 &
    pgt_atexit "kill $! 2>/dev/null"
    exec {fd}>"$T/hold$i"
    HOLD_FD+=("$fd")
    echo "SELECT $i; SELECT $i;" >&"$fd"
done
for _ in $(seq 100); do
    con -At -F ' ' -c 'SHOW CLIENTS' >"$T/clients" 2>&1 || true
    [ "$(grep -c ' t_console_hold[0-9] off off idle [0-9]* 2 ' "$T/clients")" = 3 ] && break
    sleep 0.1
done
eq "SHOW CLIENTS: the three sessions (both workers), idle, 2 statements each, user and database" \
    "$(grep -cE "^[0-9]+ 127\.0\.0\.1:[0-9]+ postgres $TEST_DB t_console_hold[123] off off idle [0-9]+ 2 [0-9]+ 2\$" "$T/clients")" 3
has "SHOW CLIENTS: the console's own session, state console" "$T/clients" \
    "^[0-9]+ 127\.0\.0\.1:[0-9]+ postgres pgfold psql off - console "
printf '\\x on\nSHOW CLIENTS;\n' | con >"$T/clients.x" 2>&1
has "SHOW CLIENTS in psql's \\x: a record per session" "$T/clients.x" '^-\[ RECORD 4 \]'
has "SHOW CLIENTS in psql's \\x: application_name line" "$T/clients.x" '^application_name +\| t_console_hold1$'
for fd in "${HOLD_FD[@]}"; do exec {fd}>&-; done
wait_gone() {
    for _ in $(seq 100); do
        con -At -c 'SHOW CLIENTS' 2>/dev/null | grep -q t_console_hold || return 0
        sleep 0.1
    done
    return 1
}
check "SHOW CLIENTS: the sessions leave the list when they close" wait_gone

# ---- 2. errors, and the session goes on ------------------------------------------------------------
con -v ON_ERROR_STOP=0 >"$T/errors" 2>&1 <<'EOF' || true
SELECT 1;
SHOW NOTHING;
SHOW VERSION;
EOF
has "SELECT: ERROR 42601 syntax error" "$T/errors" '^ERROR:  syntax error at or near "SELECT"'
has "SHOW NOTHING: ERROR unrecognized SHOW item" "$T/errors" '^ERROR:  unrecognized SHOW item "NOTHING"'
has "... and the same session answers SHOW VERSION after both" "$T/errors" "^ pgfold $VERSION\$"
con -Atc 'SELECT 1' >"$T/select" 2>&1 && rc=0 || rc=$?
eq "psql -c 'SELECT 1': exit 1 (an ERROR, not a broken connection)" "$rc" 1
py "$EXT" "host=127.0.0.1 port=$PORT user=postgres dbname=pgfold" >"$T/ext" 2>&1 || true
has "extended protocol (psycopg 3): 0A000, only the simple query protocol" "$T/ext" \
    '^extended: 0A000 pgfold console: only the simple query protocol is supported'
has "... then a simple Query on the same connection works" "$T/ext" "^simple after it: TUPLES_OK pgfold $VERSION\$"

# ---- 3. RELOAD ---------------------------------------------------------------------------------------
printf '[pgfold]\nmax_batch_keys = 7\n' >"$T/plain.ini"
eq "RELOAD: psql prints the command tag" "$(con -c 'RELOAD' 2>&1)" "RELOAD"
for _ in $(seq 100); do
    [ "$(con -At -c 'SHOW CONFIG' | awk -F'|' '$1 == "max_batch_keys" {print $2}')" = 7 ] && break
    sleep 0.1
done
eq "RELOAD: SHOW CONFIG shows the file's new max_batch_keys" \
    "$(con -At -c 'SHOW CONFIG' | awk -F'|' '$1 == "max_batch_keys" {print $2}')" 7
has "RELOAD: logged with who asked, then the change" "$LOG" 'console: RELOAD requested by 127\.0\.0\.1:[0-9]+ \(user postgres\)'
has "RELOAD: the reload line names the change" "$LOG" 'reload: max_batch_keys 1000 -> 7'

# ---- 4. not over loopback ----------------------------------------------------------------------------
if [ -n "$ADDR" ]; then
    timeout 20 psql -X -h "$ADDR" -p "$PORT" -U postgres -d pgfold -c 'SHOW VERSION' >"$T/remote" 2>&1 && rc=0 || rc=$?
    eq "from $ADDR without admin_token: psql fails" "$rc" 2
    has "... with FATAL: the console is open only over the unix socket and loopback" "$T/remote" \
        'FATAL:  pgfold: the console is open only over the unix socket and loopback'
    eq "from $ADDR: an ordinary database still works" \
        "$(timeout 20 psql -X -h "$ADDR" -p "$PORT" -U postgres -d "$TEST_DB" -Atc 'SELECT 42' 2>&1)" 42
    has "the refusal is logged as a failed login (28000)" "$LOG" "login failed: peer=$ADDR:[0-9]+ user=postgres database=pgfold .*sqlstate=28000"
else
    skip "no non-loopback IPv4 address on this machine: the refusal from elsewhere is not tested"
fi
stop_mine "console without admin_token"

# ---- 5. admin_token is the password ------------------------------------------------------------------
TOKEN="tok-$$-console"
printf '[pgfold]\nadmin_token = %s\n' "$TOKEN" >"$T/token.ini"
start_mine "$T/token.ini"
PGPASSWORD=wrong-guess con -Atc 'SHOW VERSION' >"$T/wrong" 2>&1 && rc=0 || rc=$?
eq "admin_token: a wrong password: psql fails" "$rc" 2
has "... with FATAL 28P01 password authentication failed" "$T/wrong" \
    'FATAL:  password authentication failed for user "postgres"'
con -w -Atc 'SHOW VERSION' >"$T/nopw" 2>&1 && rc=0 || rc=$?
has "admin_token: no password at all: libpq says none was supplied" "$T/nopw" 'no password supplied'
eq "admin_token: the right password over loopback (SCRAM-SHA-256)" \
    "$(PGPASSWORD="$TOKEN" con -Atc 'SHOW VERSION' 2>&1)" "pgfold $VERSION"
eq "admin_token: the right password over the unix socket" \
    "$(PGPASSWORD="$TOKEN" timeout 20 psql -X -h "$SOCK" -p "$PORT" -U postgres -d pgfold -Atc 'SHOW VERSION' 2>&1)" "pgfold $VERSION"
if [ -n "$ADDR" ]; then
    eq "admin_token: the right password from $ADDR" \
        "$(PGPASSWORD="$TOKEN" timeout 20 psql -X -h "$ADDR" -p "$PORT" -U postgres -d pgfold -Atc 'SHOW VERSION' 2>&1)" "pgfold $VERSION"
fi
eq "admin_token: SHOW CONFIG shows it as (set), never the value" \
    "$(PGPASSWORD="$TOKEN" con -At -c 'SHOW CONFIG' | awk -F'|' '$1 == "admin_token" {print $2}')" "(set)"
has "admin_token: the wrong password is logged as a failed login (28P01)" "$LOG" \
    'login failed: peer=127\.0\.0\.1:[0-9]+ user=postgres database=pgfold .*sqlstate=28P01'
eq "admin_token: neither the token nor the wrong password is in the log" \
    "$(grep -c -e "$TOKEN" -e wrong-guess "$LOG" || true)" 0
stop_mine "console with admin_token"

check "the shared pgfold (pid $SHARED_PID) still running" pgfold_alive "$SHARED_PID"
test_finish
