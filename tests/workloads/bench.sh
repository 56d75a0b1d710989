#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2034 # WL_a_STMTS, WL_SAME, ...: set with printf -v, read by the callers
# tests/workloads/bench.sh: the workloads of tests/workloads/ at an injected round-trip time.
# For every endpoint of every workload: server statements (pg_stat_statements) and wall time
# (the endpoint's own, connecting excluded; median of --reps runs) for
#   direct     the N+1 endpoint          client -> relay -> PostgreSQL
#   pgfold     the N+1 endpoint          client -> pgfold (rewrite) -> relay -> PostgreSQL
#   optimized  the hand-optimized twin   client -> relay -> PostgreSQL
# and whether the three printed the same. It reports; it asserts nothing about time.
#
# Standalone (starts a throwaway PostgreSQL, a delay relay and pgfold; stops them on exit):
#     tests/workloads/bench.sh --rtt-ms 1
# Inside a harness that already has PostgreSQL and a relay (bench/run.sh, section_loops, has
# PG_PORT and relay_port[$r] for each RTT):
#     tests/workloads/bench.sh --pg-port $PG_PORT --relay-port ${relay_port[$r]} --rtt-ms $r \
#         [--pgfold-port ${pf_rewrite[$r]}] --json $DATA/workloads.jsonl
#
# Options:
#   --build DIR         pgfold and bench/relay from DIR (default $BUILD, else build/); PGFOLD_BIN
#                       overrides the binary. A missing DIR/bench/relay is compiled from
#                       bench/relay.c into a temporary folder.
#   --pg-port P         an existing PostgreSQL on 127.0.0.1:P (user postgres, trust, with
#                       pg_stat_statements loaded and the extension created in database
#                       postgres). Setup and counting go to it directly. Default: start one.
#   --relay-port R      a delay relay (bench/relay) already forwarding to P. Direct and
#                       optimized runs connect to R; a pgfold started here uses R upstream.
#   --rtt-ms X          without --relay-port: start a relay adding about X ms per round trip
#                       (one-way delay X/2, not calibrated: the added round trip is measured
#                       with SELECT 1 and printed). With --relay-port: only the label. 0 = no
#                       relay at all.
#   --pgfold-port F     an existing pgfold in rewrite mode in front of the relay. Default: start
#                       one (mode = rewrite, every other setting at its default).
#   --pgfold-set K=V    a setting for the pgfold started here (repeatable), e.g.
#                       --pgfold-set max_staleness_ms=60000
#   --reps N            runs per path, median reported (default 3)
#   --workloads "W..."  subset of: django sqla rails node pg3 (default all)
#   --json FILE         append one JSON line per endpoint to FILE
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
export TEST_DB=wl_bench PGT_CLIENT_TIMEOUT="${PGT_CLIENT_TIMEOUT:-600}"
# shellcheck source=../lib/pg.sh
. "$HERE/../lib/pg.sh"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

BUILD_DIR="${BUILD:-$PGT_ROOT/build}"
ARG_PG_PORT="" ARG_RELAY_PORT="" ARG_PGFOLD_PORT="" RTT_MS=1 REPS=3 JSON="" WLS="$WL_ALL"
PF_SETTINGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --build) BUILD_DIR="$2"; shift 2 ;;
        --pg-port) ARG_PG_PORT="$2"; shift 2 ;;
        --relay-port) ARG_RELAY_PORT="$2"; shift 2 ;;
        --rtt-ms) RTT_MS="$2"; shift 2 ;;
        --pgfold-port) ARG_PGFOLD_PORT="$2"; shift 2 ;;
        --pgfold-set) PF_SETTINGS+=("$2"); shift 2 ;;
        --reps) REPS="$2"; shift 2 ;;
        --workloads) WLS="$2"; shift 2 ;;
        --json) JSON="$2"; shift 2 ;;
        -h | --help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option $1 (--help)" >&2; exit 2 ;;
    esac
done
BUILD_DIR="$(cd "$BUILD_DIR" 2>/dev/null && pwd || echo "$BUILD_DIR")"
export BUILD="$BUILD_DIR"
say() { printf '[workloads bench] %s\n' "$*" >&2; }

pgt_tmpdir WB
chmod 755 "$WB"

# bg_start LOG CMD...: a background process stopped at exit. Sets BG_PID.
bg_start() {
    local log="$1"
    shift
    "$@" >>"$log" 2>&1 &
    BG_PID=$!
    pgt_atexit "pgfold_kill $BG_PID"
}
wait_port() {
    local port="$1" pid="$2" i
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        port_listening "$port" && return 0
        sleep 0.05
    done
    return 1
}

# PostgreSQL
if [ -n "$ARG_PG_PORT" ]; then
    PG_PORT="$ARG_PG_PORT"
    export PG_PORT
else
    say "starting a throwaway PostgreSQL"
    pg_start
fi

# The relay (the "network" between the application and PostgreSQL)
if [ -n "$ARG_RELAY_PORT" ]; then
    NET_PORT="$ARG_RELAY_PORT"
