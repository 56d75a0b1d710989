#!/usr/bin/python3
"""difftest: differential testing of pgfold against PostgreSQL (issue 7).

    difftest.py --seed N [--seed M ...] [--loops K] [--verbose] [--only-loops 3,7]
    difftest.py --random --duration SECONDS          (the soak: random seeds until time is up)

Without --pg-port the script cannot find a cluster: it re-runs itself through
tests/diff/soak.sh --replay, which starts a throwaway PostgreSQL and the pgfold instances of
tests/diff/lib.sh first. So `tests/diff/difftest.py --seed N` replays seed N on its own.

One seed is one database pair and one sequence of N+1 loops:

  * A random schema (gen_schema): a parent, a child and a grandchild table, each keyed by
    int4, int8, uuid or text; the child and grandchild reference their parent through a
    nullable column of a compatible type (int4 <-> int8, text <-> varchar), with or without a
    declared FOREIGN KEY (ON DELETE CASCADE / SET NULL / NO ACTION); without one, some rows
    point at parents that do not exist (also int8 values out of int4 range). Non-unique
    columns (rank, grp), NULLs, awkward text keys (quotes, backslashes, braces, commas,
    "NULL", empty, unicode, trailing spaces, longer than pgfold's 256-byte key limit).
  * The same DDL and rows go into two databases: df_<seed>_a, used DIRECT, and df_<seed>_b,
    used THROUGH PGFOLD. Every statement of a loop runs on both, in lockstep, and the two
    results are compared at once (the lockstep oracle): status and SQLSTATE/message of errors,
    CommandComplete tag, every RowDescription field (name, table and column (by name: the
    databases differ in OIDs), type OID, typmod, size, format), every DataRow value byte for
    byte, and the transaction status after it. Row order is compared where the statement
    defines it (ORDER BY on the selected columns; exactly when the order is total), as
    multisets otherwise.
  * Loops (gen_loop): forward, reverse, nested (two levels), join and aggregate lookups,
    lookups on a non-unique column; ORDER BY / LIMIT / OFFSET / DISTINCT / GROUP BY in the
    driving query and the lookup; autocommit, BEGIN .. COMMIT/ROLLBACK (READ COMMITTED),
    REPEATABLE READ (BEGIN ISOLATION LEVEL, SET TRANSACTION, SET SESSION CHARACTERISTICS),
    SERIALIZABLE; savepoints; simple protocol (psycopg ClientCursor, and literals rendered
    here: '..', E'..', $$..$$, 007, - 5, '5'), extended protocol (unnamed, psycopg's automatic
    prepare after 5 uses, prepare=True, raw libpq PQexecParams with untyped or typed
    parameters), text and binary parameters and results; the session's own writes between
    lookups (UPDATE/INSERT/DELETE, moving children, a write in a CTE, SELECT FOR UPDATE,
    nextval, ROLLBACK TO SAVEPOINT), repeated and stray lookups, partial loops, session SET.
  * Some loops run with a concurrent writer: a thread with its own direct connection to the
    pgfold-side database commits UPDATEs of the column w of "hot" rows while the loop runs
    and records each row version with the interval in which its commit became visible.
    Columns w are then left out of the lockstep comparison and checked by the staleness
    oracle instead (check_block / obs_interval), by what the consistency mode allows:
      autocommit:  window: one instant in [t_request - max_staleness_ms, t_response];
                   transaction, snapshot: [t_request, t_response] (nothing may be reused);
      READ COMMITTED block: window: [min(t_begin, t_request - max_staleness_ms), t_response]
                   (docs/batching.md: a block keeps what it fetched); transaction: [t_begin,
                   t_response]; snapshot: [t_request, t_response];
      REPEATABLE READ / SERIALIZABLE block (every mode): every row the block saw is from one
                   instant inside the first statement's [t_request, t_response].
    The session's own writes only touch rows the writer never touches ("cold" rows), and
    they are checked by the lockstep oracle like everything else.
  * Folding is counted with pg_stat_statements per database: SELECTs direct vs through pgfold.

Exit status 0 when every seed passed, 1 on the first difference (printed with the seed, the
loop, the statement and both results, and a replay command line), 2 on a usage error.
"""
import argparse
import contextlib
import json
import os
import random
import re
import struct
import sys
import threading
import time
import traceback
import uuid as uuidmod

import psycopg
from psycopg import pq
from psycopg.types.numeric import Int4, Int8

HERE = os.path.dirname(os.path.abspath(__file__))
INF = float("inf")
TOL = 0.003  # seconds: pgfold's clock is the libuv loop time (ms), ours is time.monotonic()

BPCHAR_LEN = 8
OID = {"int2": 21, "int4": 23, "int8": 20, "text": 25, "varchar": 1043, "uuid": 2950,
       "bpchar": 1042, "bool": 16, "name": 19, "numeric": 1700}

# ---------------------------------------------------------------------------------------------
# Schema


TEXT_POOL = ["a", "A", "b", "a b", " a", "a ", "", "NULL", "null", "a,b", "{a}", "{", "}",
             'a"b', "a'b", "a\\b", "a\\\\b", "\\", "é", "日本語", "ab\tc", "a\nb", "0", "00",
             "1", "true", "$$", "x$$y", "''", "%s", "(1,2)", "a;b", "--c", "/*c*/", "ß", "Ä",
             "x" * 300, "y" * 255, "z" * 256, "e'x'"]


class Table:
    def __init__(self, name, keytype):
        self.name = name
        self.keytype = keytype     # int4 int8 uuid text
        self.ref = None            # (column, parent Table, coltype, declared, ondelete)
        self.decoy = None          # (column, coltype): values like the ref's, meaning nothing
        self.keys = []             # key values of the initial rows (python), in insert order
        self.hot = set()           # canonical keys the concurrent writer may update
        self.live = set()          # canonical keys believed to exist now (for choosing targets)
        self.rows = []             # initial rows (dicts)

    def cols(self):
        c = ["id"]
        if self.ref:
            c.append(self.ref[0])
        c += ["name", "val", "rank", "grp", "w"]
        if self.decoy:
            c.append(self.decoy[0])
        return c


def canon(v):
    """Canonical text of a python key value (what PostgreSQL's ::text prints, for our types)."""
    if v is None:
        return None
    if isinstance(v, uuidmod.UUID):
        return str(v)
    return str(v)


def qi(name):
    """Quotes an identifier when it needs it."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def sql_lit(v):
    """A standard-conforming SQL literal for a python value (for DDL/data only)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, uuidmod.UUID):
        return "'%s'" % v
    return "'" + str(v).replace("'", "''") + "'"


class Schema:
    pass


def gen_keys(rng, keytype, n, used):
    out = []
    while len(out) < n:
        if keytype == "int4":
            v = rng.choice([rng.randint(-20, 400), rng.randint(1, 60), rng.randint(-2**31, 2**31 - 1)])
        elif keytype == "int8":
            v = rng.choice([rng.randint(1, 300), rng.randint(2**31, 2**40), -rng.randint(1, 2**40)])
        elif keytype == "uuid":
            v = uuidmod.UUID(int=rng.getrandbits(128))
        else:
            v = rng.choice(TEXT_POOL) if rng.random() < 0.5 else \
                "".join(rng.choice("abcXYZ019 _-'\\,{}\"") for _ in range(rng.randint(1, 8)))
            if keytype == "bpchar":
                # char(8): what the server stores and returns, padded; no two equal once padded
                v = v.rstrip(" ")[:BPCHAR_LEN].ljust(BPCHAR_LEN)
        if canon(v) in used:
            continue
        used.add(canon(v))
        out.append(v)
    return out


def ref_type(rng, keytype, keys):
    if keytype == "int4":
        return rng.choice(["int4", "int8", "int8"])
    if keytype == "int8":
        return "int4" if all(-2**31 <= k < 2**31 for k in keys) and rng.random() < 0.4 else "int8"
    if keytype == "text":
        return rng.choice(["text", "text", "varchar"])
    if keytype == "bpchar":
        return rng.choice(["bpchar", "text", "text"])  # text -> char(n): no FOREIGN KEY possible
    return keytype


def missing_key(rng, parent, coltype, used):
    """A value for a reference column that names no parent row."""
    if coltype in ("int4", "int8"):
        if coltype == "int8" and parent.keytype == "int4" and rng.random() < 0.3:
            return rng.choice([2**31, 2**31 + 7, -2**31 - 1, 2**40])  # out of int4 range
        while True:
            v = rng.randint(-30, 500)
            if canon(v) not in used:
                return v
    if coltype == "uuid":
        return uuidmod.UUID(int=rng.getrandbits(128))
    # text: near misses of existing keys (case, trailing space) and fresh strings
    base = canon(rng.choice(parent.keys)).rstrip(" ") if parent.keys else "q"
    if coltype == "bpchar":
        return ("m%d" % rng.randint(0, 10**6)).ljust(BPCHAR_LEN)
    for cand in (base + " ", base.upper(), base.lower(), " " + base, base + "x", "miss-%d" % rng.randint(0, 99)):
        if cand not in used and len(cand) < 400:
            return cand
    return "miss-%d" % rng.randint(100, 10**6)


def fk_possible(keytype, coltype):
    return not (keytype == "bpchar") != (coltype == "bpchar")


