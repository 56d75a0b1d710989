#!/usr/bin/env bash
# tests/conformance/run.sh BUILD: runs two PostgreSQL drivers' own test suites (psycopg 3.1.7;
# node-postgres pg@8.23.0 with pg-cursor, pg-query-stream, pg-pool) against one throwaway
# cluster three ways, direct, through pgfold mode=passthrough and through pgfold mode=rewrite,
# then prints every test whose outcome differs from direct (tests/conformance/compare.py).
# Exits 1 if any differs. docs/conformance.md says what, why, and what was found.
#
# The suites are third-party code: nothing of theirs is kept in this repository. By default the
# runner clones the mirrors fetched under MIRROR_DIR at the tag into its temporary folder, and
# installs the npm packages the node suites need into a temporary node_modules.
#
# Environment (all optional):
#   PGFOLD_BIN        binary under test (default BUILD/pgfold)
#   PSYCOPG_SRC       a psycopg checkout at 3.1.7, used as is (default: clone MIRROR_DIR's)
#   NODEPG_SRC        a node-postgres checkout at pg@8.23.0, used as is (node_modules is linked
#                     into it, test/unit/client/pgpass.file chmodded 600)
#   MIRROR_DIR        where fetched bare mirrors live (default /work/.mirror): psycopg+psycopg,
#                     brianc+node-postgres (either the folder or its repo/ subfolder)
#   NODE_DEPS         a folder whose node_modules has the npm packages (default: a temporary
#                     folder, npm install into it; a folder given here is filled if empty)
#   CONF_OUT          results (default BUILD/conformance); kept after the run
#   CONF_SUITES       subset of "psycopg pg pg-cursor pg-query-stream pg-pool"
#   CONF_MODES        subset of "direct passthrough rewrite"; modes not run keep their earlier
#                     results in CONF_OUT, so "CONF_MODES=rewrite" compares with the last direct run
#   CONF_PYTEST_TARGETS  what pytest runs (default "tests"; e.g. "tests/test_tpc.py")
#   CONF_PYTEST_ARGS  extra pytest arguments (e.g. "-x")
#   CONF_PG_FILTER    extended regex: only node-postgres pg test files matching it
#   CONF_TIMEOUT_PSYCOPG (2700 s), CONF_TIMEOUT_NODE_FILE (180 s), CONF_TIMEOUT_MOCHA (900 s)
#   CONF_RERUNS       each test that differs is run again this many times (default 2), alone,
#                     direct and in the mode where it differed; compare.py reports a difference
#                     seen again as confirmed, one never seen again as not reproduced
#   CONF_SKIP_DEPS=1  do not check Debian packages
#   PGT_KEEP=1        keep the temporary folders (cluster, clones, node_modules)
set -u
BUILD="${1:-${BUILD:-build}}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/pg.sh
source "$HERE/../lib/pg.sh"
BUILD="$(cd "$PGT_ROOT" && mkdir -p "$BUILD" && cd "$BUILD" && pwd)"
export BUILD