elif awk -v r="$RTT_MS" 'BEGIN { exit !(r > 0) }'; then
    RELAY_BIN="$BUILD_DIR/bench/relay"
    if [ ! -x "$RELAY_BIN" ]; then
        RELAY_BIN="$WB/relay"
        cc -O2 -std=c11 -D_GNU_SOURCE -o "$RELAY_BIN" "$PGT_ROOT/bench/relay.c" || pgt_die "cannot compile bench/relay.c"
    fi
    NET_PORT="$(free_port)"
    delay_us="$(awk -v r="$RTT_MS" 'BEGIN { printf "%d", r * 500 }')"
    bg_start "$WB/relay.log" "$RELAY_BIN" "$NET_PORT" 127.0.0.1 "$PG_PORT" "$delay_us"
    wait_port "$NET_PORT" "$BG_PID" || { cat "$WB/relay.log" >&2; pgt_die "relay did not start"; }
else
    NET_PORT="$PG_PORT"
fi

# pgfold
if [ -n "$ARG_PGFOLD_PORT" ]; then
    PF_PORT="$ARG_PGFOLD_PORT"
else
    PF_PORT="$(free_port)"
    PF_ADMIN="$(free_port)"
    {
        echo "[pgfold]"
        echo "mode = rewrite"
        echo "log_level = warn"
        for kv in "${PF_SETTINGS[@]}"; do echo "${kv%%=*} = ${kv#*=}"; done
    } >"$WB/pgfold.ini"
    bin="$(pgfold_bin)"
    [ -x "$bin" ] || pgt_die "no pgfold binary at $bin (make, or --build, or PGFOLD_BIN)"
    bg_start "$WB/pgfold.log" "$bin" -c "$WB/pgfold.ini" --listen "127.0.0.1:$PF_PORT" \
        --upstream "host=127.0.0.1 port=$NET_PORT" --admin-listen "127.0.0.1:$PF_ADMIN"
    wait_port "$PF_PORT" "$BG_PID" || { cat "$WB/pgfold.log" >&2; pgt_die "pgfold did not start"; }
fi

# What one round trip costs on each path (SELECT 1, psycopg2, median of 200).
ping_ms() {
    "$PYTHON" - "$1" <<'EOF'
import sys, time, statistics, psycopg2
c = psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), dbname="postgres", user="postgres")
c.autocommit = True
cur = c.cursor()
ts = []
for _ in range(200):
    t0 = time.perf_counter(); cur.execute("SELECT 1"); cur.fetchall(); ts.append(time.perf_counter() - t0)
print("%.3f" % (statistics.median(ts) * 1000))
EOF
}
if [ "$NET_PORT" = "$PG_PORT" ]; then
    say "SELECT 1 round trip: PostgreSQL $(ping_ms "$PG_PORT") ms (no relay), via pgfold $(ping_ms "$PF_PORT") ms"
else
    say "SELECT 1 round trip: PostgreSQL $(ping_ms "$PG_PORT") ms, via relay $(ping_ms "$NET_PORT") ms, via pgfold $(ping_ms "$PF_PORT") ms (RTT asked: $RTT_MS ms)"
fi

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "?"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

printf '\nworkloads at RTT %s ms: server statements (transaction control in brackets) and wall time, median of %s\n' "$RTT_MS" "$REPS"
for w in $WLS; do
    if ! why="$(wl_available "$w")"; then
        say "$w skipped: $why"
        continue
    fi
    wl_setup "$w" "$WB/$w.setup" || { cat "$WB/$w.setup" >&2; say "$w setup failed"; continue; }
    printf '\n== %s: %s\n' "$w" "$(wl_about "$w")"
    wl_table_header
    for ep in $(wl_endpoints "$w"); do
        # warm-up, not recorded: PostgreSQL's caches and pgfold's shape caches
        wl_run "$w" "$ep" nplus1 "$PF_PORT" "$WB/warm" >/dev/null
        wa="" wb="" wc="" same=1
        for ((rep = 0; rep < REPS; rep++)); do
            wl_three "$w" "$ep" "$NET_PORT" "$PF_PORT" "$WB"
            wa="$wa $WL_a_WALL" wb="$wb $WL_b_WALL" wc="$wc $WL_c_WALL"
            [ "$WL_SAME" = 1 ] || same=0
        done
        WL_a_WALL="$(echo "$wa" | median)" WL_b_WALL="$(echo "$wb" | median)" WL_c_WALL="$(echo "$wc" | median)"
        wl_table_row "$w.$ep" "$same"
        if [ -n "$JSON" ]; then
            printf '{"rtt_ms": %s, "workload": "%s", "endpoint": "%s", "identical": %s, "direct": {"stmts": %s, "tx": %s, "wall": %s}, "pgfold": {"stmts": %s, "tx": %s, "wall": %s}, "optimized": {"stmts": %s, "tx": %s, "wall": %s}}\n' \
                "$RTT_MS" "$w" "$ep" "$([ $same = 1 ] && echo true || echo false)" \
                "$WL_a_STMTS" "$WL_a_TX" "$WL_a_WALL" "$WL_b_STMTS" "$WL_b_TX" "$WL_b_WALL" \
                "$WL_c_STMTS" "$WL_c_TX" "$WL_c_WALL" >>"$JSON"
        fi
    done
    [ -n "$ARG_PG_PORT" ] || DB=postgres psql_direct -qc "DROP DATABASE IF EXISTS $(wl_db "$w") WITH (FORCE)" >/dev/null 2>&1 || true
done
