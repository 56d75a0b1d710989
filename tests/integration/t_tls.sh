#!/usr/bin/env bash
# TLS on both legs (docs/security.md). The test makes its own CA, a certificate for PostgreSQL
# and one for pgfold (both for the name "localhost"), turns ssl on in the shared test cluster
# for its duration (ALTER SYSTEM + reload; reset at exit), and starts its own pgfolds from INI
# files in the mode this pass runs (PGFOLD_MODE):
#   A. client_tls_sslmode = require, upstream sslmode = verify-full: psql verifying pgfold's
#      certificate, both legs encrypted (pg_stat_ssl), outputs equal to direct; plain-text
#      clients refused with 28000; SCRAM (channel binding off) and md5 through TLS; a 40 MB
#      COPY out and a 5 MB COPY in byte for byte; an N+1 loop folded over TLS; a cancel over
#      TLS; bytes sent after SSLRequest before the handshake refused (CVE-2021-23214).
#   B. client_tls_sslmode = allow, upstream sslmode = require: plain and TLS clients both work.
#   C. upstream verify-full naming 127.0.0.1 (not in the certificate) and verify-ca against
#      another CA: the client gets 08006 naming the certificate failure; pgfold stays up.
#   D. upstream sslmode = require against a server without ssl: refused; prefer: plain.
#   E. a missing certificate file stops pgfold at startup with the file named, exit non-zero.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
MODE="${PGFOLD_MODE:-passthrough}"
FOLD_CLIENTS="$PGT_TESTS_DIR/clients/fold"

if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "TLS (PGFOLD_DIRECT=1: needs pgfolds of its own)"
    test_finish
fi

