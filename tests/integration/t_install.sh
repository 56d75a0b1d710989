#!/usr/bin/env bash
# Packaging (issue 15, item 5): `make install` (contrib/install.mk) into temporary DESTDIRs,
# and the Docker image's scripts run as plain processes (no Docker engine here):
#   1. PREFIX=/usr/local: every file and its mode; ExecStart under PREFIX; a second install
#      keeps an edited pgfold.ini; make uninstall keeps it too. Without DESTDIR (scratch
#      PREFIX and SYSCONFDIR, a stub systemd-sysusers): make install runs systemd-sysusers.
#   2. PREFIX=/usr (unit in systemd.pc's systemdsystemunitdir) and PREFIX=/opt/pgfold.
#   3. systemd-analyze verify of the installed units (any message is a failure), in a root
#      made of the DESTDIR plus this machine's units and /bin/kill; the sandbox's exposure
#      (systemd-analyze security --offline); systemd-sysusers creating the user in a scratch root.
#   4. The installed binary started with the unit's ExecStart (paths under DESTDIR) and the
#      installed sample config, proxying a query; contrib/pgfold-compose.ini loads too.
#   5. contrib/docker-entrypoint.sh: the command line it builds from PGFOLD_* and a config file
#      (with a stub pgfold), then the real pgfold through it (exec: SIGTERM exits 0);
#      contrib/docker-healthcheck.sh against /health (and /ready when this binary has it).
#   6. The demo banner (tests/demo/demo.sh) names only files that exist.
# make is run with -o BIN, so it installs the binary under test and never compiles.
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"
need_env
T="$PGT_OUT"
BIN="$(pgfold_bin)"
BIN_DIR="$(cd "$(dirname "$BIN")" && pwd)"
BIN="$BIN_DIR/$(basename "$BIN")"
ROOT="$PGT_ROOT"

if [ "$PGFOLD_DIRECT" = 1 ]; then
    skip "install (PGFOLD_DIRECT=1: needs a pgfold binary)"
    test_finish
fi

# mk OUT ARGS...: make install/uninstall of the binary under test; output in OUT. Run from
# make test, the parent make's MAKEFLAGS (jobserver, BUILD=build-asan, ...) are not wanted.
mk() {
    local out="$1"
    shift
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$ROOT" -o "$BIN" \
        BUILD="$BIN_DIR" "$@" >"$out" 2>&1
}

# mode_is NAME FILE MODE: a check of a file's permission bits (and that it is a regular file).
mode_is() {
    local got
    got="$(stat -c '%a %F' "$2" 2>/dev/null || echo "missing")"
    if [ "$got" = "$3 regular file" ] || [ "$got" = "$3 directory" ]; then
        ok "$1: $3"
    else
        fail "$1: $2 is '$got', want mode $3"
    fi
}

# unit_line FILE KEY: the value of KEY= in a unit file (last one wins, as in systemd).
unit_line() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

# ---- 1. PREFIX=/usr/local ---------------------------------------------------------------------
D="$T/destdir"
if mk "$T/install1.out" install PREFIX=/usr/local DESTDIR="$D"; then
    ok "make install PREFIX=/usr/local DESTDIR=..."
else
    fail "make install failed"
    sed 's/^/       /' "$T/install1.out" | tail -n 30
    test_finish
