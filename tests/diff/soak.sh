#!/usr/bin/env bash
# tests/diff/soak.sh: the long form of the differential test (tests/diff/difftest.py).
#
#   tests/diff/soak.sh                       random seeds for SOAK_SECONDS (default 600)
#   tests/diff/soak.sh --replay ARGS...      start the environment, run difftest.py ARGS
#                                            (what `tests/diff/difftest.py --seed N` does)
#
# Starts a throwaway PostgreSQL (tests/lib/pg.sh) and the pgfold instances of tests/diff/lib.sh,
# then runs difftest.py. Every seed is printed as it starts and ends; a failure prints the seed
# and the command that replays it. The soak stops at the first failure.
#
#   BUILD=dir          where pgfold is (default: build); or PGFOLD_BIN=path
#   SOAK_SECONDS=600   how long to run random seeds
#   SOAK_JOBS=1        difftest.py processes side by side (different seeds, same instances)
#   PGFOLD_LOG_LEVEL   pgfold's log level (default warning); PGT_KEEP=1 keeps the folders
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
export BUILD
export PGFOLD_LOG_LEVEL="${PGFOLD_LOG_LEVEL:-warning}"
# shellcheck source=../lib/pg.sh
. "$ROOT/tests/lib/pg.sh"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

[ -x "$(pgfold_bin)" ] || pgt_die "no pgfold at $(pgfold_bin): build it (make BUILD=$BUILD) or set BUILD/PGFOLD_BIN"

replay=0
if [ "${1:-}" = --replay ]; then
    replay=1
    shift
fi

pg_start
diff_start_proxies
echo "postgres on port $PG_PORT; pgfold: ${DIFF_ARGS[*]}" >&2

run_difftest() {
    "$PYTHON" "$HERE/difftest.py" --pg-port "$PG_PORT" "${DIFF_ARGS[@]}" "$@"
}

if [ "$replay" = 1 ]; then
    rc=0
    run_difftest "$@" || rc=$?
    diff_stop_proxies >&2 || rc=1
    exit $rc
fi

SOAK_SECONDS="${SOAK_SECONDS:-600}"
SOAK_JOBS="${SOAK_JOBS:-1}"
pgt_tmpdir SOAK_TMP
pids=()
for ((j = 0; j < SOAK_JOBS; j++)); do
    run_difftest --random --duration "$SOAK_SECONDS" --report "$SOAK_TMP/report.$j.json" \
        >"$SOAK_TMP/out.$j" 2>&1 &
    pids+=($!)
done
# Show progress while the jobs run.
tail -q -n +1 -F "${SOAK_TMP}"/out.* 2>/dev/null &
tailpid=$!
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
sleep 0.5
kill "$tailpid" 2>/dev/null || true
wait "$tailpid" 2>/dev/null || true
"$PYTHON" - "$SOAK_TMP" "$SOAK_JOBS" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
tot = {}
for j in range(n):
    try:
        r = json.load(open("%s/report.%d.json" % (d, j)))
    except Exception:
        continue
    for k in ("seeds", "loops", "iterations", "statements", "writer_loops", "writer_commits",
              "direct_selects", "pgfold_selects"):
        tot[k] = tot.get(k, 0) + r[k]
    tot["elapsed"] = max(tot.get("elapsed", 0), r["elapsed"])
    if r.get("failed_seed") is not None:
        print("FAILED seed: %s (replay: tests/diff/difftest.py --seed %s)" % (r["failed_seed"], r["failed_seed"]))
if tot:
    print("soak total: %(seeds)d seeds, %(loops)d loops, %(iterations)d lookups, %(statements)d statements, "
          "%(writer_loops)d writer loops" % tot)
    if tot["pgfold_selects"]:
        print("fold ratio %.2f (SELECTs direct %d, through pgfold %d)" % (
            tot["direct_selects"] / tot["pgfold_selects"], tot["direct_selects"], tot["pgfold_selects"]))
PY
diff_stop_proxies || rc=1
if grep -qE 'server process .* was terminated by signal|PANIC:' "$PG_LOGFILE" 2>/dev/null; then
    echo "a PostgreSQL backend crashed during the soak"
    rc=1
fi
[ "$rc" = 0 ] && echo "soak passed" || echo "soak FAILED"
exit $rc
