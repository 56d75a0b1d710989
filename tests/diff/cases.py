#!/usr/bin/python3
"""Targeted regression cases for the bugs the differential test (difftest.py) found.

    cases.py --port PORT --other-port PG_PORT --db NAME setup|CASE

Session A (psycopg 3, autocommit, explicit transaction statements) runs on --port: PostgreSQL
itself or a pgfold in front of it; session B, when a case needs another session's commit, goes
straight to PostgreSQL (--other-port), at fixed points of A's script, so the output is
deterministic and the run direct and the run through pgfold must print the same lines.
Every case first resets the rows it uses.

Tables: parent (id int, 40 rows and 40001..40010), mixchild (10 rows, parents 2, 40001, 4, ...), child (id int, parent_id int8, 120 rows, 3 per parent,
plus child 500 whose parent_id 1099511627776 is out of int4 range), bparent (code char(4)) and
bchild (ref text, values with trailing spaces).

Cases (the consistency mode is the pgfold instance's; the expectation is PostgreSQL's own):
  session-rr-rolled-back   BEGIN; SET SESSION CHARACTERISTICS ... REPEATABLE READ; ROLLBACK: the
                           next BEGIN is READ COMMITTED, so A sees B's commit mid-loop
  rr-then-settx-rc         BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION ISOLATION LEVEL
                           READ COMMITTED: a READ COMMITTED block
  rr-then-setguc-rc        ... SET transaction_isolation = 'read committed': the same
  session-rr-begin-rc-begin  session default REPEATABLE READ, BEGIN ISOLATION LEVEL READ
                           COMMITTED, then a plain BEGIN (a warning): still READ COMMITTED
  begin-rr-in-block        BEGIN; BEGIN ISOLATION LEVEL REPEATABLE READ: REPEATABLE READ (the
                           control: B's commit is not seen, and the loop folds in snapshot mode)
  chain-multi              a REPEATABLE READ block, then "COMMIT; BEGIN ISOLATION LEVEL
                           REPEATABLE READ" in one Query, B commits: the new block sees it
  savepoint-multi          an own write inside SAVEPOINT s, then "ROLLBACK TO SAVEPOINT s;
                           RELEASE SAVEPOINT s" in one Query: the write is gone
  window-rr                a loop in autocommit, B commits, then the same lookups in a
                           REPEATABLE READ block: they see B's commit (the block's snapshot)
  untyped-range            lookups with untyped parameters (type 0, like node-postgres):
                           '1099511627776' for an int4 column fails with 22003 as it does direct
  untyped-bpchar           untyped keys for a char(4) column: 'ab ' matches 'ab' (bpchar ignores
                           trailing spaces)
  int2-keys                psycopg binds 2 as int2 and 40001 as int4; the loop's keys mix both:
                           batches bind them as int4
  unnamed-prepared         PQprepare("") once, PQexecPrepared("") per row, in a database pgfold
                           has not read the foreign keys of yet: every lookup answers
"""
import argparse

import psycopg
from psycopg import pq

SETUP = """
DROP TABLE IF EXISTS child, mixchild, parent, bchild, bparent;
CREATE TABLE parent (id int PRIMARY KEY, txt text NOT NULL);
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 40) g;
CREATE TABLE child (id int PRIMARY KEY, parent_id int8, txt text NOT NULL);
INSERT INTO child SELECT g, (g - 1) / 3 + 1, 'c' || g FROM generate_series(1, 120) g;
INSERT INTO child VALUES (500, 1099511627776, 'far away');
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(40001, 40010) g;
CREATE TABLE mixchild (id int PRIMARY KEY, parent_id int NOT NULL);
INSERT INTO mixchild SELECT g, CASE WHEN g % 2 = 0 THEN g ELSE 40000 + g END FROM generate_series(1, 10) g;
CREATE TABLE bparent (code char(4) PRIMARY KEY, txt text NOT NULL);
INSERT INTO bparent VALUES ('ab', 'ab'), ('cd', 'cd'), ('ef', 'ef'), ('gh', 'gh');
CREATE TABLE bchild (id int PRIMARY KEY, ref text NOT NULL);
INSERT INTO bchild VALUES (1, 'ab '), (2, 'cd'), (3, 'ef  '), (4, 'gh'), (5, 'zz');
ANALYZE;
"""

