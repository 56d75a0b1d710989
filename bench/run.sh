#!/usr/bin/env bash
# bench/run.sh BUILD full|quick: what `make bench` and `make bench-quick` run.
#
# Measures pgfold side by side with PostgreSQL direct and with PgBouncer, in one run, on this
# machine, and writes bench/results.md (tables) and bench/*.png (gnuplot). It asserts nothing
# about time: it reports. Issue 6 is the spec; every section below is one of its workloads.
#
#   0. the network: bench/relay (built from bench/relay.c) adds a one-way delay between a
#      client (or pgfold) and PostgreSQL; its delay is calibrated against an echo server so the
#      round trip it adds is the one asked for, and that round trip is measured and reported
#   1. N+1 loops (Django forward, reverse, m2m; bare psycopg2; node-postgres) at each RTT:
#      direct (client -> relay -> PostgreSQL), pgfold rewrite and pgfold passthrough
#      (client -> pgfold -> relay -> PostgreSQL); server statements from pg_stat_statements
#   2. pgbench -S and TPC-B, -M simple and prepared, 1/4/16 clients: direct, pgfold
#      passthrough, pgfold rewrite, PgBouncer (session mode), alternating, median of 3
#   3. instructions per statement (callgrind; `perf stat -e instructions` where it works) and
#      CPU time per statement from /proc, for pgfold passthrough, rewrite and PgBouncer
#   4. memory: RSS with 1,000 idle sessions; peak RSS while a slow client reads 100 MB
#   5. pgfold workers=1 against workers=2
#   6. bench/bench_parser (the parser micro-benchmarks)
#
# Every measurement lands as a JSON line in a data folder; bench/report.py turns that into
# results.md and the plots. Each section runs in a subshell with its own cleanup, so one that
# fails is reported as such and the others still run; every process this script starts is
# stopped on exit, however it exits (tests/lib/pg.sh's EXIT trap). Only 127.0.0.1 is used.
#
# Environment: BENCH_OUT=DIR writes results.md and the PNGs there instead of bench/;
# BENCH_SECTIONS="loops pgbench verify workloads cpu memory workers parser" runs a subset (default: all);
# BENCH_KEEP=DIR keeps a copy of the raw data and logs there.
set -euo pipefail

if [ $# -ne 2 ] || { [ "$2" != full ] && [ "$2" != quick ]; }; then
    echo "usage: $0 BUILD full|quick" >&2
    exit 2
fi
BUILD="$(cd "$1" && pwd)"
MODE="$2"
export BUILD
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
export TEST_DB=pgfold_bench PGT_CLIENT_TIMEOUT=600
. "$BENCH_DIR/../tests/lib/pg.sh"
ROOT="$PGT_ROOT"
OUT_DIR="${BENCH_OUT:-$BENCH_DIR}"
SECTIONS="${BENCH_SECTIONS:-loops pgbench verify workloads cpu memory workers parser}"
DB="$TEST_DB"
NODE_DIR="$ROOT/tests/clients/node"
START_SECS=$SECONDS
START_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
START_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
START_STAT="$(head -1 /proc/stat)"

if [ "$MODE" = full ]; then
    RTTS="0 0.5 1 5"     # milliseconds added between pgfold (or the direct client) and PostgreSQL
    LOOP_REPS=3          # each loop runs this many times per path; the median is reported
    VERIFY_REPS=9        # the forward loop per verify_fraction (section_verify)
    WL_REPS=3            # runs per path of every workload endpoint (section_workloads)
    PGB_SECS=2           # pgbench -T (144 runs: 2 s each keeps the whole run under 15 minutes)
    PGB_REPS=3
    PGB_CLIENTS="1 4 16"
    PGB_SCALE=10
    CG_TX=4000           # pgbench -t under callgrind
    IDLE_N=1000
    SLOW_MB=100
    W_CLIENTS="4 16"
else
    RTTS="0 1"
    LOOP_REPS=1
    VERIFY_REPS=3
    WL_REPS=1
    PGB_SECS=2
    PGB_REPS=1
    PGB_CLIENTS="4"
    PGB_SCALE=10
    CG_TX=1000
    IDLE_N=500
    SLOW_MB=50
    W_CLIENTS="16"
fi
LOOPS="forward reverse m2m bare node"

for tool in gnuplot pgbench pgbouncer valgrind; do
    command -v "$tool" >/dev/null || pgt_die "$tool is missing: run scripts/deps.sh (make bench does)"
done
for bin in pgfold bench/relay bench/pingpong bench/bench_parser; do
    [ -x "$BUILD/$bin" ] || pgt_die "$BUILD/$bin is missing: run make bench (it builds it)"
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

pgt_tmpdir RUN
DATA="$RUN/data"
LOGS="$RUN/logs"
mkdir -p "$DATA" "$LOGS"
pgt_atexit stop_all
chmod 755 "$RUN"
chown postgres: "$LOGS" 2>/dev/null || true
: >"$DATA/failures.txt"

say() { printf '[bench %4ds] %s\n' "$((SECONDS - START_SECS))" "$*" >&2; }
# rec FILE JSON: appends one measurement.
rec() { printf '%s\n' "$2" >>"$DATA/$1.jsonl"; }

# ---------------------------------------------------------------------------------------------
# Processes. Every one is started in the background, its pid registered for the EXIT trap.

# proc_start PID: the process's start time (clock ticks since boot), which with the pid names
# one process for good: a pid alone may be reused once the process is gone.
proc_start() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }

# stop_pid PID [START]: SIGTERM, up to 10 s, then SIGKILL. Only ever pids this script started;
# with START, only if the pid still names the process that started then.
stop_pid() {
    local pid="$1" start="${2:-}" i
    kill -0 "$pid" 2>/dev/null || return 0
    if [ -n "$start" ] && [ "$(proc_start "$pid")" != "$start" ]; then return 0; fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# wait_listen PORT PID NAME [SECS]: until something listens on PORT while PID lives.
wait_listen() {
    local port="$1" pid="$2" name="$3" secs="${4:-15}" i
    for ((i = 0; i < secs * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || { pgt_log "$name exited before listening on $port"; return 1; }
        port_listening "$port" && return 0
        sleep 0.05
    done
    pgt_log "$name did not listen on $port within $secs s"
    return 1
}

# bg NAME LOG CMD...: starts CMD in the background; sets BG_PID.
bg() {
    local name="$1" log="$2"
    shift 2
    "$@" >>"$log" 2>&1 &
    BG_PID=$!
    local start
    start="$(proc_start "$BG_PID")"
    pgt_atexit "stop_pid $BG_PID $start"
    # for the parent, should a section's own cleanup be cut short
    echo "$BG_PID $start" >>"$RUN/pids"
}

# stop_all: the parent's last word on every process any section started and did not stop.
stop_all() {
    local pid start
    [ -f "$RUN/pids" ] || return 0
    while read -r pid start; do stop_pid "$pid" "$start"; done <"$RUN/pids"
}

# cg_ctl PID ARGS...: callgrind_control, run as the user who owns PID (vgdb only finds the
# process of its own user, and PgBouncer runs as postgres).
cg_ctl() {
    local pid="$1" user
    shift
    user="$(stat -c %U "/proc/$pid")"
    timeout 120 setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- \
        callgrind_control "$@" "$pid" >/dev/null
}

# start_relay DELAY_US TARGET_PORT: sets RELAY_PORT, RELAY_PID.
start_relay() {
    local port log="$LOGS/relay.log"
    port="$(free_port)"
    bg relay "$log" "$BUILD/bench/relay" "$port" 127.0.0.1 "$2" "$1"
    RELAY_PID=$BG_PID RELAY_PORT=$port
    wait_listen "$port" "$RELAY_PID" relay || { tail -n 5 "$log" >&2; return 1; }
}

# start_pgfold UPSTREAM_PORT MODE [ARGS...]: pgfold (workers default unless ARGS say) in front
# of UPSTREAM_PORT. PGFOLD_WRAP (e.g. "valgrind ...") goes in front of the binary. Sets
# PF_PORT, PF_PID, PF_LOG.
start_pgfold() {
    local up="$1" mode="$2" port aport
    shift 2
    port="$(free_port)"
    aport="$(free_port)"
    PF_LOG="$LOGS/pgfold.$port.log"
    # shellcheck disable=SC2086 # PGFOLD_WRAP is a command line: split it into words
    bg pgfold "$PF_LOG" ${PGFOLD_WRAP:-} "$BUILD/pgfold" --listen "127.0.0.1:$port" \
        --upstream "host=127.0.0.1 port=$up" --admin-listen "127.0.0.1:$aport" --mode "$mode" \
        --log-level warn "$@"
    PF_PID=$BG_PID PF_PORT=$port
    wait_listen "$port" "$PF_PID" pgfold "${PGFOLD_WAIT:-15}" || { tail -n 20 "$PF_LOG" >&2; return 1; }
}

# start_pgbouncer [WRAP...]: PgBouncer 1.18 in session mode in front of PostgreSQL, trust auth
# (the user must still be in auth_file), run as the postgres user (it refuses root) through
# setpriv, which execs, so PGB_PID is PgBouncer's own pid. Sets PGB_PORT, PGB_PID.
start_pgbouncer() {
    local dir port
    pgt_tmpdir dir
    port="$(free_port)"
    cat >"$dir/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = session
max_client_conn = 2000
default_pool_size = 1100
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
log_connections = 0
log_disconnections = 0
EOF
    echo '"postgres" ""' >"$dir/userlist.txt"
    chown -R postgres: "$dir"
    chmod 755 "$dir"
    bg pgbouncer "$LOGS/pgbouncer.out" setpriv --reuid=postgres --regid=postgres --init-groups -- \
        "$@" pgbouncer "$dir/pgbouncer.ini"
    PGB_PID=$BG_PID PGB_PORT=$port
    wait_listen "$port" "$PGB_PID" pgbouncer "${PGFOLD_WAIT:-15}" ||
        { tail -n 20 "$dir/pgbouncer.log" "$LOGS/pgbouncer.out" >&2; return 1; }
}

# cpu_ticks PID: user + system clock ticks of the whole process (all threads).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------------------------------------
# Clients

# loop_run LOOP PORT: one run of LOOP against PORT; prints the client's JSON line.
loop_run() {
    local loop="$1" port="$2"
    case "$loop" in
        forward | reverse | m2m) py "$BENCH_DIR/django_loop.py" --port "$port" --db "$DB" "$loop" ;;
        bare) py "$BENCH_DIR/bare_loop.py" --port "$port" --db "$DB" run ;;
        node) timeout "$PGT_CLIENT_TIMEOUT" node "$BENCH_DIR/node_loop.js" "$port" "$DB" ;;
    esac
}

