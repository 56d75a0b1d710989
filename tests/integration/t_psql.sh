#!/usr/bin/env bash
# psql direct vs through pgfold: simple queries, multi-statement queries, errors in and out of
# transactions, \copy both ways, LISTEN/NOTIFY, a 200000-row result.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
PSQL=(psql -X -h 127.0.0.1 -p @PORT@ -U postgres -d "$TEST_DB")

# --- 1. A script: simple queries, \; multi-statement, errors, transactions, notices. --------
cat >"$T/script.sql" <<'EOF'
\set QUIET off
\pset pager off
\set VERBOSITY verbose
SELECT 1 AS one, 'two' AS two, NULL AS three, 1.50::numeric AS four, true AS five;
SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, NULL)) v(id, t) ORDER BY id;
SELECT 'héllo wörld ✓' AS unicode, repeat('ab', 50) AS long, E'tab\there' AS esc;
SELECT 1 AS a \; SELECT 2 AS b \; SELECT 3 AS c;
SELECT 1; SELECT 2;
;
-- errors outside a transaction
SELEC 1;
\echo sqlstate :SQLSTATE error :LAST_ERROR_SQLSTATE
SELECT 1/0;
\echo sqlstate :SQLSTATE :LAST_ERROR_MESSAGE
SELECT * FROM no_such_table;
SELECT 'x'::int;
-- an error in the middle of a multi-statement query: one implicit transaction
SELECT 10 AS before_error \; SELECT 1/0 \; SELECT 30 AS after_error;
\echo sqlstate :SQLSTATE
SELECT 'after multi-statement error' AS ok;
-- errors inside a transaction, ROLLBACK after error
BEGIN;
CREATE TEMP TABLE tt (id int PRIMARY KEY, v text);
INSERT INTO tt VALUES (1, 'a'), (2, 'b');
SELECT 1/0;
SELECT * FROM tt;
COMMIT;
SELECT count(*) AS tt_exists FROM pg_class WHERE relname = 'tt' AND relpersistence = 't';
BEGIN;
CREATE TEMP TABLE tt (id int PRIMARY KEY, v text);
INSERT INTO tt VALUES (1, 'a');
SAVEPOINT s1;
INSERT INTO tt VALUES (1, 'duplicate');
ROLLBACK TO SAVEPOINT s1;
INSERT INTO tt VALUES (2, 'b') RETURNING *;
COMMIT;
SELECT * FROM tt ORDER BY id;
BEGIN;
SELECT 1/0;
ROLLBACK;
SELECT 'after rollback' AS ok;
ROLLBACK;
-- session state, ParameterStatus
SET application_name = 'pgfold psql test';
SHOW application_name;
SET TimeZone = 'Asia/Tokyo';
SELECT timestamptz '2020-01-01 00:00:00+00' AS tokyo;
RESET TimeZone;
SET datestyle = 'German';
SELECT date '2021-12-31' AS german;
RESET datestyle;
-- notices and warnings
DO $$ BEGIN RAISE NOTICE 'notice %', 1; RAISE WARNING 'warning %', 2; END $$;
DO $$ BEGIN RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0001', HINT = 'a hint', DETAIL = 'some detail'; END $$;
-- SQL-level prepared statements and cursors
PREPARE p(int) AS SELECT $1 * 2 AS doubled;
EXECUTE p(21);
EXECUTE p('x');
DEALLOCATE p;
BEGIN;
DECLARE c CURSOR FOR SELECT g FROM generate_series(1, 10) g;
FETCH 3 FROM c;
FETCH ALL FROM c;
CLOSE c;
COMMIT;
-- COPY through psql's own protocol handling
CREATE TEMP TABLE cp (id int, t text);
COPY cp FROM stdin;
1	one
2	two with \t tab
3	\N
\.
COPY cp TO stdout;
COPY cp TO stdout (FORMAT csv, HEADER);
COPY cp FROM stdin;
4	four
x	bad
\.
SELECT count(*) FROM cp;
-- LISTEN/NOTIFY in one session: psql prints the notification after the command
LISTEN psql_chan;
NOTIFY psql_chan, 'to myself';
SELECT pg_notify('psql_chan', 'via function');
UNLISTEN psql_chan;
NOTIFY psql_chan, 'not delivered';
-- FETCH_COUNT makes psql read through a cursor
\set FETCH_COUNT 7
SELECT g, g * g FROM generate_series(1, 20) g;
\unset FETCH_COUNT
SELECT pg_backend_pid() > 0 AS has_pid, current_setting('server_version_num')::int >= 150000 AS pg15;
EOF
both script "${PSQL[@]}" -f "$T/script.sql"
both script-echo "${PSQL[@]}" -a -f "$T/script.sql"
both script-stop-on-error "${PSQL[@]}" -v ON_ERROR_STOP=1 -f "$T/script.sql"

# psql -c sends the whole string as one simple Query message.
both c-multi "${PSQL[@]}" -c 'SELECT 1 AS a; SELECT 2 AS b; SELECT 1/0; SELECT 4 AS d'
both c-multi-ok "${PSQL[@]}" -c 'CREATE TEMP TABLE x (a int); INSERT INTO x VALUES (1), (2); SELECT sum(a) FROM x'
both c-tx "${PSQL[@]}" -c 'BEGIN; SELECT 1; COMMIT; BEGIN; SELECT 1/0; COMMIT'
both c-syntax "${PSQL[@]}" -c 'SELECT (1'
both c-single-tx "${PSQL[@]}" -1 -c 'SELECT 1' -c 'SELECT 1/0'

