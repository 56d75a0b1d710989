#!/usr/bin/python3
"""Shadow verification's clients (t_fold_verify.sh).

    verify.py --port PORT --db NAME setup
    verify.py --port PORT --db NAME rr        two REPEATABLE READ blocks, an N+1 loop in each
    verify.py --port PORT --db NAME stale --direct-port P
                                              an autocommit loop; halfway through, a writer that
                                              bypasses pgfold (direct) renames every author

vf_author(id int4, name text) and vf_book(id, author_id, title): 40 books over 20 authors.
Prints repr() of every lookup's rows, one line each, so runs can be compared.
"""
import argparse

import psycopg2

BOOKS = "SELECT id, author_id, title FROM vf_book ORDER BY id"
AUTHOR = "SELECT id, name FROM vf_author WHERE id = %s"


def connect(port, db):
    c = psycopg2.connect(host="127.0.0.1", port=port, dbname=db, user="postgres", connect_timeout=10)
    c.autocommit = True
    return c


def setup(port, db):
    c = connect(port, db)
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS vf_book, vf_author")
    cur.execute("CREATE TABLE vf_author (id int4 PRIMARY KEY, name text NOT NULL)")
    cur.execute("CREATE TABLE vf_book (id int4 PRIMARY KEY, author_id int4 NOT NULL REFERENCES vf_author, title text NOT NULL)")
    cur.execute("INSERT INTO vf_author SELECT g, 'author ' || g FROM generate_series(1, 20) g")
    cur.execute("INSERT INTO vf_book SELECT g, (g - 1) % 20 + 1, 'book ' || g FROM generate_series(1, 40) g")
    print("setup: 20 authors, 40 books")


def loop(cur, label):
    cur.execute(BOOKS)
    for book_id, author_id, _ in cur.fetchall():
        cur.execute(AUTHOR, (author_id,))
        print(label, book_id, "->", repr(cur.fetchall()))


def rr(port, db):
    c = connect(port, db)
    cur = c.cursor()
    for block in (1, 2):
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        loop(cur, "block %d" % block)
        cur.execute("COMMIT")


def stale(port, db, direct_port):
    c = connect(port, db)
    w = connect(direct_port, db)
    cur = c.cursor()
    cur.execute(BOOKS)
    books = cur.fetchall()
    for i, (book_id, author_id, _) in enumerate(books):
        if i == 5:
            w.cursor().execute("UPDATE vf_author SET name = name || ' (renamed)'")
            print("-- renamed, bypassing pgfold")
        cur.execute(AUTHOR, (author_id,))
        print(book_id, "->", repr(cur.fetchall()))
    w.cursor().execute("UPDATE vf_author SET name = replace(name, ' (renamed)', '')")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--direct-port", type=int)
    ap.add_argument("what", choices=["setup", "rr", "stale"])
    a = ap.parse_args()
    if a.what == "setup":
        setup(a.port, a.db)
    elif a.what == "rr":
        rr(a.port, a.db)
    else:
        stale(a.port, a.db, a.direct_port)


if __name__ == "__main__":
    main()