PGFOLD_BIN="${PGFOLD_BIN:-$BUILD/pgfold}"
case "$PGFOLD_BIN" in /*) ;; *) PGFOLD_BIN="$PGT_ROOT/$PGFOLD_BIN" ;; esac
export PGFOLD_BIN
MIRROR_DIR="${MIRROR_DIR:-/work/.mirror}"
PSYCOPG_TAG=3.1.7
NODEPG_TAG=pg@8.23.0
CONF_OUT="${CONF_OUT:-$BUILD/conformance}"
mkdir -p "$CONF_OUT" && CONF_OUT="$(cd "$CONF_OUT" && pwd)"
CONF_SUITES="${CONF_SUITES:-psycopg pg pg-cursor pg-query-stream pg-pool}"
CONF_MODES="${CONF_MODES:-direct passthrough rewrite}"
CONF_TIMEOUT_PSYCOPG="${CONF_TIMEOUT_PSYCOPG:-2700}"
CONF_TIMEOUT_NODE_FILE="${CONF_TIMEOUT_NODE_FILE:-180}"
CONF_TIMEOUT_MOCHA="${CONF_TIMEOUT_MOCHA:-900}"
CONF_RERUNS="${CONF_RERUNS:-2}"
PSYCOPG_DB=psycopg_test
NODEPG_DB=nodepg_test
SCRAM_PASS_UNICODE=$'IX-\xe2\x85\xa8' # "IX-" U+2168 ROMAN NUMERAL IX, as node-postgres's CI

# npm packages beside the node-postgres checkout (pg and pg-cursor are linked to the checkout).
NPM_PKGS="pg-protocol@1.16.0 pg-connection-string@2.14.0 pg-pool@3.14.0 pg-types@2.2.0 pgpass@1.0.5
async@2.6.4 bluebird@3.7.2 co@4.6.0 pg-copy-streams@0.3.0 mocha@11 JSONStream@1.3.5
concat-stream@1.0.1 stream-spec@0.3.5 expect.js@0.3.1 ts-node@8.10.2 typescript@5"
DEB_PKGS="python3-psycopg python3-pytest python3-pytest-asyncio python3-anyio python3-pytest-timeout
python3-dnspython python3-numpy python3-shapely python3-typing-extensions"

log() { printf '[conformance %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

for m in $CONF_MODES; do
    case "$m" in direct | passthrough | rewrite) ;; *) pgt_die "unknown mode in CONF_MODES: $m" ;; esac
done
for s in $CONF_SUITES; do
    case "$s" in psycopg | pg | pg-cursor | pg-query-stream | pg-pool) ;; *) pgt_die "unknown suite: $s" ;; esac
done
case " $CONF_MODES " in *" passthrough "* | *" rewrite "*)
    [ -x "$PGFOLD_BIN" ] || pgt_die "no pgfold binary at $PGFOLD_BIN (make all, or PGFOLD_BIN=...)" ;;
esac

# --- packages ----------------------------------------------------------------------------------
if [ "${CONF_SKIP_DEPS:-0}" != 1 ]; then
    missing=""
    for p in $DEB_PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    command -v node >/dev/null 2>&1 || missing="$missing nodejs"
    command -v npm >/dev/null 2>&1 || missing="$missing npm"
    if [ -n "$missing" ]; then
        log "installing Debian packages:$missing"
        [ "$(id -u)" = 0 ] || pgt_die "need root to apt-get install$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || pgt_die "apt-get update failed"
        # shellcheck disable=SC2086
        apt-get install -y -qq $missing >/dev/null || pgt_die "apt-get install failed"
    fi
fi

# Every temporary folder (cluster, pgfold's logs, clones, node_modules) under one of our own: a
# cleanup of /tmp/pgfold-test.* by another test run on this machine once removed the cluster's
# data directory in the middle of a run. 755: the postgres user must reach its data directory.
CONF_TMP="$(mktemp -d "${TMPDIR:-/tmp}/pgfold-conformance.XXXXXX")"
chmod 755 "$CONF_TMP"
if [ "${PGT_KEEP:-0}" = 1 ]; then pgt_log "keeping $CONF_TMP"; else pgt_atexit "rm -rf '$CONF_TMP'"; fi
export TMPDIR="$CONF_TMP"
pgt_tmpdir WORK
chmod 755 "$WORK"

# --- sources -------------------------------------------------------------------------------------
# mirror_clone NAME TAG DEST: clones MIRROR_DIR/NAME at TAG into DEST.
mirror_clone() {
    local name="$1" tag="$2" dest="$3" src="$MIRROR_DIR/$1"
    [ -d "$src/repo" ] && src="$src/repo"
    [ -d "$src" ] || pgt_die "no mirror of $name under $MIRROR_DIR (fetch github:${name/+//} first, or set the *_SRC variable)"
    git clone -q --no-checkout "$src" "$dest" || pgt_die "git clone $src failed"
    git -C "$dest" -c advice.detachedHead=false checkout -q "refs/tags/$tag" || pgt_die "$name has no tag $tag"
}

need_psycopg=0 need_node=0
for s in $CONF_SUITES; do
    if [ "$s" = psycopg ]; then need_psycopg=1; else need_node=1; fi
done
if [ "$need_psycopg" = 1 ]; then
    if [ -z "${PSYCOPG_SRC:-}" ]; then
        PSYCOPG_SRC="$WORK/psycopg"
        mirror_clone psycopg+psycopg "$PSYCOPG_TAG" "$PSYCOPG_SRC"
    fi
    [ -f "$PSYCOPG_SRC/tests/conftest.py" ] || pgt_die "PSYCOPG_SRC=$PSYCOPG_SRC has no tests/conftest.py"
    v="$("$PYTHON" -c 'import psycopg; print(psycopg.__version__)' 2>/dev/null)"
    [ "$v" = "$PSYCOPG_TAG" ] || log "warning: Debian's psycopg is '$v', the tests are $PSYCOPG_TAG"
fi
if [ "$need_node" = 1 ]; then
    if [ -z "${NODEPG_SRC:-}" ]; then
        NODEPG_SRC="$WORK/node-postgres"
        mirror_clone brianc+node-postgres "$NODEPG_TAG" "$NODEPG_SRC"
    fi
    [ -f "$NODEPG_SRC/packages/pg/package.json" ] || pgt_die "NODEPG_SRC=$NODEPG_SRC has no packages/pg"
    if [ -z "${NODE_DEPS:-}" ]; then NODE_DEPS="$WORK/node-deps"; fi
    mkdir -p "$NODE_DEPS"
    if [ ! -x "$NODE_DEPS/node_modules/.bin/mocha" ]; then
        log "npm install into $NODE_DEPS"
        [ -f "$NODE_DEPS/package.json" ] || echo '{"name":"pgfold-conformance-deps","private":true}' >"$NODE_DEPS/package.json"
        # shellcheck disable=SC2086
        (cd "$NODE_DEPS" && npm install --no-audit --no-fund --loglevel=error $NPM_PKGS) >"$WORK/npm.log" 2>&1 ||
            { cat "$WORK/npm.log" >&2; pgt_die "npm install failed"; }
    fi
    ln -sfn "$NODEPG_SRC/packages/pg" "$NODE_DEPS/node_modules/pg"
    ln -sfn "$NODEPG_SRC/packages/pg-cursor" "$NODE_DEPS/node_modules/pg-cursor"
    if [ ! -e "$NODEPG_SRC/node_modules" ] || [ -L "$NODEPG_SRC/node_modules" ]; then
        ln -sfn "$NODE_DEPS/node_modules" "$NODEPG_SRC/node_modules"
    fi
    chmod 600 "$NODEPG_SRC/packages/pg/test/unit/client/pgpass.file"
    MOCHA="$NODE_DEPS/node_modules/.bin/mocha"
fi

# --- the cluster -------------------------------------------------------------------------------
# pg_start's cluster, then what the suites need: more connections, prepared transactions
# (psycopg's TPC tests), the two SCRAM roles of node-postgres's CI with their pg_hba lines first.
log "starting PostgreSQL"
pg_start
pg_as tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# drivers' test suites (tests/conformance)
max_connections = 200
max_prepared_transactions = 10
EOF
{
    echo "host    all       scram_test          127.0.0.1/32   scram-sha-256"
    echo "host    all       scram_unicode_test  127.0.0.1/32   scram-sha-256"
    cat "$PG_DATA/pg_hba.conf"
} >"$WORK/pg_hba.conf"
pg_as tee "$PG_DATA/pg_hba.conf" >/dev/null <"$WORK/pg_hba.conf"
pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOGFILE" -w -t 60 restart >"$WORK/pg_restart.log" 2>&1 ||
    { cat "$WORK/pg_restart.log" "$PG_LOGFILE" >&2; pgt_die "pg_ctl restart failed"; }
DB=postgres psql_direct -v ON_ERROR_STOP=1 -v upw="$SCRAM_PASS_UNICODE" >/dev/null <<'EOF' || pgt_die "cluster setup failed"
SET password_encryption = 'scram-sha-256';
CREATE ROLE scram_test LOGIN PASSWORD 'test4scram';
CREATE ROLE scram_unicode_test LOGIN PASSWORD :'upw';
EOF
log "PostgreSQL $(DB=postgres psql_direct -Atc 'SHOW server_version') on port $PG_PORT ($PG_DATA)"

# fresh_dbs: the suites' databases, new for every run, with no prepared transaction left over.
fresh_dbs() {
    local db gid
    for db in $PSYCOPG_DB $NODEPG_DB; do
        DB=postgres psql_direct -Atc "SELECT gid FROM pg_prepared_xacts WHERE database = '$db'" 2>/dev/null |
            while read -r gid; do
                [ -n "$gid" ] && DB=$db psql_direct -qc "ROLLBACK PREPARED '${gid//\'/\'\'}'" >/dev/null 2>&1
            done
        fresh_db "$db"
    done
}

# --- pgfold --------------------------------------------------------------------------------------
# proxy_up MODE DIR: sets PORT to where the suite connects (PostgreSQL itself for direct).
proxy_up() {
    local mode="$1" dir="$2"
    if [ "$mode" = direct ]; then
        PORT="$PG_PORT"
        return 0
    fi
    PGFOLD_MODE="$mode" pgfold_start
    PORT="$PROXY_PORT"
    echo "$PGFOLD_LOG" >"$dir/pgfold.logpath"
}

# proxy_down MODE DIR: stops pgfold (it must still be running, and exit 0 on SIGTERM); keeps its log.
proxy_down() {
    local mode="$1" dir="$2"
    [ "$mode" = direct ] && return 0
    if ! pgfold_alive "$PGFOLD_PID"; then
        echo "pgfold died during the run" >"$dir/pgfold.problem"
        log "PROBLEM: pgfold ($mode) died during $(basename "$(dirname "$dir")")"
    fi
    curl -fsS --max-time 10 "http://127.0.0.1:$PGFOLD_ADMIN_PORT/metrics" 2>/dev/null |
        grep -v -e '^#' -e '_bucket{' >"$dir/metrics.txt"
    if ! pgfold_stop 2>"$dir/pgfold.stop.err"; then
        echo "pgfold did not exit 0 on SIGTERM: $(head -c 300 "$dir/pgfold.stop.err")" >>"$dir/pgfold.problem"
        log "PROBLEM: pgfold ($mode) did not exit cleanly on SIGTERM"
    fi
    cp "$PGFOLD_LOG" "$dir/pgfold.log" 2>/dev/null
    rm -f "$dir/pgfold.logpath"
}

# bounded SECS DIR OUT ERR [VAR=VALUE ...] CMD ...: CMD in DIR under timeout (SECS, KILL 10 s
# later), stdin /dev/null, stdout to OUT, stderr to ERR ("-": to OUT too). pg.sh's PGPASSFILE
# and PGCONNECT_TIMEOUT are removed: the suites test libpq's defaults. timeout puts CMD in a
# process group of its own, which a Ctrl-C at the terminal does not reach, so CMD runs in the
# background and is waited for with the wait builtin: an INT or TERM of this script is handled
# at once (conf_interrupt stops CMD, the EXIT trap stops pgfold and the cluster).
CONF_CHILD=""
bounded() {
    local secs="$1" dir="$2" out="$3" err="$4" rc
    shift 4
    if [ "$err" = - ]; then
        (cd "$dir" && exec timeout -k 10 "$secs" env -u PGPASSFILE -u PGCONNECT_TIMEOUT "$@") >"$out" 2>&1 </dev/null &
    else
        (cd "$dir" && exec timeout -k 10 "$secs" env -u PGPASSFILE -u PGCONNECT_TIMEOUT "$@") >"$out" 2>"$err" </dev/null &
    fi
    CONF_CHILD=$!
    wait "$CONF_CHILD" && rc=0 || rc=$?
    CONF_CHILD=""
    return "$rc"
}

# shellcheck disable=SC2317  # called from the traps below
conf_interrupt() {
    local i
    if [ -n "$CONF_CHILD" ]; then
        log "interrupted: stopping the suite"
        kill -TERM "$CONF_CHILD" 2>/dev/null
        for ((i = 0; i < 150; i++)); do
            kill -0 "$CONF_CHILD" 2>/dev/null || break
            sleep 0.1
        done
    fi
    exit "$1"
}
trap 'conf_interrupt 130' INT
trap 'conf_interrupt 143' TERM
trap 'conf_interrupt 129' HUP

# node_vars: the environment of node-postgres's tests (as its CI sets it), towards PORT.
node_vars() {
    NODE_VARS=(PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER=postgres PGDATABASE="$NODEPG_DB" PGTESTNOSSL=true
        SCRAM_TEST_PGUSER=scram_test SCRAM_TEST_PGPASSWORD=test4scram
        SCRAM_TEST_PGHOST=127.0.0.1 SCRAM_TEST_PGPORT="$PORT"
        SCRAM_TEST_PGUSER_UNICODE=scram_unicode_test SCRAM_TEST_PGPASSWORD_UNICODE="$SCRAM_PASS_UNICODE")
}

# --- the suites ----------------------------------------------------------------------------------
# run_psycopg DIR [IDS]: the whole suite, or the pytest node ids listed in the file IDS.
run_psycopg() {
    local dir="$1" rc
    local -a targets
    # shellcheck disable=SC2206
    if [ -n "${2:-}" ]; then mapfile -t targets <"$2"; else targets=(${CONF_PYTEST_TARGETS:-tests}); fi
    # shellcheck disable=SC2086
    bounded "$CONF_TIMEOUT_PSYCOPG" "$PSYCOPG_SRC" "$dir/pytest.log" - \
        "$PYTHON" -m pytest "${targets[@]}" \
        -p no:randomly --timeout=60 -k "not leak" --ignore=tests/pool --ignore=tests/crdb \
        --ignore=tests/test_typing.py -v -o junit_family=xunit1 -o cache_dir="$WORK/pytest-cache" \
        --junitxml="$dir/junit.xml" \
        --test-dsn "host=127.0.0.1 port=$PORT user=postgres dbname=$PSYCOPG_DB" ${CONF_PYTEST_ARGS:-} &&
        rc=0 || rc=$?
    echo "$rc" >"$dir/status"
    tail -n 1 "$dir/pytest.log" >&2
}

# run_pg DIR [FILES]: every test file of packages/pg, or those listed in the file FILES.
run_pg() {
    local dir="$1" f rc t0 t1 n=0
    mkdir -p "$dir/logs"
    : >"$dir/files.tsv"
    if [ -n "${2:-}" ]; then
        cp "$2" "$dir/files.list"
    else
        (cd "$NODEPG_SRC/packages/pg" && find test/unit test/integration -name '*-tests.js' | sort) |
            grep -E "${CONF_PG_FILTER:-.}" >"$dir/files.list"
    fi
    node_vars
    while read -r f; do
        t0=$(date +%s%N)
        bounded "$CONF_TIMEOUT_NODE_FILE" "$NODEPG_SRC/packages/pg" "$dir/logs/${f//\//__}.log" - \
            "${NODE_VARS[@]}" node "$f" postgres:// && rc=0 || rc=$?
        t1=$(date +%s%N)
        printf '%s\t%s\t%s\n' "$f" "$rc" "$(((t1 - t0) / 1000000))ms" >>"$dir/files.tsv"
        n=$((n + 1))
    done <"$dir/files.list"
    awk -F'\t' -v n="$n" '$2 != 0 { bad++ } END { printf "%d files, %d failed\n", n, bad }' "$dir/files.tsv" >&2
}

run_mocha() {
    local suite="$1" dir="$2" rc t0
    local -a spec=()
    # Its package.json runs "mocha -r ts-node/register test/**/*.ts". Transpile only: type
    # checking would need @types/node, @types/mocha, @types/pg and @types/chai, and checks
    # nothing about the protocol.
    [ "$suite" = pg-query-stream ] && spec=(-r ts-node/register 'test/**/*.ts')
    t0=$(date +%s)
    node_vars
    bounded "$CONF_TIMEOUT_MOCHA" "$NODEPG_SRC/packages/$suite" "$dir/tap.log" "$dir/stderr.log" \
        "${NODE_VARS[@]}" TS_NODE_TRANSPILE_ONLY=true "$MOCHA" --reporter tap "${spec[@]}" && rc=0 || rc=$?
    echo "$rc $(($(date +%s) - t0))" >"$dir/status"
    grep -E '^# (tests|pass|fail)' "$dir/tap.log" | tr '\n' ' ' >&2
    echo >&2
}

