#!/usr/bin/python3
"""Client for pgfold's admin port, used by tests/integration/t_admin.sh.

    adminhttp.py get --port P --path /x [--out FILE]
        One GET over a raw socket. Prints "STATUS CONTENT-TYPE" on stdout and writes the body to
        FILE. Exit 1 when no valid HTTP response came back.
    adminhttp.py metrics --port P [--out FILE]
        GET /metrics, parse it strictly as Prometheus text format 0.0.4 (below), check the
        contract's names and types, and print one "series value" line per sample, sorted
        (series = name or name{label="value",...} with labels sorted). Exit 1 with the problems
        on stderr if the text does not parse or breaks a rule.
    adminhttp.py jget FILE EXPR
        Loads FILE as JSON into d and prints the value of the Python expression EXPR
        (a JSON dump for lists and dicts, str() otherwise). Exit 1 if FILE is not JSON.
    adminhttp.py abuse --port P --sql-port Q --db DB
        Malformed, oversized, half-sent and many concurrent junk requests. Prints one
        "ok ..." or "FAIL ..." line per case; exit 1 if any failed.
    adminhttp.py flood --port P --sql-port Q --db DB [--conns N]
        Holds N idle half-sent admin connections (more than a pgfold started with a low
        RLIMIT_NOFILE has descriptors), checks SQL through pgfold and /health while they are
        held and after they are closed. Same output as abuse.
    adminhttp.py conns --port P --sql-port Q --db DB [--n N]
        Opens N SQL sessions through pgfold and prints pgfold_client_connections meanwhile.

Only the standard library and psycopg2 (Debian's python3-psycopg2) are used.
"""
import argparse
import json
import math
import os
import re
import socket
import sys
import threading
import time

TIMEOUT = 10.0

# ---- HTTP over a raw socket -------------------------------------------------------------------


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def read_all(s):
    """Reads until EOF. Returns (bytes, error string or None). A reset after some bytes counts
    as the end of the response (pgfold closes right after writing)."""
    chunks = []
    err = None
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            err = "timed out after %.0fs waiting for the response" % s.gettimeout()
            break
        except ConnectionResetError:
            err = "connection reset"
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks), err