loop_tables() {
    case "$1" in
        forward | reverse | m2m) echo 'polls_' ;;
        *) echo 'bench_customer|bench_order' ;;
    esac
}

# pgbench_run PORT SCRIPT PROTO CLIENTS [PID]: one pgbench -T run; prints a JSON fragment
# with tps and transactions, and the CPU ticks PID used meanwhile if PID is given.
pgbench_run() {
    local port="$1" script="$2" proto="$3" c="$4" pid="${5:-}" j out t0=0 t1=0 tps tx
    j=$((c < 2 ? c : 2))
    local -a args=(-n -T "$PGB_SECS" -c "$c" -j "$j" -M "$proto" -h 127.0.0.1 -p "$port" -U postgres)
    [ "$script" = select ] && args+=(-S)
    [ -n "$pid" ] && t0="$(cpu_ticks "$pid")"
    out="$(timeout 120 pgbench "${args[@]}" "$DB" 2>&1)" || { printf '%s\n' "$out" | tail -n 5 >&2; return 1; }
    [ -n "$pid" ] && t1="$(cpu_ticks "$pid")"
    tps="$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1)"
    tx="$(printf '%s\n' "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')"
    if [ -z "$tps" ] || [ -z "$tx" ]; then
        printf '%s\n' "$out" | tail -n 5 >&2
        return 1
    fi
    printf '"tps": %s, "tx": %s, "cpu_ticks": %s' "$tps" "$tx" "$((t1 - t0))"
}

