# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # WL_a_STMTS, WL_SAME, ...: set with printf -v, read by the callers
# tests/workloads/lib.sh: the workloads' shared shell code, for tests/integration/t_workloads.sh
# and tests/workloads/bench.sh. Source it after tests/lib/pg.sh (it uses PYTHON, PG_PORT,
# psql_direct, fresh_db, PGT_CLIENT_TIMEOUT).
#
# A workload is a program with one command line:
#     PROGRAM PORT DB setup                     create the tables, load the data (deterministic)
#     PROGRAM PORT DB ENDPOINT nplus1|optimized run one endpoint
# An endpoint prints what it serves on stdout (that is what is compared) and, as the last line
# on stderr, `WLSTATS {"wall": SECONDS, "sent": N}`: its own wall time (connecting excluded)
# and the statements the client library sent.
#
# Server statements are counted with pg_stat_statements over the workload's own database:
#   WL_STMTS  every statement except transaction control (BEGIN, COMMIT, ROLLBACK, START,
#             SAVEPOINT, RELEASE, ...): the lookups, the batches pgfold sends (they carry the
#             original statement), catalog queries (pgfold's foreign-key read, ORM introspection)
#   WL_TX     transaction-control statements: the client's BEGIN/COMMIT and pgfold's
#             SAVEPOINT/RELEASE around a batch inside a block (same round trip as the batch)

WL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WL_ALL="${WL_ALL:-django sqla rails node pg3}"

# wl_endpoints WORKLOAD: its endpoints, in the order they run.
wl_endpoints() {
    case "$1" in
        django) echo "course_runs catalog enrollments program_enrollments" ;;
        sqla) echo "orders customer_history supplier_catalog" ;;
        rails) echo "posts_index user_profiles tag_pages" ;;
        node) echo "order_page customer_page inventory order_stream" ;;
        pg3) echo "invoices shipments" ;;
        *) return 1 ;;
    esac
}

# wl_about WORKLOAD: one line for the table header.
wl_about() {
    case "$1" in
        django) echo "Django 3.2 + DRF 3.14, psycopg2 (simple protocol, literal keys)" ;;
        sqla) echo "SQLAlchemy 1.4 ORM, psycopg2 (simple protocol), lazy='select', in one transaction" ;;
        rails) echo "ActiveRecord 6.1, ruby-pg (named prepared statements, text formats)" ;;
        node) echo "node-postgres $(wl_node_pg_version) (extended protocol, pipeline mode)" ;;
        pg3) echo "psycopg 3 (extended protocol: prepare=True, binary results, server-side cursor)" ;;
    esac
}

wl_db() { echo "wl_$1"; }

# wl_node_pg_version: the pg module installed under tests/workloads/node.
wl_node_pg_version() {
    node -p "require('$WL_DIR/node/node_modules/pg/package.json').version" 2>/dev/null || echo "?"
}

# wl_prog WORKLOAD: prints the command (words) that runs it.
wl_prog() {
    case "$1" in
        django) echo "$PYTHON $WL_DIR/django/wl_django.py" ;;
        sqla) echo "$PYTHON $WL_DIR/sqla/wl_sqla.py" ;;
        rails) echo "ruby $WL_DIR/rails/wl_rails.rb" ;;
        node) echo "node --no-deprecation $WL_DIR/node/wl_node.js" ;;
        pg3) echo "$PYTHON $WL_DIR/pg3/wl_pg3.py" ;;
    esac
}

