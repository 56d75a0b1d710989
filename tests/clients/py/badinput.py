#!/usr/bin/python3
"""Bad protocol input against pgfold (or PostgreSQL itself), over raw sockets.

    badinput.py --port P --expect proxy|direct [--db NAME]     every bad-input case
    badinput.py --port P --maxconn N                           max_client_conn = N: client N+1 gets 53300
    badinput.py --port P --pg-port Q [--db NAME]               startup-phase cases: exactly what
                                                               PostgreSQL on port Q does

Every case opens its own connection, misbehaves, and reads until the peer closes (or 10 s pass,
which is a failure for cases that must close). Outcomes are matched against the outcomes the
spec allows: PostgreSQL closes silently on some inputs where pgfold must send ErrorResponse
08P01 (issue 2: "ErrorResponse 08P01 where the protocol allows one, close that connection"),
so --expect says which side we talk to. Throughout, a witness session keeps answering queries
and three half-open connections (silent, half a startup packet, half a message) stay open.
Exit 0 when every case passed.
"""
import argparse
import socket
import struct
import sys
import time

PROTO_3 = 196608
CLOSE_LIMIT_S = 10.0


def startup(user="postgres", db="pgfold_test", version=PROTO_3, extra=None, terminate=True):
    body = struct.pack("!I", version)
    params = [("user", user), ("database", db)] + list((extra or {}).items())
    for k, v in params:
        if v is not None:
            body += k.encode() + b"\0" + v.encode() + b"\0"
    if terminate:
        body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def msg(t, body=b""):
    return t + struct.pack("!I", len(body) + 4) + body


def parse(data):
    """Splits backend bytes into (type, body) pairs; a trailing partial message becomes ('partial', rest).
    A protocol-2 error (PostgreSQL's answer to a 2.0 startup: 'E', text, NUL; no length) is ('E2', text)."""
    out, i = [], 0
    if data[:1] == b"E" and data.endswith(b"\0") and len(data) > 5 and \
            struct.unpack("!I", data[1:5])[0] > len(data) - 1 and b"\0" not in data[1:-1]:
        return [("E2", data[1:-1])]
    while i < len(data):
        if len(data) - i < 5:
            out.append(("partial", data[i:]))
            break
        t = data[i:i + 1]
        (n,) = struct.unpack("!i", data[i + 1:i + 5])
        if n < 4 or len(data) - i - 1 < n:
            out.append(("partial", data[i:]))
            break
        out.append((t.decode("latin1"), data[i + 5:i + 1 + n]))
        i += 1 + n
    return out


def error_fields(body):
    f = {}
    for part in body.split(b"\0"):
        if part:
            f[part[:1].decode()] = part[1:].decode("utf-8", "replace")
    return f


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=CLOSE_LIMIT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send(s, data):
    """Sends, ignoring a peer that already closed (its answer is still in our receive buffer)."""
    try:
        s.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def read_until_close(s, limit=CLOSE_LIMIT_S):
    """Returns (bytes, closed). closed=False means the peer kept the connection open past limit."""
    data, deadline = b"", time.monotonic() + limit
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


def read_until(s, want_type, limit=CLOSE_LIMIT_S):
    """Reads messages until one of type want_type arrives. Returns (messages, ok)."""
    data, deadline = b"", time.monotonic() + limit
    while True:
        msgs = parse(data)
        if any(t == want_type for t, _ in msgs):
            return msgs, True
        if any(t == "E" for t, _ in msgs):
            return msgs, False
        left = deadline - time.monotonic()
        if left <= 0:
            return msgs, False
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return parse(data), False
        if not chunk:
            return parse(data), False
        data += chunk


def login(port, db):
    s = connect(port)
    s.sendall(startup(db=db))
    msgs, ok = read_until(s, "Z")
    if not ok:
        raise RuntimeError("login failed: %r" % describe(msgs))
    return s


def simple_query(s, sql):
    """Runs one simple query; returns the list of first-column values, or raises with the error."""
    s.sendall(msg(b"Q", sql.encode() + b"\0"))
    msgs, ok = read_until(s, "Z")
    errs = [error_fields(b) for t, b in msgs if t == "E"]
    if errs or not ok:
        raise RuntimeError("query %r failed: %s" % (sql, errs or describe(msgs)))
    vals = []
    for t, b in msgs:
        if t == "D":
            (ncol,) = struct.unpack("!h", b[:2])
            (n,) = struct.unpack("!i", b[2:6])
            vals.append(None if n < 0 else b[6:6 + n].decode())
    return vals


