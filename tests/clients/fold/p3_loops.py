#!/usr/bin/python3
"""psycopg 3 (extended protocol) N+1 loops over the tables sqla_loops.py setup creates.

    p3_loops.py --port PORT --db NAME forward|reverse|m2m unnamed|prepared [--binary] [--iso rc|rr]

unnamed:  server-side binding, prepare_threshold=None: Parse/Bind/Describe/Execute/Sync with the
          unnamed statement for every lookup.
prepared: cursor.execute(..., prepare=True): a named statement, parsed once, then
          Bind/Execute per lookup.
--binary: binary result format.
--iso:    run the loop inside BEGIN ISOLATION LEVEL READ COMMITTED / REPEATABLE READ ... COMMIT.

Loops (one statement for the parent rows, then one lookup per row):
  forward  500 choices, question by id                (direct 501)
  reverse  100 questions, their choices by question_id (direct 101)
  m2m      120 books, their tags through book_tag       (direct 121)
Prints every value so runs can be diffed.
"""
import argparse

import psycopg

LOOPS = {
    "forward": ("SELECT id, question_id, choice_text FROM choice ORDER BY id",
                "SELECT id, question_text, pub_date FROM question WHERE id = %s", 1),
    "reverse": ("SELECT id, question_text FROM question ORDER BY id",
                "SELECT id, question_id, choice_text, votes FROM choice WHERE question_id = %s ORDER BY id", 0),
    "m2m": ("SELECT id, title, author_id FROM book ORDER BY id",
            "SELECT t.id, t.name FROM tag t JOIN book_tag bt ON bt.tag_id = t.id WHERE bt.book_id = %s ORDER BY t.id",
            0),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--binary", action="store_true")
    ap.add_argument("--iso", choices=["rc", "rr"])
    ap.add_argument("loop", choices=sorted(LOOPS))
    ap.add_argument("style", choices=["unnamed", "prepared"])
    a = ap.parse_args()
    parent_sql, lookup_sql, keycol = LOOPS[a.loop]
    with psycopg.connect(host="127.0.0.1", port=a.port, dbname=a.db, user="postgres",
                         connect_timeout=10, autocommit=True) as conn:
        conn.prepare_threshold = None
        if a.iso:
            conn.execute("BEGIN ISOLATION LEVEL " + {"rc": "READ COMMITTED", "rr": "REPEATABLE READ"}[a.iso])
            print("isolation:", conn.execute("SHOW transaction_isolation").fetchone()[0])
        parents = conn.execute(parent_sql).fetchall()
        print("== %s %s: %d parent rows" % (a.loop, a.style, len(parents)))
        n = 0
        with conn.cursor(binary=a.binary) as cur:
            for row in parents:
                cur.execute(lookup_sql, (row[keycol],), prepare=(a.style == "prepared"))
                rows = cur.fetchall()
                n += 1
                print(row, "->", rows, [(d.name, d.type_code) for d in cur.description], cur.statusmessage)
        if a.iso:
            print("in transaction:", conn.info.transaction_status.name)
            conn.execute("COMMIT")
        print("== %s %s: %d lookups, transaction status %s" % (a.loop, a.style, n, conn.info.transaction_status.name))


if __name__ == "__main__":
    main()
