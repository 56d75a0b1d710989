#!/usr/bin/python3
"""Fresh answers across sessions (issue 13), psycopg2, as a web app with two workers would run.

    fresh.py --port PORT --db NAME setup
    fresh.py --port PORT --db NAME pages [--blocks none|rc|rr]
    fresh.py --port PORT --db NAME loop [--blocks none|rc|rr]
    fresh.py --port PORT --db NAME cascade
    fresh.py --port PORT --db NAME prepared-xacts

Tables: fq (30 questions), fc (120 choices, 4 per question, fc.fq_id references fq ON DELETE
CASCADE). "The list page" reads fc ORDER BY id and looks up "SELECT id, txt FROM fq WHERE id =
%s" per row; "the detail page" looks up one question. A and B are two sessions on PORT (two
connections: with workers = 2, pgfold deals them to different workers).

  pages           A renders the list page; B renames question 7 and commits; A renders the
                  detail page of 7 and the list page again; B renames 7 again; A renders
                  the list again. Every read is printed: through pgfold it must be exactly
                  what it is direct (the new text every time), never an answer from before.
  loop            A renders the list page only (the statement count of a folded loop).
  cascade         A's reverse loop: per question, "SELECT id, txt FROM fc WHERE fq_id = %s";
                  B deletes question 5 (its choices go with it by ON DELETE CASCADE); A runs
                  the lookups of the same ids again.
  prepared-xacts  psycopg's two-phase-commit tests: A counts pg_prepared_xacts rows of a gid
                  before and after B prepares that transaction, then B rolls it back.
--blocks: each page inside BEGIN ... COMMIT (rc) or BEGIN ISOLATION LEVEL REPEATABLE READ (rr).
"""
import argparse

import psycopg2

LOOKUP = "SELECT id, txt FROM fq WHERE id = %s"
SETUP = """
DROP TABLE IF EXISTS fc, fq;
CREATE TABLE fq (id int PRIMARY KEY, txt text NOT NULL);
INSERT INTO fq SELECT g, 'question ' || g FROM generate_series(1, 30) g;
CREATE TABLE fc (id int PRIMARY KEY, fq_id int NOT NULL REFERENCES fq ON DELETE CASCADE,
                 txt text NOT NULL);
INSERT INTO fc SELECT g, (g - 1) / 4 + 1, 'choice ' || g FROM generate_series(1, 120) g;
ANALYZE fq, fc;
"""


def connect(port, db, app):
    c = psycopg2.connect(host="127.0.0.1", port=port, dbname=db, user="postgres",
                         application_name=app, connect_timeout=10)
    c.autocommit = True
    return c


def begin(cur, blocks):
    if blocks == "rc":
        cur.execute("BEGIN")
    elif blocks == "rr":
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")


def end(cur, blocks):
    if blocks != "none":
        cur.execute("COMMIT")


def list_page(a, label, blocks):
    cur = a.cursor()
    begin(cur, blocks)
    cur.execute("SELECT id, fq_id FROM fc ORDER BY id")
    seen = []
    for cid, qid in cur.fetchall():
        cur.execute(LOOKUP, (qid,))
        seen.append("%d:%s" % (cid, cur.fetchall()))
    end(cur, blocks)
    # One line per page keeps the output short; every answer is in it.
    print("A %s: %s" % (label, " ".join(seen)))


def detail_page(a, qid, label, blocks):
    cur = a.cursor()
    begin(cur, blocks)
    cur.execute(LOOKUP, (qid,))
    print("A %s: %s" % (label, cur.fetchall()))
    end(cur, blocks)


def rename(b, qid, txt):
    cur = b.cursor()
    cur.execute("BEGIN")
    cur.execute("UPDATE fq SET txt = %s WHERE id = %s", (txt, qid))
    cur.execute("COMMIT")
    print("B renamed %d to %r and committed" % (qid, txt))


def pages(port, db, blocks):
    a, b = connect(port, db, "fresh-A"), connect(port, db, "fresh-B")
    rename(b, 7, "question 7")
    list_page(a, "list 1", blocks)
    rename(b, 7, "renamed by B")
    detail_page(a, 7, "detail 7", blocks)
    list_page(a, "list 2", blocks)
    rename(b, 7, "renamed again")
    detail_page(a, 7, "detail 7 again", blocks)
    list_page(a, "list 3", blocks)
    rename(b, 7, "question 7")


def cascade(port, db):
    a, b = connect(port, db, "fresh-A"), connect(port, db, "fresh-B")
    cur = a.cursor()
    cur.execute("SELECT id FROM fq ORDER BY id")
    ids = [r[0] for r in cur.fetchall()]
    for rnd in (1, 2):
        # The second round walks the same ids again (the app kept the list): the answers
        # fetched for question 5 in round 1 must not outlive the cascade.
        out = []
        for qid in ids:
            cur.execute("SELECT id, txt FROM fc WHERE fq_id = %s ORDER BY id", (qid,))
            out.append("%d:%d" % (qid, len(cur.fetchall())))
        print("A round %d: %s" % (rnd, " ".join(out)))
        if rnd == 1:
            b.cursor().execute("DELETE FROM fq WHERE id = 5")
            print("B deleted question 5 (its choices by cascade)")
    # Put it back for the next run.
    bc = b.cursor()
    bc.execute("INSERT INTO fq VALUES (5, 'question 5')")
    bc.execute("INSERT INTO fc SELECT g, 5, 'choice ' || g FROM generate_series(17, 20) g")


def prepared_xacts(port, db):
    a, b = connect(port, db, "fresh-A"), connect(port, db, "fresh-B")
    cur = a.cursor()
    count = "SELECT count(*) FROM pg_prepared_xacts WHERE gid = %s"
    for gid in ("fresh-gid-1", "fresh-gid-2"):
        cur.execute(count, (gid,))
        print("A before PREPARE %s: %s" % (gid, cur.fetchall()))
    bc = b.cursor()
    bc.execute("BEGIN")
    bc.execute("UPDATE fq SET txt = txt WHERE id = 1")
    bc.execute("PREPARE TRANSACTION 'fresh-gid-1'")
    for gid in ("fresh-gid-1", "fresh-gid-2"):
        cur.execute(count, (gid,))
        print("A after PREPARE %s: %s" % (gid, cur.fetchall()))
    bc.execute("ROLLBACK PREPARED 'fresh-gid-1'")
    cur.execute(count, ("fresh-gid-1",))
    print("A after ROLLBACK PREPARED: %s" % cur.fetchall())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--blocks", choices=["none", "rc", "rr"], default="none")
    ap.add_argument("what", choices=["setup", "pages", "loop", "cascade", "prepared-xacts"])
    o = ap.parse_args()
    if o.what == "setup":
        c = connect(o.port, o.db, "fresh-setup")
        c.cursor().execute(SETUP)
    elif o.what == "pages":
        pages(o.port, o.db, o.blocks)
    elif o.what == "loop":
        list_page(connect(o.port, o.db, "fresh-A"), "list", o.blocks)
    elif o.what == "cascade":
        cascade(o.port, o.db)
    else:
        prepared_xacts(o.port, o.db)


if __name__ == "__main__":
    main()
