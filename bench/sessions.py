#!/usr/bin/python3
"""Memory probes of `make bench`: many idle sessions, and one slow reader of a large result.

    sessions.py idle --port P --db NAME --pid PID [--n 1000]
    sessions.py slowread --port P --db NAME --pid PID [--mb 100] [--rate 20]

PID is the proxy under test (pgfold or PgBouncer); its resident set size is read from
/proc/PID/status.

idle opens n psycopg2 connections through the proxy and keeps them all open. It reads the
proxy's VmRSS before, after every session has connected (authenticated, nothing run yet),
and again after each session has run one `SELECT 1` and gone idle (the state of a pooled
application connection). One JSON line: rss_kb before/open/used and KiB per session.

slowread speaks the protocol by hand on a socket with a small receive buffer, sends
`SELECT repeat('x', 1000) FROM generate_series(1, mb * 1000)` (about mb megabytes of
DataRows) and reads the answer at rate MB/s, sampling the proxy's VmRSS as it goes. A proxy
that stops reading from its server while the client is slow stays small; one that buffers the
result grows by the size of the result. One JSON line: bytes read, seconds, rss before, peak
sampled rss, VmHWM.
"""
import argparse
import json
import resource
import socket
import struct
import time


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def settle(pid, secs=1.0):
    time.sleep(secs)
    return rss_kb(pid)


def idle(a):
    import psycopg2

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    before = settle(a.pid, 0.5)
    conns = []
    t0 = time.perf_counter()
    for _ in range(a.n):
        conns.append(psycopg2.connect(host="127.0.0.1", port=a.port, dbname=a.db, user="postgres",
                                      connect_timeout=30))
    connect_secs = time.perf_counter() - t0
    opened = settle(a.pid)
    for c in conns:
        c.autocommit = True
        cur = c.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
        cur.close()
    used = settle(a.pid)
    for c in conns:
        c.close()
    print(json.dumps({"n": a.n, "rss_before_kb": before, "rss_open_kb": opened, "rss_used_kb": used,
                      "kib_per_session_open": (opened - before) / a.n,
                      "kib_per_session_used": (used - before) / a.n,
                      "connect_secs": connect_secs}))


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def read_until_ready(s):
    """Reads messages up to ReadyForQuery; raises on ErrorResponse."""
    while True:
        kind, = struct.unpack("!c", recv_exact(s, 1))
        length, = struct.unpack("!i", recv_exact(s, 4))
        body = recv_exact(s, length - 4)
        if kind == b"E":
            raise RuntimeError("server error: %r" % body)
        if kind == b"Z":
            return


def slowread(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.connect(("127.0.0.1", a.port))
    params = b"user\0postgres\0database\0" + a.db.encode() + b"\0\0"
    s.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
    read_until_ready(s)
    before = rss_kb(a.pid)
    hwm_before = rss_kb(a.pid, "VmHWM")
    sql = b"SELECT repeat('x', 1000) FROM generate_series(1, %d)\0" % (a.mb * 1000)
    s.sendall(b"Q" + struct.pack("!i", 4 + len(sql)) + sql)
    chunk = 64 * 1024
    interval = chunk / (a.rate * 1e6)
    total, peak, tail = 0, before, b""
    t0 = time.perf_counter()
    next_t = t0
    while True:
        data = s.recv(chunk)
        if not data:
            raise ConnectionError("connection closed before ReadyForQuery")
        total += len(data)
        # The stream ends with ReadyForQuery: 'Z', length 5, status 'I'.
        tail = (tail + data)[-6:]
        if tail.endswith(b"Z\0\0\0\x05I"):
            break
        peak = max(peak, rss_kb(a.pid))
        next_t += interval
        delay = next_t - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    secs = time.perf_counter() - t0
    s.sendall(b"X\0\0\0\x04")
    s.close()
    print(json.dumps({"mb": a.mb, "bytes": total, "secs": secs, "rss_before_kb": before,
                      "rss_peak_kb": peak, "hwm_before_kb": hwm_before,
                      "hwm_kb": rss_kb(a.pid, "VmHWM")}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["idle", "slowread"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--rate", type=float, default=20.0, help="MB/s the client reads at")
    a = ap.parse_args()
    idle(a) if a.what == "idle" else slowread(a)


if __name__ == "__main__":
    main()
