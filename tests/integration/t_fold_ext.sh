#!/usr/bin/env bash
# Rewrite mode over the extended protocol and an ORM's lazy loading:
#   - psycopg 3: server-side binding (unnamed statement per lookup) and prepare=True (a named
#     statement), text and binary results: forward, reverse and m2m loops;
#   - SQLAlchemy 1.4 lazy='select' loading. SQLAlchemy 1.4.46 (Debian 12) has no psycopg 3
#     dialect (postgresql+psycopg arrived in 2.0), so the ORM runs on psycopg2, which sends the
#     keys as literals over the simple protocol;
#   - node-postgres: parameterized queries (unnamed statement) and a named prepared statement.
# Each loop runs direct and through pgfold (rewrite, consistency = window); outputs are diffed and
# pg_stat_statements counts statements on the tables: at most 3 per loop through pgfold.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
FOLD_CLIENTS="$PGT_TESTS_DIR/clients/fold"
NODE_DIR="$PGT_TESTS_DIR/clients/node"
XDB=fold_ext
TABLES='\m(question|choice|book|author|tag|book_tag)\M'

fresh_db "$XDB"
if py "$FOLD_CLIENTS/sqla_loops.py" --port "$PG_PORT" --db "$XDB" setup >"$T/setup.out" 2>&1; then
    ok "setup (SQLAlchemy create_all + data, direct)"
else
    fail "setup failed"
    sed 's/^/       /' "$T/setup.out" | tail -n 30
    test_finish
fi

# consistency = window (the default) with max_staleness_ms raised from 1 s to 60 s: in window
# mode an answer is reused while it is younger than max_staleness_ms, also inside a transaction
# block (proxy/fold.c fresh()), so a loop that runs longer than the window (a loaded machine,
# make asan) legitimately fetches again and the statement count would become a timing test.
# The window itself is tested in t_fold_consistency.sh.
fold_start max_staleness_ms=60000

# --- psycopg 3 ------------------------------------------------------------------------------
note "psycopg $("$PYTHON" -c 'import psycopg; print(psycopg.__version__)')"
declare -A p3_direct=([forward]=501 [reverse]=101 [m2m]=121)
for style in unnamed prepared; do
    for loop in forward reverse m2m; do
        counted "psycopg3-$loop-$style" "$TABLES" "$PYTHON" "$FOLD_CLIENTS/p3_loops.py" --port @PORT@ --db "$XDB" "$loop" "$style"
        check "psycopg3 $loop $style: ${p3_direct[$loop]} statements direct" test "$N_DIRECT" = "${p3_direct[$loop]}"
        folds "psycopg3 $loop $style" 3
    done
done
# Binary results, once per style (forward loop: int4, text, timestamptz in binary).
for style in unnamed prepared; do
    counted "psycopg3-forward-$style-binary" "$TABLES" "$PYTHON" "$FOLD_CLIENTS/p3_loops.py" --port @PORT@ --db "$XDB" --binary forward "$style"
    folds "psycopg3 forward $style binary" 3
done

# --- SQLAlchemy 1.4 lazy loading (psycopg2) -------------------------------------------------
note "SQLAlchemy $("$PYTHON" -c 'import sqlalchemy; print(sqlalchemy.__version__)') on psycopg2 (1.4 has no psycopg 3 dialect)"
declare -A sqla_direct=([forward]=101 [reverse]=101 [m2m]=133)
for loop in forward reverse m2m; do
    counted "sqlalchemy-$loop" "$TABLES" "$PYTHON" "$FOLD_CLIENTS/sqla_loops.py" --port @PORT@ --db "$XDB" "$loop"
    check "sqlalchemy $loop: ${sqla_direct[$loop]} statements direct" test "$N_DIRECT" = "${sqla_direct[$loop]}"
    check "sqlalchemy $loop: SQLAlchemy sent ${sqla_direct[$loop]} statements" \
        grep -q "^== $loop: ${sqla_direct[$loop]} statements sent by SQLAlchemy" "$T/sqlalchemy-$loop.pgfold"
    folds "sqlalchemy $loop" 3
done

# --- node-postgres --------------------------------------------------------------------------
command -v node >/dev/null || pgt_die "node is not installed (make deps)"
if [ ! -f "$NODE_DIR/node_modules/pg/package.json" ]; then
    note "installing node modules (npm ci)"
    (cd "$NODE_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >"$T/npm.log" 2>&1) ||
        pgt_die "npm ci failed: $(tail -n 5 "$T/npm.log")"
fi
note "node $(node --version), pg $(node -p "require('$NODE_DIR/node_modules/pg/package.json').version")"
declare -A node_direct=([forward]=501 [reverse]=101 [m2m]=121)
for style in param named; do
    for loop in forward reverse m2m; do
        counted "node-$loop-$style" "$TABLES" node "$FOLD_CLIENTS/node_loops.js" @PORT@ "$XDB" "$loop" "$style"
        check "node $loop $style: ${node_direct[$loop]} statements direct" test "$N_DIRECT" = "${node_direct[$loop]}"
        folds "node $loop $style" 3
    done
done

if [ "$PGFOLD_DIRECT" != 1 ]; then
    check "metrics: no fallbacks" test "$(metric 'pgfold_fallbacks_total{reason="error"}')" = 0
fi
proxy_still_alive
fold_stop
DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $XDB WITH (FORCE)"
test_finish