# rotate N WORD...: the words rotated left by N (alternating the order between repetitions).
rotate() {
    local n="$1"
    shift
    local -a w=("$@")
    local i k=${#w[@]}
    for ((i = 0; i < k; i++)); do printf '%s ' "${w[$(((i + n) % k))]}"; done
}


# ---------------------------------------------------------------------------------------------
# Sections

# 0 + 1: calibrate the relays, measure the round trips, run the loops.
section_loops() {
    local echo_pid echo_port r target d added count i p50 floor
    local -A relay_port pf_rewrite pf_pass

    echo_port="$(free_port)"
    bg pingpong "$LOGS/pingpong.log" "$BUILD/bench/pingpong" serve "$echo_port"
    echo_pid=$BG_PID
    wait_listen "$echo_port" "$echo_pid" pingpong

    pp() { "$BUILD/bench/pingpong" ping 127.0.0.1 "$1" "$2" | sed -n 's/.* p50=\([0-9.]*\) .*/\1/p'; }
    for r in $RTTS; do
        if [ "$r" = 0 ]; then
            floor="$(pp "$echo_port" 3000)"
            rec rtt "{\"rtt_ms\": 0, \"delay_us\": 0, \"p50_us\": $floor, \"floor_us\": $floor, \"added_us\": 0}"
            relay_port[$r]=$PG_PORT
            continue
        fi
        target="$(awk -v r="$r" 'BEGIN {printf "%d", r * 1000}')"
        count=$((2000000 / target))
        [ "$count" -gt 1500 ] && count=1500
        d=$((target / 2))
        # Two correction steps: the relay's wake-ups and the two extra hops cost a little more
        # than the delay asked for; take that off the delay (at most 150 us a step, so one
        # noisy measurement cannot throw it far), then measure what remains.
        for i in 1 2 3; do
            floor="$(pp "$echo_port" 1000)"
            start_relay "$d" "$echo_port"
            p50="$(pp "$RELAY_PORT" "$count")"
            stop_pid "$RELAY_PID"
            added="$(awk -v a="$p50" -v f="$floor" 'BEGIN {printf "%.1f", a - f}')"
            [ "$i" = 3 ] && break
            d="$(awk -v d="$d" -v a="$added" -v t="$target" 'BEGIN {
                c = (a - t) / 2; if (c > 150) c = 150; if (c < -150) c = -150
                x = d - c; printf "%d", (x < 0 ? 0 : x)}')"
        done
        rec rtt "{\"rtt_ms\": $r, \"delay_us\": $d, \"p50_us\": $p50, \"floor_us\": $floor, \"added_us\": $added}"
        if awk -v a="$added" -v t="$target" 'BEGIN {exit !(a < 0.8 * t || a > 1.2 * t)}'; then
            echo "the relay for RTT $r ms added $added us, more than 20% off (a busy machine?)" >>"$DATA/warnings.txt"
        fi
        say "relay for RTT $r ms: one-way delay $d us adds ${added} us (ping-pong p50 $p50 us, loopback $floor us)"
        start_relay "$d" "$PG_PORT"
        relay_port[$r]=$RELAY_PORT
    done
    stop_pid "$echo_pid"

    for r in $RTTS; do
        start_pgfold "${relay_port[$r]}" rewrite
        pf_rewrite[$r]=$PF_PORT
        start_pgfold "${relay_port[$r]}" passthrough
        pf_pass[$r]=$PF_PORT
    done

    # SELECT 1 round trips through each path (psycopg2): what one forwarded statement costs.
    local path port n out
    for r in $RTTS; do
        n="$(awk -v r="$r" 'BEGIN {n = r > 0 ? int(600 / r) : 2000; print (n > 2000 ? 2000 : n)}')"
        for path in direct passthrough rewrite; do
            case $path in
                direct) port=${relay_port[$r]} ;;
                passthrough) port=${pf_pass[$r]} ;;
                rewrite) port=${pf_rewrite[$r]} ;;
            esac
            out="$(py "$BENCH_DIR/bare_loop.py" --port "$port" --db "$DB" --n "$n" ping)"
            rec select1 "{\"rtt_ms\": $r, \"path\": \"$path\", ${out#\{}"
        done
    done

    local loops="$LOOPS" loop rep stmts
    if ! command -v node >/dev/null || [ ! -f "$NODE_DIR/node_modules/pg/package.json" ]; then
        echo "node loop: node or tests/clients/node/node_modules/pg missing" >>"$DATA/failures.txt"
        loops="${loops/node/}"
    fi
    # Warm-up, not recorded: PostgreSQL's caches, and every rewrite instance's shape caches
    # (one per worker, dealt round-robin, so twice; passthrough parses nothing).
    say "loops: warm-up"
    for loop in $loops; do
        loop_run "$loop" "$PG_PORT" >/dev/null
        for r in $RTTS; do
            loop_run "$loop" "${pf_rewrite[$r]}" >/dev/null
            loop_run "$loop" "${pf_rewrite[$r]}" >/dev/null
        done
    done
    for ((rep = 0; rep < LOOP_REPS; rep++)); do
        for r in $RTTS; do
            say "loops: rep $((rep + 1))/$LOOP_REPS, RTT $r ms"
            for loop in $loops; do
                for path in $(rotate "$rep" direct rewrite passthrough); do
                    case $path in
                        direct) port=${relay_port[$r]} ;;
                        passthrough) port=${pf_pass[$r]} ;;
                        rewrite) port=${pf_rewrite[$r]} ;;
                    esac
                    stmt_reset
                    out="$(loop_run "$loop" "$port")"
                    stmts="$(stmt_count "$(loop_tables "$loop")")"
                    rec loops "{\"rtt_ms\": $r, \"path\": \"$path\", \"rep\": $rep, \"stmts\": $stmts, ${out#\{}"
                done
            done
        done
    done
}