def gen_schema(rng):
    s = Schema()
    style = rng.choice(["django", "plain", "opaque", "quoted"])
    names = {
        "django": ("shop_author", "shop_book", "author_id", "shop_page", "book_id"),
        "plain": ("parent", "child", "parent_id", "grandchild", "child_id"),
        "opaque": ("tp", "tc", "ref1", "tg", "ref2"),
        "quoted": ("Parent", "Child", "parentId", "Grand child", "Child_id"),
    }[style]
    s.style = style
    kp, kc, kg = (rng.choice(["int4", "int4", "int8", "uuid", "text", "text", "bpchar"]) for _ in range(3))
    p = Table(names[0], kp)
    c = Table(names[1], kc)
    g = Table(names[3], kg)
    np = rng.randint(3, 40)
    used = set()
    p.keys = gen_keys(rng, kp, np, used)
    p_used = set(used)
    rt = ref_type(rng, kp, p.keys)
    declared = rng.random() < 0.5 and fk_possible(kp, rt)
    c.ref = (names[2], p, rt, declared, rng.choice(["CASCADE", "SET NULL", "NO ACTION"]))
    if rng.random() < 0.3:
        c.decoy = ("other_id" if style != "django" else "author_ref", rt)
    nc = rng.randint(0, 4 * np)
    c.keys = gen_keys(rng, kc, nc, set())
    c_used = set(canon(k) for k in c.keys)
    rt2 = ref_type(rng, kc, c.keys) if c.keys else kc
    declared2 = rng.random() < 0.5 and fk_possible(kc, rt2)
    g.ref = (names[4], c, rt2, declared2, rng.choice(["CASCADE", "SET NULL", "NO ACTION"]))
    ng = rng.randint(0, 3 * max(nc, 1)) if rng.random() < 0.8 else 0
    g.keys = gen_keys(rng, kg, ng, set())

    def fits(coltype, v):
        return not (coltype == "int4" and isinstance(v, int) and not -2**31 <= v < 2**31)

    def ref_value(tab, parent, coltype, declared, pused):
        x = rng.random()
        if x < 0.12:
            return None
        if x < 0.24 and not declared:
            return missing_key(rng, parent, coltype, pused)
        if not parent.keys:
            return None if declared else missing_key(rng, parent, coltype, pused)
        # skewed: some parents get many children (duplicates in the reference column)
        k = parent.keys[min(int(rng.expovariate(0.3)), len(parent.keys) - 1)] \
            if rng.random() < 0.5 else rng.choice(parent.keys)
        if parent.keytype == "bpchar" and coltype != "bpchar":
            k = k.rstrip(" ") + " " * rng.choice([0, 0, 1, 3])
        return k if fits(coltype, k) else None

    def text_or_null():
        x = rng.random()
        if x < 0.1:
            return None
        if x < 0.13:
            return "long-" + "x" * rng.randint(100, 900)  # a few big rows: batches over max_batch_bytes
        return rng.choice(["n%d" % rng.randint(0, 99), rng.choice(TEXT_POOL)[:20]])

    for tab, nkeys in ((p, np), (c, nc), (g, ng)):
        for i, k in enumerate(tab.keys):
            row = {"id": k, "name": text_or_null(), "val": rng.randint(-5, 50), "rank": rng.randint(0, 3),
                   "grp": None if rng.random() < 0.1 else rng.randint(0, 5), "w": 0}
            if tab.ref:
                col, parent, coltype, decl, _ = tab.ref
                row[col] = ref_value(tab, parent, coltype, decl, p_used if parent is p else c_used)
            if tab.decoy:
                row[tab.decoy[0]] = ref_value(tab, p, tab.decoy[1], False, p_used)
            tab.rows.append(row)
        tab.live = set(canon(k) for k in tab.keys)
        # half the rows are hot (the concurrent writer's), the rest cold (the session's own writes)
        tab.hot = set(canon(k) for k in tab.keys if rng.random() < 0.5)
    s.p, s.c, s.g = p, c, g
    s.tables = [p, c, g]
    s.index_c = rng.random() < 0.6
    s.index_g = rng.random() < 0.5
    s.analyze = rng.random() < 0.5
    s.seq = rng.randint(1, 1000)
    s.next_int = 10**6 + rng.randint(0, 1000)
    return s


def type_sql(t):
    return {"int4": "int", "int8": "bigint", "uuid": "uuid", "text": "text", "varchar": "varchar(500)",
            "bpchar": "char(%d)" % BPCHAR_LEN}[t]


def schema_sql(s):
    out = ["CREATE SEQUENCE df_seq START %d" % s.seq]
    for tab in s.tables:
        cols = ["id %s PRIMARY KEY" % type_sql(tab.keytype)]
        if tab.ref:
            col, parent, coltype, decl, ondel = tab.ref
            d = "%s %s" % (qi(col), type_sql(coltype))
            if decl:
                d += " REFERENCES %s (id) ON DELETE %s" % (qi(parent.name), ondel)
            cols.append(d)
        cols += ["name text", "val int NOT NULL", "rank int NOT NULL", "grp int", "w int NOT NULL DEFAULT 0"]
        if tab.decoy:
            cols.append("%s %s" % (qi(tab.decoy[0]), type_sql(tab.decoy[1])))
        out.append("CREATE TABLE %s (%s)" % (qi(tab.name), ", ".join(cols)))
    if s.index_c:
        out.append("CREATE INDEX ON %s (%s)" % (qi(s.c.name), qi(s.c.ref[0])))
    if s.index_g:
        out.append("CREATE INDEX ON %s (%s)" % (qi(s.g.name), qi(s.g.ref[0])))
    for tab in s.tables:
        cols = tab.cols()
        for i in range(0, len(tab.rows), 200):
            vals = ["(" + ", ".join(sql_lit(r.get(c)) for c in cols) + ")" for r in tab.rows[i:i + 200]]
            out.append("INSERT INTO %s (%s) VALUES %s" % (qi(tab.name), ", ".join(qi(c) for c in cols), ", ".join(vals)))
    if s.analyze:
        out.append("ANALYZE")
    return out


# ---------------------------------------------------------------------------------------------
# Statements and results


class Stmt:
    """One statement as the loop runs it on both sides."""

    def __init__(self, sql, params=(), style="ext", label="misc", order=None, binary=False,
                 prepare=None, raw_types=None, raw_formats=None, snap=True, keyidx=None):
        self.sql = sql
        self.params = tuple(params)
        self.style = style          # ext, client, simple, raw
        self.label = label
        self.order = order          # None: multiset; (indices, total)
        self.binary = binary
        self.prepare = prepare
        self.raw_types = raw_types
        self.raw_formats = raw_formats
        self.snap = snap            # takes a snapshot (data statement), for the RR oracle

    def show(self):
        p = ""
        if self.params:
            p = " %r" % (self.params,)
        extra = []
        if self.binary:
            extra.append("binary")
        if self.prepare is not None:
            extra.append("prepare=%s" % self.prepare)
        if self.raw_types is not None:
            extra.append("types=%s formats=%s" % (self.raw_types, self.raw_formats))
        return "[%s %s%s] %s%s" % (self.style, self.label, (" " + " ".join(extra)) if extra else "", self.sql, p)


class Res:
    __slots__ = ("err", "cmd", "fields", "rows", "tx", "t0", "t1", "status")

    def describe(self, limit=12):
        if self.err:
            return "ERROR %s %s (tx %s)" % (self.err[0], self.err[1], self.tx)
        lines = ["%s, %d rows, tx %s" % (self.cmd, len(self.rows or []), self.tx)]
        if self.fields:
            lines.append("  fields: %s" % (self.fields,))
        for r in (self.rows or [])[:limit]:
            lines.append("  %r" % (r,))
        if self.rows and len(self.rows) > limit:
            lines.append("  ... %d more" % (len(self.rows) - limit))
        return "\n".join(lines)