fi
check "make install compiled nothing (make -o)" bash -c "! grep -E '(^| )(cc|gcc|clang) ' '$T/install1.out'"
U="$D/usr/local/lib/systemd/system/pgfold.service"
mode_is "binary" "$D/usr/local/bin/pgfold" 755
check "the binary installed is the one under test" cmp "$BIN" "$D/usr/local/bin/pgfold"
mode_is "unit in /usr/local/lib/systemd/system (searched by systemd)" "$U" 644
mode_is "sysusers.d file" "$D/usr/local/lib/sysusers.d/pgfold.conf" 644
mode_is "sample config /etc/pgfold/pgfold.ini" "$D/etc/pgfold/pgfold.ini" 644
mode_is "/etc/pgfold" "$D/etc/pgfold" 755
mode_is "example config under share/doc" "$D/usr/local/share/doc/pgfold/pgfold.ini.example" 644
check "sample config is contrib/pgfold.ini" cmp "$ROOT/contrib/pgfold.ini" "$D/etc/pgfold/pgfold.ini"
want="/usr/local/bin/pgfold -c /etc/pgfold/pgfold.ini"
got="$(unit_line "$U" ExecStart)"
if [ "$got" = "$want" ]; then ok "ExecStart=$got"; else fail "ExecStart is '$got', want '$want'"; fi
check "no @PLACEHOLDER@ left in the unit" bash -c "! grep -n '@[A-Z]*@' '$U'"
check "unit runs as User=pgfold" test "$(unit_line "$U" User)" = pgfold
check "sysusers.d creates user pgfold" grep -Eq '^u +pgfold ' "$D/usr/local/lib/sysusers.d/pgfold.conf"
check "unit is enabled by multi-user.target" test "$(unit_line "$U" WantedBy)" = multi-user.target
# Nothing outside PREFIX and /etc/pgfold.
extra="$(cd "$D" && find . -type f | grep -Ev '^\./(usr/local/|etc/pgfold/)' || true)"
if [ -z "$extra" ]; then ok "nothing installed outside PREFIX and /etc/pgfold"; else fail "files outside PREFIX: $extra"; fi
check "a DESTDIR install does not run systemd-sysusers" bash -c "! grep -q '^systemd-sysusers' '$T/install1.out'"

# An admin's edited pgfold.ini survives a second install (and uninstall).
printf '; edited by the admin\n[pgfold]\nmode = observe\n' >"$D/etc/pgfold/pgfold.ini"
chmod 0640 "$D/etc/pgfold/pgfold.ini"
cp "$D/etc/pgfold/pgfold.ini" "$T/edited.ini"
if mk "$T/install2.out" install PREFIX=/usr/local DESTDIR="$D"; then
    ok "second make install"
else
    fail "second make install failed"
    sed 's/^/       /' "$T/install2.out" | tail -n 20
fi
check "second install keeps the existing pgfold.ini" cmp "$T/edited.ini" "$D/etc/pgfold/pgfold.ini"
mode_is "... and its mode" "$D/etc/pgfold/pgfold.ini" 640
check "second install says it kept pgfold.ini" grep -q "^kept .*/etc/pgfold/pgfold.ini" "$T/install2.out"
if mk "$T/uninstall.out" uninstall PREFIX=/usr/local DESTDIR="$D"; then
    left="$(cd "$D" && find . -type f | sort | tr '\n' ' ')"
    check "make uninstall removes all but pgfold.ini (left: $left)" test "$left" = "./etc/pgfold/pgfold.ini "
    check "make uninstall keeps pgfold.ini unchanged" cmp "$T/edited.ini" "$D/etc/pgfold/pgfold.ini"
else
    fail "make uninstall failed"
    sed 's/^/       /' "$T/uninstall.out" | tail -n 20
fi
mk "$T/install3.out" install PREFIX=/usr/local DESTDIR="$D" || fail "third make install failed"

# Without DESTDIR, as root, make install runs systemd-sysusers on the installed file: checked
# with PREFIX and SYSCONFDIR in scratch folders and a systemd-sysusers stub first on PATH (the
# machine's users are not touched).
LIVE="$T/live"
mkdir -p "$LIVE/stub"
printf '#!/bin/sh\necho "$@" >>"%s/sysusers.calls"\n' "$LIVE" >"$LIVE/stub/systemd-sysusers"
chmod 0755 "$LIVE/stub/systemd-sysusers"
if PATH="$LIVE/stub:$PATH" mk "$T/install-live.out" install PREFIX="$LIVE/prefix" SYSCONFDIR="$LIVE/etc" DESTDIR=; then
    if [ "$(id -u)" = 0 ]; then
        check "no DESTDIR, as root: make install runs systemd-sysusers on the installed pgfold.conf" \
            test "$(cat "$LIVE/sysusers.calls" 2>/dev/null)" = "$LIVE/prefix/lib/sysusers.d/pgfold.conf"
    else
        check "no DESTDIR, not root: make install says to run systemd-sysusers" \
            grep -q "run systemd-sysusers" "$T/install-live.out"
    fi
    check "no DESTDIR: ExecStart under PREFIX, config under SYSCONFDIR" test \
        "$(unit_line "$LIVE/prefix/lib/systemd/system/pgfold.service" ExecStart)" = \
        "$LIVE/prefix/bin/pgfold -c $LIVE/etc/pgfold/pgfold.ini"