def describe(msgs):
    """Short outcome text: message types, with SQLSTATE for errors."""
    parts = []
    for t, b in msgs:
        if t == "E":
            parts.append("E(%s)" % error_fields(b).get("C", "?"))
        elif t == "E2":
            parts.append("E(protocol 2: %r)" % b[:40])
        elif t == "partial":
            parts.append("partial(%d bytes)" % len(b))
        else:
            parts.append(t)
    return " ".join(parts) if parts else "nothing"


class Runner:
    def __init__(self, port, db, expect):
        self.port, self.db, self.expect = port, db, expect
        self.failed = 0
        self.witness = login(port, db)
        self.n = 0

    def witness_ok(self):
        self.n += 1
        try:
            got = simple_query(self.witness, "SELECT %d * 2" % self.n)
            return got == [str(self.n * 2)]
        except Exception as e:  # noqa: BLE001
            print("    witness session broken: %s" % e)
            return False

    def report(self, name, outcome, good, allowed):
        w = self.witness_ok()
        fresh = True
        try:
            s = login(self.port, self.db)
            fresh = simple_query(s, "SELECT 'fresh'") == ["fresh"]
            s.close()
        except Exception as e:  # noqa: BLE001
            print("    new session failed: %s" % e)
            fresh = False
        status = "ok  " if (good and w and fresh) else "FAIL"
        if status == "FAIL":
            self.failed += 1
        print("  %s %-38s got: %s; allowed: %s%s%s" % (
            status, name, outcome, allowed, "" if w else "; WITNESS BROKEN",
            "" if fresh else "; NEW SESSION FAILED"))

    def closes(self, name, payload, errors_ok, error_required=False, logged_in=False):
        """Sends payload (after login if logged_in); the peer must close the connection, with an
        ErrorResponse whose SQLSTATE is in errors_ok (required when error_required)."""
        s = login(self.port, self.db) if logged_in else connect(self.port)
        send(s, payload)
        data, closed = read_until_close(s)
        s.close()
        msgs = parse(data)
        codes = [error_fields(b).get("C") if t == "E" else "E2" for t, b in msgs if t in ("E", "E2")]
        outcome = describe(msgs) + ("" if closed else " (still open after %ds)" % CLOSE_LIMIT_S)
        good = closed and all(c in errors_ok for c in codes) and (codes or not error_required)
        good = good and all(t in ("E", "E2", "N") for t, _ in msgs)
        allowed = "close" + (" after ErrorResponse %s" % "/".join(errors_ok) if error_required
                             else (" (optionally after ErrorResponse %s)" % "/".join(errors_ok)))
        self.report(name, outcome, good, allowed)