# run_suite SUITE MODE DIR [IDS]: one run, on fresh databases, behind a fresh pgfold.
# IDS: a file of test ids (pytest node ids, pg test files) to run instead of the whole suite;
# the mocha suites always run whole (10 s each).
run_suite() {
    local suite="$1" mode="$2" dir="$3" ids="${4:-}" t0
    rm -rf "$dir"
    mkdir -p "$dir"
    fresh_dbs
    proxy_up "$mode" "$dir"
    log "$suite, $mode${ids:+ (re-run of $(wc -l <"$ids") tests)} (port $PORT)"
    t0=$(date +%s)
    case "$suite" in
    psycopg) run_psycopg "$dir" "$ids" ;;
    pg) run_pg "$dir" "$ids" ;;
    *) run_mocha "$suite" "$dir" ;;
    esac
    proxy_down "$mode" "$dir"
    log "$suite, $mode: $(($(date +%s) - t0)) s"
    pg_alive || pgt_die "PostgreSQL is not answering after $suite ($mode); log: $PG_LOGFILE"
}

mkdir -p "$CONF_OUT"
log "results in $CONF_OUT; pgfold: $PGFOLD_BIN"
for mode in $CONF_MODES; do
    for suite in $CONF_SUITES; do
        rm -rf "$CONF_OUT/$suite/rerun"
        run_suite "$suite" "$mode" "$CONF_OUT/$suite/$mode"
    done
