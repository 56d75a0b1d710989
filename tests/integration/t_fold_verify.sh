#!/usr/bin/env bash
# Shadow verification (issue 14; docs/verification.md), with verify_fraction = 1:
#  1. the differential test's workloads (tests/diff/difftest.py, some seeds) through the four
#     consistency settings of tests/diff/lib.sh: every answer still identical to direct, answers
#     checked in every instance, and not one mismatch;
#  2. a writer that bypasses pgfold, in window mode: the answers served from before its write
#     are counted stale (with their age), never reported as pgfold bugs;
#  3. a deliberately corrupted answer (build/pgfold-hooks, PGFOLD_FAULT_CORRUPT_ANSWERS=1) in
#     a REPEATABLE READ block: caught, logged at error level with the pattern, and the pattern is
#     answered by the server from then on, in that block and the next.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
. "$PGT_TESTS_DIR/diff/lib.sh"
need_env
T="$PGT_OUT"
VF="$PGT_TESTS_DIR/clients/fold/verify.py"
VDB=fold_verify

if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "shadow verification (PGFOLD_DIRECT=1)"
    test_finish
fi

# --- 1. the differential workloads ----------------------------------------------------------
for i in "${!DIFF_SPECS[@]}"; do DIFF_SPECS[$i]="${DIFF_SPECS[$i]} verify_fraction=1"; done
diff_start_proxies
SEEDS="${VERIFY_SEEDS:-30 55 101 104 110}"
seedargs=()
for s in $SEEDS; do seedargs+=(--seed "$s"); done
if timeout 600 "$PYTHON" "$PGT_TESTS_DIR/diff/difftest.py" --pg-port "$PG_PORT" "${DIFF_ARGS[@]}" \
    "${seedargs[@]}" >"$T/difftest.out" 2>&1; then
    ok "difftest, seeds $SEEDS, verify_fraction = 1: $(grep -c '' "$T/difftest.out") lines, no difference"
else
    fail "difftest with verify_fraction = 1 found a difference"
    tail -n 30 "$T/difftest.out" | sed 's/^/       /'
fi
# admin ports, in DIFF_ARGS' order: --proxy name:port:mode:stale:admin
for a in "${DIFF_ARGS[@]}"; do
    case "$a" in --proxy) continue ;; esac
    IFS=: read -r name _ mode _ aport <<<"$a"
    m="$(curl -fsS --max-time 10 "http://127.0.0.1:$aport/metrics")"
    v="$(awk '$1 == "pgfold_verified_total" { print $2 }' <<<"$m")"
    bad="$(awk '$1 == "pgfold_verify_mismatches_total" { print $2 }' <<<"$m")"
    st="$(awk '$1 == "pgfold_verify_stale_total" { print $2 }' <<<"$m")"
    note "$name ($mode): verified $v, mismatches $bad, stale $st"
    check "$name ($mode): answers were checked" test "${v:-0}" -gt 0
    check "$name ($mode): no mismatch" test "${bad:-x}" = 0
done
diff_stop_proxies >"$T/diff_stop.out" 2>&1 || { fail "a difftest instance did not exit cleanly"; cat "$T/diff_stop.out"; }

fresh_db "$VDB"
py "$VF" --port "$PG_PORT" --db "$VDB" setup >"$T/setup.out" 2>&1 || { fail "setup"; cat "$T/setup.out"; test_finish; }

# --- 2. a writer that bypasses pgfold ---------------------------------------------------------
fold_start verify_fraction=1 max_staleness_ms=60000
"$PYTHON" "$VF" --port "$PROXY_PORT" --db "$VDB" --direct-port "$PG_PORT" stale >"$T/stale.out" 2>&1 ||
    fail "stale client failed: $(tail -n 3 "$T/stale.out")"
check "stale: pgfold served answers from before the bypassing write" grep -q "^7 -> \[(7, 'author 7')\]" "$T/stale.out"
stale="$(metric pgfold_verify_stale_total)"
check "stale: counted stale ($stale)" test "$stale" -gt 0
check "stale: no mismatch" test "$(metric pgfold_verify_mismatches_total)" = 0
age="$(metric pgfold_verify_stale_age_max_seconds)"
check "stale: the oldest stale answer's age is reported ($age s)" awk -v a="$age" 'BEGIN { exit !(a > 0) }'
curl -fsS --max-time 10 "http://127.0.0.1:$PGFOLD_ADMIN_PORT/patterns" >"$T/stale.patterns"
check "stale: /patterns counts it for the pattern" grep -q '"verify_stale":[1-9]' "$T/stale.patterns"
check "stale: no error logged" bash -c "! grep -q ' error ' '$FOLD_LOG'"
proxy_still_alive
fold_stop

# --- 3. a corrupted answer --------------------------------------------------------------------
counted_direct() { "$PYTHON" "$VF" --port "$PG_PORT" --db "$VDB" rr >"$T/rr.direct" 2>&1; }
counted_direct
export PGFOLD_FAULT_CORRUPT_ANSWERS=1
PGFOLD_BIN="$BUILD/pgfold-hooks" fold_start verify_fraction=1 consistency=snapshot
unset PGFOLD_FAULT_CORRUPT_ANSWERS
stmt_reset
"$PYTHON" "$VF" --port "$PROXY_PORT" --db "$VDB" rr >"$T/rr.pgfold" 2>&1 || fail "rr client failed"
bad="$(metric pgfold_verify_mismatches_total)"
check "corrupt: the mismatch was caught ($bad)" test "$bad" -ge 1
check "corrupt: logged at error level with the pattern" grep -q "error .*verification: pattern [0-9a-f]\{16\} answered wrong" "$FOLD_LOG"
curl -fsS --max-time 10 "http://127.0.0.1:$PGFOLD_ADMIN_PORT/patterns" >"$T/rr.patterns"
check "corrupt: /patterns marks the pattern stopped" grep -q '"verify_stopped":true' "$T/rr.patterns"
# The corrupted answers are the few served before the first check came back; the rest of the
# first block and the whole second block are the server's.
wrong="$(diff "$T/rr.direct" "$T/rr.pgfold" | grep -c '^>' || true)"
note "corrupt: $wrong of 80 lookups got a corrupted answer before the check stopped the pattern"
check "corrupt: a corrupted answer was served (the hook works)" test "$wrong" -ge 1
check "corrupt: the second block is exactly as direct" \
    cmp <(grep '^block 2' "$T/rr.direct") <(grep '^block 2' "$T/rr.pgfold")
check "corrupt: the last 20 lookups of block 1 are as direct" \
    cmp <(grep '^block 1' "$T/rr.direct" | tail -n 20) <(grep '^block 1' "$T/rr.pgfold" | tail -n 20)
n2="$(stmt_count "SELECT id, name FROM vf_author WHERE id")"
check "corrupt: the stopped pattern's lookups went to the server ($n2 ≥ 40)" test "$n2" -ge 40
proxy_still_alive
fold_stop

DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $VDB WITH (FORCE)"
test_finish
