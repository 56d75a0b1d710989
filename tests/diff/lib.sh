# tests/diff/lib.sh: the pgfold instances the differential test (tests/diff/difftest.py) runs
# against. Source it after tests/lib/pg.sh, with PostgreSQL started (PG_PORT set).
#
# diff_start_proxies starts one pgfold (mode = rewrite) per consistency setting below and fills
# DIFF_ARGS with the matching "--proxy name:port:mode:max_staleness_ms:admin_port" arguments,
# DIFF_PIDS and DIFF_LOGS. Every loop of difftest.py picks one of them (by name, from its
# seed), so a seed replays the same way only against the same set: change it here, for both
# the short test (tests/integration/t_fold_diff.sh) and the soak (tests/diff/soak.sh).
#
#   win       window, max_staleness_ms = 60 s: folds everything it can
#   winshort  window, max_staleness_ms = 40 ms, and small limits: batches of at most 7 keys, a
#             16 kB session cache (12 kB of answers), batch results of at most 1 kB (larger ones
#             fall back), 3 key sources of at most 60 rows in all
#   tx        transaction (only inside blocks), batches of at most 50 keys
#   snap      snapshot (only inside REPEATABLE READ / SERIALIZABLE blocks)

DIFF_SPECS=(
    "win|window|60000|"
    "winshort|window|40|max_batch_keys=7 session_cache_bytes=16kB max_batch_bytes=1kB source_results=3 source_rows=60"
    "tx|transaction|1000|max_batch_keys=50"
    "snap|snapshot|1000|"
)
DIFF_ARGS=()
DIFF_PIDS=()
DIFF_LOGS=()

diff_start_proxies() {
    local spec name mode stale extra ini kv
    if [ -z "${PGFOLD_TMP:-}" ] || [ ! -d "$PGFOLD_TMP" ]; then pgt_tmpdir PGFOLD_TMP; fi
    for spec in "${DIFF_SPECS[@]}"; do
        IFS='|' read -r name mode stale extra <<<"$spec"
        ini="$PGFOLD_TMP/diff-$name.ini"
        {
            echo "[pgfold]"
            echo "mode = rewrite"
            echo "consistency = $mode"
            echo "max_staleness_ms = $stale"
            for kv in $extra; do echo "${kv%%=*} = ${kv#*=}"; done
        } >"$ini"
        PGFOLD_MODE=rewrite pgfold_start -c "$ini"
        DIFF_ARGS+=(--proxy "$name:$PROXY_PORT:$mode:$stale:${PGFOLD_ADMIN_PORT:-}")
        DIFF_PIDS+=("${PGFOLD_PID:-}")
        DIFF_LOGS+=("${PGFOLD_LOG:-/dev/null}")
    done
}

# diff_stop_proxies: SIGTERM each instance; prints one line per instance that did not exit 0.
# Returns non-zero if any did not.
diff_stop_proxies() {
    local i rc=0
    for i in "${!DIFF_PIDS[@]}"; do
        [ -n "${DIFF_PIDS[$i]}" ] || continue
        if ! pgfold_stop "${DIFF_PIDS[$i]}" "${DIFF_LOGS[$i]}"; then
            echo "pgfold ${DIFF_ARGS[$((2 * i + 1))]} did not exit cleanly"
            rc=1
        fi
    done
    DIFF_PIDS=()
    return $rc
}