def parse_response(raw):
    """(status, headers dict lowercased, body) or None when raw is not an HTTP response."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"^HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
    if not m:
        return None
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers and int(headers["content-length"]) != len(body):
        return None
    return int(m.group(1)), headers, body


def request(port, data, shut_wr=False, timeout=TIMEOUT):
    """Sends data, reads the answer. Returns (status or None, headers, body, error)."""
    s = connect(port)
    s.settimeout(timeout)
    try:
        try:
            s.sendall(data)
            if shut_wr:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError) as e:
            # pgfold may answer (413) and close while we are still sending: read what came.
            raw, _ = read_all(s)
            r = parse_response(raw)
            if r:
                return r[0], r[1], r[2], None
            return None, {}, b"", "send failed: %s" % e
        raw, err = read_all(s)
    finally:
        s.close()
    r = parse_response(raw)
    if r is None:
        return None, {}, raw, err or ("not an HTTP response: %r" % raw[:80] if raw else "closed, no response")
    return r[0], r[1], r[2], None


def get(port, path):
    return request(port, ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())


def cmd_get(a):
    status, headers, body, err = get(a.port, a.path)
    if status is None:
        print("no response: %s" % err, file=sys.stderr)
        return 1
    if a.out:
        with open(a.out, "wb") as f:
            f.write(body)
    print(status, headers.get("content-type", "-"))
    return 0


# ---- Prometheus text format 0.0.4 ---------------------------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$" % NAME)
LABEL_RE = re.compile(r'\s*(%s)\s*=\s*"((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)' % LABEL)
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")

# The names issue 5 makes a contract, with their types.
CONTRACT = {
    "pgfold_client_connections": "gauge",
    "pgfold_client_statements_total": "counter",
    "pgfold_server_statements_total": "counter",
    "pgfold_batches_total": "counter",
    "pgfold_batch_keys_total": "counter",
    "pgfold_batch_keys_used_total": "counter",
    "pgfold_batch_answers_total": "counter",
    "pgfold_repeat_answers_total": "counter",
    "pgfold_fallbacks_total": "counter",
    "pgfold_patterns": "gauge",
    "pgfold_roundtrips_saved_total": "counter",
}


def parse_value(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.match(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", s):
        raise ValueError("bad value %r" % s)
    return float(s)


def parse_labels(s):
    labels = {}
    pos = 0
    while pos < len(s):
        m = LABEL_RE.match(s, pos)
        if not m:
            raise ValueError("bad label set {%s}" % s)
        k = m.group(1)
        v = m.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        if k in labels:
            raise ValueError("label %s twice" % k)
        labels[k] = v
        pos = m.end()
        if m.group(3) == "" and pos < len(s):
            raise ValueError("bad label set {%s}" % s)
    return labels


def family_of(name, types):
    """The family a sample name belongs to (histogram/summary suffixes stripped)."""
    if name in types:
        return name
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) in ("histogram", "summary"):
            return name[: -len(suf)]
    return None


def parse_prometheus(text):
    """Returns (samples: list of (name, labels, value), types, problems)."""
    problems = []
    types, helps = {}, {}
    samples = []
    seen_series = set()
    finished = set()  # families whose samples ended (samples of a family must be contiguous)
    current = None
    if not text.endswith("\n"):
        problems.append("the text does not end with a newline")
    for no, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not re.match("^%s$" % NAME, parts[2]):
                    problems.append("line %d: bad %s line: %r" % (no, parts[1], line))
                    continue
                name = parts[2]
                if parts[1] == "TYPE":
                    t = parts[3].strip() if len(parts) > 3 else ""
                    if t not in TYPES:
                        problems.append("line %d: unknown type %r" % (no, t))
                    if name in types:
                        problems.append("line %d: second TYPE for %s" % (no, name))
                    if any(family_of(n, {name: t}) == name for n, _, _ in samples):
                        problems.append("line %d: TYPE for %s after its samples" % (no, name))
                    types[name] = t
                else:
                    if name in helps:
                        problems.append("line %d: second HELP for %s" % (no, name))
                    helps[name] = parts[3] if len(parts) > 3 else ""
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            problems.append("line %d: not a sample line: %r" % (no, line))
            continue
        name, lab, val = m.group(1), m.group(2), m.group(3)
        try:
            labels = parse_labels(lab) if lab else {}
            value = parse_value(val)
        except ValueError as e:
            problems.append("line %d: %s" % (no, e))
            continue
        fam = family_of(name, types) or name
        if fam not in types:
            problems.append("line %d: sample %s has no TYPE line before it" % (no, name))
        if fam != current:
            if fam in finished:
                problems.append("line %d: samples of %s are not contiguous" % (no, fam))
            if current is not None:
                finished.add(current)
            current = fam
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            problems.append("line %d: duplicate series %s" % (no, series(name, labels)))
        seen_series.add(key)
        if types.get(fam) == "counter" and not value >= 0:
            problems.append("line %d: counter %s is %s" % (no, name, val))
        samples.append((name, labels, value))
    problems += check_histograms(samples, types)
    return samples, types, problems


def check_histograms(samples, types):
    problems = []
    for fam, t in types.items():
        if t != "histogram":
            continue
        buckets = [(l, v) for n, l, v in samples if n == fam + "_bucket"]
        counts = [v for n, l, v in samples if n == fam + "_count"]
        sums = [v for n, l, v in samples if n == fam + "_sum"]
        if not buckets or len(counts) != 1 or len(sums) != 1:
            problems.append("histogram %s: want buckets, one _sum and one _count" % fam)
            continue
        prev_le, prev_v = -math.inf, 0
        for l, v in buckets:
            if set(l) != {"le"}:
                problems.append("histogram %s: bucket labels %s" % (fam, l))
                continue
            le = parse_value(l["le"])
            if le <= prev_le:
                problems.append("histogram %s: le %s not increasing" % (fam, l["le"]))
            if v < prev_v:
                problems.append("histogram %s: bucket le=%s below the previous one" % (fam, l["le"]))
            prev_le, prev_v = le, v
        if prev_le != math.inf:
            problems.append("histogram %s: no le=\"+Inf\" bucket" % fam)
        elif prev_v != counts[0]:
            problems.append("histogram %s: +Inf bucket %s != _count %s" % (fam, prev_v, counts[0]))
        if sums[0] < 0:
            problems.append("histogram %s: negative _sum" % fam)
    return problems


def series(name, labels):
    if not labels:
        return name
    return "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in sorted(labels.items())))


def fmt(v):
    if math.isfinite(v) and v == int(v) and abs(v) < 2**63:
        return str(int(v))
    return {math.inf: "+Inf", -math.inf: "-Inf"}.get(v, repr(v))


def cmd_metrics(a):
    status, headers, body, err = get(a.port, "/metrics")
    if status != 200:
        print("GET /metrics: %s" % (status or err), file=sys.stderr)
        return 1
    ctype = headers.get("content-type", "")
    text = body.decode("utf-8")
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    samples, types, problems = parse_prometheus(text)
    if not re.match(r"^text/plain(;|$)", ctype) or "version=0.0.4" not in ctype:
        problems.append("content type %r, want text/plain; version=0.0.4" % ctype)
    for name, t in CONTRACT.items():
        if types.get(name) != t:
            problems.append("%s: TYPE %s, want %s" % (name, types.get(name), t))
        elif not any(family_of(n, types) == name for n, _, _ in samples):
            problems.append("%s: no sample" % name)
    hists = [f for f, t in types.items() if t == "histogram"]
    if len(hists) < 2:
        problems.append("want two latency histograms (client statements, upstream), have %s" % hists)
    for name, labels, value in sorted(samples, key=lambda s: series(s[0], s[1])):
        print("%s %s" % (series(name, labels), fmt(value)))
    for h in sorted(hists):
        print("# histogram %s" % h)
    if problems:
        for p in problems:
            print("metrics: %s" % p, file=sys.stderr)
        return 1
    return 0


# ---- jget ---------------------------------------------------------------------------------------


def cmd_jget(a):
    try:
        with open(a.file) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        print("%s: not JSON: %s" % (a.file, e), file=sys.stderr)
        return 1
    v = eval(a.expr, {"d": d, "re": re, "any": any, "all": all, "len": len, "sum": sum})
    print(json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v)
    return 0


# ---- abuse --------------------------------------------------------------------------------------

RESULTS = []


def result(ok, what):
    RESULTS.append(ok)
    print("%s %s" % ("ok" if ok else "FAIL", what), flush=True)


def expect(port, what, data, want, timeout=TIMEOUT):
    status, _, body, err = request(port, data, timeout=timeout)
    got = status if status is not None else "no response (%s)" % err
    result(status in want, "%s -> %s (want %s)" % (what, got, " or ".join(map(str, want))))


def expect_big(port, what, data):
    """Oversized: 413, or the connection closed/reset without a response. Never a hang, never
    a 200. Binary junk with a NUL byte may also get 400 as soon as the NUL arrives: no HTTP
    head contains one, so pgfold need not wait for 8 KiB to refuse it."""
    status, _, _, err = request(port, data)
    ok = (413, 400) if b"\0" in data else (413,)
    if status is not None:
        result(status in ok, "%s -> %s (want %s or the connection closed)"
               % (what, status, " or ".join(map(str, ok))))
    else:
        result(err is None or "reset" in err or "closed" in err or "send failed" in err,
               "%s -> connection closed without a response (%s)" % (what, err or "EOF"))


def health_ok(port, what):
    status, _, body, err = get(port, "/health")
    result(status == 200, "%s: GET /health -> %s" % (what, status if status else err))


def sql_ok(sql_port, db, what, timeout=10):
    import psycopg2
    try:
        c = psycopg2.connect(host="127.0.0.1", port=sql_port, dbname=db, user="postgres",
                             connect_timeout=timeout)
        try:
            cur = c.cursor()
            cur.execute("SELECT count(*), sum(g) FROM generate_series(1, 100) g")
            row = cur.fetchone()
        finally:
            c.close()
        result(row == (100, 5050), "%s: SQL through pgfold -> %s" % (what, row))
    except Exception as e:  # noqa: BLE001 - report whatever broke
        result(False, "%s: SQL through pgfold failed: %s" % (what, str(e).strip()))


def cmd_abuse(a):
    port = a.port
    # Methods other than GET.
    for m in ("POST", "PUT", "DELETE", "HEAD", "OPTIONS", "get"):
        body = "x=1" if m in ("POST", "PUT") else ""
        req = "%s /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (m, len(body), body)
        expect(port, "%s /metrics" % m, req.encode(), [405])
    # Bad request lines.
    for what, data in [
        ("garbage line", b"GARBAGE\r\n\r\n"),
        ("method only", b"GET\r\n\r\n"),
        ("no version", b"GET /health\r\n\r\n"),
        ("path without /", b"GET health HTTP/1.1\r\n\r\n"),
        ("wrong protocol", b"GET /health FTP/1.0\r\n\r\n"),
        ("empty head", b"\r\n\r\n"),
        ("binary junk", bytes(range(1, 256)).replace(b"\n", b"") + b"\r\n\r\n"),
    ]:
        expect(port, "bad request (%s)" % what, data, [400])
    # A NUL byte in the head (a TLS ClientHello has several): still a complete, malformed
    # request, so it wants its 400 rather than a wait for more bytes.
    for what, data in [
        ("NUL in a header", b"GET /health HTTP/1.1\r\nX-A: a\x00b\r\n\r\n"),
        ("TLS ClientHello", bytes.fromhex("16030100a5010000a10303") + b"\x01" * 64 + b"\r\n\r\n"),
    ]:
        expect(port, "bad request (%s)" % what, data, [400], timeout=3)
    # Unknown paths (a query string is ignored on known ones).
    for p in ("/nope", "/metricsX", "/metrics/", "/../../etc/passwd", "/%00", "/stats.json"):
        expect(port, "GET %s" % p, ("GET %s HTTP/1.1\r\n\r\n" % p).encode(), [404])
    expect(port, "GET /health?x=1", b"GET /health?x=1 HTTP/1.1\r\n\r\n", [200])
    expect(port, "GET /health HTTP/1.0, LF line ends", b"GET /health HTTP/1.0\n\n", [200])
    # Sizes: just under 8 KiB is served; over 8 KiB is refused (413) or the connection closes.
    pad = "GET /health HTTP/1.1\r\nX-Pad: %s\r\n\r\n"
    small = (pad % ("a" * (8000 - len(pad % "")))).encode()
    expect(port, "GET /health, %d-byte request" % len(small), small, [200])
    expect_big(port, "9000-byte head, no end", ("GET /health HTTP/1.1\r\nX-Pad: " + "a" * 9000).encode())
    expect_big(port, "9000-byte head with its end", (pad % ("a" * 9000)).encode())
    expect_big(port, "64 KiB of junk without a line end", os.urandom(65536).replace(b"\n", b"."))
    expect_big(port, "1 MiB header",
               ("GET /health HTTP/1.1\r\nX-Pad: " + "a" * (1 << 20)).encode())
    expect(port, "GET with a 5000-byte path", ("GET /%s HTTP/1.1\r\n\r\n" % ("p" * 5000)).encode(),
           [400, 404, 414])
    # A request sent one byte at a time is still served.
    s = connect(port)
    for ch in b"GET /health HTTP/1.1\r\n\r\n":
        s.sendall(bytes([ch]))
        time.sleep(0.002)
    r = parse_response(read_all(s)[0])
    s.close()
    result(r is not None and r[0] == 200, "request sent byte by byte -> %s" % (r[0] if r else "none"))

    # Half-sent requests left open, plus many concurrent junk connections, all held at once.
    held = []
    try:
        for i in range(a.conns):
            s = connect(port)
            kind = i % 4
            if kind == 0:
                s.sendall(b"GET /hea")                       # half a request line
            elif kind == 1:
                s.sendall(os.urandom(512).replace(b"\n", b"."))  # junk, no end of head
            elif kind == 2:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # head not finished
            # kind 3: connected, silent
            held.append(s)
        result(True, "%d junk/half-sent admin connections held open" % len(held))
        health_ok(port, "while they are open")
        sql_ok(a.sql_port, a.db, "while they are open")
        # Finishing one of the half-sent requests still gets its answer. The newest: pgfold
        # bounds the admin connections it keeps and closes the oldest waiting ones first.
        last = max(i for i in range(len(held)) if i % 4 == 0)
        held[last].sendall(b"lth HTTP/1.1\r\n\r\n")
        r = parse_response(read_all(held[last])[0])
        result(r is not None and r[0] == 200,
               "a half-sent request finished later -> %s" % (r[0] if r else "none"))
    finally:
        for s in held:
            s.close()

    # Many clients at once from threads: junk, valid, reset before reading.
    errors = []

    def worker(n):
        try:
            for j in range(10):
                k = (n + j) % 3
                if k == 0:
                    st, _, _, err = request(port, b"BREW /pot HTTP/1.1\r\n\r\n")
                    if st != 405:
                        errors.append("BREW -> %s" % (st or err))
                elif k == 1:
                    st, _, _, err = get(port, "/metrics")
                    if st != 200:
                        errors.append("/metrics -> %s" % (st or err))
                else:
                    s = connect(port)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.sendall(b"GET /patterns HTTP/1.1\r\n\r\n")
                    s.close()  # RST before the answer is read
        except Exception as e:  # noqa: BLE001
            errors.append("thread %d: %s" % (n, e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    result(not errors, "%d threads x 10 concurrent requests (junk, /metrics, reset early)%s" % (
        a.threads, "" if not errors else ": " + "; ".join(errors[:5])))
    health_ok(port, "afterwards")
    sql_ok(a.sql_port, a.db, "afterwards")
    return 0 if all(RESULTS) else 1


def cmd_flood(a):
    """Holds more idle admin connections than pgfold has file descriptors (the caller starts
    pgfold with a low RLIMIT_NOFILE), then asks for a SQL session and /health while they are
    held, and again after they are closed."""
    held = []
    try:
        for _ in range(a.conns):
            try:
                s = socket.create_connection(("127.0.0.1", a.port), timeout=2)
                s.sendall(b"GET /hea")
                held.append(s)
            except OSError:
                break
        time.sleep(0.2)  # let pgfold accept what it can
        result(True, "%d idle half-sent admin connections held open" % len(held))
        sql_ok(a.sql_port, a.db, "while they are open", timeout=2)
        status, _, _, err = request(a.port, b"GET /health HTTP/1.1\r\n\r\n", timeout=2)
        print("note: while they are open: GET /health -> %s" % (status or err))
    finally:
        for s in held:
            s.close()
    time.sleep(0.2)
    health_ok(a.port, "after they are closed")
    sql_ok(a.sql_port, a.db, "after they are closed")
    return 0 if all(RESULTS) else 1


def cmd_conns(a):
    """Opens N SQL sessions through pgfold, prints pgfold_client_connections while they are
    open, closes them."""
    import psycopg2
    conns = [psycopg2.connect(host="127.0.0.1", port=a.sql_port, dbname=a.db, user="postgres",
                              connect_timeout=10) for _ in range(a.n)]
    try:
        status, _, body, err = get(a.port, "/metrics")
        if status != 200:
            print("GET /metrics: %s" % (status or err), file=sys.stderr)
            return 1
        samples, _, _ = parse_prometheus(body.decode("utf-8"))
        print(fmt([v for n, l, v in samples if n == "pgfold_client_connections"][0]))
    finally:
        for c in conns:
            c.close()
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("get")
    g.add_argument("--port", type=int, required=True)
    g.add_argument("--path", required=True)
    g.add_argument("--out")
    m = sub.add_parser("metrics")
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--out")
    j = sub.add_parser("jget")
    j.add_argument("file")
    j.add_argument("expr")
    b = sub.add_parser("abuse")
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--sql-port", type=int, required=True)
    b.add_argument("--db", required=True)
    b.add_argument("--conns", type=int, default=400)
    b.add_argument("--threads", type=int, default=20)
    f = sub.add_parser("flood")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--sql-port", type=int, required=True)
    f.add_argument("--db", required=True)
    f.add_argument("--conns", type=int, default=100)
    c = sub.add_parser("conns")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--sql-port", type=int, required=True)
    c.add_argument("--db", required=True)
    c.add_argument("--n", type=int, default=3)
    a = ap.parse_args()
    cmds = {"get": cmd_get, "metrics": cmd_metrics, "jget": cmd_jget, "abuse": cmd_abuse,
            "flood": cmd_flood, "conns": cmd_conns}
    return cmds[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
