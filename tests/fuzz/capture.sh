#!/usr/bin/env bash
# tests/fuzz/capture.sh [BUILD]: regenerates every committed fuzz corpus,
# tests/fuzz/corpus/<target>/ (docs/fuzzing.md, "Corpus provenance"). BUILD (default build)
# holds the pgfold binary for the rewrite-mode pass (without it that pass is skipped) and the
# fuzz binaries that minimize each corpus (without them every input is kept).
#
# Starts a throwaway PostgreSQL (tests/lib/pg.sh) and capture.py's relay in front of it, runs
# real clients through the relay (psql, pgbench in simple/extended/prepared modes with and
# without a pipeline, the libpq test client, Django over psycopg2, psycopg 3), then runs most of
# them again through pgfold in rewrite mode with a relay on each side, then cuts the
# recorded byte streams into inputs for each target (wire, session, shape, keyval) and adds the
# unit tests' SQL, key values and INI files, and the hand-written seeds of capture.py (config,
# admin: the admin port's requests are not PostgreSQL traffic).
#
# Timing decides how reads interleave, so a re-run gives similar, not identical, files.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib/pg.sh
. "$HERE/../lib/pg.sh"
BUILD="${1:-${BUILD:-build}}"

pg_start
pgt_tmpdir CAP
chmod 755 "$CAP"
RPORT="$(free_port)"
"$PYTHON" "$HERE/capture.py" relay "$RPORT" "$PG_PORT" "$CAP/rec" &
RELAY=$!
pgt_atexit "kill $RELAY"
for _ in $(seq 100); do port_listening "$RPORT" && break; sleep 0.05; done
port_listening "$RPORT" || pgt_die "relay did not start"

DB=$TEST_DB
CONN="$(conninfo "$RPORT")"
PSQL=(timeout 120 psql -X -q -v ON_ERROR_STOP=0 -h 127.0.0.1 -p "$RPORT" -U postgres -d "$DB")
run() { pgt_log "capture: $*"; "$@" >/dev/null 2>&1 || pgt_log "  (exit $?; expected for some)"; }

# ---- psql: the simple protocol, errors, transactions, COPY, notifications, an N+1 loop ----
cat >"$CAP/schema.sql" <<'EOF'
CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL, code uuid, country char(2));
CREATE TABLE books (id serial PRIMARY KEY, author_id int REFERENCES authors, title text,
                    price numeric(8,2), tags varchar(20)[]);
INSERT INTO authors SELECT i, 'author ' || i, md5(i::text)::uuid, 'F' || (i % 3)
    FROM generate_series(1, 12) i;
INSERT INTO books (author_id, title, price, tags)
    SELECT 1 + i % 12, 'book ' || i || ' it''s', i * 1.5, ARRAY['a', 'b ' || i]
    FROM generate_series(1, 60) i;
EOF
run "${PSQL[@]}" -f "$CAP/schema.sql"
{
    echo "SELECT id, name FROM authors ORDER BY id;"
    for i in 1 2 3 4 5 6; do
        echo "SELECT * FROM books WHERE author_id = $i;"
        echo "SELECT id, name FROM authors WHERE id = $i LIMIT 21;"
    done
    echo "SELECT code FROM authors ORDER BY id LIMIT 3;"
    echo "SELECT * FROM authors WHERE code = 'c4ca4238-a0b9-2382-0dcc-509a6f75849b';"
    echo "SELECT * FROM authors WHERE name = 'author 2' AND country = 'F2';"
    echo "SELECT * FROM authors WHERE name = E'author \\\\3' OR name = \$\$author 4\$\$;"
    echo "BEGIN; SELECT * FROM books WHERE author_id = 7 FOR UPDATE; UPDATE books SET price = price + 1 WHERE id = 7; COMMIT;"
    echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM books; SELECT 1/0; ROLLBACK;"
    echo "SELEC broken;"
    echo "SELECT * FROM no_such_table;"
    echo "SAVEPOINT outside;"
    echo "BEGIN; SAVEPOINT s1; SELECT 1/0; ROLLBACK TO s1; SELECT 'after' AS x; COMMIT;"
    echo "PREPARE q(int) AS SELECT title FROM books WHERE author_id = \$1; EXECUTE q(3); DEALLOCATE q;"
    echo "SET search_path = public; SHOW search_path; RESET search_path; SET application_name = 'capture';"
    echo "SELECT 1; SELECT 2; SELECT 'multi' AS s;"
    echo "DO \$\$BEGIN RAISE NOTICE 'hello from do'; END\$\$;"
    echo "EXPLAIN SELECT * FROM books WHERE author_id = 1;"
    echo "LISTEN chan; NOTIFY chan, 'payload'; UNLISTEN chan;"
    echo "SELECT i, repeat('x', i % 50) FROM generate_series(1, 300) i;"
    echo "\\copy (SELECT * FROM authors) TO '$CAP/authors.csv' CSV"
    echo "CREATE TEMP TABLE t2 (LIKE authors);"
    echo "\\copy t2 FROM '$CAP/authors.csv' CSV"
    echo "\\copy t2 FROM '$CAP/schema.sql'"
    echo "SELECT ''::text, NULL, true, 1.5::float8, now() - now(), '{1,2}'::int[];"
    echo "WITH x AS (SELECT id FROM authors) SELECT * FROM books JOIN x ON x.id = books.author_id WHERE books.id = 3;"
    echo "SET standard_conforming_strings = off; SELECT 'a\\\\b'; RESET standard_conforming_strings;"
    echo ";"
} >"$CAP/psql.sql"
run "${PSQL[@]}" -f "$CAP/psql.sql"
run timeout 60 psql -X -q "$CONN sslmode=prefer" -c "SELECT 'tls asked' AS s"
run timeout 60 psql -X -q "$(conninfo "$RPORT" "$DB" "$MD5_USER" "$MD5_PASSWORD")" -c "SELECT current_user"
run timeout 60 psql -X -q "$(conninfo "$RPORT" "$DB" "$SCRAM_USER" "$SCRAM_PASSWORD")" -c "SELECT current_user"
run timeout 60 psql -X -q "$(conninfo "$RPORT" "$DB" "$SCRAM_USER" wrong)" -c "SELECT 1"
run timeout 60 psql -X -q "$(conninfo "$RPORT" no_such_db)" -c "SELECT 1"