# 2: pgbench through every target, alternating, median later.
# Shadow verification's cost (issue 14): the Django forward loop through pgfold (rewrite) at a
# 1 ms round trip, with verify_fraction 0, 0.01 (the default) and 1, side by side in one run.
section_verify() {
    local f port rep out ini stmts
    local -A vport
    start_relay 500 "$PG_PORT" # 0.5 ms each way: about 1 ms added (section 0 calibrates it)
    for f in 0 0.01 1; do
        ini="$LOGS/verify-$f.ini"
        printf '[pgfold]\nverify_fraction = %s\n' "$f" >"$ini"
        start_pgfold "$RELAY_PORT" rewrite -c "$ini"
        vport[$f]=$PF_PORT
        loop_run forward "$PF_PORT" >/dev/null # warm-up: both workers' shape caches
        loop_run forward "$PF_PORT" >/dev/null
    done
    for ((rep = 0; rep < VERIFY_REPS; rep++)); do
        say "verify: rep $((rep + 1))/$VERIFY_REPS"
        for f in $(rotate "$rep" 0 0.01 1); do
            stmt_reset
            out="$(loop_run forward "${vport[$f]}")"
            stmts="$(stmt_count "$(loop_tables forward)")"
            rec verify "{\"fraction\": $f, \"rep\": $rep, \"stmts\": $stmts, ${out#\{}"
        done
    done
}

# The workloads of tests/workloads/ (issue 12): every endpoint direct, through pgfold and its
# hand-optimised twin direct, at about 1 ms RTT; statements and wall time.
section_workloads() {
    start_relay 500 "$PG_PORT"
    "$ROOT/tests/workloads/bench.sh" --build "$BUILD" --pg-port "$PG_PORT" --relay-port "$RELAY_PORT" \
        --rtt-ms 1 --reps "$WL_REPS" --json "$DATA/workloads.jsonl" >"$LOGS/workloads.out" 2>&1 ||
        { tail -n 20 "$LOGS/workloads.out" >&2; return 1; }
}