# wl_available WORKLOAD: true when its runtime is installed; else prints why not. The node
# workload installs its modules (npm ci, from package-lock.json) when they are missing.
wl_available() {
    case "$1" in
        django) "$PYTHON" -c 'import django, rest_framework, psycopg2' 2>/dev/null ||
            { echo "python3-django / python3-djangorestframework / python3-psycopg2 missing"; return 1; } ;;
        sqla) "$PYTHON" -c 'import sqlalchemy, psycopg2' 2>/dev/null ||
            { echo "python3-sqlalchemy / python3-psycopg2 missing"; return 1; } ;;
        pg3) "$PYTHON" -c 'import psycopg' 2>/dev/null || { echo "python3-psycopg missing"; return 1; } ;;
        rails) ruby -e 'require "active_record"; require "pg"' 2>/dev/null ||
            { echo "ruby-activerecord / ruby-pg missing"; return 1; } ;;
        node)
            command -v node >/dev/null && command -v npm >/dev/null || { echo "node / npm missing"; return 1; }
            if [ ! -f "$WL_DIR/node/node_modules/pg/package.json" ] ||
                [ "$WL_DIR/node/package-lock.json" -nt "$WL_DIR/node/node_modules/.package-lock.json" ]; then
                if ! (cd "$WL_DIR/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error \
                    >"${TMPDIR:-/tmp}/wl-npm.$$.log" 2>&1); then
                    echo "npm ci in $WL_DIR/node failed: $(tail -n 3 "${TMPDIR:-/tmp}/wl-npm.$$.log" | tr '\n' ' ')"
                    rm -f "${TMPDIR:-/tmp}/wl-npm.$$.log"
                    return 1
                fi
                rm -f "${TMPDIR:-/tmp}/wl-npm.$$.log"
            fi ;;
        *) echo "unknown workload $1"; return 1 ;;
    esac
}

# wl_setup WORKLOAD LOG: (re)creates its database and loads it, direct to PostgreSQL.
wl_setup() {
    local w="$1" log="$2" db
    db="$(wl_db "$w")"
    fresh_db "$db"
    # shellcheck disable=SC2046 # wl_prog prints words
    timeout "$PGT_CLIENT_TIMEOUT" $(wl_prog "$w") "$PG_PORT" "$db" setup >"$log" 2>&1 </dev/null
}

# wl_reset: forgets every pg_stat_statements entry.
wl_reset() {
    DB=postgres psql_direct -v ON_ERROR_STOP=1 -Atc 'SELECT pg_stat_statements_reset()' >/dev/null
}

# wl_counts DB: sets WL_STMTS and WL_TX (see the top of this file) for database DB.
wl_counts() {
    local r
    r="$(DB=postgres psql_direct -v ON_ERROR_STOP=1 -At -F ' ' -v db="$1" <<'EOF'
SELECT coalesce(sum(calls) FILTER (WHERE NOT tx), 0), coalesce(sum(calls) FILTER (WHERE tx), 0)
  FROM (SELECT calls, query ~* '^\s*(BEGIN|COMMIT|END|ROLLBACK|ABORT|START\s+TRANSACTION|SAVEPOINT|RELEASE)\y' AS tx
          FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         WHERE d.datname = :'db' AND s.query !~* 'pg_stat_statements') q;
EOF
)" || return 1
    WL_STMTS="${r%% *}" WL_TX="${r##* }"
}

# wl_run WORKLOAD ENDPOINT VARIANT PORT OUT: one run against PORT, counted. stdout to OUT (with
# "[exit N]" appended), stderr to OUT.err. Sets WL_WALL, WL_SENT (from WLSTATS; "?" when
# missing), WL_STMTS, WL_TX.
wl_run() {
    local w="$1" ep="$2" v="$3" port="$4" out="$5" db stats
    db="$(wl_db "$w")"
    wl_reset
    # shellcheck disable=SC2046
    timeout "$PGT_CLIENT_TIMEOUT" $(wl_prog "$w") "$port" "$db" "$ep" "$v" >"$out" 2>"$out.err" </dev/null &&
        echo "[exit 0]" >>"$out" || echo "[exit $?]" >>"$out"
    wl_counts "$db"
    stats="$(sed -n 's/^WLSTATS //p' "$out.err" | tail -n 1)"
    WL_WALL="$(printf '%s' "$stats" | sed -n 's/.*"wall": *\([0-9.eE+-]*\).*/\1/p')"
    WL_SENT="$(printf '%s' "$stats" | sed -n 's/.*"sent": *\([0-9]*\).*/\1/p')"
    WL_WALL="${WL_WALL:-?}" WL_SENT="${WL_SENT:-?}"
}

