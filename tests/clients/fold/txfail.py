#!/usr/bin/python3
"""Batches that fail inside a client's transaction (or in autocommit), psycopg2 or psycopg 3.

    txfail.py --port PORT --db NAME --driver psycopg2|psycopg3 --iso rc|rr|autocommit setup|timeout|div0

setup    (direct) the tables below.
timeout  BEGIN; SET LOCAL statement_timeout = 200ms; a loop over slowref (200 rows) that follows
         slowref.slowt_id to slowt for the 180 rows marked "follow". Each slowt lookup computes
         count(*) over generate_series(1, slowt.work): 1,000 for the 180 rows the client reads
         (well under a millisecond), 100,000,000 (seconds) for the 20 it never reads. The key
         source is the whole slowt_id column, so pgfold's batch holds the 20 expensive keys too and
         the server cancels it at the timeout, while no single lookup comes near it (direct
         never times out). pgfold must roll back to its savepoint and forward the lookups: no
         error reaches the client, whose transaction then writes a row and commits.
div0     A loop over divref (20 rows) looking up "SELECT id, label, 100 / (v - 7) FROM divt
         WHERE id = key" for every key except 7: direct, no lookup fails; a batch holding key 7
         fails with division by zero. Then key 7 itself inside a SAVEPOINT (the error must be the
         server's, identical), ROLLBACK TO SAVEPOINT, another lookup, a write, COMMIT.
The client sets autocommit and sends BEGIN ISOLATION LEVEL ... itself, so both drivers run the
same statements. Prints every row, error and transaction status.
"""
import argparse
import sys

ISO = {"rc": "READ COMMITTED", "rr": "REPEATABLE READ", "autocommit": None}

SETUP = """
DROP TABLE IF EXISTS slowref, slowt, divref, divt, txlog;
CREATE TABLE slowt (id int PRIMARY KEY, work int NOT NULL, label text NOT NULL);
INSERT INTO slowt SELECT g, CASE WHEN g <= 20 THEN 100000000 ELSE 1000 END, 'slow ' || g
  FROM generate_series(1, 200) g;
CREATE TABLE slowref (id int PRIMARY KEY, slowt_id int NOT NULL REFERENCES slowt, follow bool NOT NULL);
INSERT INTO slowref SELECT g, 201 - g, 201 - g > 20 FROM generate_series(1, 200) g;
CREATE TABLE divt (id int PRIMARY KEY, v int NOT NULL, label text NOT NULL);
INSERT INTO divt SELECT g, g, 'div ' || g FROM generate_series(1, 20) g;
CREATE TABLE divref (id int PRIMARY KEY, divt_id int NOT NULL REFERENCES divt);
INSERT INTO divref SELECT g, g FROM generate_series(1, 20) g;
CREATE TABLE txlog (id serial PRIMARY KEY, what text NOT NULL);
ANALYZE;
"""

SLOW_LOOKUP = ("SELECT s.id, s.label, (SELECT count(*) FROM generate_series(1, s.work)) AS n "
               "FROM slowt s WHERE s.id = %s")
DIV_LOOKUP = "SELECT d.id, d.label, 100 / (d.v - 7) AS q FROM divt d WHERE d.id = %s"


class Conn:
    """The few calls both drivers need, with the same output."""

    def __init__(self, driver, port, db):
        self.driver = driver
        if driver == "psycopg2":
            import psycopg2
            import psycopg2.extensions
            self.mod = psycopg2
            self.c = psycopg2.connect(host="127.0.0.1", port=port, dbname=db, user="postgres",
                                      connect_timeout=10)
            self.c.autocommit = True
            self.cur = self.c.cursor()
        else:
            import psycopg
            self.mod = psycopg
            self.c = psycopg.connect(host="127.0.0.1", port=port, dbname=db, user="postgres",
                                     connect_timeout=10, autocommit=True)
            self.c.prepare_threshold = None
            self.cur = self.c.cursor()

    def status(self):
        if self.driver == "psycopg2":
            import psycopg2.extensions as e
            return {e.TRANSACTION_STATUS_IDLE: "IDLE", e.TRANSACTION_STATUS_INTRANS: "INTRANS",
                    e.TRANSACTION_STATUS_INERROR: "INERROR"}.get(self.c.get_transaction_status(), "OTHER")
        return self.c.info.transaction_status.name

    def run(self, label, sql, params=None, show=True):
        """Executes; prints the rows (or the error). Returns True on success."""
        try:
            self.cur.execute(sql, params)
            rows = self.cur.fetchall() if self.cur.description else []
            if show:
                print(label, rows, self.cur.statusmessage if self.driver == "psycopg3" else self.cur.statusmessage)
            return True
        except self.mod.Error as e:
            diag = e.diag
            print(label, "ERROR", diag.sqlstate, diag.message_primary, "status", self.status())
            return False


def begin(c, iso):
    if ISO[iso]:
        c.run("begin", "BEGIN ISOLATION LEVEL " + ISO[iso])
        c.run("isolation", "SHOW transaction_isolation")


def finish(c, iso, tag):
    c.run("write", "INSERT INTO txlog (what) VALUES (%s) RETURNING what", (tag,))
    if ISO[iso]:
        print("status before commit", c.status())
        c.run("commit", "COMMIT")
    c.run("written", "SELECT count(*) FROM txlog WHERE what = %s", (tag,))
    print("final status", c.status())


def timeout(c, iso, tag):
    c.run("clean", "DELETE FROM txlog WHERE what = %s", (tag,), show=False)
    begin(c, iso)
    if ISO[iso]:
        c.run("timeout", "SET LOCAL statement_timeout = '200ms'")
    else:
        c.run("timeout", "SET statement_timeout = '200ms'")
    c.cur.execute("SELECT id, slowt_id, follow FROM slowref ORDER BY id")
    refs = c.cur.fetchall()
    print("refs", len(refs))
    for rid, sid, follow in refs:
        if follow:
            c.run("slow %d" % rid, SLOW_LOOKUP, (sid,))
    print("status after loop", c.status())
    if not ISO[iso]:
        c.run("reset", "RESET statement_timeout")
    finish(c, iso, tag)


def div0(c, iso, tag):
    c.run("clean", "DELETE FROM txlog WHERE what = %s", (tag,), show=False)
    begin(c, iso)
    c.cur.execute("SELECT id, divt_id FROM divref ORDER BY id")
    refs = c.cur.fetchall()
    print("refs", len(refs))
    for rid, did in refs:
        if did != 7:
            c.run("div %d" % rid, DIV_LOOKUP, (did,))
    print("status after loop", c.status())
    if ISO[iso]:
        c.run("savepoint", "SAVEPOINT before_bad_key")
    c.run("div key 7", DIV_LOOKUP, (7,))
    if ISO[iso]:
        print("status after bad key", c.status())
        c.run("rollback to", "ROLLBACK TO SAVEPOINT before_bad_key")
    c.run("div key 8 again", DIV_LOOKUP, (8,))
    finish(c, iso, tag)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--driver", choices=["psycopg2", "psycopg3"], default="psycopg2")
    ap.add_argument("--iso", choices=sorted(ISO), default="rc")
    ap.add_argument("what", choices=["setup", "timeout", "div0"])
    a = ap.parse_args()
    c = Conn(a.driver, a.port, a.db)
    if a.what == "setup":
        c.cur.execute(SETUP)
        print("setup done")
        return
    tag = "%s %s %s" % (a.what, a.driver, a.iso)
    print("==", tag)
    {"timeout": timeout, "div0": div0}[a.what](c, a.iso, tag)
    c.c.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