section_pgbench() {
    local pass_pid pass_port rw_pid rw_port script proto c rep target port pid frag
    start_pgfold "$PG_PORT" passthrough
    pass_pid=$PF_PID pass_port=$PF_PORT
    start_pgfold "$PG_PORT" rewrite
    rw_pid=$PF_PID rw_port=$PF_PORT
    start_pgbouncer
    for script in select tpcb; do
        for proto in simple prepared; do
            say "pgbench: $script -M $proto"
            for c in $PGB_CLIENTS; do
                for ((rep = 0; rep < PGB_REPS; rep++)); do
                    for target in $(rotate "$rep" direct passthrough rewrite pgbouncer); do
                        case $target in
                            direct) port=$PG_PORT pid= ;;
                            passthrough) port=$pass_port pid=$pass_pid ;;
                            rewrite) port=$rw_port pid=$rw_pid ;;
                            pgbouncer) port=$PGB_PORT pid=$PGB_PID ;;
                        esac
                        frag="$(pgbench_run "$port" "$script" "$proto" "$c" "$pid")"
                        rec pgbench "{\"script\": \"$script\", \"proto\": \"$proto\", \"clients\": $c, \"target\": \"$target\", \"rep\": $rep, $frag}"
                    done
                done
            done
        done
    done
}

# 3: instructions per statement. callgrind counts the user-space instructions of the proxy
# process (all threads) between a zero and a dump, around a fixed workload: pgbench -S -t N
# over one connection, then one run of the bare psycopg2 loop (501 statements; in rewrite
# mode 499 of them are answered by pgfold itself). One worker, so the warm-up warms the
# only shape cache. report.py reads the dumps (self and inclusive cost per function).
section_cpu() {
    local target pid port dump wrap
    if perf stat -e instructions -x, true 2>&1 | grep -q '^[0-9]'; then
        echo "perf counts instructions here" >"$DATA/perf_ok"
    fi
    wrap="valgrind --tool=callgrind --callgrind-out-file=$LOGS/cg.%p --dump-instr=no"
    # cg_measure NAME STATEMENTS CMD...: zero, run CMD, dump, record.
    cg_measure() {
        local name="$1" n="$2" out
        shift 2
        cg_ctl "$pid" -z
        out="$("$@" 2>&1)" || { printf '%s\n' "$out" | tail -n 5 >&2; return 1; }
        cg_ctl "$pid" -d
        dump="$(ls -t "$LOGS/cg.$pid".* 2>/dev/null | head -1)"
        [ -n "$dump" ] || { echo "no callgrind dump for $target" >&2; return 1; }
        if [ "$n" = tx ]; then
            n="$(printf '%s\n' "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')"
        fi
        rec callgrind "{\"target\": \"$target\", \"workload\": \"$name\", \"statements\": ${n:-0}, \"dump\": \"$dump\", \"instructions\": $(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$dump" | head -1)}"
    }
    for target in passthrough rewrite pgbouncer; do
        say "cpu: callgrind, $target"
        if [ "$target" = pgbouncer ]; then
            # shellcheck disable=SC2086 # a command line, split into words
            PGFOLD_WAIT=120 start_pgbouncer $wrap
            pid=$PGB_PID port=$PGB_PORT
        else
            PGFOLD_WRAP="$wrap" PGFOLD_WAIT=120 start_pgfold "$PG_PORT" "$target" --workers 1
            pid=$PF_PID port=$PF_PORT
        fi
        timeout 300 pgbench -n -S -t 200 -c 1 -M simple -h 127.0.0.1 -p "$port" -U postgres "$DB" >/dev/null 2>&1
        cg_measure "pgbench -S" tx timeout 600 pgbench -n -S -t "$CG_TX" -c 1 -M simple -h 127.0.0.1 -p "$port" -U postgres "$DB"
        loop_run bare "$port" >/dev/null
        cg_measure "bare loop" 501 loop_run bare "$port"
        stop_pid "$pid"
    done
}