# --- 2. \copy both ways, file contents compared. -------------------------------------------
psql_direct -v ON_ERROR_STOP=1 >/dev/null <<'EOF'
SET client_min_messages = warning;
DROP TABLE IF EXISTS copy_src, copy_dst;
CREATE TABLE copy_src AS
  SELECT g AS id, 'text ' || g || E'\twith tab, "quotes", \\backslash' AS t,
         CASE WHEN g % 10 = 0 THEN NULL ELSE g * 1.25 END AS n,
         timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute' AS ts
    FROM generate_series(1, 50000) g;
CREATE TABLE copy_dst (LIKE copy_src);
EOF
for fmt in text csv binary; do
    opts=""
    [ "$fmt" = csv ] && opts="WITH (FORMAT csv, HEADER)"
    [ "$fmt" = binary ] && opts="WITH (FORMAT binary)"
    both "copy-to-$fmt" "${PSQL[@]}" -c "\\copy (SELECT * FROM copy_src ORDER BY id) TO '$T/out.$fmt.@PORT@' $opts"
    if cmp -s "$T/out.$fmt.$PG_PORT" "$T/out.$fmt.$PROXY_PORT" && [ -s "$T/out.$fmt.$PG_PORT" ]; then
        ok "\\copy TO $fmt: files identical ($(wc -c <"$T/out.$fmt.$PG_PORT") bytes)"
    else
        fail "\\copy TO $fmt: files differ"
        cmp "$T/out.$fmt.$PG_PORT" "$T/out.$fmt.$PROXY_PORT" 2>&1 | head -3 | sed 's/^/       /'
    fi
done
table_sum() {
    psql_direct -Atc "SELECT count(*), md5(string_agg(id || '|' || t || '|' || coalesce(n::text, 'null') || '|' || ts, E'\\n' ORDER BY id)) FROM $1"
}
want="$(table_sum copy_src)"
for fmt in text csv binary; do
    opts=""
    [ "$fmt" = csv ] && opts="WITH (FORMAT csv, HEADER)"
    [ "$fmt" = binary ] && opts="WITH (FORMAT binary)"
    for side in direct pgfold; do
        port="$PG_PORT"
        [ "$side" = pgfold ] && port="$PROXY_PORT"
        psql_direct -qc 'TRUNCATE copy_dst'
        psql_at "$port" -v QUIET=off -c "\\copy copy_dst FROM '$T/out.$fmt.$PG_PORT' $opts" \
            >"$T/copy-from-$fmt.$side" 2>&1 &&
            echo "[exit 0]" >>"$T/copy-from-$fmt.$side" || echo "[exit $?]" >>"$T/copy-from-$fmt.$side"
        got="$(table_sum copy_dst)"
        if [ "$got" = "$want" ]; then
            ok "\\copy FROM $fmt via $side: table matches the source ($got)"
        else
            fail "\\copy FROM $fmt via $side: table is '$got', want '$want'"
        fi
    done
    compare "copy-from-$fmt output" "$T/copy-from-$fmt.direct" "$T/copy-from-$fmt.pgfold"
done
# \copy FROM with a bad line in the middle: same error, nothing loaded.
awk 'NR == 25000 { print "oops\tnot a row"; next } { print }' "$T/out.text.$PG_PORT" >"$T/bad.tsv"
psql_direct -qc 'TRUNCATE copy_dst'
both copy-from-bad "${PSQL[@]}" -c "\\copy copy_dst FROM '$T/bad.tsv'"
check "\\copy FROM with a bad line left the table empty" test "$(psql_direct -Atc 'SELECT count(*) FROM copy_dst')" = 0

# --- 3. LISTEN/NOTIFY between two sessions. -------------------------------------------------
NOTIFY_PY="$PGT_TESTS_DIR/clients/py/notify.py"
both notify "$PYTHON" "$NOTIFY_PY" --listen-port @PORT@ --notify-port @PORT@ --db "$TEST_DB"
# Listener through pgfold, notifier direct (and the other way round): same notifications.
for combo in "$PROXY_PORT $PG_PORT" "$PG_PORT $PROXY_PORT"; do
    set -- $combo
    py "$NOTIFY_PY" --listen-port "$1" --notify-port "$2" --db "$TEST_DB" >"$T/notify.$1.$2" 2>&1 &&
        echo "[exit 0]" >>"$T/notify.$1.$2" || echo "[exit $?]" >>"$T/notify.$1.$2"
    compare "notify listen:$1 notify:$2" "$T/notify.direct" "$T/notify.$1.$2"
done

# --- 4. A big result. -----------------------------------------------------------------------
both big-result "${PSQL[@]}" -At -c 'SELECT g, md5(g::text), repeat(chr(65 + g % 26), g % 100) FROM generate_series(1, 200000) g'
check "big result has 200000 rows" test "$(grep -c . "$T/big-result.pgfold")" -ge 200000
both big-result-fetchcount "${PSQL[@]}" -At -v FETCH_COUNT=5000 -c 'SELECT g, md5(g::text) FROM generate_series(1, 200000) g'

psql_direct -qc 'DROP TABLE IF EXISTS copy_src, copy_dst'
proxy_still_alive
test_finish
