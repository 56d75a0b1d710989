#!/usr/bin/env bash
# Rewrite mode with a small per-session cache: loops over 100,000 parent rows with a lookup per
# row (100,000 different keys, ~100 bytes per answer: ~10 MB if everything were kept) through
# pgfold with session_cache_bytes = 1MB, once as one 100,000-row result and once in chunks of
# 5,000 (which fold). The most one session held (/metrics pgfold_session_cache_bytes_max) must
# stay within session_cache_bytes, and the outputs must be identical to direct.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
BIG="$PGT_TESTS_DIR/clients/fold/bigloop.py"
BDB=fold_cache
LIMIT=$((1024 * 1024))

fresh_db "$BDB"
if py "$BIG" --port "$PG_PORT" --db "$BDB" setup >"$T/setup.out" 2>&1; then
    ok "$(cat "$T/setup.out")"
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
fold_start session_cache_bytes=1MB max_staleness_ms=60000

cache_within_limit() { # NAME
    local max
    [ "$PGFOLD_DIRECT" != 1 ] || return 0
    max="$(metric pgfold_session_cache_bytes_max)"
    note "$1: pgfold_session_cache_bytes_max=$max (limit $LIMIT); batches $(metric pgfold_batches_total), batch answers $(metric pgfold_batch_answers_total), repeat answers $(metric pgfold_repeat_answers_total)"
    check "$1: the session cache held something" test "$max" -gt 0
    check "$1: the session cache stayed within session_cache_bytes ($max <= $LIMIT)" test "$max" -le "$LIMIT"
}

# 1. One 100,000-row parent result. It is larger than source_rows (10,000), so it is not a key
#    source and nothing is batched (keysrc.c: "too big to be a loop we would batch whole");
#    every lookup is forwarded and its answer cached (DESIGN.md §5.1): 100,000 answers of
#    ~100 bytes each into a 1MB cache.
counted bigloop '\mbig_(parent|child)\M' "$PYTHON" "$BIG" --port @PORT@ --db "$BDB" loop
check "bigloop: 100001 statements direct" test "$N_DIRECT" = 100001
check "bigloop: 100000 lookups answered through pgfold" grep -q '^== 100000 lookups, 100000 rows$' "$T/bigloop.pgfold"
cache_within_limit bigloop

# 2. The same 100,000 rows read 5,000 at a time: every chunk is a key source, so the lookups
#    are batched (max_batch_keys = 1000 keys a batch) and the batches' answers fill the cache.
#    Expected: 21 chunk reads + 100 batches = 121 statements (what pgfold sends with
#    session_cache_bytes = 8MB); at most 150 allowed. The answer cache (3/4 of 1MB, ~330 bytes an
#    answer) holds ~2,300 answers, fewer than a chunk's 5,000 keys, so this also checks that
#    evicting answers the loop has already used does not stop the rest of the loop folding.
counted bigloop-chunks '\mbig_(parent|child)\M' "$PYTHON" "$BIG" --port @PORT@ --db "$BDB" --chunk 5000 loop
check "bigloop-chunks: 100021 statements direct" test "$N_DIRECT" = 100021
check "bigloop-chunks: 100000 lookups answered through pgfold" grep -q '^== 100000 lookups, 100000 rows$' "$T/bigloop-chunks.pgfold"
folds "bigloop-chunks: 20 chunks x 5 batches of 1000 keys" 150
cache_within_limit bigloop-chunks

proxy_still_alive
fold_stop
DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $BDB WITH (FORCE)"
test_finish