# 4: memory. A fresh proxy for each probe, so VmHWM is that probe's alone.
section_memory() {
    local ini="$RUN/pgfold-mem.ini" out
    printf '[pgfold]\nmax_client_conn = %d\n' $((IDLE_N + 100)) >"$ini"
    say "memory: $IDLE_N idle sessions through pgfold"
    start_pgfold "$PG_PORT" rewrite -c "$ini"
    out="$(py "$BENCH_DIR/sessions.py" idle --port "$PF_PORT" --db "$DB" --pid "$PF_PID" --n "$IDLE_N")"
    rec memory "{\"probe\": \"idle\", \"target\": \"pgfold\", ${out#\{}"
    stop_pid "$PF_PID"
    say "memory: $IDLE_N idle sessions through PgBouncer"
    start_pgbouncer
    out="$(py "$BENCH_DIR/sessions.py" idle --port "$PGB_PORT" --db "$DB" --pid "$PGB_PID" --n "$IDLE_N")"
    rec memory "{\"probe\": \"idle\", \"target\": \"pgbouncer\", ${out#\{}"
    stop_pid "$PGB_PID"
    local mode
    for mode in passthrough rewrite; do
        say "memory: slow client reading $SLOW_MB MB through pgfold $mode"
        start_pgfold "$PG_PORT" "$mode"
        out="$(py "$BENCH_DIR/sessions.py" slowread --port "$PF_PORT" --db "$DB" --pid "$PF_PID" --mb "$SLOW_MB")"
        rec memory "{\"probe\": \"slowread\", \"target\": \"pgfold $mode\", ${out#\{}"
        stop_pid "$PF_PID"
    done
    say "memory: slow client reading $SLOW_MB MB through PgBouncer"
    start_pgbouncer
    out="$(py "$BENCH_DIR/sessions.py" slowread --port "$PGB_PORT" --db "$DB" --pid "$PGB_PID" --mb "$SLOW_MB")"
    rec memory "{\"probe\": \"slowread\", \"target\": \"pgbouncer\", ${out#\{}"
    stop_pid "$PGB_PID"
}

# 5: workers=1 against workers=2 (passthrough, pgbench -S simple), alternating.
section_workers() {
    local p1 p2 pid1 pid2 c rep w port pid frag
    start_pgfold "$PG_PORT" passthrough --workers 1
    p1=$PF_PORT pid1=$PF_PID
    start_pgfold "$PG_PORT" passthrough --workers 2
    p2=$PF_PORT pid2=$PF_PID
    for c in $W_CLIENTS; do
        say "workers: pgbench -S, $c clients"
        for ((rep = 0; rep < PGB_REPS; rep++)); do
            for w in $(rotate "$rep" 1 2); do
                if [ "$w" = 1 ]; then port=$p1 pid=$pid1; else port=$p2 pid=$pid2; fi
                frag="$(pgbench_run "$port" select simple "$c" "$pid")"
                rec workers "{\"workers\": $w, \"clients\": $c, \"rep\": $rep, $frag}"
            done
        done
    done
}

# 6: the parser micro-benchmarks, as they print.
section_parser() {
    "$BUILD/bench/bench_parser" >"$DATA/bench_parser.txt"
}

# run_section NAME: runs section_NAME in a subshell with its own cleanup list (PostgreSQL,
# started by the parent, is not on it). A failure is recorded and the run goes on.
run_section() {
    local name="$1" t0=$SECONDS rc
    case " $SECTIONS " in *" $name "*) ;; *) return 0 ;; esac
    say "== section $name"
    set +e
    (
        # shellcheck disable=SC2034 # tests/lib/pg.sh's cleanup list, emptied for this subshell
        PGT_ATEXIT=()
        trap pgt_run_atexit EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        set -euo pipefail
        "section_$name"
    ) 2> >(tee -a "$LOGS/$name.err" >&2)
    rc=$?
    set -e
    rec sections "{\"section\": \"$name\", \"secs\": $((SECONDS - t0)), \"rc\": $rc}"
    if [ "$rc" != 0 ]; then
        say "section $name FAILED (exit $rc); the report says so"
        echo "section $name failed (exit $rc): $(grep -v '^\[bench' "$LOGS/$name.err" | tail -n 3 | tr '\n' ' ')" >>"$DATA/failures.txt"
    fi
}

# ---------------------------------------------------------------------------------------------
# Setup: one PostgreSQL for everything, with room for 1,000 sessions through each proxy.

say "mode $MODE; starting PostgreSQL"
pg_start
pg_as tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF
# make bench
max_connections = $((IDLE_N + 200))
shared_buffers = 512MB
EOF
pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOGFILE" -w -t 60 restart >"$LOGS/pg_restart.log" 2>&1 ||
    { cat "$LOGS/pg_restart.log" >&2; pgt_die "PostgreSQL restart failed"; }