else
    fail "make install without DESTDIR (scratch PREFIX) failed"
    sed 's/^/       /' "$T/install-live.out" | tail -n 20
fi

# ---- 2. PREFIX=/usr and PREFIX=/opt/pgfold -----------------------------------------------------
DU="$T/destdir-usr"
unitdir_usr="$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)"
unitdir_usr="${unitdir_usr:-/lib/systemd/system}"
if mk "$T/install-usr.out" install PREFIX=/usr DESTDIR="$DU"; then
    UU="$DU$unitdir_usr/pgfold.service"
    mode_is "PREFIX=/usr: unit in $unitdir_usr (systemd.pc)" "$UU" 644
    mode_is "PREFIX=/usr: binary in /usr/bin" "$DU/usr/bin/pgfold" 755
    check "PREFIX=/usr: ExecStart=/usr/bin/pgfold -c /etc/pgfold/pgfold.ini" \
        test "$(unit_line "$UU" ExecStart)" = "/usr/bin/pgfold -c /etc/pgfold/pgfold.ini"
    mode_is "PREFIX=/usr: sample config in /etc (not /usr/etc)" "$DU/etc/pgfold/pgfold.ini" 644
else
    fail "make install PREFIX=/usr failed"
    sed 's/^/       /' "$T/install-usr.out" | tail -n 20
fi
DO="$T/destdir-opt"
if mk "$T/install-opt.out" install PREFIX=/opt/pgfold DESTDIR="$DO"; then
    check "PREFIX=/opt/pgfold: ExecStart=/opt/pgfold/bin/pgfold ..." \
        test "$(unit_line "$DO/opt/pgfold/lib/systemd/system/pgfold.service" ExecStart)" = \
        "/opt/pgfold/bin/pgfold -c /etc/pgfold/pgfold.ini"
    check "PREFIX=/opt/pgfold: says systemd does not search that unit folder" \
        grep -q "systemd does not search /opt/pgfold/lib/systemd/system" "$T/install-opt.out"
else
    fail "make install PREFIX=/opt/pgfold failed"
    sed 's/^/       /' "$T/install-opt.out" | tail -n 20
fi

# ---- 3. systemd-analyze verify, security; systemd-sysusers -----------------------------------
# verify checks that every command the unit runs exists and every unit it names loads, inside
# --root: a root made of the DESTDIR (pgfold, its unit), this machine's units (sysinit.target,
# network-online.target, ...) and /bin/kill (ExecReload). It exits 0 on unknown keys and bad
# values (it only prints them), so any output at all is a failure.
# vroot DESTDIR DIR: builds that root in DIR.
vroot() {
    local dest="$1" v="$2"
    mkdir -p "$v/usr/lib/systemd" "$v/usr/bin"
    cp -a "$dest/." "$v/"
    cp -a /usr/lib/systemd/system "$v/usr/lib/systemd/"
    [ -e "$v/lib" ] || ln -s usr/lib "$v/lib"
    [ -e "$v/bin" ] || ln -s usr/bin "$v/bin"
    cp "$(type -P kill)" "$v/usr/bin/kill"
}
# verify NAME ROOT UNIT_PATH_IN_ROOT
verify() {
    local out rc
    out="$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no --root="$2" "$3" 2>&1)" && rc=0 || rc=$?
    if [ "$rc" = 0 ] && [ -z "$out" ]; then
        ok "systemd-analyze verify ($1): no message"
    else
        fail "systemd-analyze verify ($1): exit $rc"
        printf '%s\n' "$out" | sed 's/^/       /' | head -n 30
    fi
}
if ! command -v systemd-analyze >/dev/null; then
    skip "systemd-analyze verify: systemd-analyze is not installed (Debian package systemd)"