# wl_three WORKLOAD ENDPOINT DIRECT_PORT PGFOLD_PORT OUTDIR: the three runs of one endpoint:
#   a  the N+1 endpoint against DIRECT_PORT    (PostgreSQL, or a delay relay in front of it)
#   b  the N+1 endpoint against PGFOLD_PORT    (pgfold in rewrite mode)
#   c  the optimized endpoint against DIRECT_PORT
# Outputs in OUTDIR/WORKLOAD.ENDPOINT.{a,b,c}. Sets, per run X in a b c: WL_X_STMTS, WL_X_TX,
# WL_X_WALL, WL_X_SENT; and WL_SAME=1 when the three outputs are byte-identical (else 0).
wl_three() {
    local w="$1" ep="$2" dport="$3" pport="$4" dir="$5" base x
    base="$dir/$w.$ep"
    for x in a b c; do
        case $x in
            a) wl_run "$w" "$ep" nplus1 "$dport" "$base.a" ;;
            b) wl_run "$w" "$ep" nplus1 "$pport" "$base.b" ;;
            c) wl_run "$w" "$ep" optimized "$dport" "$base.c" ;;
        esac
        printf -v "WL_${x}_STMTS" '%s' "$WL_STMTS"
        printf -v "WL_${x}_TX" '%s' "$WL_TX"
        printf -v "WL_${x}_WALL" '%s' "$WL_WALL"
        printf -v "WL_${x}_SENT" '%s' "$WL_SENT"
    done
    WL_SAME=0
    if cmp -s "$base.a" "$base.b" && cmp -s "$base.a" "$base.c"; then WL_SAME=1; fi
}

# wl_diff WORKLOAD ENDPOINT OUTDIR: prints the start of the differences of b and c against a.
wl_diff() {
    local base="$3/$1.$2" x
    for x in b c; do
        cmp -s "$base.a" "$base.$x" && continue
        diff -u --label "a (N+1 direct)" --label "$x ($([ $x = b ] && echo 'N+1 through pgfold' || echo 'optimized direct'))" \
            "$base.a" "$base.$x" | head -n 30
        printf 'stderr of %s: %s\n' "$x" "$(grep -v '^WLSTATS' "$base.$x.err" | head -n 5 | tr '\n' ' ' | cut -c1-400)"
    done
}

# wl_ms SECONDS: "123.4" (milliseconds), or "?".
wl_ms() {
    case "$1" in
        '' | '?') echo "?" ;;
        *) awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }' ;;
    esac
}

# wl_table_header / wl_table_row: the per-endpoint table both the test and the bench print.
# Columns: statements (non-transaction-control; +tx in brackets) and wall ms for a, b, c.
wl_table_header() {
    printf '  %-28s %14s %14s %14s  %9s %9s %9s  %s\n' "endpoint" "stmts direct" "via pgfold" \
        "hand-optim." "ms direct" "ms pgfold" "ms optim" "output"
}
wl_table_row() {
    local name="$1" same="$2"
    printf '  %-28s %14s %14s %14s  %9s %9s %9s  %s\n' "$name" \
        "$WL_a_STMTS (+$WL_a_TX)" "$WL_b_STMTS (+$WL_b_TX)" "$WL_c_STMTS (+$WL_c_TX)" \
        "$(wl_ms "$WL_a_WALL")" "$(wl_ms "$WL_b_WALL")" "$(wl_ms "$WL_c_WALL")" \
        "$([ "$same" = 1 ] && echo identical || echo DIFFERENT)"
}
