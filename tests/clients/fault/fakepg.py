#!/usr/bin/python3
"""A scripted PostgreSQL server: exactly the upstream faults a real server gives only by chance.

    fakepg.py --port PORT [--scenario NAME]     serves until killed; without --scenario, the
                                                database the client names is the scenario

Enough of the v3 protocol for a psql session through pgfold in rewrite mode: trust login,
simple Query for the client's statements (BEGIN, the source query over fault_ref, the lookups on
fault_item, ROLLBACK, SELECT 'word'), and the extended messages of pgfold's batch round trip
(SAVEPOINT, Parse/Describe/Close of the single statement, the batch, RELEASE, Sync), with
transaction status, savepoints, 25P02 in a failed block and skip-until-Sync after an error.

Scenarios (what the server does to pgfold's own statements; the client's run normally):
  ok                everything works: the batch answers keys 11 to 15
  savepoint-cancel  pgfold's SAVEPOINT fails with 57014, as when a CancelRequest lands on it:
                    the client's block is aborted and the ROLLBACK TO that follows finds no
                    savepoint (3B001)
  rollback-cancel   the batch fails (22012), and the ROLLBACK TO that should undo it fails with
                    57014: the block stays aborted
  batch-fatal       the backend dies during the batch: FATAL 57P01, then the socket closes

The client (tests/integration/t_fold_fault.sh) runs BEGIN, the source query (keys 11 to 15),
lookups of keys 11 and 12, ROLLBACK and SELECT 'after' with psql.
"""
import argparse
import re
import socket
import struct
import sys
import threading

INT4, INT8, TEXT = 23, 20, 25
REF_OID, ITEM_OID = 16400, 16500
SOURCE_SQL = "SELECT id, item_id FROM fault_ref ORDER BY id"
LOOKUP_RE = re.compile(r"^SELECT id, label FROM fault_item WHERE id = (\d+)$")
WORD_RE = re.compile(r"^SELECT '(\w+)'$")
SCENARIOS = ["ok", "savepoint-cancel", "rollback-cancel", "batch-fatal"]
ITEM_COLS = [("id", ITEM_OID, 1, INT4, 4), ("label", ITEM_OID, 2, TEXT, -1)]


