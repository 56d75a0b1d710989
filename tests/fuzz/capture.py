#!/usr/bin/python3
"""Capture real PostgreSQL traffic and turn it into the fuzz corpora (tests/fuzz/capture.sh).

    capture.py relay PORT UPSTREAM_PORT DIR   relay 127.0.0.1:PORT -> 127.0.0.1:UPSTREAM_PORT,
                                              writing each connection's byte streams to
                                              DIR/conn-N.bin until SIGTERM
    capture.py corpus DIR OUT                 write OUT/{wire,session,shape,keyval}/ from them
    capture.py fold CDIR SDIR OUT             add OUT/session/ scripts from two relays around
                                              a pgfold in rewrite mode (below)
    capture.py unit UNITDIR OUT               add the unit tests' SQL (shape_corpus.h), key values
                                              (test_keyval.c) and INI files (test_config_load.c)
                                              to OUT/{shape,keyval,config}/, and the hand-written
                                              seeds below to OUT/{config,admin}/

A recorded connection is a sequence of records: direction byte ('C' client, 'S' server),
CLOCK_MONOTONIC in nanoseconds (u64), a u32 length, the bytes of one read (big-endian), in the
order the relay saw them (one thread with select, so the two directions interleave as they did
on the wire). The clock lets two relays' recordings be merged: with pgfold between two relays
(client -> relay -> pgfold -> relay -> PostgreSQL), `capture.py fold` pairs each client
connection with pgfold's upstream connection and writes session scripts in which the server
answers exactly what pgfold sent it, batches included.

The corpus writer cuts the streams into messages and writes, per target, inputs in that
target's own format (see the header comment of each tests/fuzz/fuzz_<target>.c). Files are
named by the hash of their content, so identical inputs collapse and a re-run is stable. Only
Python's standard library is used.
"""
import hashlib
import os
import select
import signal
import socket
import struct
import sys
import time

SSL_CODE, GSS_CODE, CANCEL_CODE = 80877103, 80877104, 80877102

# ---- relay ------------------------------------------------------------------------------------


def relay(port, upstream, out):
    os.makedirs(out, exist_ok=True)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    conns = {}  # socket -> (peer socket, direction, record file)
    n = 0
    while not stop:
        try:
            r, _, _ = select.select([ls] + list(conns), [], [], 0.2)
        except InterruptedError:
            continue
        for s in r:
            if s is ls:
                c, _ = ls.accept()
                u = socket.create_connection(("127.0.0.1", upstream))
                n += 1
                f = open(os.path.join(out, "conn-%04d.bin" % n), "wb")
                conns[c] = (u, b"C", f)
                conns[u] = (c, b"S", f)
                continue
            if s not in conns:
                continue
            peer, d, f = conns[s]
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                for x in (s, peer):
                    conns.pop(x, None)
                    x.close()
                f.close()
                continue
            f.write(d + struct.pack(">QI", time.monotonic_ns(), len(data)) + data)
            peer.sendall(data)
    for s, (_, _, f) in list(conns.items()):
        s.close()
        if not f.closed:
            f.close()


# ---- cutting streams into messages ------------------------------------------------------------


def records(path):
    data = open(path, "rb").read()
    i = 0
    while i + 13 <= len(data):
        d = data[i:i + 1]
        t, n = struct.unpack(">QI", data[i + 1:i + 13])
        yield d, t, data[i + 13:i + 13 + n]
        i += 13 + n


