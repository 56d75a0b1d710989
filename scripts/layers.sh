#!/usr/bin/env bash
# layers.sh: fails when an include runs the wrong way between modules (docs/architecture.md).
#
#   pgwire/   libc only: the PostgreSQL v3 codec
#   config/   itself (and libpq, inih)
#   parser/   itself (and libpg_query: the only module that includes pg_query.h)
#   batcher/  itself, parser/, config/, pgwire/ -- never proxy/, never uv.h
#   proxy/    everything; the only module that includes uv.h
# Run by `make` before it builds anything.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
check() { # module allowed-prefixes...
    local mod="$1"
    shift
    local allowed="$*" f line inc ok p
    for f in "$mod"/*.[ch]; do
        while IFS= read -r line; do
            inc="${line#*\"}"
            inc="${inc%%\"*}"
            ok=0
            for p in $allowed; do [[ "$inc" == "$p"/* ]] && ok=1; done
            if [ "$ok" = 0 ]; then
                echo "layers: $f includes \"$inc\": $mod/ may include only ${allowed// /\/, }/" >&2
                bad=1
            fi
        done < <(grep -E '^\s*#\s*include\s+"' "$f" || true)
    done
}
check pgwire pgwire
check config config
check parser parser
check batcher batcher parser config pgwire
for f in $(grep -lE '^\s*#\s*include\s+<uv\.h>' pgwire/*.[ch] config/*.[ch] parser/*.[ch] batcher/*.[ch] 2>/dev/null); do
    echo "layers: $f includes <uv.h>: only proxy/ uses libuv" >&2
    bad=1
done
for f in $(grep -lE '^\s*#\s*include\s+[<"]pg_query\.h[>"]' pgwire/*.[ch] config/*.[ch] batcher/*.[ch] proxy/*.[ch] 2>/dev/null); do
    echo "layers: $f includes pg_query.h: only parser/ uses libpg_query" >&2
    bad=1
done
exit "$bad"