elif [ ! -d /usr/lib/systemd/system ] || [ ! -e /usr/lib/systemd/system/multi-user.target ]; then
    skip "systemd-analyze verify: this machine has no systemd units (/usr/lib/systemd/system) to verify against"
else
    vroot "$D" "$T/vroot"
    verify "PREFIX=/usr/local" "$T/vroot" /usr/local/lib/systemd/system/pgfold.service
    vroot "$DU" "$T/vroot-usr"
    verify "PREFIX=/usr" "$T/vroot-usr" "$unitdir_usr/pgfold.service"
    # The check is worth something only if it fails on a bad unit: a misspelt key and an
    # ExecStart that is not there.
    sed -e 's/^Restart=on-failure/Restart=on-falure/' -e 's|^ExecStart=/usr/local/bin/|ExecStart=/usr/local/sbin/|' \
        "$U" >"$T/vroot/usr/local/lib/systemd/system/pgfold-bad.service"
    bad="$(systemd-analyze verify --man=no --root="$T/vroot" /usr/local/lib/systemd/system/pgfold-bad.service 2>&1 || true)"
    check "systemd-analyze verify reports a bad Restart= value" grep -q "on-falure" <<<"$bad"
    check "systemd-analyze verify reports a missing ExecStart binary" grep -q "/usr/local/sbin/pgfold" <<<"$bad"
    rm -f "$T/vroot/usr/local/lib/systemd/system/pgfold-bad.service"
    # The sandbox, scored by systemd itself (0 = locked down, 10 = nothing): kept under 2.
    sec="$(systemd-analyze security --offline=yes --root="$T/vroot" /usr/local/lib/systemd/system/pgfold.service 2>&1 |
        sed -n 's/.*Overall exposure level for pgfold.service: \([0-9.]*\).*/\1/p')"
    if [ -n "$sec" ] && awk -v s="$sec" 'BEGIN { exit !(s <= 2.0) }'; then
        ok "systemd-analyze security --offline: exposure $sec (at most 2.0)"
    else
        fail "systemd-analyze security --offline: exposure '${sec:-?}', want at most 2.0"
    fi
fi
if command -v systemd-sysusers >/dev/null; then
    R="$T/sysroot"
    mkdir -p "$R/etc"
    : >"$R/etc/passwd"
    : >"$R/etc/group"
    if systemd-sysusers --root="$R" "$D/usr/local/lib/sysusers.d/pgfold.conf" >"$T/sysusers.out" 2>&1; then
        check "systemd-sysusers creates user pgfold (no login shell)" \
            grep -Eq '^pgfold:x:[0-9]+:[0-9]+:[^:]*:/:/usr/sbin/nologin$' "$R/etc/passwd"
        check "systemd-sysusers creates group pgfold" grep -q '^pgfold:x:' "$R/etc/group"
    else
        fail "systemd-sysusers --root failed"
        sed 's/^/       /' "$T/sysusers.out"
    fi
else
    skip "systemd-sysusers: not installed"
fi

# ---- 4. the installed binary with the unit's command line and the sample config ---------------
# start_bg NAME LOG CMD...: starts CMD in the background; sets BG_PID. The port to wait for
# is WAIT_PORT.
start_bg() {
    local name="$1" log="$2" i
    shift 2
    "$@" >"$log" 2>&1 &
    BG_PID=$!
    pgt_atexit "pgfold_kill $BG_PID"
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$BG_PID" 2>/dev/null; then
            fail "$name exited before listening on $WAIT_PORT"
            sed 's/^/       /' "$log" | tail -n 20
            return 1
        fi
        port_listening "$WAIT_PORT" && return 0
        sleep 0.05
    done
    fail "$name did not listen on $WAIT_PORT within 10 s"
    sed 's/^/       /' "$log" | tail -n 20
    return 1
}
# through NAME PORT: a query through a pgfold on PORT gives what it gives direct.
through() {
    local got
    got="$(psql_at "$2" -Atc "SELECT current_database(), 6 * 7" 2>&1 || true)"
    check "$1: a query through it" test "$got" = "$TEST_DB|42"
}
# stop_bg NAME PID LOG: SIGTERM must end it with exit 0.
stop_bg() {
    if pgfold_stop "$2" "$3" 2>"$T/stop.err"; then
        ok "$1: SIGTERM, exit 0"
    else
        fail "$1: did not exit 0 on SIGTERM"
        sed 's/^/       /' "$T/stop.err" | tail -n 20
    fi
}