done

# Every difference again, alone: direct and in the mode where it differed, CONF_RERUNS times,
# so that a timing-dependent test (a few psycopg pipeline tests fail now and then even direct
# on a busy 2-core machine) is told apart from a difference pgfold makes every time.
# shellcheck disable=SC2086
"$PYTHON" "$HERE/compare.py" --list "$CONF_OUT" $CONF_SUITES >"$WORK/diffs.tsv" 2>/dev/null
if [ -s "$WORK/diffs.tsv" ] && [ "$CONF_RERUNS" -gt 0 ]; then
    log "re-running $(wc -l <"$WORK/diffs.tsv") difference(s) $CONF_RERUNS times, direct and through pgfold"
    for suite in $CONF_SUITES; do
        awk -F'\t' -v s="$suite" '$1 == s { print $3 }' "$WORK/diffs.tsv" | sort -u >"$WORK/ids.$suite"
        [ -s "$WORK/ids.$suite" ] || continue
        for mode in direct $(awk -F'\t' -v s="$suite" '$1 == s { print $2 }' "$WORK/diffs.tsv" | sort -u); do
            if [ "$mode" = direct ]; then
                cp "$WORK/ids.$suite" "$WORK/ids.$suite.$mode"
            else
                awk -F'\t' -v s="$suite" -v m="$mode" '$1 == s && $2 == m { print $3 }' "$WORK/diffs.tsv" |
                    sort -u >"$WORK/ids.$suite.$mode"
            fi
            for ((n = 1; n <= CONF_RERUNS; n++)); do
                run_suite "$suite" "$mode" "$CONF_OUT/$suite/rerun/$mode.$n" "$WORK/ids.$suite.$mode"
            done
        done
    done
fi
cp "$PG_LOGFILE" "$CONF_OUT/postgres.log" 2>/dev/null

problems=$(find "$CONF_OUT" -name pgfold.problem 2>/dev/null)
# shellcheck disable=SC2086
"$PYTHON" "$HERE/compare.py" "$CONF_OUT" $CONF_SUITES
rc=$?
if [ -n "$problems" ]; then
    echo "pgfold problems:"
    for p in $problems; do echo "  ${p#"$CONF_OUT"/}: $(cat "$p")"; done
    rc=1
fi
echo "results, logs of each run (pytest.log, logs/, tap.log, pgfold.log): $CONF_OUT"
exit $rc