RESET = "UPDATE parent SET txt = 'p' || id WHERE txt <> 'p' || id"


class A:
    def __init__(self, port, db):
        self.conn = psycopg.connect(host="127.0.0.1", port=port, dbname=db, user="postgres", autocommit=True)
        self.conn.prepare_threshold = None

    def q(self, sql, params=None, show=True, tag=None):
        try:
            cur = self.conn.execute(sql, params)
            rows = cur.fetchall() if cur.description else []
            out = "%s %s" % (rows, cur.statusmessage)
        except psycopg.Error as e:
            rows = None
            out = "ERROR %s %s" % (e.sqlstate, e.diag.message_primary)
        if show:
            print("A", tag or sql.split()[0], params if params is not None else "", "->", out,
                  self.conn.info.transaction_status.name)
        return rows

    def raw(self, sql, values, tag):
        """PQexecParams with untyped text parameters (what node-postgres sends)."""
        pg = self.conn.pgconn.exec_params(sql.encode(), [v.encode() for v in values], [0] * len(values),
                                          [0] * len(values), 0)
        if pg.status == pq.ExecStatus.FATAL_ERROR:
            print("A", tag, values, "-> ERROR", pg.error_field(pq.DiagnosticField.SQLSTATE).decode(),
                  pg.error_field(pq.DiagnosticField.MESSAGE_PRIMARY).decode())
        else:
            rows = [tuple(pg.get_value(r, c) for c in range(pg.nfields)) for r in range(pg.ntuples)]
            print("A", tag, values, "->", rows, pg.command_status.decode())


def b_update(port, db, pid, txt):
    with psycopg.connect(host="127.0.0.1", port=port, dbname=db, user="postgres", autocommit=True) as b:
        b.execute("UPDATE parent SET txt = %s WHERE id = %s", (txt, pid))
    print("B updated parent", pid)


LOOKUP = "SELECT id, txt FROM parent WHERE id = %s"


def source(a, first, last):
    """The driving query of an N+1 loop: child rows first..last."""
    return a.q("SELECT id, parent_id FROM child WHERE id BETWEEN %s AND %s ORDER BY id", (first, last),
               show=False)


def lookups(a, kids, tag="lookup"):
    """One lookup of the parent per child row."""
    for cid, pid in kids:
        a.q(LOOKUP, (pid,), tag="%s child %d" % (tag, cid))


def loop(a, first, last, tag="lookup"):
    lookups(a, source(a, first, last), tag)


