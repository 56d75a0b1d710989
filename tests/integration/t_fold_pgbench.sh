#!/usr/bin/env bash
# Rewrite mode under pgbench -S (random keys from 100,000: nothing to batch). The built-in
# select-only script in every query mode, and a custom script that checks every answer
# (the row for the key asked, with the balance set for it) and divides by zero on a wrong
# one, which aborts the run. Asserts: exit 0, every transaction processed, none failed,
# no batch was sent, and the server saw about as many statements as transactions (a random
# key repeated within a session inside max_staleness_ms may be answered from the cache).
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
PDB=fold_pgbench
C=4 TX=500
TOTAL=$((C * TX))

fresh_db "$PDB"
if timeout "$PGT_CLIENT_TIMEOUT" pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -i -s 1 -q "$PDB" >"$T/init.log" 2>&1 &&
    DB=$PDB psql_direct -v ON_ERROR_STOP=1 -qc 'UPDATE pgbench_accounts SET abalance = (aid * 7) % 10007' &&
    DB=$PDB psql_direct -v ON_ERROR_STOP=1 -qc 'VACUUM ANALYZE pgbench_accounts'; then
    ok "pgbench -i -s 1 (direct), balances set to aid * 7 % 10007"
else
    fail "pgbench init failed"
    sed 's/^/       /' "$T/init.log" | tail -n 20
    test_finish
fi

cat >"$T/check.sql" <<'EOF2'
\set aid random(1, 100000 * :scale)
SELECT aid AS got, abalance AS bal FROM pgbench_accounts WHERE aid = :aid \gset
\if :got != :aid or :bal != (:aid * 7) % 10007
SELECT 1 / 0 AS wrong_answer;
\endif
EOF2

fold_start

run_pgbench() { # NAME ARGS...: through pgfold; checks the summary and counts statements
    local name="$1" log="$T/$1.log" b0 b1 n
    shift
    b0="$(metric pgfold_batches_total)"
    stmt_reset
    if timeout "$PGT_CLIENT_TIMEOUT" pgbench -h 127.0.0.1 -p "$PROXY_PORT" -U postgres -n -c "$C" -j 2 -t "$TX" "$@" "$PDB" >"$log" 2>&1; then
        ok "$name: pgbench exit 0"
    else
        fail "$name: pgbench exit status $?"
        sed 's/^/       /' "$log" | tail -n 20
    fi
    check "$name: $TOTAL/$TOTAL transactions processed" grep -q "number of transactions actually processed: $TOTAL/$TOTAL" "$log"
    check "$name: no failed transactions" bash -c "! grep -q 'number of failed transactions: [1-9]' '$log'"
    n="$(stmt_count '\mpgbench_accounts\M')"
    b1="$(metric pgfold_batches_total)"
    note "$name: $n statements on pgbench_accounts at the server for $TOTAL transactions; batches $b0 -> $b1"
    check "$name: the server saw about as many statements as transactions ($n of $TOTAL)" \
        test "$n" -le "$TOTAL" -a "$n" -ge $((TOTAL * 98 / 100))
    check "$name: nothing was batched" test "$b1" = "$b0"
}

for mode in simple extended prepared; do
    run_pgbench "select-only-$mode" -S -M "$mode"
    run_pgbench "checked-$mode" -f "$T/check.sql" -M "$mode"
done

proxy_still_alive
fold_stop
DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $PDB WITH (FORCE)"
test_finish
