#!/usr/bin/env bash
# tests/fuzz/run.sh FUZZ_DIR MODE SECONDS TARGET...
#
# Runs the libFuzzer binaries FUZZ_DIR/fuzz_TARGET one after the other (fuzz.mk builds them).
#
#   MODE fuzz     fuzz each target for SECONDS. libFuzzer reads the committed corpus
#                 tests/fuzz/corpus/TARGET but writes what it finds only into a temporary
#                 folder (the first corpus folder given is the one it writes to), which is
#                 removed afterwards unless FUZZ_KEEP=1.
#   MODE regress  run every input of tests/fuzz/regress/TARGET and tests/fuzz/corpus/TARGET
#                 once, no fuzzing.
#
# One line per target: executions, executions per second, coverage before -> after, new corpus
# units. A crash, leak, sanitizer report or timeout fails the target; its log tail and the
# path of the input libFuzzer saved (FUZZ_DIR/artifacts/TARGET/...) are printed, and the script
# exits 1 after the rest have run. Logs stay in FUZZ_DIR/logs/TARGET.log.
#
#   FUZZ_ARGS   extra libFuzzer flags for every target
#   FUZZ_KEEP=1 keep the temporary corpus folders (their paths are printed)
set -uo pipefail

if [ $# -lt 4 ]; then
    echo "usage: $0 FUZZ_DIR fuzz|regress SECONDS TARGET..." >&2
    exit 2
fi
FUZZ_DIR="$1" MODE="$2" SECONDS_PER="$3"
shift 3
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$FUZZ_DIR/logs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$HERE/ubsan.supp}"

# stat NAME LOG: the value of libFuzzer's final "stat::NAME:" line.
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }
# cov WHICH LOG: the "cov:" figure of the first (INITED) or last status line.
cov() {
    local l
    if [ "$1" = first ]; then l="$(grep -a -m1 -E '^#[0-9]+[[:space:]]+INITED' "$2")"; else
        l="$(grep -a -E '^#[0-9]+[[:space:]]+(INITED|NEW|REDUCE|pulse|DONE|RELOAD)' "$2" | tail -1)"; fi
    sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$l"
}

failed=()
total_execs=0
printf '%-10s %12s %10s %16s %8s  %s\n' target execs execs/s "cov before->after" new result
for t in "$@"; do
    bin="$FUZZ_DIR/fuzz_$t"
    log="$FUZZ_DIR/logs/$t.log"
    art="$FUZZ_DIR/artifacts/$t"
    mkdir -p "$art"
    corpus="$HERE/corpus/$t"
    regress="$HERE/regress/$t"
    dict=()
    [ -f "$HERE/dict/$t.dict" ] && dict=("-dict=$HERE/dict/$t.dict")
    # shellcheck disable=SC2206
    extra=(${FUZZ_ARGS:-})
    common=(-artifact_prefix="$art/" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}")
    if [ "$MODE" = regress ]; then
        mapfile -t inputs < <(find "$regress" "$corpus" -type f 2>/dev/null | sort)
        if [ ${#inputs[@]} -eq 0 ]; then
            printf '%-10s %12s %10s %16s %8s  %s\n' "$t" 0 - - - "no inputs"
            continue
        fi
        "$bin" "${common[@]}" "${extra[@]}" -runs=1 "${inputs[@]}" >"$log" 2>&1
        rc=$?
        execs=${#inputs[@]} rate=- covs=- new=-
    else
        work="$(mktemp -d "${TMPDIR:-/tmp}/pgfold-fuzz-$t.XXXXXX")"
        dirs=("$work")
        [ -d "$corpus" ] && dirs+=("$corpus")
        [ -d "$regress" ] && dirs+=("$regress")
        "$bin" "${common[@]}" "${extra[@]}" -max_total_time="$SECONDS_PER" "${dirs[@]}" \
            >"$log" 2>&1
        rc=$?
        execs="$(stat number_of_executed_units "$log")"
        rate="$(stat average_exec_per_sec "$log")"
        new="$(stat new_units_added "$log")"
        covs="$(cov first "$log")->$(cov last "$log")"
        if [ "${FUZZ_KEEP:-0}" = 1 ]; then echo "kept corpus $work" >&2; else rm -rf "$work"; fi
    fi
    total_execs=$((total_execs + ${execs:-0}))
    if [ $rc -eq 0 ] && ! grep -aqE '^(==[0-9]+==ERROR|SUMMARY: )|runtime error:' "$log"; then
        printf '%-10s %12s %10s %16s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$covs" "${new:-?}" ok
        continue
    fi
    printf '%-10s %12s %10s %16s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$covs" "${new:-?}" \
        "FAILED (exit $rc)"
    failed+=("$t")
    echo "---- $log (tail)"
    grep -avE '^#[0-9]+[[:space:]]|^stat::|^[[:space:]]*NEW_FUNC' "$log" | tail -40
    saved="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
    if [ -n "$saved" ]; then
        echo "---- crash input: $saved"
        echo "     reproduce: $bin $saved"
        echo "     then add it to tests/fuzz/regress/$t/ once fixed"
    fi
    echo "----"
done
echo "total executions: $total_execs"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