def iso_block_case(a, o, begin):
    """begin() opens a block; one driving query, the first half of its loop (which fetches
    parent 35 in the batch), B changes parent 35, the second half (which reads it): in READ
    COMMITTED the change is seen, in REPEATABLE READ not."""
    b_update(o.other_port, o.db, 35, "p35")
    begin()
    print("isolation:", a.q("SHOW transaction_isolation", show=False)[0][0])
    kids = source(a, 1, 120)
    lookups(a, kids[:60])
    b_update(o.other_port, o.db, 35, "changed by B")
    lookups(a, kids[60:])
    a.q("COMMIT")
    a.q("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--other-port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("case")
    o = ap.parse_args()
    if o.case == "setup":
        with psycopg.connect(host="127.0.0.1", port=o.port, dbname=o.db, user="postgres", autocommit=True) as c:
            c.execute(SETUP)
        print("setup done")
        return
    with psycopg.connect(host="127.0.0.1", port=o.other_port, dbname=o.db, user="postgres", autocommit=True) as c:
        c.execute(RESET)
    a = A(o.port, o.db)
    c = o.case
    if c == "session-rr-rolled-back":
        def begin():
            a.q("BEGIN")
            a.q("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            a.q("ROLLBACK")
            a.q("BEGIN")
        iso_block_case(a, o, begin)
    elif c == "rr-then-settx-rc":
        iso_block_case(a, o, lambda: (a.q("BEGIN ISOLATION LEVEL REPEATABLE READ"),
                                      a.q("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")))
    elif c == "rr-then-setguc-rc":
        iso_block_case(a, o, lambda: (a.q("BEGIN ISOLATION LEVEL REPEATABLE READ"),
                                      a.q("SET transaction_isolation = 'read committed'")))
    elif c == "session-rr-begin-rc-begin":
        iso_block_case(a, o, lambda: (
            a.q("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ"),
            a.q("BEGIN ISOLATION LEVEL READ COMMITTED"), a.q("BEGIN")))
    elif c == "begin-rr-in-block":
        iso_block_case(a, o, lambda: (a.q("BEGIN"), a.q("BEGIN ISOLATION LEVEL REPEATABLE READ")))
    elif c == "chain-multi":
        b_update(o.other_port, o.db, 5, "p5")
        a.q("BEGIN ISOLATION LEVEL REPEATABLE READ")
        loop(a, 1, 30)
        a.q("COMMIT; BEGIN ISOLATION LEVEL REPEATABLE READ", tag="COMMIT;BEGIN")
        b_update(o.other_port, o.db, 5, "changed by B")
        loop(a, 1, 30, "again")
        a.q("COMMIT")
    elif c == "savepoint-multi":
        a.q("BEGIN")
        a.q("SAVEPOINT s")
        loop(a, 1, 30)
        a.q("UPDATE parent SET txt = 'undone' WHERE id = 5")
        loop(a, 1, 30, "after write")
        a.q("ROLLBACK TO SAVEPOINT s; RELEASE SAVEPOINT s", tag="ROLLBACK TO;RELEASE")
        loop(a, 1, 30, "after undo")
        a.q("COMMIT")
    elif c == "window-rr":
        b_update(o.other_port, o.db, 5, "p5")
        loop(a, 1, 30)
        b_update(o.other_port, o.db, 5, "changed by B")
        a.q("BEGIN ISOLATION LEVEL REPEATABLE READ")
        loop(a, 1, 30, "in block")
        a.q("COMMIT")
    elif c == "unnamed-prepared":
        # libpq's unnamed prepared statement, parsed once, bound per row (PQexecPrepared("")):
        # the first lookup pgfold traces in a database makes it read the foreign keys (a simple
        # Query, which drops the unnamed statement), and its batches Parse their own.
        pgc = a.conn.pgconn
        kids = a.q("SELECT id, parent_id FROM child WHERE id <= 60 ORDER BY id", show=False)
        pg = pgc.prepare(b"", b"SELECT id, txt FROM parent WHERE id = $1", [0])
        print("A prepare ->", pq.ExecStatus(pg.status).name)
        for cid, pid in kids:
            pg = pgc.exec_prepared(b"", [str(pid).encode()], [0], 0)
            if pg.status == pq.ExecStatus.FATAL_ERROR:
                print("A lookup child", cid, "-> ERROR", pg.error_field(pq.DiagnosticField.SQLSTATE).decode(),
                      pg.error_field(pq.DiagnosticField.MESSAGE_PRIMARY).decode())
            else:
                print("A lookup child", cid, "->", [tuple(pg.get_value(r, i) for i in range(pg.nfields))
                                                    for r in range(pg.ntuples)], pg.command_status.decode())
    elif c == "int2-keys":
        # psycopg binds a small int as int2 and a big one as int4: the batch must not bind its
        # keys as int2 (a source value beyond 32767 would fail the whole batch)
        for _ in range(2):
            for cid, pid in a.q("SELECT id, parent_id FROM mixchild ORDER BY id", show=False):
                a.q(LOOKUP, (pid,), tag="lookup mixchild %d" % cid)
    elif c == "untyped-range":
        for _ in range(2):
            kids = a.q("SELECT id, parent_id FROM child WHERE id > 100 ORDER BY id", show=False)
            for cid, pid in kids:
                a.raw("SELECT id, txt FROM parent WHERE id = $1", [str(pid)], "lookup child %d" % cid)
            # the same with a string literal in a simple Query
            kids = a.q("SELECT id, parent_id FROM child WHERE id > 100 ORDER BY id", show=False)
            for cid, pid in kids:
                a.q("SELECT id, txt FROM parent WHERE id = '%s'" % pid, tag="literal child %d" % cid)
    elif c == "untyped-bpchar":
        for _ in range(2):
            kids = a.q("SELECT id, ref FROM bchild ORDER BY id", show=False)
            for cid, ref in kids:
                a.raw("SELECT code, txt FROM bparent WHERE code = $1", [ref], "lookup bchild %d" % cid)
            for cid, ref in kids:
                a.q("SELECT code, txt FROM bparent WHERE code = '%s'" % ref, tag="literal bchild %d" % cid)
    else:
        raise SystemExit("unknown case %s" % c)


if __name__ == "__main__":
    main()
