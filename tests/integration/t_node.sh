#!/usr/bin/env bash
# node-postgres (npm "pg", pinned by tests/clients/node/package-lock.json) direct vs through
# pgfold: parameterized queries, a named prepared statement ('fetch-q') in an N+1 loop, errors,
# transactions, queued queries, a pool.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
NODE_DIR="$PGT_TESTS_DIR/clients/node"

command -v node >/dev/null || pgt_die "node is not installed (make deps)"
if [ ! -f "$NODE_DIR/node_modules/pg/package.json" ] ||
    [ "$NODE_DIR/package-lock.json" -nt "$NODE_DIR/node_modules/.package-lock.json" ]; then
    note "installing node modules (npm ci)"
    if ! (cd "$NODE_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >"$T/npm.log" 2>&1); then
        fail "npm ci failed"
        sed 's/^/       /' "$T/npm.log" | tail -n 20
        test_finish
    fi
fi
note "node $(node --version), pg $(node -p "require('$NODE_DIR/node_modules/pg/package.json').version")"

# --no-deprecation: pg 8 warns when queries are queued on a busy client, which we do on purpose.
both node node --no-deprecation "$NODE_DIR/client.js" @PORT@ "$TEST_DB"
check "node client ran to the end" grep -q '^done$' "$T/node.pgfold"
check "named statement fetch-q answered 100 lookups" test "$(grep -c '^fetch-q \[{' "$T/node.pgfold")" = 100

# The named statement is parsed once per session and executed for every lookup.
for side in direct pgfold; do
    port="$PG_PORT"
    [ "$side" = pgfold ] && port="$PROXY_PORT"
    stmt_reset
    timeout "$PGT_CLIENT_TIMEOUT" node --no-deprecation "$NODE_DIR/client.js" "$port" "$TEST_DB" >/dev/null 2>&1 || true
    printf -v "n_$side" '%s' "$(stmt_count '^SELECT id, label, grp, created FROM node_items WHERE id = \$1')"
done
note "fetch-q executions at the server: direct=$n_direct through-pgfold=$n_pgfold"
check "fetch-q: 120 executions direct (100 loop + 20 queued)" test "$n_direct" = 120
if [ "${PGFOLD_MODE:-passthrough}" = passthrough ]; then
    check "fetch-q: passthrough sends the same statements" test "$n_pgfold" = "$n_direct"
fi

proxy_still_alive
test_finish