# ---- pgbench: simple, extended, prepared; the built-in scripts, an N+1 script, a pipeline ----
run timeout 120 pgbench -i -s 1 -q -I dtGvp -h 127.0.0.1 -p "$RPORT" -U postgres "$DB"
cat >"$CAP/nplus1.pgb" <<'EOF'
SELECT aid FROM pgbench_accounts WHERE aid <= 8 ORDER BY aid;
\set a random(1, 8)
SELECT abalance, filler FROM pgbench_accounts WHERE aid = :a;
\set b random(1, 8)
SELECT abalance FROM pgbench_accounts WHERE aid = :b;
EOF
cat >"$CAP/pipeline.pgb" <<'EOF'
\set aid random(1, 100000)
\startpipeline
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
SELECT 1/0;
\endpipeline
EOF
for m in simple extended prepared; do
    run timeout 120 pgbench -n -t 8 -M "$m" -h 127.0.0.1 -p "$RPORT" -U postgres "$DB"
    run timeout 120 pgbench -n -S -t 8 -M "$m" -h 127.0.0.1 -p "$RPORT" -U postgres "$DB"
    run timeout 120 pgbench -n -t 6 -M "$m" -f "$CAP/nplus1.pgb" -h 127.0.0.1 -p "$RPORT" -U postgres "$DB"
done
for m in extended prepared; do
    run timeout 120 pgbench -n -t 3 -M "$m" -f "$CAP/pipeline.pgb" -h 127.0.0.1 -p "$RPORT" -U postgres "$DB"
done

# ---- libpq: pipeline mode with an error, COPY, cancel, logins, single-row mode ----
PQCLIENT="$CAP/pqclient"
cc -O1 -o "$PQCLIENT" "$PGT_TESTS_DIR/tools/pqclient.c" -I"$(pg_config --includedir)" -lpq
run timeout 120 "$PQCLIENT" pipeline "$CONN"
run timeout 120 "$PQCLIENT" copy "$CONN"
run timeout 120 "$PQCLIENT" cancel "$CONN"
run timeout 120 "$PQCLIENT" slowread "$CONN" 300 100 0 0
run timeout 60 "$PQCLIENT" login "$(conninfo "$RPORT" "$DB" "$MD5_USER" "$MD5_PASSWORD")"
run timeout 60 "$PQCLIENT" login "$(conninfo "$RPORT" "$DB" "$SCRAM_USER" "$SCRAM_PASSWORD")"
run timeout 60 "$PQCLIENT" login "$(conninfo "$RPORT" "$DB" "$MD5_USER" wrong)"

# ---- Django over psycopg2 (the seed's N+1 loops) and psycopg 3 (extended, binary) ----
NPLUS1="$PGT_TESTS_DIR/clients/django/nplus1.py"
psql_direct -qc "CREATE DATABASE capture_django" >/dev/null
run timeout 300 "$PYTHON" "$NPLUS1" --port "$PG_PORT" --db capture_django setup
for loop in forward reverse m2m; do
    run timeout 300 "$PYTHON" "$NPLUS1" --port "$RPORT" --db capture_django "$loop"
done
cat >"$CAP/pg3.py" <<'EOF'
import sys, uuid
import psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    ids = [r[0] for r in c.execute("SELECT id FROM authors ORDER BY id LIMIT 6")]
    for i in ids:
        c.execute("SELECT id, title, price FROM books WHERE author_id = %s", (i,), prepare=True).fetchall()
    codes = [r[0] for r in c.execute("SELECT code FROM authors ORDER BY id LIMIT 3")]
    with c.cursor(binary=True) as cur:
        for k in codes:
            cur.execute("SELECT name FROM authors WHERE code = %s", (k,)).fetchall()
        cur.execute("SELECT name FROM authors WHERE code = %s", (uuid.UUID(int=0),)).fetchall()
        cur.execute("SELECT %s::int8, %s::text, %s::bytea", (2**40, "it's", b"\x00\xff")).fetchall()
    with c.pipeline():
        for i in ids[:3]:
            c.execute("SELECT name FROM authors WHERE id = %s", (i,))
    try:
        c.execute("SELECT * FROM books WHERE author_id = %s", ("not a number",))
    except psycopg.Error:
        pass
    with c.transaction():
        c.execute("SELECT * FROM books WHERE id = %s", (5,)).fetchall()
    with c.cursor() as cur:
        with cur.copy("COPY (SELECT * FROM authors) TO STDOUT") as cp:
            for _ in cp:
                pass
