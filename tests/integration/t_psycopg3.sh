#!/usr/bin/env bash
# psycopg 3 (extended protocol: unnamed statements, prepare=True, automatic preparation, binary,
# pipeline, executemany, server-side cursors, COPY) and SQLAlchemy 1.4 ORM lazy loading
# (lazy='select'), direct vs through pgfold.
#
# SQLAlchemy 1.4.46 has no postgresql+psycopg (psycopg 3) dialect (it arrived in 2.0), so the
# ORM runs on psycopg2 (postgresql+psycopg2) and psycopg 3 is exercised directly.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
SQLA_DIR="$PGT_TESTS_DIR/clients/sqla"
SDB=sqla_test

psql_direct -qc "DROP DATABASE IF EXISTS $SDB WITH (FORCE)" 2>/dev/null
psql_direct -qc "CREATE DATABASE $SDB"

if py "$SQLA_DIR/lazy.py" --port "$PG_PORT" --db "$SDB" setup >"$T/setup.out" 2>&1; then
    ok "setup (SQLAlchemy create_all + data, direct)"
else
    fail "setup failed"
    sed 's/^/       /' "$T/setup.out" | tail -n 30
    test_finish
fi

both psycopg3 "$PYTHON" "$SQLA_DIR/psycopg3_ext.py" --port @PORT@ --db "$SDB"
check "psycopg3 ran to the end" grep -q '^done, transaction status IDLE' "$T/psycopg3.pgfold"

both sqlalchemy-lazy "$PYTHON" "$SQLA_DIR/lazy.py" --port @PORT@ --db "$SDB" loops
check "SQLAlchemy forward loop ran" grep -q '^== forward: 101 statements sent by SQLAlchemy' "$T/sqlalchemy-lazy.pgfold"

# Statements at the server for the prepared loop: prepare=True executes a named statement 100
# times; the server must see exactly those executions on both paths.
for side in direct pgfold; do
    port="$PG_PORT"
    [ "$side" = pgfold ] && port="$PROXY_PORT"
    stmt_reset
    py "$SQLA_DIR/psycopg3_ext.py" --port "$port" --db "$SDB" >/dev/null 2>&1 || true
    printf -v "n_$side" '%s' "$(stmt_count '^SELECT question_text, pub_date FROM question WHERE id = \$1')"
done
note "psycopg3 lookups at the server: direct=$n_direct through-pgfold=$n_pgfold"
check "psycopg3: 600 lookups direct (500 unnamed + 100 prepared)" test "$n_direct" = 600
if [ "${PGFOLD_MODE:-passthrough}" = passthrough ]; then
    check "psycopg3: passthrough sends the same statements" test "$n_pgfold" = "$n_direct"
fi

psql_direct -qc "DROP DATABASE IF EXISTS $SDB WITH (FORCE)"
proxy_still_alive
test_finish