# ExecStart with its absolute paths moved under DESTDIR, plus flags for this test's ports
# (flags win over the file: the sample's upstream points at a 5432 that is not ours).
read -r -a execstart <<<"$(unit_line "$U" ExecStart)"
cmd=()
for a in "${execstart[@]}"; do
    case "$a" in /*) cmd+=("$D$a") ;; *) cmd+=("$a") ;; esac
done
WAIT_PORT="$(free_port)"
aport="$(free_port)"
if start_bg "installed pgfold" "$T/installed.log" "${cmd[@]}" --listen "127.0.0.1:$WAIT_PORT" \
    --admin-listen "127.0.0.1:$aport" --upstream "host=127.0.0.1 port=$PG_PORT"; then
    ok "installed pgfold starts with ExecStart's command line and the sample config"
    through "installed pgfold" "$WAIT_PORT"
    stop_bg "installed pgfold" "$BG_PID" "$T/installed.log"
fi
WAIT_PORT="$(free_port)"
if start_bg "pgfold -c contrib/pgfold-compose.ini" "$T/compose-ini.log" "$BIN" -c "$ROOT/contrib/pgfold-compose.ini" \
    --listen "127.0.0.1:$WAIT_PORT" --admin-listen "" --upstream "host=127.0.0.1 port=$PG_PORT"; then
    ok "contrib/pgfold-compose.ini loads"
    stop_bg "pgfold -c contrib/pgfold-compose.ini" "$BG_PID" "$T/compose-ini.log"
fi

# ---- 5. the Docker entrypoint and health check ------------------------------------------------
EP="$ROOT/contrib/docker-entrypoint.sh"
HC="$ROOT/contrib/docker-healthcheck.sh"
STUB="$T/stub"
mkdir -p "$STUB"
printf '#!/bin/sh\nfor a in "$@"; do printf "[%%s]" "$a"; done; echo\n' >"$STUB/pgfold"
chmod 0755 "$STUB/pgfold"
INI="$T/docker.ini"
printf '[pgfold]\nlisten = 127.0.0.1:1\nmode = passthrough\n' >"$INI"
# ep EXPECTED ENV... -- ARGS...: runs the entrypoint with only ENV (and the stub first on PATH);
# compares what the stub printed (stdout only) with EXPECTED.
ep() {
    local want="$1" got
    shift
    local -a envs=() args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    args=("$@")
    got="$(env -i PATH="$STUB:/usr/bin:/bin" "${envs[@]}" sh "$EP" "${args[@]}" 2>"$T/ep.err")" || got="[exit $?]"
    if [ "$got" = "$want" ]; then
        ok "entrypoint ${envs[*]} ${args[*]}: $got"
    else
        fail "entrypoint ${envs[*]} ${args[*]}: got '$got', want '$want'"
        sed 's/^/       /' "$T/ep.err"
    fi
}
IMG=(PGFOLD_LISTEN=0.0.0.0:6432 PGFOLD_ADMIN_LISTEN=0.0.0.0:6433)
ep "[-c][$INI][--upstream][postgresql://db:5432/app][--listen][0.0.0.0:6432][--admin-listen][0.0.0.0:6433]" \
    "${IMG[@]}" PGFOLD_CONFIG="$INI" PGFOLD_UPSTREAM=postgresql://db:5432/app
ep "[-c][$INI][--upstream][host=db port=6543][--listen][0.0.0.0:6432][--admin-listen][0.0.0.0:6433][--mode][observe][--log-level][debug][--workers][2][--mode][rewrite]" \
    "${IMG[@]}" PGFOLD_CONFIG="$INI" "PGFOLD_UPSTREAM=host=db port=6543" PGFOLD_MODE=observe \
    PGFOLD_LOG_LEVEL=debug PGFOLD_WORKERS=2 -- --mode rewrite
ep "[-c][$INI][--admin-listen][0.0.0.0:6433]" PGFOLD_LISTEN= PGFOLD_ADMIN_LISTEN=0.0.0.0:6433 PGFOLD_CONFIG="$INI"
ep "[exit 2]" PGFOLD_CONFIG="$T/nonexistent.ini"
check "entrypoint: a missing PGFOLD_CONFIG is named" grep -q "PGFOLD_CONFIG=$T/nonexistent.ini does not exist" "$T/ep.err"
ep "hello" -- echo hello
if [ ! -e /etc/pgfold/pgfold.ini ]; then
    ep "[--listen][0.0.0.0:6432][--admin-listen][0.0.0.0:6433]" "${IMG[@]}"
    check "entrypoint: no config and no PGFOLD_UPSTREAM is said" grep -q "no /etc/pgfold/pgfold.ini and no PGFOLD_UPSTREAM" "$T/ep.err"
else
    skip "entrypoint without a config file: this machine has /etc/pgfold/pgfold.ini"
fi

# The real pgfold through the entrypoint: the file's mode (passthrough) applies, its listen is
# overridden by PGFOLD_LISTEN, the upstream comes from PGFOLD_UPSTREAM.
REAL="$T/real"
mkdir -p "$REAL"
ln -s "$BIN" "$REAL/pgfold"
WAIT_PORT="$(free_port)"
aport="$(free_port)"
if start_bg "pgfold through the entrypoint" "$T/ep-real.log" env -i PATH="$REAL:/usr/bin:/bin" \
    PGFOLD_CONFIG="$INI" PGFOLD_UPSTREAM="host=127.0.0.1 port=$PG_PORT" \
    PGFOLD_LISTEN="127.0.0.1:$WAIT_PORT" PGFOLD_ADMIN_LISTEN="127.0.0.1:$aport" sh "$EP"; then
    EP_PID="$BG_PID"
    ok "pgfold through the entrypoint listens on PGFOLD_LISTEN (not the file's 127.0.0.1:1)"
    through "pgfold through the entrypoint" "$WAIT_PORT"
    check "mode from the file (passthrough), upstream from PGFOLD_UPSTREAM" \
        grep -q "upstream 127.0.0.1:$PG_PORT, mode passthrough" "$T/ep-real.log"
    hc() { env -i PATH=/usr/bin:/bin PGFOLD_ADMIN_LISTEN="$1" sh "$HC" "$2" >"$T/hc.out" 2>&1; }
    check "pgfold-healthcheck health: 0" hc "127.0.0.1:$aport" health
    check "pgfold-healthcheck health via a wildcard PGFOLD_ADMIN_LISTEN port" hc "0.0.0.0:$aport" health
    closed="$(free_port)"
    hc "127.0.0.1:$closed" health && rc=0 || rc=$?
    check "pgfold-healthcheck health against a closed port: 1 (unhealthy)" test "$rc" = 1
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$aport/ready" || true)"
    if [ "$code" = 404 ]; then
        skip "pgfold-healthcheck ready: this pgfold has no /ready yet (404)"
    else
        check "pgfold-healthcheck ready: 0 (upstream up; /ready said $code)" hc "127.0.0.1:$aport" ready
    fi
    # exec: SIGTERM reaches pgfold itself, which drains and exits 0 (a shell would die of it).
    stop_bg "pgfold through the entrypoint (exec)" "$EP_PID" "$T/ep-real.log"
fi

# ---- 6. the demo banner ----------------------------------------------------------------------
banner="$(grep -E '^echo "' "$ROOT/tests/demo/demo.sh" | head -n 6)"
missing=""
named=""
for f in $(grep -oE '[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+\.[a-z]+' <<<"$banner"); do
    named="$named $f"
    [ -e "$ROOT/$f" ] || missing="$missing $f"
done
if [ -n "$named" ] && [ -z "$missing" ]; then
    ok "demo banner names only files that exist:$named"
else
    fail "demo banner names files that do not exist:${missing:- (none named)}"
fi

test_finish