def run_cases(port, db, expect):
    r = Runner(port, db, expect)
    proxy = expect == "proxy"

    # Half-open connections, held open through every other case.
    silent = connect(port)
    half_startup = connect(port)
    half_startup.sendall(startup(db=db)[:9])
    half_msg = login(port, db)
    half_msg.sendall(msg(b"Q", b"SELECT 'never finished'\0")[:12])
    many_silent = [connect(port) for _ in range(20)]
    r.report("half-open connections opened", "23 connections idle", True, "others unaffected")

    # Before startup. PostgreSQL closes silently on bad lengths; pgfold may send 08P01.
    r.closes("garbage (HTTP request) before startup",
             b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", ["08P01"])
    r.closes("garbage (negative length) before startup", b"\xde\xad\xbe\xef" + bytes(range(60)), ["08P01"])
    r.closes("startup length 4 (< 8)", struct.pack("!I", 4), ["08P01"])
    r.closes("startup length 7 (< 8)", struct.pack("!I", 7) + b"\0\3\0", ["08P01"])
    r.closes("startup length 0", struct.pack("!I", 0) + b"\0" * 8, ["08P01"])
    r.closes("startup length huge (2^31-1)", struct.pack("!I", 0x7FFFFFFF) + b"\0\3\0\0user\0", ["08P01"])
    r.closes("startup protocol version 9.0", startup(version=9 << 16), ["0A000", "08P01"], True)
    # PostgreSQL answers a 2.0 startup with a protocol-2 error; pgfold may do that, send a
    # protocol-3 error, or just close.
    r.closes("startup protocol version 2.0", startup(version=2 << 16), ["0A000", "08P01", "E2"])
    r.closes("startup without final terminator", startup(terminate=False), ["08P01"], True)
    r.closes("startup without user", startup(user=None), ["28000", "08P01"], True)
    r.closes("cancel request with unknown key", struct.pack("!IIII", 16, 80877102, 12345, 67890), ["08P01"])

    # SSLRequest / GSSENCRequest answered 'N', then a normal startup works.
    for name, code in (("SSLRequest", 80877103), ("GSSENCRequest", 80877104)):
        s = connect(port)
        s.sendall(struct.pack("!II", 8, code))
        s.settimeout(CLOSE_LIMIT_S)
        try:
            answer = s.recv(1)
        except (socket.timeout, ConnectionResetError):
            answer = b""
        if answer == b"G" and name == "GSSENCRequest" and expect == "direct":
            # PostgreSQL built with GSSAPI offers GSS encryption on TCP; pgfold must say N.
            s.close()
            r.report("%s then startup" % name, "answer 'G' (PostgreSQL with GSSAPI)", True,
                     "N through pgfold; G or N direct")
            continue
        ok = answer == b"N"
        if ok:
            s.sendall(startup(db=db))
            msgs, ok = read_until(s, "Z")
            ok = ok and simple_query(s, "SELECT 'after %s'" % name) == ["after %s" % name]
        s.close()
        r.report("%s then startup" % name, "answer %r, login %s" % (answer, "ok" if ok else "failed"),
                 ok, "N then a working session")

    # Protocol 3.5: the server answers NegotiateProtocolVersion ('v') and the session works.
    s = connect(port)
    s.sendall(startup(db=db, version=(3 << 16) | 5, extra={"_pq_.pgfold_test": "1"}))
    msgs, ok = read_until(s, "Z")
    types = [t for t, _ in msgs]
    ok = ok and "v" in types and simple_query(s, "SELECT 'negotiated'") == ["negotiated"]
    s.close()
    r.report("startup protocol 3.5 + _pq_ option", describe(msgs[:3]) + " ...", ok,
             "NegotiateProtocolVersion, then a working session")

    # After a good login. PostgreSQL closes silently on bad lengths (COMMERROR); pgfold must
    # answer ErrorResponse 08P01, which the protocol allows here.
    r.closes("message length 2 (< 4)", b"Q" + struct.pack("!i", 2) + b"xx", ["08P01"], proxy, True)
    r.closes("message length 0", b"Q" + struct.pack("!i", 0), ["08P01"], proxy, True)
    r.closes("message length -1", b"Q" + struct.pack("!i", -1) + b"x" * 16, ["08P01"], proxy, True)
    r.closes("message length 2^31-16 (> 1 GiB limit)", b"Q" + struct.pack("!i", 0x7FFFFFF0) + b"SELECT 1",
             ["08P01"], proxy, True)
    r.closes("message length 1 GiB + 1", b"Q" + struct.pack("!i", (1 << 30) + 1) + b"SELECT 1",
             ["08P01"], proxy, True)
    r.closes("unknown message type 0x01", msg(b"\x01", b"junk"), ["08P01"], True, True)
    r.closes("unknown message type 'z'", msg(b"z"), ["08P01"], True, True)
    r.closes("garbage after login", b"\xff" * 64, ["08P01"], True, True)

    # The half-open connections must not have disturbed anything; now let them go.
    for s in [silent, half_startup, half_msg] + many_silent:
        s.close()
    r.report("half-open connections closed", "closed by client", True, "others unaffected")
    r.witness.close()
    return r.failed


def startup_outcome(port, payload, shut_write=False, limit=2.0):
    """What the peer does with payload before startup: its first answer byte ('N'/'S') if any,
    then every message as (type, severity, SQLSTATE, message text), and whether it closed.
    File, line and routine fields are left out (they name PostgreSQL's source lines)."""
    s = connect(port)
    send(s, payload)
    if shut_write:
        s.shutdown(socket.SHUT_WR)
    data, closed = read_until_close(s, limit)
    s.close()
    lead = ""
    if data[:1] in (b"N", b"S", b"G") and (len(data) == 1 or data[1:2] in (b"E", b"N")):
        lead, data = data[:1].decode(), data[1:]
    msgs = []
    for t, body in parse(data):
        f = error_fields(body) if t in ("E", "N") else {}
        msgs.append((t, f.get("S", ""), f.get("C", ""), f.get("M", ""), f.get("D", "")))
    return lead, msgs, closed


# Startup-phase inputs where pgfold must do exactly what PostgreSQL does (issue 13): close
# without a word where PostgreSQL only logs (COMMERROR), the same FATAL where it sends one.
# Left out: a 2.0 startup (PostgreSQL answers in protocol 2, pgfold in protocol 3), and
# GSSENCRequest (PostgreSQL built with GSSAPI offers it; pgfold never does).
SAME_AS_PG = [
    ("Terminate before the startup packet", b"X\0\0\0\4" + startup(), False),
    ("garbage (HTTP request)", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", False),
    ("negative length", b"\xde\xad\xbe\xef" + bytes(range(60)), False),
    ("length 4", struct.pack("!I", 4), False),
    ("length 7", struct.pack("!I", 7) + b"\0\3\0", False),
    ("length 0", struct.pack("!I", 0) + b"\0" * 8, False),
    ("length huge", struct.pack("!I", 0x7FFFFFFF) + b"\0\3\0\0user\0", False),
    ("protocol 9.0", startup(version=9 << 16), False),
    ("no final terminator", startup(terminate=False), False),
    ("no user", startup(user=None), False),
    ("cancel request, unknown key", struct.pack("!IIII", 16, 80877102, 12345, 67890), False),
    ("cancel request too short", struct.pack("!III", 12, 80877102, 5), False),
    ("cancel request too long", struct.pack("!IIIII", 20, 80877102, 5, 6, 7), False),
    ("SSLRequest with 4 more bytes", struct.pack("!III", 12, 80877103, 0), False),
    ("SSLRequest, Terminate before the answer", struct.pack("!II", 8, 80877103) + b"X\0\0\0\4", False),
    ("SSLRequest, startup before the answer", struct.pack("!II", 8, 80877103) + startup(), False),
    ("half a startup packet, then EOF", startup()[:9], True),
]


def run_same_as_pg(port, pg_port):
    failed = 0
    for name, payload, shut in SAME_AS_PG:
        want = startup_outcome(pg_port, payload, shut)
        got = startup_outcome(port, payload, shut)
        status = "ok  " if got == want else "FAIL"
        failed += got != want
        print("  %s %-42s PostgreSQL: %s" % (status, name, want))
        if got != want:
            print("       %-42s pgfold:     %s" % ("", got))
    return failed


def run_maxconn(port, db, limit):
    failed = 0
    held = [login(port, db) for _ in range(limit)]
    for i, s in enumerate(held):
        print("  client %d: logged in, %s" % (i + 1, simple_query(s, "SELECT 'held %d'" % (i + 1))))
    s = connect(port)
    send(s, startup(db=db))
    data, closed = read_until_close(s)
    s.close()
    msgs = parse(data)
    codes = [error_fields(b).get("C") for t, b in msgs if t == "E"]
    good = closed and codes == ["53300"]
    print("  %s client %d: %s%s (want ErrorResponse 53300, then close)" % (
        "ok  " if good else "FAIL", limit + 1, describe(msgs), "" if closed else " (still open)"))
    failed += not good
    # The held sessions still work; after one leaves, a new client gets in.
    ok = all(simple_query(h, "SELECT 1") == ["1"] for h in held)
    print("  %s held sessions still answer" % ("ok  " if ok else "FAIL"))
    failed += not ok
    held.pop().close()
    ok, deadline = False, time.monotonic() + 10
    while not ok and time.monotonic() < deadline:
        try:
            s = login(port, db)
            ok = simple_query(s, "SELECT 'got in'") == ["got in"]
            held.append(s)
        except Exception:  # noqa: BLE001 - refused while pgfold notices the close; retry
            time.sleep(0.1)
    print("  %s a new client gets in after one leaves" % ("ok  " if ok else "FAIL"))
    failed += not ok
    for h in held:
        h.close()
    return failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", default="pgfold_test")
    ap.add_argument("--expect", choices=["proxy", "direct"], default="proxy")
    ap.add_argument("--maxconn", type=int)
    ap.add_argument("--pg-port", type=int)
    a = ap.parse_args()
    if a.pg_port:
        failed = run_same_as_pg(a.port, a.pg_port)
    elif a.maxconn:
        failed = run_maxconn(a.port, a.db, a.maxconn)
    else:
        failed = run_cases(a.port, a.db, a.expect)
    print("%d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