def msg(t, body=b""):
    return t + struct.pack("!i", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def rowdesc(cols):
    b = struct.pack("!h", len(cols))
    for name, table, attnum, typ, typlen in cols:
        b += cstr(name) + struct.pack("!ihihih", table, attnum, typ, typlen, -1, 0)
    return msg(b"T", b)


def datarow(vals):
    b = struct.pack("!h", len(vals))
    for v in vals:
        v = str(v).encode()
        b += struct.pack("!i", len(v)) + v
    return msg(b"D", b)


def error(sev, code, text):
    return msg(b"E", b"S" + cstr(sev) + b"V" + cstr(sev) + b"C" + cstr(code) + b"M" + cstr(text) + b"\0")


def complete(tag):
    return msg(b"C", cstr(tag))


class Fault(Exception):
    def __init__(self, sev, code, text):
        super().__init__(text)
        self.sev, self.code, self.text = sev, code, text


class Session:
    def __init__(self, sock, scenario):
        self.sock = sock
        self.scenario = scenario
        self.status = "I"
        self.savepoints = []
        self.stmts = {}
        self.portal = None
        self.skipping = False
        self.buf = b""

    def log(self, s):
        print("fakepg: " + s, file=sys.stderr, flush=True)

    def read(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, b):
        self.sock.sendall(b)

    def startup(self):
        while True:
            (n,) = struct.unpack("!i", self.read(4))
            body = self.read(n - 4)
            code = struct.unpack("!i", body[:4])[0]
            if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest
                self.send(b"N")
                continue
            break
        kv = body[4:].split(b"\0")
        params = dict(zip(kv[0::2], kv[1::2]))
        if self.scenario is None:
            self.scenario = params.get(b"database", b"ok").decode()
        if self.scenario not in SCENARIOS:
            raise Fault("FATAL", "3D000", 'database "%s" does not exist' % self.scenario)
        out = msg(b"R", struct.pack("!i", 0))
        for k, v in [("server_version", "15.0"), ("server_encoding", "UTF8"),
                     ("client_encoding", "UTF8"), ("DateStyle", "ISO, MDY"),
                     ("integer_datetimes", "on"), ("standard_conforming_strings", "on"),
                     ("TimeZone", "UTC")]:
            out += msg(b"S", cstr(k) + cstr(v))
        out += msg(b"K", struct.pack("!ii", 4242, 1234))
        self.send(out + msg(b"Z", b"I"))

    # -- statements ----------------------------------------------------------------------

    def fail(self, sev, code, text):
        if self.status == "T":
            self.status = "E"
        raise Fault(sev, code, text)

    def txn_control(self, sql):
        return re.match(r"^(ROLLBACK|COMMIT|END|ABORT)\b", sql, re.I) is not None

    def run(self, sql, params=()):
        """Executes one statement; returns the response bytes (RowDescription excluded for
        the extended protocol: the caller adds it where Describe asked)."""
        sql = sql.strip()
        if self.status == "E" and not self.txn_control(sql):
            raise Fault("ERROR", "25P02", "current transaction is aborted, commands ignored until end of transaction block")
        if sql == "BEGIN":
            self.status = "T"
            return b"", complete("BEGIN")
        if sql in ("ROLLBACK", "COMMIT"):
            tag = "ROLLBACK" if sql == "ROLLBACK" or self.status == "E" else "COMMIT"
            self.status, self.savepoints = "I", []
            return b"", complete(tag)
        m = re.match(r"^SAVEPOINT (\w+)$", sql)
        if m:
            if self.scenario == "savepoint-cancel" and m.group(1) == "pgfold_batch":
                self.fail("ERROR", "57014", "canceling statement due to user request")
            self.savepoints.append(m.group(1))
            return b"", complete("SAVEPOINT")
        m = re.match(r"^ROLLBACK TO SAVEPOINT (\w+)$", sql)
        if m:
            if m.group(1) not in self.savepoints:
                self.fail("ERROR", "3B001", 'savepoint "%s" does not exist' % m.group(1))
            if self.scenario == "rollback-cancel":
                self.fail("ERROR", "57014", "canceling statement due to user request")
            del self.savepoints[len(self.savepoints) - self.savepoints[::-1].index(m.group(1)):]
            self.status = "T"
            return b"", complete("ROLLBACK")
        m = re.match(r"^RELEASE SAVEPOINT (\w+)$", sql)
        if m:
            if m.group(1) not in self.savepoints:
                self.fail("ERROR", "3B001", 'savepoint "%s" does not exist' % m.group(1))
            del self.savepoints[len(self.savepoints) - 1 - self.savepoints[::-1].index(m.group(1)):]
            return b"", complete("RELEASE")
        if sql == SOURCE_SQL:
            desc = rowdesc([("id", REF_OID, 1, INT4, 4), ("item_id", REF_OID, 2, INT4, 4)])
            # five rows: a batch inside a block needs four keys or more (POLICY_BLOCK_MIN_KEYS)
            rows = b"".join(datarow([i, 10 + i]) for i in (1, 2, 3, 4, 5))
            return desc, rows + complete("SELECT 5")
        m = LOOKUP_RE.match(sql)
        if m:
            k = int(m.group(1))
            return rowdesc(ITEM_COLS), datarow([k, "item %d" % k]) + complete("SELECT 1")
        m = WORD_RE.match(sql)
        if m:
            return rowdesc([("?column?", 0, 0, TEXT, -1)]), datarow([m.group(1)]) + complete("SELECT 1")
        if "unnest(" in sql and params:
            desc = rowdesc([("pgfold_ord", 0, 0, INT8, 8)] + ITEM_COLS)
            if self.scenario == "rollback-cancel":
                self.fail("ERROR", "22012", "division by zero")
            if self.scenario == "batch-fatal":
                raise Fault("FATAL", "57P01", "terminating connection due to administrator command")
            keys = [int(x.strip('"')) for x in params[-1].strip("{}").split(",")]
            rows = b"".join(datarow([i + 1, k, "item %d" % k]) for i, k in enumerate(keys))
            return desc, rows + complete("SELECT %d" % len(keys))
        self.fail("ERROR", "42601", "fakepg does not know this statement: " + sql[:80])

    # -- protocol ------------------------------------------------------------------------

    def serve(self):
        try:
            self.startup()
        except Fault as f:
            self.send(error(f.sev, f.code, f.text))
            return
        while True:
            t = self.read(1)
            (n,) = struct.unpack("!i", self.read(4))
            body = self.read(n - 4)
            if t == b"X":
                return
            try:
                self.dispatch(t, body)
            except Fault as f:
                self.log("%s %s %s" % (f.sev, f.code, f.text))
                self.send(error(f.sev, f.code, f.text))
                if f.sev == "FATAL":
                    return
                if t == b"Q":
                    self.send(msg(b"Z", self.status.encode()))
                else:
                    self.skipping = True

    def dispatch(self, t, body):
        if t == b"Q":
            sql = body[:-1].decode()
            self.log("Query " + sql[:100])
            out = b""
            for part in [p for p in sql.split(";") if p.strip()]:
                try:
                    desc, rest = self.run(part)
                except Fault as f:
                    self.send(out)
                    raise f
                out += desc + rest
            self.send(out + msg(b"Z", self.status.encode()))
            return
        if t == b"S":
            self.skipping = False
            self.send(msg(b"Z", self.status.encode()))
            return
        if t == b"H" or self.skipping:
            return
        if t == b"P":
            name, rest = body.split(b"\0", 1)
            sql, rest = rest.split(b"\0", 1)
            sql = sql.decode()
            self.log("Parse %r %s" % (name.decode(), sql[:100]))
            if self.status == "E" and not self.txn_control(sql):
                raise Fault("ERROR", "25P02", "current transaction is aborted, commands ignored until end of transaction block")
            self.stmts[name.decode()] = sql
            self.send(msg(b"1"))
        elif t == b"B":
            portal, rest = body.split(b"\0", 1)
            stmt, rest = rest.split(b"\0", 1)
            (nf,) = struct.unpack("!h", rest[:2])
            rest = rest[2 + 2 * nf:]
            (np,) = struct.unpack("!h", rest[:2])
            rest = rest[2:]
            params = []
            for _ in range(np):
                (ln,) = struct.unpack("!i", rest[:4])
                params.append(None if ln < 0 else rest[4:4 + ln].decode())
                rest = rest[4 + max(ln, 0):]
            if self.status == "E" and not self.txn_control(self.stmts[stmt.decode()]):
                raise Fault("ERROR", "25P02", "current transaction is aborted, commands ignored until end of transaction block")
            self.portal = (self.stmts[stmt.decode()], params)
            self.send(msg(b"2"))
        elif t == b"D":
            if body[:1] == b"S":
                sql = self.stmts[body[1:-1].decode()]
                desc = rowdesc(ITEM_COLS) if LOOKUP_RE.match(sql) else msg(b"n")
                self.send(msg(b"t", struct.pack("!h", 0)) + desc)
            else:
                sql, params = self.portal
                if "unnest(" in sql:
                    self.send(rowdesc([("pgfold_ord", 0, 0, INT8, 8)] + ITEM_COLS))
                elif LOOKUP_RE.match(sql) or WORD_RE.match(sql):
                    self.send(self.run(sql, params)[0])
                else:
                    self.send(msg(b"n"))
        elif t == b"E":
            sql, params = self.portal
            self.log("Execute " + sql[:100])
            self.send(self.run(sql, params)[1])
        elif t == b"C":
            self.send(msg(b"3"))
        else:
            raise Fault("FATAL", "08P01", "fakepg: unexpected message type %r" % t)


def serve(port, scenario):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    print("fakepg: listening on %d, scenario %s" % (port, scenario or "by database name"),
          file=sys.stderr, flush=True)

    def one(sock):
        try:
            Session(sock, scenario).serve()
        except (EOFError, ConnectionError):
            pass
        finally:
            sock.close()

    while True:
        s, _ = ls.accept()
        threading.Thread(target=one, args=(s,), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--scenario", choices=SCENARIOS,
                    help="default: the database name the client asks for")
    a = ap.parse_args()
    serve(a.port, a.scenario)


if __name__ == "__main__":
    main()
