#!/usr/bin/python3
"""Consistency scenarios (psycopg2, autocommit on, explicit BEGIN/COMMIT), one per run.

    consist.py --port PORT --db NAME setup|SCENARIO [--sleep SECONDS] [--info FILE]

Tables: cq (50 rows) and cc (200 rows, 4 per cq, cc.cq_id references cq). "The loop" reads
cc ORDER BY id and looks up "SELECT id, txt FROM cq WHERE id = %s" per row (direct: 201
statements). Every scenario first resets cq.txt to 'question <id>' from a second connection
(B), which is also "another session" below (same port as the main connection A).

  loop            the loop in autocommit
  tx-loop         BEGIN; the loop; COMMIT                          (READ COMMITTED)
  rr-loop         BEGIN ISOLATION LEVEL REPEATABLE READ; the loop; COMMIT
  rr-settx-loop   BEGIN; SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; the loop; COMMIT
  ownwrite        autocommit: the loop; after 100 rows A updates cq 10 (already read) and
                  cq 40 (read later), reads cq 10 again, finishes the loop, reads both again
  ownwrite-tx     the same inside BEGIN ... COMMIT
  other-window    A runs the loop; B updates cq 30 and commits; A sleeps --sleep seconds,
                  then reads cq 30 and runs the loop again (prints what it saw)
  other-blocks    BEGIN; loop; COMMIT; B updates cq 30 and commits; BEGIN; read cq 30;
                  loop; COMMIT; then cq 30 in autocommit
  rr-other        BEGIN ISOLATION LEVEL REPEATABLE READ; first half of the loop; B updates
                  cq 45 and commits; rest of the loop (cq 45 must still be the old value: the
                  snapshot); COMMIT; cq 45 in autocommit (new value)
--info FILE: lines that may legitimately differ between direct and pgfold (what A saw right
after B's commit, inside the window) go there instead of stdout.
"""
import argparse
import time

import psycopg2

LOOKUP = "SELECT id, txt FROM cq WHERE id = %s"

SETUP = """
DROP TABLE IF EXISTS cc, cq;
CREATE TABLE cq (id int PRIMARY KEY, txt text NOT NULL);
INSERT INTO cq SELECT g, 'question ' || g FROM generate_series(1, 50) g;
CREATE TABLE cc (id int PRIMARY KEY, cq_id int NOT NULL REFERENCES cq, txt text NOT NULL);
INSERT INTO cc SELECT g, (g - 1) / 4 + 1, 'choice ' || g FROM generate_series(1, 200) g;
ANALYZE cq, cc;
"""


def connect(port, db):
    c = psycopg2.connect(host="127.0.0.1", port=port, dbname=db, user="postgres", connect_timeout=10)
    c.autocommit = True
    return c


class Session:
    def __init__(self, name, conn):
        self.name, self.conn, self.cur = name, conn, conn.cursor()

    def q(self, sql, params=None, show=True):
        self.cur.execute(sql, params)
        rows = self.cur.fetchall() if self.cur.description else []
        if show:
            print(self.name, sql.split()[0], params if params is not None else "", rows, self.cur.statusmessage)
        return rows

    def lookup(self, key, out=None):
        self.cur.execute(LOOKUP, (key,))
        rows = self.cur.fetchall()
        print("%s cq %d -> %r" % (self.name, key, rows), file=out)
        return rows

    def loop(self, start=0, stop=None):
        self.cur.execute("SELECT id, cq_id, txt FROM cc ORDER BY id")
        rows = self.cur.fetchall()[start:stop]
        for cid, qid, txt in rows:
            r = self.lookup_quiet(qid)
            print("%s %s (%d) : %r" % (self.name, txt, cid, r))
        return rows

    def lookup_quiet(self, key):
        self.cur.execute(LOOKUP, (key,))
        return self.cur.fetchall()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--info")
    ap.add_argument("what")
    a = ap.parse_args()
    if a.what == "setup":
        connect(a.port, a.db).cursor().execute(SETUP)
        print("setup done")
        return
    A = Session("A", connect(a.port, a.db))
    B = Session("B", connect(a.port, a.db))
    info = open(a.info, "a") if a.info else None
    B.q("UPDATE cq SET txt = 'question ' || id WHERE txt <> 'question ' || id", show=False)
    print("== %s" % a.what)
    w = a.what
    if w == "loop":
        A.loop()
    elif w in ("tx-loop", "rr-loop", "rr-settx-loop"):
        if w == "rr-loop":
            A.q("BEGIN ISOLATION LEVEL REPEATABLE READ")
        else:
            A.q("BEGIN")
        if w == "rr-settx-loop":
            A.q("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        A.q("SHOW transaction_isolation")
        A.loop()
        A.q("COMMIT")
    elif w in ("ownwrite", "ownwrite-tx"):
        if w == "ownwrite-tx":
            A.q("BEGIN")
        A.cur.execute("SELECT id, cq_id, txt FROM cc ORDER BY id")
        rows = A.cur.fetchall()
        for i, (cid, qid, txt) in enumerate(rows):
            print("A %s (%d) : %r" % (txt, cid, A.lookup_quiet(qid)))
            if i == 99:
                A.q("UPDATE cq SET txt = txt || ' (edited by A)' WHERE id IN (10, 40)")
                A.lookup(10)
        A.lookup(10)
        A.lookup(40)
        if w == "ownwrite-tx":
            A.q("COMMIT")
        A.lookup(10)
        A.lookup(40)
    elif w == "other-window":
        A.loop()
        B.q("UPDATE cq SET txt = 'changed by B' WHERE id = 30")
        A.lookup(30, out=info)  # inside the window: old or new value, both allowed
        time.sleep(a.sleep)
        print("A slept %.3f s" % a.sleep)
        A.lookup(30)
        A.loop()
    elif w == "other-blocks":
        A.q("BEGIN")
        A.loop()
        A.q("COMMIT")
        B.q("UPDATE cq SET txt = 'changed by B' WHERE id = 30")
        A.q("BEGIN")
        A.lookup(30)
        A.loop()
        A.q("COMMIT")
        A.lookup(30)
    elif w == "rr-other":
        A.q("BEGIN ISOLATION LEVEL REPEATABLE READ")
        A.loop(0, 100)
        B.q("UPDATE cq SET txt = 'changed by B' WHERE id = 45")
        A.loop(100, None)
        A.lookup(45)
        A.q("COMMIT")
        A.lookup(45)
    else:
        raise SystemExit("unknown scenario " + w)
    B.q("UPDATE cq SET txt = 'question ' || id WHERE txt <> 'question ' || id", show=False)
    print("== %s done" % w)


if __name__ == "__main__":
    main()