EOF
run timeout 120 "$PYTHON" "$CAP/pg3.py" "$CONN"

kill -TERM "$RELAY"
wait "$RELAY" 2>/dev/null || true

# ---- the same clients through pgfold in rewrite mode, with a relay on each side ----
# client -> relay (fold-c) -> pgfold -> relay (fold-s) -> PostgreSQL. The merged recordings give
# session scripts in which the server answers pgfold's own batches. One client at a time, so
# connections pair up in order.
if [ -x "$(pgfold_bin)" ]; then
    SPORT="$(free_port)"
    "$PYTHON" "$HERE/capture.py" relay "$SPORT" "$PG_PORT" "$CAP/fold-s" &
    RELAY_S=$!
    pgt_atexit "kill $RELAY_S"
    for _ in $(seq 100); do port_listening "$SPORT" && break; sleep 0.05; done
    REAL_PG_PORT="$PG_PORT"
    # One worker: the foreign keys of a database are read by its first session only, and the
    # scripts record which one that was.
    PG_PORT="$SPORT" PGFOLD_MODE=rewrite PGFOLD_LOG_LEVEL=warn pgfold_start --workers 1
    PG_PORT="$REAL_PG_PORT"
    CPORT="$(free_port)"
    "$PYTHON" "$HERE/capture.py" relay "$CPORT" "$PROXY_PORT" "$CAP/fold-c" &
    RELAY_C=$!
    pgt_atexit "kill $RELAY_C"
    for _ in $(seq 100); do port_listening "$CPORT" && break; sleep 0.05; done
    CONN="$(conninfo "$CPORT")"
    PSQL=(timeout 120 psql -X -q -v ON_ERROR_STOP=0 -h 127.0.0.1 -p "$CPORT" -U postgres -d "$DB")
    run "${PSQL[@]}" -f "$CAP/psql.sql"
    for m in simple extended prepared; do
        run timeout 120 pgbench -n -t 6 -M "$m" -f "$CAP/nplus1.pgb" -h 127.0.0.1 -p "$CPORT" -U postgres "$DB"
    done
    # Each loop, and psycopg 3, on a database of its own, so that each session is the first
    # on its database and reads the foreign keys itself (the scripts then hold the answer).
    for loop in forward reverse m2m; do
        DB=postgres psql_direct -qc "CREATE DATABASE capture_$loop TEMPLATE capture_django" >/dev/null
        run timeout 300 "$PYTHON" "$NPLUS1" --port "$CPORT" --db "capture_$loop" "$loop"
    done
    DB=postgres psql_direct -qc "CREATE DATABASE capture_pg3 TEMPLATE $DB" >/dev/null
    run timeout 120 "$PYTHON" "$CAP/pg3.py" "$(conninfo "$CPORT" capture_pg3)"
    run timeout 120 "$PQCLIENT" pipeline "$CONN"
    kill -TERM "$RELAY_C" "$RELAY_S"
    wait "$RELAY_C" "$RELAY_S" 2>/dev/null || true
else
    pgt_log "capture: no pgfold binary at $(pgfold_bin): no rewrite-mode session scripts"
fi

# ---- the corpora ----
OUT="$CAP/out"
"$PYTHON" "$HERE/capture.py" corpus "$CAP/rec" "$OUT"
[ -d "$CAP/fold-c" ] && "$PYTHON" "$HERE/capture.py" fold "$CAP/fold-c" "$CAP/fold-s" "$OUT"
"$PYTHON" "$HERE/capture.py" unit "$PGT_TESTS_DIR/unit" "$OUT"
# With the fuzz binaries built (make fuzz-build), keep only the inputs that add coverage
# (libFuzzer's -merge=1): the same provenance, a fraction of the files.
export UBSAN_OPTIONS="suppressions=$HERE/ubsan.supp"
for t in wire session shape keyval config admin; do
    src="$OUT/$t"
    bin="$BUILD/fuzz/fuzz_$t"
    if [ -x "$bin" ]; then
        mkdir -p "$CAP/min/$t"
        if "$bin" -merge=1 -timeout=20 "$CAP/min/$t" "$src" >"$CAP/min/$t.log" 2>&1; then
            src="$CAP/min/$t"
        else
            pgt_log "capture: merging the $t corpus failed (see $CAP/min/$t.log); keeping all"
        fi
    fi
    rm -rf "${HERE:?}/corpus/$t"
    mkdir -p "$HERE/corpus/$t"
    cp "$src"/* "$HERE/corpus/$t/"
done
du -sh "$HERE/corpus"/* >&2