class Side:
    """One connection (direct or through pgfold) and the catalog names of its database."""

    def __init__(self, name, port, db, relmap):
        self.name, self.port, self.db = name, port, db
        self.relmap = relmap
        self.conn = None
        self.unnamed = None
        self.connect()

    def connect(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = psycopg.connect(host="127.0.0.1", port=self.port, dbname=self.db, user="postgres",
                                    connect_timeout=10, autocommit=True)
        self.unnamed = None
        self.conn.prepare_threshold = None

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass

    def run(self, st):
        r = Res()
        r.err = None
        r.cmd = None
        r.fields = None
        r.rows = None
        conn = self.conn
        pg = None
        r.t0 = time.monotonic()
        try:
            if st.style == "ext":
                cur = conn.cursor(binary=st.binary)
                cur.execute(st.sql, st.params or None, prepare=st.prepare)
                pg = cur.pgresult
            elif st.style == "pipe":
                cur = conn.cursor(binary=st.binary)
                cur.execute(st.sql, st.params or None, prepare=st.prepare)
                try:
                    cur.fetchall()  # in a pipeline: sends a Flush and waits for this result
                except psycopg.ProgrammingError:
                    pass  # a statement without a result set
                pg = cur.pgresult
            elif st.style == "client":
                cur = psycopg.ClientCursor(conn)
                cur.execute(st.sql, st.params or None)
                pg = cur.pgresult
            elif st.style == "simple":
                pg = conn.pgconn.exec_(st.sql.encode())
            elif st.style == "raw":
                pg = conn.pgconn.exec_params(st.sql.encode(), list(st.params), list(st.raw_types),
                                             list(st.raw_formats), 1 if st.binary else 0)
            elif st.style == "rawprep":
                # libpq's unnamed prepared statement, parsed once and bound many times (Bind
                # without Parse): what pgfold's own batch Parse displaces and must put back
                key = (st.sql, tuple(st.raw_types))
                if self.unnamed != key:
                    pg = conn.pgconn.prepare(b"", st.sql.encode(), list(st.raw_types))
                    if pg.status == pq.ExecStatus.FATAL_ERROR:
                        self.unnamed = None
                        raise_pq(pg)
                    self.unnamed = key
                pg = conn.pgconn.exec_prepared(b"", list(st.params), list(st.raw_formats), 1 if st.binary else 0)
            else:
                raise ValueError(st.style)
        except PqError as e:
            r.err = (e._sqlstate, e._msg)
        except psycopg.Error as e:
            r.err = (e.sqlstate, e.diag.message_primary)
        r.t1 = time.monotonic()
        if st.style != "rawprep" and st.style != "pipe":
            self.unnamed = None  # psycopg's unnamed statements, PQexecParams and simple Queries replace it
        r.tx = pq.TransactionStatus(conn.pgconn.transaction_status).name
        if pg is not None and r.err is None:
            if pg.status == pq.ExecStatus.FATAL_ERROR:
                sqlstate = pg.error_field(pq.DiagnosticField.SQLSTATE)
                msg = pg.error_field(pq.DiagnosticField.MESSAGE_PRIMARY)
                r.err = (sqlstate.decode() if sqlstate else None, msg.decode() if msg else None)
            else:
                r.status = pq.ExecStatus(pg.status).name
                r.cmd = (pg.command_status or b"").decode()
                nf = pg.nfields
                fields = []
                for i in range(nf):
                    tab = pg.ftable(i)
                    col = pg.ftablecol(i)
                    rel = self.relmap.get((tab, col), (tab and "?%d" % tab, col)) if tab else (None, col)
                    fields.append(((pg.fname(i) or b"").decode(), rel[0], rel[1], pg.ftype(i), pg.fmod(i),
                                   pg.fsize(i), pg.fformat(i)))
                r.fields = fields
                r.rows = [tuple(pg.get_value(row, i) for i in range(nf)) for row in range(pg.ntuples)]
        return r


class PqError(psycopg.Error):
    def __init__(self, sqlstate, msg):
        super().__init__(msg)
        self._sqlstate, self._msg = sqlstate, msg


def raise_pq(pg):
    st = pg.error_field(pq.DiagnosticField.SQLSTATE)
    msg = pg.error_field(pq.DiagnosticField.MESSAGE_PRIMARY)
    raise PqError(st.decode() if st else None, msg.decode() if msg else None)


def txs(side):
    return pq.TransactionStatus(side.conn.pgconn.transaction_status).name


def load_relmap(port, db):
    """(table oid, attnum) -> (table name, column name) for the public tables of db."""
    m = {}
    with psycopg.connect(host="127.0.0.1", port=port, dbname=db, user="postgres", autocommit=True) as c:
        for oid, rel, num, att in c.execute(
                "SELECT c.oid::int8, c.relname, a.attnum, a.attname FROM pg_class c JOIN pg_attribute a "
                "ON a.attrelid = c.oid WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0"):
            m[(oid, num)] = (rel, att)
        for oid, rel in c.execute("SELECT c.oid::int8, c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"):
            m[(oid, 0)] = (rel, None)
    return m


# ---------------------------------------------------------------------------------------------
# Decoding raw values (for keys and the staleness oracle)


def decode(oid, fmt, b):
    if b is None:
        return None
    if fmt == 0:
        s = b.decode()
        if oid in (21, 23, 20):
            return int(s)
        if oid == 2950:
            return uuidmod.UUID(s)
        return s
    if oid == 21:
        return struct.unpack("!h", b)[0]
    if oid == 23:
        return struct.unpack("!i", b)[0]
    if oid == 20:
        return struct.unpack("!q", b)[0]
    if oid == 2950:
        return uuidmod.UUID(bytes=bytes(b))
    return bytes(b).decode()


class Mismatch(Exception):
    pass


def sort_key(row):
    return tuple((0, b"") if v is None else (1, bytes(v)) for v in row)


def compare(st, a, b, mask):
    """a: direct, b: pgfold. Returns None or a reason."""
    if (a.err is None) != (b.err is None):
        return "one side failed"
    if a.err:
        return None if a.err == b.err else "different errors"
    if a.tx != b.tx:
        return "transaction status differs"
    if a.cmd != b.cmd:
        return "command tag differs"
    if a.fields != b.fields:
        return "RowDescription differs"
    ra, rb = a.rows or [], b.rows or []
    if mask:
        ra = [tuple(None if i in mask else v for i, v in enumerate(r)) for r in ra]
        rb = [tuple(None if i in mask else v for i, v in enumerate(r)) for r in rb]
    if len(ra) != len(rb):
        return "row count differs"
    if sorted(ra, key=sort_key) != sorted(rb, key=sort_key):
        return "rows differ"
    if st.order:
        idx, total = st.order
        if total:
            if ra != rb:
                return "row order differs"
        elif [tuple(r[i] for i in idx) for r in ra] != [tuple(r[i] for i in idx) for r in rb]:
            return "ORDER BY keys differ"
    return None


# ---------------------------------------------------------------------------------------------
# The concurrent writer and the staleness oracle


def arr_type(tab):
    return {"int4": "int8", "int8": "int8", "uuid": "uuid", "text": "text", "bpchar": "bpchar"}[tab.keytype]


class Writer(threading.Thread):
    """Commits UPDATEs of w on hot rows, directly to the pgfold-side database, and records
    every row version with the interval [t_start, t_end] in which it became visible."""

    def __init__(self, port, db, schema, hist, seed):
        super().__init__(daemon=True)
        self.port, self.db, self.schema, self.hist = port, db, schema, hist
        self.rng = random.Random("writer:%s" % seed)
        self.stop = threading.Event()
        self.commits = 0
        self.error = None
        self.ready = threading.Event()

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported by the main thread
            self.error = "%s: %s" % (type(e).__name__, e)
            self.ready.set()

    def _run(self):
        targets = []
        for tab in self.schema.tables:
            hot = sorted(tab.hot)
            if hot:
                targets.append((tab, hot))
        conn = psycopg.connect(host="127.0.0.1", port=self.port, dbname=self.db, user="postgres",
                               autocommit=True)
        self.ready.set()
        if not targets:
            conn.close()
            return
        cur = conn.cursor()
        while not self.stop.is_set():
            tab, hot = self.rng.choice(targets)
            ids = self.rng.sample(hot, min(len(hot), self.rng.randint(1, 3)))
            sql = "UPDATE %s SET w = w + 1 WHERE id = ANY(%%s::%s[]) RETURNING id, w" % (qi(tab.name), arr_type(tab))
            if self.rng.random() < 0.3:
                # two statements in one transaction: visible together at COMMIT
                cur.execute("BEGIN")
                rows = cur.execute(sql, (ids[:1],)).fetchall()
                tab2, hot2 = self.rng.choice(targets)
                ids2 = self.rng.sample(hot2, 1)
                rows2 = cur.execute("UPDATE %s SET w = w + 1 WHERE id = ANY(%%s::%s[]) RETURNING id, w"
                                    % (qi(tab2.name), arr_type(tab2)), (ids2,)).fetchall()
                t0 = time.monotonic()
                cur.execute("COMMIT")
                t1 = time.monotonic()
                self.record(tab, rows, t0, t1)
                self.record(tab2, rows2, t0, t1)
            else:
                t0 = time.monotonic()
                rows = cur.execute(sql, (ids,)).fetchall()
                t1 = time.monotonic()
                self.record(tab, rows, t0, t1)
            self.commits += 1
            time.sleep(self.rng.uniform(0.001, 0.005))
        conn.close()

    def record(self, tab, rows, t0, t1):
        for rid, w in rows:
            rid = canon(rid)
            h = self.hist.setdefault((tab.name, rid), [])
            if len(h) + 1 != w:
                raise RuntimeError("writer: %s %s went to w=%d after %d versions" % (tab.name, rid, w, len(h)))
            h.append((t0, t1))


def obs_interval(hist, table, rid, w):
    """When could row (table, rid) have had version w? Version w (>0) became visible at some
    instant in hist[w-1] = (t0, t1); it stopped being current when w+1 did."""
    h = hist.get((table, rid), [])
    if w < 0 or w > len(h):
        return (INF, -INF)  # never
    lo = -INF if w == 0 else h[w - 1][0]
    hi = INF if w == len(h) else h[w][1]
    return (lo, hi)


def observations(res, schema_tables):
    """(table, canonical id, w) for every row and every table whose id and w the result shows."""
    if not res.rows or not res.fields:
        return []
    by_table = {}
    for i, f in enumerate(res.fields):
        name, rel, att, oid, mod, size, fmt = f
        if rel in schema_tables and att in ("id", "w"):
            by_table.setdefault(rel, {})[att] = (i, oid, fmt)
    out = []
    for rel, cols in by_table.items():
        if "id" not in cols or "w" not in cols:
            continue
        ii, ioid, ifmt = cols["id"]
        wi, woid, wfmt = cols["w"]
        for row in res.rows:
            if row[ii] is None or row[wi] is None:
                continue
            out.append((rel, canon(decode(ioid, ifmt, row[ii])), decode(woid, wfmt, row[wi])))
    return out


# ---------------------------------------------------------------------------------------------
# Loops


class Query:
    """A statement template: SQL with {key} placeholders, its order spec, key column indices."""

    def __init__(self, sql, order=None, cols=None, nkeys=1, extra=()):
        self.sql = sql
        self.order = order
        self.cols = cols or []      # names of the select list (for finding key columns)
        self.nkeys = nkeys
        self.extra = extra          # other parameter values (python), after the key


def pick_cols(rng, tab, must, writer_ok=True, qual=None):
    """A select list over tab: the columns in must first (in random places), plus some others,
    sometimes duplicated, sometimes expressions. Returns (sql list, names)."""
    allc = tab.cols()
    pref = (qi(qual) + ".") if qual else ""
    chosen = list(must)
    for c in allc:
        if c not in chosen and rng.random() < 0.5:
            chosen.append(c)
    rng.shuffle(chosen)
    exprs = []
    names = []
    for c in chosen:
        exprs.append(pref + qi(c))
        names.append(c)
    if rng.random() < 0.3:
        e = rng.choice(["%sval + 1 AS v1" % pref, "upper(%sname) AS uname" % pref,
                        "coalesce(%sname, '-') AS n2" % pref, "%srank * 10 AS r10" % pref,
                        "%sname" % pref, "length(%sname)" % pref])
        pos = rng.randint(0, len(exprs))
        exprs.insert(pos, e)
        names.insert(pos, "?" + e)
    return exprs, names


def order_spec(names, keys, total):
    """Indices in the select list of the ORDER BY columns, or None if one is not selected."""
    idx = []
    for k in keys:
        if k not in names:
            return None
        idx.append(names.index(k))
    return (idx, total)


class LoopPlan:
    pass


TX_KINDS = ["auto", "auto", "auto", "rc", "rc", "rr", "rr", "rr_settx", "rr_session", "ser",
            "rc_after_rolled_back_session_rr", "rr_then_settx_rc", "rr_then_setguc_rc", "rc_then_begin_rr",
            "session_rr_begin_rc_begin"]
STYLES = ["ext", "ext", "ext_auto", "prep", "bin", "client", "simple", "raw", "rawprep", "pipe"]


def gen_loop(rng, s, idx, proxies, allow_writer):
    L = LoopPlan()
    L.idx = idx
    L.proxy = rng.choice(sorted(proxies))
    L.style = rng.choice(STYLES)
    L.kind = rng.choice(["forward", "forward", "reverse", "reverse", "nested", "join", "agg", "grp"])
    L.tx = rng.choice(TX_KINDS)
    L.end = rng.choice(["COMMIT", "COMMIT", "COMMIT", "ROLLBACK"])
    L.writer = allow_writer and rng.random() < 0.2 and L.style != "pipe"  # a pipeline has no status to follow
    L.wcols = L.writer or rng.random() < 0.4  # select the w columns (the staleness oracle reads them)
    L.p_write = rng.choice([0, 0, 0.05, 0.15, 0.3])
    L.p_repeat = rng.choice([0, 0.05, 0.2])
    L.p_stray = rng.choice([0, 0.03, 0.1])
    L.p_skip = rng.choice([0, 0, 0.1])
    L.partial = rng.random() < 0.1
    L.reconnect = rng.random() < 0.05
    L.chain = rng.random() < 0.1
    L.prepared_max = rng.choice([100, 100, 100, 2, 5])  # small: psycopg DEALLOCATEs as it goes
    L.pre = []
    if rng.random() < 0.1:
        L.pre.append(rng.choice(["SET work_mem = '8MB'", "RESET ALL", "SET application_name = 'difftest'",
                                 "DISCARD TEMP", "SELECT 1", "SET enable_hashjoin = off", "SET random_page_cost = 1",
                                 "SET enable_indexscan = off"]))
    L.param_mode = rng.choice(["auto", "auto", "text", "binary", "int8", "str"])
    L.lit_mode = rng.choice(["plain", "plain", "estring", "dollar", "padded", "quoted"])
    L.result_binary = L.style == "bin" or (L.style in ("raw", "rawprep") and rng.random() < 0.4)
    L.raw_untyped = rng.random() < 0.6
    p, c, g = s.p, s.c, s.g
    pref, cref = c.ref[0], g.ref[0]

    def ob(total_key, names, alias=""):
        """ORDER BY clause choices: (sql, spec)."""
        a = (qi(alias) + ".") if alias else ""
        ch = rng.choice(["id", "rank,id", "rank", "none", "id desc", "val,id"])
        if ch == "none":
            return "", None
        if ch == "id":
            return " ORDER BY %sid" % a, order_spec(names, ["id"], True)
        if ch == "id desc":
            return " ORDER BY %sid DESC" % a, order_spec(names, ["id"], True)
        if ch == "rank,id":
            return " ORDER BY %srank, %sid" % (a, a), order_spec(names, ["rank", "id"], True)
        if ch == "val,id":
            return " ORDER BY %sval, %sid" % (a, a), order_spec(names, ["val", "id"], True)
        return " ORDER BY %srank" % a, order_spec(names, ["rank"], False)

    def driving(tab, keycol, writer):
        must = ["id", keycol] if keycol != "id" else ["id"]
        if writer:
            must.append("w")
        exprs, names = pick_cols(rng, tab, must)
        o, spec = ob("id", names)
        where = ""
        if rng.random() < 0.2:
            where = " WHERE val >= %d" % rng.randint(-5, 20)
        lim = ""
        if rng.random() < 0.2 and o and spec and spec[1]:
            lim = " LIMIT %d" % rng.randint(1, 30)
            if rng.random() < 0.3:
                lim += " OFFSET %d" % rng.randint(0, 5)
        sql = "SELECT %s FROM %s%s%s%s" % (", ".join(exprs), qi(tab.name), where, o, lim)
        return Query(sql, spec, names)

    def lookup_one(tab, col, writer, for_forward):
        """SELECT ... FROM tab WHERE col = {key} [...]: single-key lookups in their variants."""
        must = ["id"] + (["w"] if writer else [])
        alias = rng.choice(["", "", "x"])
        exprs, names = pick_cols(rng, tab, must, qual=alias or None)
        colref = (qi(alias) + "." if alias else rng.choice(["", qi(tab.name) + "."])) + qi(col)
        form = rng.choice(["eq", "eq", "eq", "rev", "in", "extra_lit", "extra_param", "cast", "exists"])
        if form == "eq":
            w = "%s = {key}" % colref
        elif form == "rev":
            w = "{key} = %s" % colref
        elif form == "in":
            w = "%s IN ({key})" % colref
        elif form == "extra_lit":
            w = "%s = {key} AND %sval > %d" % (colref, (qi(alias) + ".") if alias else "", rng.randint(-10, 10))
        elif form == "cast":
            # an explicit cast on the key: not a lookup pgfold batches, forwarded as it is
            w = "%s = CAST({key} AS %s)" % (colref, type_sql(key_type_of(tab, col)))
        elif form == "exists":
            other = s.c if tab is not s.c else s.g
            w = "%s = {key} AND %sEXISTS (SELECT 1 FROM %s o WHERE o.rank >= %srank)" % (
                colref, "NOT " if rng.random() < 0.5 else "", qi(other.name), (qi(alias) + ".") if alias else
                qi(tab.name) + ".")
        else:
            w = "%s = {key} AND %srank <= {extra}" % (colref, (qi(alias) + ".") if alias else "")
        o, spec = ("", None)
        lim = ""
        if not for_forward or rng.random() < 0.3:
            o, spec = ob("id", names, alias)
            if rng.random() < 0.3 and spec and spec[1]:
                lim = " LIMIT %d" % rng.randint(1, 3)
                if rng.random() < 0.3:
                    lim += " OFFSET 1"
        elif rng.random() < 0.2:
            lim = " LIMIT 1"  # unique key: still one row
        frm = qi(tab.name) + ((" AS " if rng.random() < 0.5 else " ") + qi(alias) if alias else "")
        sql = "SELECT %s FROM %s WHERE %s%s%s" % (", ".join(exprs), frm, w, o, lim)
        q = Query(sql, spec, names)
        if form == "extra_param":
            q.extra = (rng.randint(0, 3),)
        return q

    if L.kind == "forward":
        L.drive = driving(c, pref, L.wcols)
        L.drive_key = pref
        L.look = lookup_one(p, "id", L.wcols, True)
        L.look_table = p
    elif L.kind == "grp":
        L.drive = driving(c, "grp", L.wcols)
        L.drive_key = "grp"
        L.look = lookup_one(p, "grp", L.wcols, False)
        L.look_table = p
    elif L.kind == "reverse":
        L.drive = driving(p, "id", L.wcols)
        L.drive_key = "id"
        L.look = lookup_one(c, pref, L.wcols, False)
        L.look_table = c
    elif L.kind == "nested":
        L.drive = driving(p, "id", L.wcols)
        L.drive_key = "id"
        L.look = lookup_one(c, pref, L.wcols, False)
        L.look_table = c
        L.look2 = lookup_one(g, cref, L.wcols, False)
        L.look2_key = "id"
    elif L.kind == "join":
        L.drive = driving(p, "id", L.wcols)
        L.drive_key = "id"
        extra_w = ", p.w AS pw" if L.wcols else ""
        o = rng.choice([" ORDER BY ch.id", " ORDER BY ch.rank, ch.id", ""])
        sql = ("SELECT ch.id, ch.name, p.name AS pname, p.val%s%s FROM %s ch JOIN %s p ON p.id = ch.%s "
               "WHERE ch.%s = {key}%s") % (", ch.w" if L.wcols else "", extra_w, qi(c.name), qi(p.name),
                                           qi(pref), qi(pref), o)
        names = ["id", "name", "pname", "val"]
        spec = None
        if o == " ORDER BY ch.id":
            spec = ([0], True)
        L.look = Query(sql, spec, names)
        L.look_table = c
    else:  # agg
        L.drive = driving(p, "id", L.wcols)
        L.drive_key = "id"
        form = rng.choice(["count", "group", "distinct", "exists", "window", "distinct_on", "union"])
        if form == "count":
            sql = "SELECT count(*), sum(val), max(name) FROM %s WHERE %s = {key}" % (qi(c.name), qi(pref))
            spec = None
        elif form == "group":
            sql = "SELECT rank, count(*) AS n FROM %s WHERE %s = {key} GROUP BY rank ORDER BY rank" % (qi(c.name), qi(pref))
            spec = ([0], True)
        elif form == "distinct":
            sql = "SELECT DISTINCT rank FROM %s WHERE %s = {key} ORDER BY rank" % (qi(c.name), qi(pref))
            spec = ([0], True)
        elif form == "window":
            sql = ("SELECT id, row_number() OVER (ORDER BY rank, id) AS rn, sum(val) OVER () AS total FROM %s "
                   "WHERE %s = {key} ORDER BY id") % (qi(c.name), qi(pref))
            spec = ([0], True)
        elif form == "distinct_on":
            sql = "SELECT DISTINCT ON (rank) rank, id, name FROM %s WHERE %s = {key} ORDER BY rank, id" % (
                qi(c.name), qi(pref))
            spec = ([0], True)
        elif form == "union":
            # the key twice: one parameter used twice ($1 ... $1) or two parameters with one value
            sql = ("SELECT id, 'all' AS part FROM %s WHERE %s = {key} UNION ALL "
                   "SELECT id, 'big' FROM %s WHERE %s = {key} AND val > 20 ORDER BY 2, 1") % (
                qi(c.name), qi(pref), qi(c.name), qi(pref))
            spec = ([1, 0], True)
        else:
            sql = "SELECT id, name FROM %s WHERE %s = {key} AND val > 0 ORDER BY id LIMIT 2" % (qi(c.name), qi(pref))
            spec = ([0], True)
        L.look = Query(sql, spec, [])
        L.look_table = c
    L.nested = L.kind == "nested"
    return L


# ---------------------------------------------------------------------------------------------
# Rendering a lookup for a style


def key_type_of(tab, col):
    if col == "id":
        return tab.keytype
    if tab.ref and col == tab.ref[0]:
        return tab.ref[2]
    return "int4"  # grp, rank, val


def render_literal(v, ktype, mode):
    """A literal for the simple protocol, in one of several spellings."""
    if v is None:
        return "NULL"
    if isinstance(v, int):
        if mode == "padded" and v >= 0:
            return "00" + str(v)
        if mode == "quoted":
            return "'%d'" % v
        if v < 0:
            return "- %d" % -v if mode == "estring" else str(v)
        return str(v)
    if isinstance(v, uuidmod.UUID):
        if mode == "quoted":
            return "'%s'" % str(v).upper()
        if mode == "padded":
            return "'{%s}'" % v
        if mode == "estring":
            return "'%s'::uuid" % v  # a cast: not a key
        return "'%s'" % v
    sv = str(v)
    if mode == "estring":
        return "E'" + sv.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if mode == "dollar" and "$" not in sv:
        return "$$" + sv + "$$"
    return "'" + sv.replace("'", "''") + "'"


def py_param(v, ktype, mode):
    """The python value psycopg binds for a key, by the loop's parameter mode."""
    if v is None:
        return None
    if isinstance(v, int):
        if mode == "int8":
            return Int8(v)
        if mode == "str":
            return str(v)
        if mode == "text" and -32768 <= v < 32768:
            return Int4(v)
        return v
    if isinstance(v, uuidmod.UUID):
        if mode == "str":
            return str(v).upper() if v.int % 2 else str(v)
        return v
    return v


def raw_param(v, ktype, untyped, binary_ok):
    """(bytes, oid, format) for pgconn.exec_params."""
    if v is None:
        return None, (0 if untyped else OID.get(ktype, 0)), 0
    if untyped:
        return canon(v).encode(), 0, 0
    if isinstance(v, int):
        oid = OID["int8"] if ktype == "int8" or not -2**31 <= v < 2**31 else OID["int4"]
        if binary_ok:
            return struct.pack("!q" if oid == 20 else "!i", v), oid, 1
        return str(v).encode(), oid, 0
    if isinstance(v, uuidmod.UUID):
        if binary_ok:
            return v.bytes, OID["uuid"], 1
        return str(v).encode(), OID["uuid"], 0
    return str(v).encode(), OID["text"], 1 if binary_ok else 0


def build(L, q, key, ktype, label, r):
    """Turns a Query and a key into a Stmt in the loop's style."""
    extra = list(q.extra)
    nkey = q.sql.count("{key}")
    if L.style == "simple":
        sql = q.sql.replace("{key}", render_literal(key, ktype, L.lit_mode))
        for e in extra:
            sql = sql.replace("{extra}", str(e), 1)
        return Stmt(sql, (), "simple", label, q.order)
    if L.style in ("raw", "rawprep"):
        vals, types, fmts = [], [], []
        b, o, f = raw_param(key, ktype, L.raw_untyped, r.random() < 0.5)
        vals.append(b)
        types.append(o)
        fmts.append(f)
        sql = q.sql.replace("{key}", "$1")  # a key used twice is one parameter used twice
        for i, e in enumerate(extra):
            sql = sql.replace("{extra}", "$%d" % (i + 2), 1)
            vals.append(str(e).encode())
            types.append(0)
            fmts.append(0)
        return Stmt(sql, vals, L.style, label, q.order, binary=L.result_binary, raw_types=types, raw_formats=fmts)
    ph = {"auto": "%s", "text": "%t", "binary": "%b", "int8": "%s", "str": "%s"}[L.param_mode]
    if L.style == "client":
        ph = "%s"
    if isinstance(key, str) and ph == "%b" and r.random() < 0.5:
        ph = "%s"
    if isinstance(key, str) and L.param_mode == "binary" and ktype == "varchar":
        ph = "%s"  # binary text params are typed text; fine for varchar too, but keep both
    sql = q.sql.replace("%", "%%").replace("{key}", ph).replace("{extra}", "%s")
    params = [py_param(key, ktype, L.param_mode if L.style != "client" else "auto")] * nkey + extra
    if L.style == "client":
        return Stmt(sql, params, "client", label, q.order)
    if L.style not in ("ext", "bin", "prep", "ext_auto", "pipe"):
        raise ValueError(L.style)
    prepare = None
    if L.style == "prep":
        prepare = True
    elif getattr(L, "auto", False):
        prepare = None  # psycopg prepares by itself after 5 uses
    elif L.style in ("ext", "bin", "ext_auto"):
        prepare = False
    return Stmt(sql, params, "pipe" if L.style == "pipe" else "ext", label, q.order, binary=(L.style == "bin"),
                prepare=prepare)


def plain(sql, label="misc", style="ext", snap=True, binary=False):
    """A statement with no parameters, run the loop's way (simple protocol for ext: psycopg
    sends a parameterless text query as a simple Query)."""
    if style == "raw":
        return Stmt(sql, [], "raw", label, None, binary=binary, raw_types=[], raw_formats=[], snap=snap)
    if style == "simple":
        return Stmt(sql, (), "simple", label, None, snap=snap)
    if style == "pipe":
        return Stmt(sql, (), "pipe", label, None, binary=binary, snap=snap)
    return Stmt(sql, (), "ext", label, None, binary=binary, snap=snap)


# ---------------------------------------------------------------------------------------------
# Running


class SeedRun:
    def __init__(self, env, seed, opts):
        self.env = env
        self.seed = seed
        self.opts = opts
        self.rng = random.Random(seed)
        self.schema = gen_schema(self.rng)
        self.dba = "df_%d_a" % seed
        self.dbb = "df_%d_b" % seed
        self.pairs = {}
        self.hist = {}
        self.writer_ran = False
        self.nstmt = 0
        self.stats = {"loops": 0, "iterations": 0, "statements": 0, "writer_loops": 0, "writer_commits": 0,
                      "direct_selects": 0, "pgfold_selects": 0, "by_proxy": {}, "by_kind": {}, "by_style": {},
                      "by_tx": {}}
        self.trace = []

    # -- setup ------------------------------------------------------------------------------
    def admin(self):
        return psycopg.connect(host="127.0.0.1", port=self.env.pg_port, dbname="postgres", user="postgres",
                               autocommit=True)

    def setup(self):
        with self.admin() as c:
            for db in (self.dba, self.dbb):
                c.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)
                c.execute("CREATE DATABASE %s" % db)
        ddl = schema_sql(self.schema)
        for db in (self.dba, self.dbb):
            with psycopg.connect(host="127.0.0.1", port=self.env.pg_port, dbname=db, user="postgres",
                                 autocommit=True) as c:
                for stmt in ddl:
                    c.execute(stmt)
        self.relmaps = {self.dba: load_relmap(self.env.pg_port, self.dba),
                        self.dbb: load_relmap(self.env.pg_port, self.dbb)}
        self.table_names = set(t.name for t in self.schema.tables)

    def drop(self):
        if getattr(self, "statconn", None) is not None:
            # Forget this seed's statement entries: pg_stat_statements reads its whole query file
            # for every query, and a soak would otherwise fill it with dead databases' entries.
            try:
                self.statconn.execute(
                    "SELECT pg_stat_statements_reset(0, d.oid, 0) FROM pg_database d WHERE d.datname IN (%s, %s)",
                    (self.dba, self.dbb))
            except psycopg.Error:
                pass
            self.statconn.close()
            self.statconn = None
        for side in self.pairs.values():
            side[0].close()
            side[1].close()
        self.pairs = {}
        with self.admin() as c:
            for db in (self.dba, self.dbb):
                c.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)

    def pair(self, proxy, reconnect=False):
        pr = self.pairs.get(proxy)
        if pr and reconnect:
            pr[0].connect()
            pr[1].connect()
        if not pr:
            port = self.env.proxies[proxy]["port"]
            pr = (Side("pgfold:" + proxy, port, self.dbb, self.relmaps[self.dbb]),
                  Side("direct", self.env.pg_port, self.dba, self.relmaps[self.dba]))
            self.pairs[proxy] = pr
        return pr

    def count_selects(self):
        if getattr(self, "statconn", None) is None:
            self.statconn = self.admin()
        if True:
            c = self.statconn
            rows = c.execute(
                "SELECT d.datname, coalesce(sum(s.calls), 0)::int8 FROM pg_stat_statements s "
                "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname IN (%s, %s) "
                "AND s.query ~* '^\\s*(select|with)' "
                "AND s.query !~* 'pg_stat_statements|pg_constraint|pg_class|pg_attribute' "
                "GROUP BY d.datname", (self.dba, self.dbb)).fetchall()
        d = dict(rows)
        return d.get(self.dba, 0), d.get(self.dbb, 0)

    # -- one statement --------------------------------------------------------------------
    def step(self, L, st):
        fold_side, direct = self.cur_pair
        WATCH["what"] = "seed %d loop %d statement #%d: %s" % (self.seed, L.idx, self.nstmt + 1, st.show()[:300])
        WATCH["since"] = time.monotonic()
        b = fold_side.run(st)
        a = direct.run(st)
        WATCH["since"] = None
        self.nstmt += 1
        self.stats["statements"] += 1
        mask = set()
        if self.writer_ran and b.fields:
            mask = set(i for i, f in enumerate(b.fields) if f[2] == "w" or f[0] in ("w", "pw"))
        why = compare(st, a, b, mask)
        if self.opts.verbose:
            print("  #%d %s\n     -> %s  [%.1f ms pgfold, %.1f ms direct]" % (
                self.nstmt, st.show(), b.describe(4).replace("\n", "\n        "), (b.t1 - b.t0) * 1000,
                (a.t1 - a.t0) * 1000))
        if why:
            raise Mismatch("%s\n  statement #%d of loop %d: %s\n  direct: %s\n  pgfold: %s" % (
                why, self.nstmt, L.idx, st.show(), a.describe(), b.describe()))
        self.block_note(st, b)
        self.last_direct = a
        return b

    # -- the staleness oracle: what each statement saw, checked after the writer stopped ----
    def block_note(self, st, b):
        if st.style == "pipe":
            return  # the status is ACTIVE until the pipeline's Sync; no writer runs in these loops
        prev, self.tx_prev = self.tx_prev, b.tx
        if b.tx != "IDLE" and (prev == "IDLE" or getattr(st, "newblock", False)):
            self.block = {"t_begin": b.t0, "first": None, "iso": None}
        blk = self.block if (b.tx != "IDLE" or prev != "IDLE") else None
        if blk is not None and blk["first"] is None and st.snap and b.err is None and b.tx != "IDLE":
            blk["first"] = (b.t0, b.t1)
            blk["iso"] = self.direct_iso()
        if b.err is None and b.rows:
            obs = observations(b, self.table_names)
            if obs:
                self.observed.append((st, b, obs, blk))
        if b.tx == "IDLE":
            self.block = None

    def direct_iso(self):
        """The isolation level of the direct side's open block. The SHOW replaces the direct
        side's unnamed statement: both sides then Parse theirs again before the next Bind of
        it (style rawprep), so the two still see the same protocol."""
        fold_side, direct = self.cur_pair
        try:
            iso = direct.conn.execute("SHOW transaction_isolation").fetchone()[0]
        except psycopg.Error:
            iso = None
        fold_side.unnamed = direct.unnamed = None
        return iso

    def check_staleness(self, L):
        prox = self.env.proxies[L.proxy]
        mode, S = prox["mode"], prox["staleness"] / 1000.0
        blocks = {}
        for st, b, obs, blk in self.observed:
            if not obs:
                continue
            iv_lo, iv_hi = -INF, INF
            for (table, rid, w) in obs:
                lo, hi = obs_interval(self.hist, table, rid, w)
                iv_lo, iv_hi = max(iv_lo, lo), min(iv_hi, hi)
            if blk is not None and blk["iso"] in ("repeatable read", "serializable"):
                k = id(blk)
                cur = blocks.get(k)
                f0, f1 = blk["first"] if blk["first"] else (b.t0, b.t1)
                if cur is None:
                    cur = blocks[k] = [f0, f1, []]
                cur[0], cur[1] = max(cur[0], iv_lo), min(cur[1], iv_hi)
                cur[2].append((st, b, obs))
                if cur[0] > cur[1]:
                    return self.stale_report(L, "REPEATABLE READ block saw rows of different instants "
                                                "(or not of the snapshot's)", cur[2], blk["first"], mode)
                continue
            if blk is None:
                lo = b.t0 - S if mode == "window" else b.t0
            elif mode == "window":
                lo = min(blk["t_begin"], b.t0 - S)
            elif mode == "transaction":
                lo = blk["t_begin"]
            else:
                lo = b.t0
            lo -= TOL
            if max(iv_lo, lo) > min(iv_hi, b.t1):
                return self.stale_report(L, "answer outside what consistency=%s allows (%s)" % (
                    mode, "autocommit" if blk is None else "block, %s" % blk["iso"]), [(st, b, obs)],
                    (lo, b.t1), mode)
        return None

    def stale_report(self, L, why, items, window, mode):
        lines = [why, "  loop %d via %s (%s), allowed window relative to the request: %s" % (
            L.idx, L.proxy, mode, "[%.1f ms, %.1f ms]" % ((window[0] - items[-1][1].t0) * 1000,
                                                         (window[1] - items[-1][1].t0) * 1000) if window else "?")]
        for st, b, obs in items[-6:]:
            lines.append("  %s\n    at t=%.4f..%.4f" % (st.show(), b.t0, b.t1))
            for (table, rid, w) in obs[:8]:
                lo, hi = obs_interval(self.hist, table, rid, w)
                lines.append("    %s id=%s w=%d possible in [%s, %s] (relative ms)" % (
                    table, rid, w, "-inf" if lo == -INF else "%.1f" % ((lo - b.t0) * 1000),
                    "inf" if hi == INF else "%.1f" % ((hi - b.t0) * 1000)))
        return "\n".join(lines)

    # -- a loop -----------------------------------------------------------------------------
    def run_loop(self, L):
        s = self.schema
        r = random.Random("%d:%d" % (self.seed, L.idx))
        fold_side, direct = self.pair(L.proxy, L.reconnect)
        self.cur_pair = (fold_side, direct)
        L.auto = L.style == "ext_auto"
        for side in (fold_side, direct):
            side.conn.prepare_threshold = 5 if L.auto else None
            side.conn.prepared_max = L.prepared_max
        if L.writer and L.tx not in ("auto", "rc"):
            L.p_write = 0  # a concurrent update of a row it writes would fail a snapshot block
        self.observed = []
        self.block = None
        self.look_type = key_type_of(L.look_table, "id" if L.kind == "forward" else
                                     ("grp" if L.kind == "grp" else L.look_table.ref[0]))
        self.tx_prev = txs(fold_side)
        writer = None
        d0, b0 = self.count_selects()
        if L.writer:
            writer = Writer(self.env.pg_port, self.dbb, s, self.hist, "%d:%d" % (self.seed, L.idx))
            writer.start()
            writer.ready.wait(10)
            self.writer_ran = True
            time.sleep(0.003)
        sty = L.style if L.style in ("simple", "raw", "pipe") else "raw" if L.style == "rawprep" else "ext"
        try:
            in_block = False
            with contextlib.ExitStack() as pipes:
                if L.style == "pipe":
                    # psycopg's pipeline mode: Parse/Bind/Describe/Execute and a Flush per
                    # statement (to read its result), one Sync when the pipeline ends
                    pipes.enter_context(fold_side.conn.pipeline())
                    pipes.enter_context(direct.conn.pipeline())
                for pre in L.pre:
                    self.step(L, plain(pre, "pre", sty, snap=False))
                in_block = self.begin(L, sty)
                drv = self.step(L, plain(L.drive.sql, "drive", sty, binary=L.result_binary and sty != "simple"))
                # The loop runs over the rows pgfold returned, in its order, as a client would (pgfold
                # batches from the current key's row on). Database b's heap order can differ from a's
                # once a concurrent writer has updated rows, so from a seed's first writer loop on,
                # a replay may take other paths.
                self.iterate(L, r, drv, sty, in_block)
            if in_block and txs(fold_side) != "IDLE":
                end = L.end if txs(fold_side) == "INTRANS" else "ROLLBACK"
                self.step(L, plain(end, "tx", sty, snap=False))
            if L.tx in ("rr_session", "rc_after_rolled_back_session_rr", "session_rr_begin_rc_begin"):
                self.step(L, plain("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
                                   "tx", sty, snap=False))
        finally:
            if writer:
                writer.stop.set()
                writer.join(30)
                self.stats["writer_commits"] += writer.commits
                self.stats["writer_loops"] += 1
        if writer and writer.error:
            raise Mismatch("concurrent writer failed: %s" % writer.error)
        why = self.check_staleness(L)
        if why:
            raise Mismatch(why)
        d1, b1 = self.count_selects()
        if self.opts.verbose or self.opts.loop_counts:
            print("loop %d: SELECTs direct %d, through pgfold %d (%s %s %s %s)" % (
                L.idx, d1 - d0, b1 - b0, L.kind, L.style, L.tx, L.proxy))
        self.stats["direct_selects"] += d1 - d0
        self.stats["pgfold_selects"] += b1 - b0
        for key, val in (("by_proxy", L.proxy), ("by_kind", L.kind), ("by_style", L.style),
                         ("by_tx", L.tx if L.tx in ("auto", "rc", "rr") else "other")):
            e = self.stats[key].setdefault(val, [0, 0])
            e[0] += d1 - d0
            e[1] += b1 - b0
        self.stats["loops"] += 1

    def begin(self, L, sty):
        tx = L.tx
        if tx == "auto":
            return False
        if tx == "rc":
            self.step(L, plain("BEGIN", "tx", sty, snap=False))
        elif tx == "rr":
            self.step(L, plain("BEGIN ISOLATION LEVEL REPEATABLE READ", "tx", sty, snap=False))
        elif tx == "ser":
            self.step(L, plain("BEGIN ISOLATION LEVEL SERIALIZABLE", "tx", sty, snap=False))
        elif tx == "rr_settx":
            self.step(L, plain("BEGIN", "tx", sty, snap=False))
            self.step(L, plain("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "tx", sty, snap=False))
        elif tx == "rr_session":
            self.step(L, plain("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                               "tx", sty, snap=False))
            self.step(L, plain("BEGIN", "tx", sty, snap=False))
        elif tx == "rr_then_settx_rc":
            # before the first query, SET TRANSACTION may still change the level
            self.step(L, plain("BEGIN ISOLATION LEVEL REPEATABLE READ", "tx", sty, snap=False))
            self.step(L, plain("SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "tx", sty, snap=False))
        elif tx == "rr_then_setguc_rc":
            self.step(L, plain("BEGIN ISOLATION LEVEL REPEATABLE READ", "tx", sty, snap=False))
            self.step(L, plain("SET transaction_isolation = 'read committed'", "tx", sty, snap=False))
        elif tx == "rc_then_begin_rr":
            # a BEGIN inside a block is a WARNING, but its isolation level applies (before any
            # query): the block becomes REPEATABLE READ
            self.step(L, plain("BEGIN", "tx", sty, snap=False))
            self.step(L, plain("BEGIN ISOLATION LEVEL REPEATABLE READ", "tx", sty, snap=False))
        elif tx == "session_rr_begin_rc_begin":
            # the session default is REPEATABLE READ, this block READ COMMITTED; a second plain
            # BEGIN (a WARNING) changes nothing
            self.step(L, plain("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                               "tx", sty, snap=False))
            self.step(L, plain("BEGIN ISOLATION LEVEL READ COMMITTED", "tx", sty, snap=False))
            self.step(L, plain("BEGIN", "tx", sty, snap=False))
        elif tx == "rc_after_rolled_back_session_rr":
            # SET SESSION CHARACTERISTICS is transactional: rolled back, the next block is
            # READ COMMITTED again.
            self.step(L, plain("BEGIN", "tx", sty, snap=False))
            self.step(L, plain("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                               "tx", sty, snap=False))
            self.step(L, plain("ROLLBACK", "tx", sty, snap=False))
            self.step(L, plain("BEGIN", "tx", sty, snap=False))
        return True

    def chain(self, L, r, sty):
        """Ends the block and begins the next one without passing through autocommit."""
        iso = r.choice(["", " ISOLATION LEVEL REPEATABLE READ", " ISOLATION LEVEL READ COMMITTED"])
        if sty == "simple" and r.random() < 0.6:
            st = plain(r.choice(["COMMIT", "ROLLBACK"]) + "; BEGIN" + iso, "tx", sty, snap=False)
        else:
            # AND CHAIN keeps the level of the block it ends
            st = plain(r.choice(["COMMIT AND CHAIN", "ROLLBACK AND CHAIN"]), "tx", sty, snap=False)
        st.newblock = True
        self.step(L, st)

    def key_of(self, res, name, names):
        """Python values of column `name` for each row of a result (by the select list)."""
        if res.err or not res.rows:
            return []
        if name not in names:
            return []
        i = names.index(name)
        f = res.fields[i]
        return [decode(f[3], f[6], row[i]) for row in res.rows]

    def iterate(self, L, r, drv, sty, in_block):
        s = self.schema
        keys = self.key_of(drv, L.drive_key, L.drive.cols)
        lt = self.look_type
        seen = []
        n = 0
        for i, k in enumerate(keys):
            if L.partial and r.random() < 0.15:
                break
            if L.p_write and r.random() < L.p_write:
                self.own_write(L, r, sty, in_block, seen, keys)
                if txs(self.cur_pair[0]) == "INERROR":
                    return
            if in_block and L.chain and i == len(keys) // 2 and txs(self.cur_pair[0]) == "INTRANS":
                self.chain(L, r, sty)
            if L.p_skip and r.random() < L.p_skip:
                continue
            if k is None and r.random() < 0.7:
                continue  # most loops skip NULL references
            n += 1
            self.stats["iterations"] += 1
            res = self.step(L, build(L, L.look, k, lt, "lookup", r))
            seen.append(k)
            if L.nested and not res.err:
                kids = self.key_of(res, "id", L.look.cols)
                lt2 = key_type_of(s.g, s.g.ref[0])
                for ck in kids:
                    self.stats["iterations"] += 1
                    self.step(L, build(L, L.look2, ck, lt2, "lookup2", r))
            if L.p_repeat and r.random() < L.p_repeat:
                again = r.choice(seen) if r.random() < 0.5 else k
                self.step(L, build(L, L.look, again, lt, "repeat", r))
            if L.p_stray and r.random() < L.p_stray:
                stray = r.choice(keys) if keys and r.random() < 0.5 else \
                    gen_keys(r, lt if lt in ("int4", "int8", "uuid", "bpchar") else "text", 1, set())[0]
                if isinstance(stray, int) and lt == "int4" and not -2**31 <= stray < 2**31:
                    stray = 7
                self.step(L, build(L, L.look, stray, lt, "stray", r))
            if txs(self.cur_pair[0]) == "INERROR":
                return

    # -- the session's own writes ------------------------------------------------------------
    def own_write(self, L, r, sty, in_block, seen, keys):
        """One write of the session's own between two lookups (on cold rows when the writer
        runs), sometimes inside a savepoint that is rolled back."""
        s = self.schema
        tab = r.choice(s.tables)
        cold_only = L.writer
        cands = sorted(tab.live - tab.hot) if cold_only else sorted(tab.live)
        # prefer keys the loop uses: one it looked up already, or one it will look up later
        if tab is L.look_table or tab is s.p:
            near = sorted(set(canon(k) for k in keys if k is not None) & set(cands))
            if near and r.random() < 0.6:
                cands = near
        target = r.choice(cands) if cands else None
        kind = r.choice(["update", "update", "insert", "delete", "move", "cte", "forupdate", "nextval",
                         "savepoint_undo"])
        if kind == "savepoint_undo" and not in_block:
            kind = "update"
        if kind == "move" and tab.ref is None:
            kind = "update"
        if target is None and kind not in ("insert", "nextval"):
            kind = "insert"
        if cold_only and kind == "delete" and tab is not s.g:
            kind = "update"  # ON DELETE CASCADE / SET NULL would touch the writer's rows
        tn = qi(tab.name)
        tk = sql_lit(self.parse_key(tab, target)) if target is not None else None
        newk = None
        if kind == "update":
            sqls = ["UPDATE %s SET val = val + 1, name = %s WHERE id = %s" % (
                tn, sql_lit(r.choice(["u%d" % r.randint(0, 9), None, "é"])), tk)]
        elif kind == "insert":
            newk = self.new_key(tab, r)
            cols = ["id", "name", "val", "rank"]
            vals = [sql_lit(newk), sql_lit("ins"), str(r.randint(-5, 50)), str(r.randint(0, 3))]
            if tab.ref:
                col, parent, coltype, decl, _ = tab.ref
                pk = None
                pl = sorted(parent.live)
                if pl and r.random() < 0.85:
                    pk = self.parse_key(parent, r.choice(pl))
                    if coltype == "int4" and isinstance(pk, int) and not -2**31 <= pk < 2**31:
                        pk = None
                cols.append(col)
                vals.append(sql_lit(pk))
            sqls = ["INSERT INTO %s (%s) VALUES (%s)" % (tn, ", ".join(qi(c) for c in cols), ", ".join(vals))]
        elif kind == "delete":
            sqls = ["DELETE FROM %s WHERE id = %s" % (tn, tk)]
        elif kind == "move":
            col, parent, coltype, decl, _ = tab.ref
            pl = sorted(parent.live)
            pk = self.parse_key(parent, r.choice(pl)) if pl and r.random() < 0.8 else None
            if coltype == "int4" and isinstance(pk, int) and not -2**31 <= pk < 2**31:
                pk = None
            sqls = ["UPDATE %s SET %s = %s WHERE id = %s" % (tn, qi(col), sql_lit(pk), tk)]
        elif kind == "cte":
            sqls = ["WITH u AS (UPDATE %s SET val = val - 1 WHERE id = %s RETURNING id) SELECT count(*) FROM u"
                    % (tn, tk)]
        elif kind == "forupdate":
            sqls = ["SELECT id, val FROM %s WHERE id = %s FOR UPDATE" % (tn, tk)]
        elif kind == "nextval":
            sqls = ["SELECT nextval('df_seq')"]
        else:  # savepoint_undo: a write, a lookup that sees it, the write undone, the lookup again
            self.step(L, plain("SAVEPOINT df_sp", "write", sty, snap=False))
            self.step(L, plain("UPDATE %s SET val = val + 100, name = 'undone' WHERE id = %s" % (tn, tk),
                               "write", sty))
            again = [k for k in keys if k is not None]
            if again:
                k = r.choice(again)
                self.step(L, build(L, L.look, k, self.look_type, "lookup-in-sp", r))
            if sty == "simple" and r.random() < 0.5:
                # one Query with both statements (what pgfold itself sends to recover a batch)
                self.step(L, plain("ROLLBACK TO SAVEPOINT df_sp; RELEASE SAVEPOINT df_sp", "write", sty, snap=False))
                if again:
                    self.step(L, build(L, L.look, k, self.look_type, "lookup-after-undo", r))
                return
            self.step(L, plain("ROLLBACK TO SAVEPOINT df_sp", "write", sty, snap=False))
            if again:
                self.step(L, build(L, L.look, k, self.look_type, "lookup-after-undo", r))
            self.step(L, plain("RELEASE SAVEPOINT df_sp", "write", sty, snap=False))
            return
        use_sp = in_block and kind in ("insert", "delete", "move") and r.random() < 0.7
        if use_sp:
            self.step(L, plain("SAVEPOINT df_w", "write", sty, snap=False))
        failed = False
        for sq in sqls:
            res = self.step(L, plain(sq, "write", sty))
            failed = failed or res.err is not None
        if use_sp:
            undo = failed or r.random() < 0.2
            self.step(L, plain("ROLLBACK TO SAVEPOINT df_w" if undo else "RELEASE SAVEPOINT df_w",
                               "write", sty, snap=False))
            failed = failed or undo
        if not failed and newk is not None:
            tab.live.add(canon(newk))
        if not failed and kind == "delete":
            tab.live.discard(target)

    def parse_key(self, tab, ck):
        """Canonical text back to the python value of tab's key type."""
        if ck is None:
            return None
        if tab.keytype in ("int4", "int8"):
            return int(ck)
        if tab.keytype == "uuid":
            return uuidmod.UUID(ck)
        return ck

    def new_key(self, tab, r):
        while True:
            if tab.keytype in ("int4", "int8"):
                self.schema.next_int += 1
                v = self.schema.next_int
            elif tab.keytype == "uuid":
                v = uuidmod.UUID(int=r.getrandbits(128))
            elif tab.keytype == "bpchar":
                v = ("n%d" % r.randint(0, 10**6)).ljust(BPCHAR_LEN)
            else:
                v = "new-%d%s" % (r.randint(0, 10**6), r.choice(["", "'", "\\", " ", "é", ","]))
            if canon(v) not in tab.live:
                return v

    # -- the whole seed ---------------------------------------------------------------------
    def run(self):
        self.setup()
        nloops = self.opts.loops or self.rng.randint(12, 30)
        only = self.opts.only_loops
        plans = []
        for i in range(nloops):
            L = gen_loop(self.rng, self.schema, i, self.env.proxies, not self.opts.no_writer)
            if plans and self.rng.random() < 0.25:
                # the same code path again (a second request to the same endpoint): the same
                # statements, in the same session, in another transaction mode
                src = self.rng.choice(plans)
                for k in ("proxy", "style", "kind", "drive", "drive_key", "look", "look_table", "look2",
                          "look2_key", "param_mode", "lit_mode", "result_binary", "raw_untyped", "nested",
                          "wcols"):
                    if hasattr(src, k):
                        setattr(L, k, getattr(src, k))
                L.copy_of = src.idx
            plans.append(L)
        for kv in filter(None, self.opts.force.split(",")):
            k, _, v = kv.partition("=")
            for L in plans:
                old = getattr(L, k)
                if isinstance(old, bool):
                    val = bool(int(v))
                elif isinstance(old, (int, float)):
                    val = float(v) if "." in v else int(v)
                else:
                    val = v
                setattr(L, k, val)
        try:
            for L in plans:
                if only is not None and L.idx not in only:
                    continue
                if self.opts.verbose:
                    print("loop %d: %s via %s, style %s, tx %s/%s%s, params %s, literals %s%s" % (
                        L.idx, L.kind, L.proxy, L.style, L.tx, L.end, ", writer" if L.writer else "",
                        L.param_mode, L.lit_mode, ", again as loop %d" % L.copy_of if hasattr(L, "copy_of") else ""))
                self.run_loop(L)
        finally:
            if not self.opts.keep:
                try:
                    self.drop()
                except Exception:
                    pass
        return self.stats


# ---------------------------------------------------------------------------------------------
# Main


class Env:
    pass


WATCH = {"since": None, "what": ""}
HANG_SECONDS = 120


def watchdog():
    """A statement that never answers (pgfold or PostgreSQL hung) must not hang a soak silently."""
    while True:
        time.sleep(5)
        t = WATCH["since"]
        if t is not None and time.monotonic() - t > HANG_SECONDS:
            print("FAIL no answer in %d s: %s" % (HANG_SECONDS, WATCH["what"]), flush=True)
            os._exit(1)


def parse_proxy(spec):
    # name:port:mode:staleness_ms[:admin_port]
    parts = spec.split(":")
    if len(parts) < 4:
        raise SystemExit("bad --proxy %r (want name:port:mode:staleness_ms[:admin_port])" % spec)
    return parts[0], {"port": int(parts[1]), "mode": parts[2], "staleness": int(parts[3]),
                      "admin": int(parts[4]) if len(parts) > 4 and parts[4] else None}


def metrics(env):
    out = {}
    for name, p in env.proxies.items():
        if not p["admin"]:
            continue
        try:
            import urllib.request
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % p["admin"], timeout=10) as f:
                for line in f.read().decode().splitlines():
                    if line.startswith("#") or not line.strip():
                        continue
                    k, _, v = line.rpartition(" ")
                    try:
                        out.setdefault(name, {})[k] = float(v)
                    except ValueError:
                        pass
        except Exception:
            pass
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, action="append", help="run this seed (repeatable)")
    ap.add_argument("--random", action="store_true", help="random seeds until --duration is over")
    ap.add_argument("--duration", type=float, default=600, help="seconds, with --random")
    ap.add_argument("--loops", type=int, default=0, help="loops per seed (default: random 12..30)")
    ap.add_argument("--only-loops", help="comma list of loop indices to run (the rest are generated, not run)")
    ap.add_argument("--no-writer", action="store_true", help="no concurrent-writer loops")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every statement")
    ap.add_argument("--loop-counts", action="store_true", help="print the statement counts of every loop")
    ap.add_argument("--keep", action="store_true", help="keep the seed's databases")
    ap.add_argument("--force", default="", help="override loop properties, e.g. tx=rr,proxy=snap,writer=1 "
                    "(for exploring; a forced run is not the seed's own run)")
    ap.add_argument("--pg-port", type=int)
    ap.add_argument("--proxy", action="append", default=[], help="name:port:mode:staleness_ms[:admin_port]")
    ap.add_argument("--report", help="write the totals as JSON here")
    ap.add_argument("--min-fold-ratio", type=float, default=0, help="fail if direct/pgfold SELECTs is lower")
    opts = ap.parse_args()
    if opts.only_loops:
        opts.only_loops = set(int(x) for x in opts.only_loops.split(","))
    if not opts.seed and not opts.random:
        ap.error("give --seed N or --random")
    if not opts.pg_port:
        # No cluster given: start one (and the pgfold instances) and come back through soak.sh.
        os.execv("/bin/bash", ["bash", os.path.join(HERE, "soak.sh"), "--replay"] + sys.argv[1:])
    env = Env()
    env.pg_port = opts.pg_port
    env.proxies = dict(parse_proxy(p) for p in opts.proxy)
    if not env.proxies:
        ap.error("no --proxy")
    totals = {"seeds": 0, "loops": 0, "iterations": 0, "statements": 0, "writer_loops": 0, "writer_commits": 0,
              "direct_selects": 0, "pgfold_selects": 0, "by_proxy": {}, "by_kind": {}, "by_style": {}, "by_tx": {}}
    with psycopg.connect(host="127.0.0.1", port=env.pg_port, dbname="postgres", user="postgres",
                         autocommit=True) as c:
        # entries of databases dropped without a reset (an interrupted run) only slow us down
        c.execute("SELECT pg_stat_statements_reset(0, x.dbid, 0) FROM (SELECT DISTINCT dbid FROM "
                  "pg_stat_statements(false) WHERE dbid NOT IN (SELECT oid FROM pg_database)) x")
    threading.Thread(target=watchdog, daemon=True).start()
    t_start = time.monotonic()
    seeds = list(opts.seed or [])
    srng = random.Random()
    failed = None
    while True:
        if seeds:
            seed = seeds.pop(0)
        elif opts.random and time.monotonic() - t_start < opts.duration:
            seed = srng.randint(1, 2**31 - 1)
        else:
            break
        t0 = time.monotonic()
        if opts.random:
            print("seed %d: starting" % seed, flush=True)
        run = SeedRun(env, seed, opts)
        try:
            st = run.run()
        except Mismatch as e:
            failed = seed
            print("FAIL seed %d: %s" % (seed, e))
            print("replay: tests/diff/difftest.py --seed %d%s" % (seed, " --loops %d" % opts.loops if opts.loops else ""))
            break
        except Exception:
            failed = seed
            print("FAIL seed %d: the generator itself failed" % seed)
            traceback.print_exc(file=sys.stdout)
            print("replay: tests/diff/difftest.py --seed %d" % seed)
            break
        dt = time.monotonic() - t0
        totals["seeds"] += 1
        for k in ("loops", "iterations", "statements", "writer_loops", "writer_commits", "direct_selects",
                  "pgfold_selects"):
            totals[k] += st[k]
        for key in ("by_proxy", "by_kind", "by_style", "by_tx"):
            for name, (a, b) in st[key].items():
                e = totals[key].setdefault(name, [0, 0])
                e[0] += a
                e[1] += b
        print("seed %d: %s, %d loops, %d lookups, %d statements, SELECTs direct %d / pgfold %d, %.1fs" % (
            seed, run.schema.style + "/" + "/".join(t.keytype for t in run.schema.tables), st["loops"],
            st["iterations"], st["statements"], st["direct_selects"], st["pgfold_selects"], dt))
        sys.stdout.flush()
    elapsed = time.monotonic() - t_start
    ratio = totals["direct_selects"] / totals["pgfold_selects"] if totals["pgfold_selects"] else 0
    print("total: %d seeds, %d loops, %d lookups, %d statements (each run direct and through pgfold), "
          "%d writer loops (%d concurrent commits), %.0f s, %.1f loops/s, %.0f lookups/s" % (
              totals["seeds"], totals["loops"], totals["iterations"], totals["statements"], totals["writer_loops"],
              totals["writer_commits"], elapsed, totals["loops"] / elapsed if elapsed else 0,
              totals["iterations"] / elapsed if elapsed else 0))
    print("fold ratio: SELECTs direct %d / through pgfold %d = %.2f" % (
        totals["direct_selects"], totals["pgfold_selects"], ratio))
    for key in ("by_proxy", "by_kind", "by_style", "by_tx"):
        print("  %s: %s" % (key, ", ".join("%s %d/%d=%.2f" % (n, a, b, a / b if b else 0)
                                           for n, (a, b) in sorted(totals[key].items()))))
    m = metrics(env)
    for name, vals in sorted(m.items()):
        print("  pgfold %s: batches %d, batch answers %d, repeat answers %d, fallbacks error %d size %d rowdesc %d" % (
            name, vals.get("pgfold_batches_total", 0), vals.get("pgfold_batch_answers_total", 0),
            vals.get("pgfold_repeat_answers_total", 0), vals.get('pgfold_fallbacks_total{reason="error"}', 0),
            vals.get('pgfold_fallbacks_total{reason="size"}', 0),
            vals.get('pgfold_fallbacks_total{reason="rowdescription"}', 0)))
    totals["fold_ratio"] = ratio
    totals["elapsed"] = elapsed
    totals["metrics"] = m
    totals["failed_seed"] = failed
    if opts.report:
        with open(opts.report, "w") as f:
            json.dump(totals, f, indent=1)
    if failed is not None:
        sys.exit(1)
    if opts.min_fold_ratio and ratio < opts.min_fold_ratio:
        print("FAIL: fold ratio %.2f below %.2f: pgfold did not fold enough" % (ratio, opts.min_fold_ratio))
        sys.exit(1)


if __name__ == "__main__":
    main()