def conversation(path, stamps=False):
    """[(side, kind, payload)] in wire order: side 'C'/'S'; kind 'startup' (untyped packet,
    payload = body after the length word), 'msg' (payload = (type, body)), or 'byte' (the
    server's one-byte answer to SSLRequest/GSSENCRequest). With stamps, each item has a fourth
    member: when the read that completed it arrived (ns)."""
    bufs = {b"C": b"", b"S": b""}
    startup = True
    answers_owed = 0
    out = []
    for d, t, chunk in records(path):
        mark = len(out)
        bufs[d] += chunk
        while True:
            b = bufs[d]
            if d == b"C" and startup:
                if len(b) < 4:
                    break
                (n,) = struct.unpack(">I", b[:4])
                if n < 8 or len(b) < n:
                    break
                body = b[4:n]
                bufs[d] = b[n:]
                out.append(("C", "startup", body))
                (code,) = struct.unpack(">I", body[:4])
                if code in (SSL_CODE, GSS_CODE):
                    answers_owed += 1
                else:
                    startup = False
                continue
            if d == b"S" and answers_owed:
                if not b:
                    break
                out.append(("S", "byte", b[:1]))
                bufs[d] = b[1:]
                answers_owed -= 1
                continue
            if len(b) < 5:
                break
            (n,) = struct.unpack(">I", b[1:5])
            if len(b) < n + 1:
                break
            out.append((d.decode(), "msg", (b[0:1], b[5:n + 1])))
            bufs[d] = b[n + 1:]
        if stamps:
            out[mark:] = [x + (t,) for x in out[mark:]]
    return out


def cstr(b, i):
    j = b.index(b"\0", i)
    return b[i:j], j + 1


# ---- writers, one per target ------------------------------------------------------------------


class Corpus:
    def __init__(self, root, name, limit, max_bytes):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir, exist_ok=True)
        self.limit, self.max_bytes = limit, max_bytes
        self.seen = set()

    def add(self, data):
        if len(data) > self.max_bytes or len(self.seen) >= self.limit:
            return
        h = hashlib.sha1(data).hexdigest()
        if h in self.seen:
            return
        self.seen.add(h)
        with open(os.path.join(self.dir, h[:16]), "wb") as f:
            f.write(data)


def encoded(conv, side):
    """One side's messages as they were on the wire (the server's SSL answers dropped)."""
    out = []
    for s, kind, p in conv:
        if s != side:
            continue
        if kind == "startup":
            out.append(struct.pack(">I", len(p) + 4) + p)
        elif kind == "msg":
            out.append(p[0] + struct.pack(">I", len(p[1]) + 4) + p[1])
    return out


def pieces(items, limit):
    """Consecutive runs of items of at most `limit` bytes (an item alone may be longer)."""
    run, size = [], 0
    for it in items:
        if run and size + len(it) > limit:
            yield run
            run, size = [], 0
        run.append(it)
        size += len(it)
    if run:
        yield run


# A StartupMessage to put in front of a later piece of a client stream.
_PARAMS = b"user\0fuzz\0\0"
STARTUP = struct.pack(">I", 8 + len(_PARAMS)) + struct.pack(">I", 196608) + _PARAMS


def wire_inputs(conv, corpus, n):
    """fuzz_wire: flags byte (bit 0 frontend, bit 2 default database, bits 3-7 chunk size),
    then one side's stream, in pieces of whole messages."""
    for side, base in (("C", 1), ("S", 0)):
        msgs = encoded(conv, side)
        for k, run in enumerate(pieces(msgs, 3000)):
            if k >= 3:  # a few per conversation: many conversations, not one long one
                break
            data = b"".join(run)
            if side == "C" and k > 0:
                data = STARTUP + data
            corpus.add(bytes([base | (((n + k) * 8) & 0xF8)]) + data)


def op_msg(side, t, body):
    """fuzz_session op: header (0x80 = server; kind 0 = message), type, u16 length, body."""
    h = 0x80 if side == "S" else 0x00
    if len(body) > 0xFFFF:
        return None
    return bytes([h]) + t + struct.pack(">H", len(body)) + body