# --- certificates ---------------------------------------------------------------------------
C="$T/certs"
mkdir -p "$C"
mkca() { # mkca NAME
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pgfold test $1" \
        -keyout "$C/$1.key" -out "$C/$1.crt" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1
}
mkcert() { # mkcert NAME CA: a certificate for DNS:localhost signed by CA
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$C/$1.key" \
        -out "$C/$1.csr" >/dev/null 2>&1
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$C/$1.ext"
    openssl x509 -req -in "$C/$1.csr" -CA "$C/$2.crt" -CAkey "$C/$2.key" -CAcreateserial \
        -days 2 -out "$C/$1.crt" -extfile "$C/$1.ext" >/dev/null 2>&1
}
mkca ca && mkca otherca && mkcert server ca && mkcert proxy ca || pgt_die "openssl failed"
chmod 600 "$C"/*.key
chmod 755 "$T" "$C"
if [ "$(id -u)" = 0 ]; then chown postgres: "$C/server.key" "$C/server.crt"; fi
ok "made a CA and certificates for PostgreSQL and pgfold"

# --- ssl on in the cluster for this test ----------------------------------------------------
ssl_off() {
    psql_direct -qAtc "ALTER SYSTEM RESET ssl" -c "ALTER SYSTEM RESET ssl_cert_file" \
        -c "ALTER SYSTEM RESET ssl_key_file" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}
pgt_atexit ssl_off
psql_direct -v ON_ERROR_STOP=1 -qAt >/dev/null <<EOF || pgt_die "cannot turn ssl on"
ALTER SYSTEM SET ssl_cert_file = '$C/server.crt';
ALTER SYSTEM SET ssl_key_file = '$C/server.key';
ALTER SYSTEM SET ssl = on;
SELECT pg_reload_conf();
EOF
for _ in $(seq 50); do
    [ "$(psql_direct -Atc 'SHOW ssl')" = on ] && break
    sleep 0.1
done
check "cluster ssl = on" test "$(psql_direct -Atc 'SHOW ssl')" = on

# start_tls NAME KEY=VALUE...: a pgfold from an INI file with those keys; sets P (its port).
PIDS=()
start_tls() {
    local name="$1" kv
    shift
    P="$(free_port)"
    {
        echo "[pgfold]"
        echo "listen = 127.0.0.1:$P"
        echo "admin_listen ="
        echo "mode = $MODE"
        for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
    } >"$T/$name.ini"
    pgfold_start_ini "$T/$name.ini" "$P" || pgt_die "pgfold $name would not start"
    PIDS+=("$PGFOLD2_PID:$PGFOLD2_LOG")
}
# cstr PORT [extra]: a connection string to localhost (the name in the certificates)
cstr() { printf 'host=localhost port=%s dbname=%s user=postgres %s' "$1" "$TEST_DB" "${2:-}"; }
q() { timeout "$PGT_CLIENT_TIMEOUT" psql -X -At "$@" 2>&1; }
VERIFY="sslmode=verify-full sslrootcert=$C/ca.crt"

# --- A: require / verify-full ---------------------------------------------------------------
start_tls A "client_tls_sslmode=require" "client_tls_cert_file=$C/proxy.crt" \
    "client_tls_key_file=$C/proxy.key" \
    "upstream=host=localhost port=$PG_PORT sslmode=verify-full sslrootcert=$C/ca.crt"
A="$P"
SSLQ="SELECT ssl, version IS NOT NULL FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
out="$(q "$(cstr "$A" "$VERIFY")" -c "$SSLQ")"
check "A: psql verify-full to pgfold, upstream leg encrypted (pg_stat_ssl: $out)" test "$out" = "t|t"
D="$(q "$(cstr "$PG_PORT" "sslmode=require")" -c "SELECT count(*), sum(g), md5(string_agg(g::text, ',')) FROM generate_series(1, 5000) g")"
Pv="$(q "$(cstr "$A" "$VERIFY")" -c "SELECT count(*), sum(g), md5(string_agg(g::text, ',')) FROM generate_series(1, 5000) g")"
check "A: same answer direct and through pgfold" test "$D" = "$Pv"
out="$(q "$(cstr "$A" "sslmode=disable")" -c "SELECT 1" || true)"
check "A: a plain-text client is refused ($out)" grep -q "SSL required" <<<"$out"
out="$(PGPASSWORD="$SCRAM_PASSWORD" q "host=localhost port=$A dbname=$TEST_DB user=$SCRAM_USER $VERIFY channel_binding=disable" -c "SELECT current_user" || true)"
check "A: SCRAM through TLS on both legs, channel_binding=disable ($out)" test "$out" = "$SCRAM_USER"
out="$(PGPASSWORD="$SCRAM_PASSWORD" q "host=localhost port=$A dbname=$TEST_DB user=$SCRAM_USER $VERIFY channel_binding=require" -c "SELECT 1" || true)"
check "A: channel_binding=require is refused by libpq itself (pgfold offers no -PLUS)" \
    grep -q "server did not offer an authentication method that supports channel binding" <<<"$out"
out="$(PGPASSWORD="$MD5_PASSWORD" q "host=localhost port=$A dbname=$TEST_DB user=$MD5_USER $VERIFY" -c "SELECT current_user" || true)"
check "A: md5 through TLS ($out)" test "$out" = "$MD5_USER"
# The login line names the TLS of each leg (issue 15): both encrypted here.
check "A: the login line says client_tls=TLSv1.x server_tls=TLSv1.x" grep -qE \
    "login: .* user=$MD5_USER database=$TEST_DB .*client_tls=TLSv1\.[23] server_tls=TLSv1\.[23]\$" "${PIDS[0]#*:}"

# Big transfers: TLS records split and joined across reads in both directions.
psql_direct -qc "DROP TABLE IF EXISTS tls_big" -c "CREATE TABLE tls_big AS SELECT g, repeat(md5(g::text), 6) AS t FROM generate_series(1, 200000) g" >/dev/null
d="$(q "$(cstr "$PG_PORT" "sslmode=require")" -c "COPY tls_big TO STDOUT" | md5sum)"
p="$(q "$(cstr "$A" "$VERIFY")" -c "COPY tls_big TO STDOUT" | md5sum)"
check "A: 40 MB COPY out, same bytes" test "$d" = "$p"
q "$(cstr "$PG_PORT" "sslmode=require")" -c "COPY (SELECT * FROM tls_big WHERE g <= 25000) TO STDOUT" >"$T/in.copy"
psql_direct -qc "DROP TABLE IF EXISTS tls_in" -c "CREATE TABLE tls_in (g int, t text)" >/dev/null
q "$(cstr "$A" "$VERIFY")" -c "\\copy tls_in FROM '$T/in.copy'" >/dev/null
out="$(psql_direct -Atc "SELECT count(*), md5(string_agg(g || t, ',' ORDER BY g)) = (SELECT md5(string_agg(g || t, ',' ORDER BY g)) FROM tls_big WHERE g <= 25000) FROM tls_in")"
check "A: 5 MB COPY in through TLS arrived intact ($out)" test "$out" = "25000|t"
psql_direct -qc "DROP TABLE tls_big" -c "DROP TABLE tls_in" >/dev/null

# An N+1 loop over TLS (folded in rewrite mode): same output as direct.
fresh_db tls_loops
if py "$FOLD_CLIENTS/sqla_loops.py" --port "$PG_PORT" --db tls_loops setup >"$T/setup.out" 2>&1; then
    PGSSLMODE=require py "$FOLD_CLIENTS/p3_loops.py" --port "$PG_PORT" --db tls_loops forward unnamed >"$T/loop.direct" 2>&1 || true
    stmt_reset
    PGSSLMODE=require PGSSLROOTCERT="$C/ca.crt" py "$FOLD_CLIENTS/p3_loops.py" --port "$A" --db tls_loops forward unnamed >"$T/loop.pgfold" 2>&1 || true
    n="$(stmt_count '\m(question|choice)\M')"
    compare "A: psycopg 3 forward loop over TLS" "$T/loop.direct" "$T/loop.pgfold"
    note "A: loop statements on the tables through pgfold ($MODE): $n (direct 501)"
    if [ "$MODE" = rewrite ]; then
        check "A: the loop folded over TLS ($n statements)" test "$n" -le 3
    fi
else
    fail "A: loop setup failed"
    tail -n 20 "$T/setup.out"
fi

# A cancel (a plain CancelRequest to pgfold, relayed over TLS) stops a query running over TLS.
out="$(PGSSLMODE=require py - "$A" "$TEST_DB" <<'EOF' 2>&1
import sys, threading, time, psycopg
conn = psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), dbname=sys.argv[2], user="postgres",
                       autocommit=True)
threading.Timer(0.5, conn.cancel).start()
t0 = time.time()
try:
    conn.execute("SELECT pg_sleep(20)")
    print("not cancelled")
except psycopg.errors.QueryCanceled:
    print("cancelled", "fast" if time.time() - t0 < 15 else "slow")
print(conn.execute("SELECT 42").fetchone()[0])
EOF
)" || true
check "A: cancel over TLS ($(echo $out))" test "$(echo $out)" = "cancelled fast 42"

# Plain bytes after SSLRequest and before the handshake: refused, never read as a startup packet.
out="$(py - "$A" <<'EOF' 2>&1
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
startup = struct.pack("!i", 196608) + b"user\0postgres\0\0"
s.sendall(struct.pack("!ii", 8, 80877103) + struct.pack("!i", len(startup) + 4) + startup)
got = b""
try:
    while True:
        b = s.recv(100)
        if not b:
            break
        got += b
except ConnectionResetError:
    pass  # pgfold closed with our unread startup packet still queued: a reset
print("S then error" if got[:2] == b"SE" and b"received unencrypted data" in got else repr(got))
EOF
)" || true
check "A: data after SSLRequest: 'S', then 08P01, then close ($out)" test "$out" = "S then error"

# --- B: allow / upstream require (no verification) ------------------------------------------
start_tls B "client_tls_sslmode=allow" "client_tls_cert_file=$C/proxy.crt" \
    "client_tls_key_file=$C/proxy.key" "upstream=host=127.0.0.1 port=$PG_PORT sslmode=require"
out="$(q "$(cstr "$P" "sslmode=disable")" -c "$SSLQ")"
check "B: plain client, encrypted upstream ($out)" test "$out" = "t|t"
out="$(q "$(cstr "$P" "$VERIFY")" -c "SELECT 1")"
check "B: TLS client ($out)" test "$out" = 1

# --- C: certificate checks towards the server -----------------------------------------------
start_tls C1 "upstream=host=127.0.0.1 port=$PG_PORT sslmode=verify-full sslrootcert=$C/ca.crt"
out="$(q "$(cstr "$P" "sslmode=disable")" -c "SELECT 1" || true)"
check "C: verify-full with a host the certificate does not name is refused ($out)" \
    grep -q "certificate verify failed" <<<"$out"
start_tls C2 "upstream=host=localhost port=$PG_PORT sslmode=verify-ca sslrootcert=$C/otherca.crt"
out="$(q "$(cstr "$P" "sslmode=disable")" -c "SELECT 1" || true)"
check "C: verify-ca against another CA is refused ($out)" grep -q "certificate verify failed" <<<"$out"
start_tls C3 "upstream=host=127.0.0.1 port=$PG_PORT sslmode=verify-ca sslrootcert=$C/ca.crt"
out="$(q "$(cstr "$P" "sslmode=disable")" -c "SELECT 1" || true)"
check "C: verify-ca does not check the host name ($out)" test "$out" = 1

# --- D: a server without ssl -----------------------------------------------------------------
ssl_off
for _ in $(seq 50); do
    [ "$(psql_direct -Atc 'SHOW ssl')" = off ] && break
    sleep 0.1
done
start_tls D1 "upstream=host=127.0.0.1 port=$PG_PORT sslmode=require"
out="$(q "$(cstr "$P" "sslmode=disable")" -c "SELECT 1" || true)"
check "D: sslmode=require against a server without ssl is refused ($out)" \
    grep -q "server does not support SSL" <<<"$out"
start_tls D2 "upstream=host=127.0.0.1 port=$PG_PORT sslmode=prefer"
out="$(q "$(cstr "$P" "sslmode=disable")" -c "$SSLQ" || true)"
check "D: sslmode=prefer falls back to plain text ($out)" test "$out" = "f|f"

# --- E: bad certificate files stop the start -------------------------------------------------
P="$(free_port)"
set +e
timeout 20 "$(pgfold_bin)" --listen "127.0.0.1:$P" --admin-listen "" \
    --upstream "host=127.0.0.1 port=$PG_PORT" -c /dev/stdin >"$T/e.out" 2>&1 <<EOF
[pgfold]
client_tls_sslmode = require
client_tls_cert_file = $C/nonexistent.crt
client_tls_key_file = $C/proxy.key
EOF
rc=$?
set -e
check "E: a missing certificate stops pgfold (exit $rc): $(tail -n1 "$T/e.out")" \
    grep -q "nonexistent.crt" "$T/e.out"
check "E: exit status 2 (configuration error)" test "$rc" = 2

for pl in "${PIDS[@]}"; do
    if pgfold_stop "${pl%%:*}" "${pl#*:}" 2>>"$T/stop.err"; then :; else fail "pgfold ${pl%%:*} did not exit 0"; fi
done
ok "every TLS pgfold exited 0 on SIGTERM"
test_finish