say "loading data: Django seed, bench_customer/bench_order, pgbench -i -s $PGB_SCALE"
py "$ROOT/tests/clients/django/nplus1.py" --port "$PG_PORT" --db "$DB" setup >"$LOGS/setup.log" 2>&1 ||
    { cat "$LOGS/setup.log" >&2; pgt_die "Django setup failed"; }
py "$BENCH_DIR/bare_loop.py" --port "$PG_PORT" --db "$DB" setup >>"$LOGS/setup.log" 2>&1 ||
    { cat "$LOGS/setup.log" >&2; pgt_die "bench tables setup failed"; }
pgbench -i -q -s "$PGB_SCALE" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$DB" >>"$LOGS/setup.log" 2>&1 ||
    { cat "$LOGS/setup.log" >&2; pgt_die "pgbench -i failed"; }
psql_direct -qc 'VACUUM ANALYZE' >/dev/null
if [ ! -f "$NODE_DIR/node_modules/pg/package.json" ] && command -v npm >/dev/null; then
    say "installing node-postgres (npm ci in tests/clients/node, as t_node.sh does)"
    (cd "$NODE_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) >"$LOGS/npm.log" 2>&1 || true
fi

run_section loops
run_section pgbench
run_section verify
run_section workloads
run_section cpu
run_section memory
run_section workers
run_section parser

# ---------------------------------------------------------------------------------------------
say "writing $OUT_DIR/results.md and plots"
# steal: the share of CPU time the hypervisor gave to someone else during the run (/proc/stat)
STEAL_PCT="$(printf '%s\n%s\n' "$START_STAT" "$(head -1 /proc/stat)" | awk '
    {t = 0; for (i = 2; i <= NF; i++) t += $i; tot[NR] = t; st[NR] = $9}
    END {d = tot[2] - tot[1]; printf "%.1f", (d > 0 ? 100 * (st[2] - st[1]) / d : 0)}')"
cat >"$DATA/machine.json" <<EOF
{"date": "$START_DATE", "mode": "$MODE", "cpu": "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)",
 "cores": $(nproc), "mem_gib": $(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo),
 "kernel": "$(uname -r)", "os": "$(. /etc/os-release && echo "$PRETTY_NAME")",
 "postgres": "$("$PG_BIN/postgres" --version | awk '{print $3}')",
 "pgbouncer": "$(pgbouncer --version 2>/dev/null | awk 'NR == 1 {print $2}')",
 "python": "$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')",
 "psycopg2": "$("$PYTHON" -c 'import psycopg2; print(psycopg2.__version__.split()[0])')",
 "django": "$("$PYTHON" -c 'import django; print(django.get_version())')",
 "node": "$(node --version 2>/dev/null || echo none)",
 "pg_node": "$(node -p "require('$NODE_DIR/node_modules/pg/package.json').version" 2>/dev/null || echo none)",
 "commit": "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- proxy parser batcher config 2>/dev/null || echo '+changes')",
 "rtts": "$RTTS", "loop_reps": $LOOP_REPS, "pgb_secs": $PGB_SECS, "pgb_reps": $PGB_REPS,
 "pgb_scale": $PGB_SCALE, "cg_tx": $CG_TX, "idle_n": $IDLE_N, "slow_mb": $SLOW_MB,
 "steal_pct": $STEAL_PCT,
 "load_start": "$START_LOAD", "load_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "total_secs": $((SECONDS - START_SECS))}
EOF
if [ -n "${BENCH_KEEP:-}" ]; then # for working on report.py: report.py BENCH_KEEP/data OUT
    mkdir -p "$BENCH_KEEP" && cp -r "$DATA" "$LOGS" "$BENCH_KEEP/"
fi
if ! "$PYTHON" "$BENCH_DIR/report.py" "$DATA" "$OUT_DIR"; then
    mkdir -p "$OUT_DIR/bench-data" && cp -r "$DATA"/. "$OUT_DIR/bench-data/"
    pgt_die "report.py failed; the raw measurements are in $OUT_DIR/bench-data"
fi
echo
sed -n '/^## Targets/,/^## 0\./p' "$OUT_DIR/results.md" | sed '$d'
say "done in $((SECONDS - START_SECS)) s; tables in $OUT_DIR/results.md"
[ ! -s "$DATA/failures.txt" ]