def session_inputs(conv, corpus, n):
    """Scripts for fuzz_session: the conversation from its startup packet, in pieces of about
    3 KB that start and end at a ReadyForQuery 'I' (a later piece starts logged in, flag 0x80),
    across passthrough, rewrite and observe modes and the three consistency modes."""
    ops, cuts = [], [0]
    for side, kind, p in conv:
        if kind == "byte":
            continue  # the session answers SSLRequest itself
        if kind == "startup":
            if len(p) <= 0xFFFF:
                ops.append(bytes([0x60]) + struct.pack(">H", len(p)) + p)
            continue
        o = op_msg(side, p[0], p[1])
        if o is None:
            continue
        ops.append(o)
        if side == "S" and p[0] == b"Z" and p[1] == b"I":
            cuts.append(len(ops))
    if cuts[-1] != len(ops):
        cuts.append(len(ops))
    segs = [ops[a:b] for a, b in zip(cuts, cuts[1:])]
    for k, run in enumerate(pieces([b"".join(x) for x in segs], 3000)):
        if k >= 6:
            break
        body = b"".join(run)[:6000]
        first = k == 0
        mode = (n + k) % 4  # passthrough, rewrite, observe, rewrite
        cons = ((n + k) // 4 % 3) << 2
        corpus.add(bytes([(0 if first else 0x80) | cons | mode, k & 1]) + body)


OID_TABLE = [0, 16, 20, 21, 23, 25, 26, 1043, 1042, 19, 2950, 1700, 705, 3802, 1114, 0xFFFFFFFF]
KEY_OIDS = [20, 23, 21, 26, 25, 1043, 1042, 19, 2950]


def shape_input(sql, oids, n):
    flags = ((n % 9) << 1) | ((n % 8) << 5)
    head = b""
    if oids is not None:
        flags |= 1
        head = bytes([len(oids) % 12])
        for o in oids[:11]:
            head += bytes([OID_TABLE.index(o)]) if o in OID_TABLE else b"\xf0" + struct.pack(">I", o)
    return bytes([flags]) + head + sql


def keyval_input(oid, val):
    return bytes([KEY_OIDS.index(oid)]) + val if oid in KEY_OIDS else None


def sql_inputs(conv, shapes, keyvals, n):
    cols = []
    parsed = {}
    for side, kind, p in conv:
        if kind != "msg":
            continue
        t, body = p
        try:
            if side == "C" and t == b"Q":
                sql, _ = cstr(body, 0)
                shapes.add(shape_input(sql, None, len(shapes.seen)))
            elif side == "C" and t == b"P":
                name, i = cstr(body, 0)
                sql, i = cstr(body, i)
                (k,) = struct.unpack(">h", body[i:i + 2])
                oids = list(struct.unpack(">%dI" % k, body[i + 2:i + 2 + 4 * k]))
                parsed[name] = oids
                shapes.add(shape_input(sql, oids, len(shapes.seen)))
            elif side == "S" and t == b"T":
                (k,) = struct.unpack(">h", body[:2])
                i, cols = 2, []
                for _ in range(k):
                    _, i = cstr(body, i)
                    _, _, typ, _, _, fmt = struct.unpack(">IhIhih", body[i:i + 18])
                    cols.append((typ, fmt))
                    i += 18
            elif side == "S" and t == b"D":
                (k,) = struct.unpack(">h", body[:2])
                i = 2
                for c in range(k):
                    (ln,) = struct.unpack(">i", body[i:i + 4])
                    i += 4
                    if ln < 0:
                        continue
                    if c < len(cols) and len(keyvals.seen) < keyvals.limit:
                        data = keyval_input(cols[c][0], body[i:i + ln])
                        if data:
                            keyvals.add(data)
                    i += ln
        except (ValueError, struct.error):
            continue


def fold(clientdir, serverdir, outdir):
    """Session scripts from pgfold in rewrite mode: the client's messages as the client sent
    them (clientdir: the relay in front of pgfold) and the server's as PostgreSQL sent them to
    pgfold (serverdir: the relay behind it), merged by time. Connections pair up in order: the
    clients ran one at a time, and each opened one upstream connection."""
    session = Corpus(outdir, "session", 1000, 24576)
    session.seen.update(os.listdir(session.dir))
    cs = sorted(f for f in os.listdir(clientdir) if f.startswith("conn-"))
    ss = sorted(f for f in os.listdir(serverdir) if f.startswith("conn-"))
    added = 0
    for n, (cf, sf) in enumerate(zip(cs, ss)):
        items = [x for x in conversation(os.path.join(clientdir, cf), True) if x[0] == "C"]
        items += [x for x in conversation(os.path.join(serverdir, sf), True) if x[0] == "S"]
        items.sort(key=lambda x: x[3])
        ops, last = [], items[0][3] if items else 0
        for side, kind, p, t in items:
            ticks = min(31, (t - last) // 16000000)  # the script's clock moves in 16 ms steps
            last = t
            if kind == "byte":
                continue
            if kind == "startup":
                op = bytes([0x60]) + struct.pack(">H", len(p)) + p
            else:
                op = op_msg(side, p[0], p[1])
                if op is None:
                    break  # a message over 64 KB: end the script here
            ops.append(bytes([op[0] | ticks]) + op[1:])
        # Rewrite mode, window consistency, defaults otherwise: pgfold ran exactly so. One
        # script per connection, cut at about 24 KB (a prefix is still a whole conversation;
        # Django's loops need that much to get past their first, 500-row result).
        script = b""
        for op in ops:
            if len(script) + len(op) > 24000:
                break
            script += op
        # Whether pgfold asked for the foreign keys in this very session (the first one on
        # its database: it runs with one worker), or knew them already.
        asked = any(x[0] == "C" and x[1] == "msg" and x[2][0] == b"Q" and b"pg_constraint" in x[2][1]
                    for x in conversation(os.path.join(serverdir, sf)))
        before = len(session.seen)
        session.add(bytes([0x01, 0 if asked else 1]) + script)
        added += len(session.seen) - before
    print("fold: session +%d inputs" % added)


def corpus(indir, outdir):
    wire = Corpus(outdir, "wire", 150, 4096)
    session = Corpus(outdir, "session", 250, 8192)
    shape = Corpus(outdir, "shape", 300, 4096)
    keyval = Corpus(outdir, "keyval", 200, 512)
    files = sorted(f for f in os.listdir(indir) if f.startswith("conn-"))
    for n, name in enumerate(files):
        conv = conversation(os.path.join(indir, name))
        wire_inputs(conv, wire, n)
        session_inputs(conv, session, n)
        sql_inputs(conv, shape, keyval, n)
    for c in (wire, session, shape, keyval):
        print("%-8s %4d inputs" % (os.path.basename(c.dir), len(c.seen)))


def c_string(lit):
    """The bytes of a C string literal's contents (simple escapes, octal, hex)."""
    src, out, i = lit.encode("utf-8"), bytearray(), 0
    simple = {ord("n"): 10, ord("t"): 9, ord("r"): 13, ord("f"): 12, ord("v"): 11, ord("b"): 8,
              ord("a"): 7, ord("\\"): 92, ord("'"): 39, ord('"'): 34, ord("?"): 63}
    while i < len(src):
        c = src[i]
        i += 1
        if c != 92 or i >= len(src):
            out.append(c)
            continue
        e = src[i]
        if e in simple:
            out.append(simple[e])
            i += 1
        elif e == ord("x"):
            j = i + 1
            while j < len(src) and chr(src[j]) in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(src[i + 1:j], 16) & 255)
            i = j
        elif 48 <= e <= 55:
            j = i
            while j < i + 3 and j < len(src) and 48 <= src[j] <= 55:
                j += 1
            out.append(int(src[i:j], 8) & 255)
            i = j
        else:
            out.append(e)
            i += 1
    return bytes(out)


def unit(unitdir, outdir):
    import re
    lit = r'"((?:[^"\\]|\\.)*)"'
    shape = Corpus(outdir, "shape", 1000, 4096)
    shape.seen.update(os.listdir(shape.dir))
    for m in re.finditer(r"^\s*\{" + lit + r",\s*(EMP|LKP|RD|WR|TX|SS|UT|UNK)\b",
                         open(os.path.join(unitdir, "shape_corpus.h")).read(), re.M):
        shape.add(shape_input(c_string(m.group(1)), None, len(shape.seen)))
    keyval = Corpus(outdir, "keyval", 1000, 512)
    names = {"NAME": 19, "INT8": 20, "INT2": 21, "INT4": 23, "TEXT": 25, "OID": 26,
             "BPCHAR": 1042, "VARCHAR": 1043, "UUID": 2950}
    text = open(os.path.join(unitdir, "parser", "test_keyval.c")).read()
    for m in re.finditer(r"\{KEYVAL_OID_(\w+),\s*\w+,\s*B\(" + lit, text):
        data = keyval_input(names.get(m.group(1), 0), c_string(m.group(2)))
        if data:
            keyval.add(data)
    for m in re.finditer(r"^\s*\{" + lit + r",\s*-?E?\w*,", text, re.M):
        keyval.add(bytes([KEY_OIDS.index(25)]) + c_string(m.group(1)))
    config = Corpus(outdir, "config", 1000, 4096)
    for m in re.finditer(r"^\s*\{" + lit + r",",
                         open(os.path.join(unitdir, "config", "test_config_load.c")).read(), re.M):
        config.add(c_string(m.group(1)))
    for seed in CONFIG_SEEDS:
        config.add(seed)
    root = os.path.dirname(os.path.dirname(os.path.abspath(unitdir)))
    ini = os.path.join(root, "contrib", "pgfold.ini")
    if os.path.exists(ini):
        config.add(open(ini, "rb").read())
    admin = Corpus(outdir, "admin", 1000, 4096)
    for k, seed in enumerate(ADMIN_SEEDS):
        admin.add(bytes([(k * 37) % 256, 0x80 | k if k % 4 == 3 else 0]) + seed)
    print("unit: shape %d, keyval %d, config %d, admin %d inputs" %
          (len(shape.seen), len(keyval.seen), len(config.seen), len(admin.seen)))


# Hand-written seeds: settings the unit tests do not spell, and admin requests as curl,
# Prometheus and a browser send them, plus junk the admin port must refuse.
CONFIG_SEEDS = [
    b"[pgfold]\nlisten = 127.0.0.1:6432,[::1]:6432,/var/run/pgfold:6433\n"
    b"upstream = host=/var/run/postgresql port=5432 dbname=app sslmode=disable\n"
    b"admin_listen = [::1]:9187\nmode = observe\nconsistency = snapshot\n"
    b"max_staleness_ms = 2s\nmax_batch_keys = 50\nmax_batch_bytes = 1GB\n"
    b"session_cache_bytes = 512kB\nmax_client_conn = 10\nworkers = 1\n"
    b"log_level = debug\nlog_format = json\nmax_message_bytes = 1MB\n"
    b"shutdown_timeout_ms = 1min\nconnect_timeout_ms = 500ms\nbuffer_bytes = 64kB\n"
    b"shape_cache_entries = 0\nsource_rows = 1\nsource_results = 1\n"
    b"batch_allow = users, public.orders,0123456789abcdef\nbatch_deny = Audit_Log\n",
    b"[pgfold]\nupstream = postgresql://u@[::1]:5433,db2:5434/app?sslmode=verify-full"
    b"&sslrootcert=/etc/ca.pem&sslcert=/c.pem&sslkey=/k.pem&sslsni=0\n"
    b"client_tls_sslmode = require\nclient_tls_cert_file = /etc/pgfold/cert.pem\n"
    b"client_tls_key_file = /etc/pgfold/key.pem\n",
    b"[pgfold]\nmax_staleness_ms = 18446744073709551615\nmax_batch_bytes = 17179869184TB\n",
    b"[pgfold]\nworkers = -1\nmode = REWRITE\nlog_level = warning\n",
    b"[pgfold]\n" + b"listen = " + b"a" * 300 + b":1\n",
    b"[pgfold]\nbatch_allow = " + b"t," * 600 + b"\n",
]

ADMIN_SEEDS = [
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n",
    b"GET /stats HTTP/1.1\r\nauthorization:bearer   s3cret2\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:6433\r\nUser-Agent: Prometheus/2.45\r\n"
    b"Accept: text/plain;version=0.0.4\r\n\r\n",
    b"GET /health HTTP/1.0\r\n\r\n",
    b"GET /stats?pretty=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /patterns HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\nCookie: a=b\r\n\r\n",
    b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /nowhere HTTP/1.1\n\n",
    b"GET metrics HTTP/1.1\r\n\r\n",
    b"GET /metrics HTTP/2.0\r\n\r\n",
    b"GET /metrics\r\n\r\n",
    b"\r\n\r\nGET /health HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    b"GETGETGETGETGETGETGETGETGET /health HTTP/1.1\r\n\r\n",
    b"GET /" + b"a" * 300 + b" HTTP/1.1\r\n\r\n",
    b"GET /health HTTP/1.1\r\nX-Long: " + b"x" * 600,
    b"\x00\x00\x00\x08\x04\xd2\x16\x2f",
]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "relay":
        relay(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "corpus":
        corpus(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "fold":
        fold(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "unit":
        unit(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
