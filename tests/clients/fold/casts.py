#!/usr/bin/python3
"""N+1 loops whose key is written with a cast, as ORMs and hand-written SQL pin a type.

    casts.py --port PORT --db NAME setup
    casts.py --port PORT --db NAME psycopg2|psycopg3

cs_parent(id int8, uid uuid, code text) and cs_child(id, parent_id int8, parent_uid uuid,
parent_code text): 30 children over 10 parents, and one child whose parent_id is 70000 (beyond
int2) with no parent. Every loop walks the children and looks each parent up by one cast
spelling; the loops whose cast pgfold cannot predict (varchar(1), a double cast) and the one
whose cast fails on a key (::int2 of 70000) must come out exactly as direct: the rows, or the
error PostgreSQL gave. Prints repr() of every result and error.
"""
import argparse

LOOPS_PG2 = [
    ("literal ::int8", "SELECT id, code FROM cs_parent WHERE id = %s::int8", "parent_id"),
    ("literal ::integer", "SELECT id, code FROM cs_parent WHERE id = %s::integer", "parent_id"),
    ("CAST AS bigint", "SELECT id, code FROM cs_parent WHERE id = CAST(%s AS bigint)", "parent_id"),
    ("string ::uuid", "SELECT id, uid FROM cs_parent WHERE uid = %s::uuid", "parent_uid"),
    ("string ::text", "SELECT id, code FROM cs_parent WHERE code = %s::text", "parent_code"),
    ("::varchar(1) cuts", "SELECT id, code FROM cs_parent WHERE code = %s::varchar(1)", "parent_code"),
    ("::int2 fails on a key", "SELECT id, code FROM cs_parent WHERE id = %s::int2", "parent_id"),
    ("double cast", "SELECT id, code FROM cs_parent WHERE id = %s::text::int8", "parent_id"),
]

LOOPS_PG3 = [
    ("param ::int8", "SELECT id, code FROM cs_parent WHERE id = %s::int8", "parent_id", False),
    ("param ::int4 (binary)", "SELECT id, code FROM cs_parent WHERE id = %b::int4", "parent_id", False),
    ("param ::uuid (str)", "SELECT id, uid FROM cs_parent WHERE uid = %s::uuid", "parent_uid_text", False),
    ("param ::int2 fails on a key", "SELECT id, code FROM cs_parent WHERE id = %s::int2", "parent_id", False),
    ("prepared ::int8", "SELECT id, code FROM cs_parent WHERE id = %s::int8", "parent_id", True),
]

CHILDREN = "SELECT id, parent_id, parent_uid, parent_uid::text AS parent_uid_text, parent_code FROM cs_child ORDER BY id"


def setup(port, db):
    import psycopg
    with psycopg.connect(host="127.0.0.1", port=port, dbname=db, user="postgres", autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS cs_child, cs_parent")
        c.execute("CREATE TABLE cs_parent (id int8 PRIMARY KEY, uid uuid UNIQUE NOT NULL, code text UNIQUE NOT NULL)")
        c.execute("CREATE TABLE cs_child (id int PRIMARY KEY, parent_id int8, parent_uid uuid, parent_code text)")
        c.execute("INSERT INTO cs_parent SELECT g, md5(g::text)::uuid, 'code' || g FROM generate_series(1, 10) g")
        c.execute("INSERT INTO cs_child SELECT g, (g % 10) + 1, md5(((g % 10) + 1)::text)::uuid, 'code' || ((g % 10) + 1) FROM generate_series(1, 30) g")
        c.execute("INSERT INTO cs_child VALUES (31, 70000, md5('70000')::uuid, 'c')")
    print("setup: 10 parents, 31 children")


def run_pg2(port, db):
    import psycopg2
    conn = psycopg2.connect(host="127.0.0.1", port=port, dbname=db, user="postgres", connect_timeout=10)
    conn.autocommit = True
    cur = conn.cursor()
    for name, sql, col in LOOPS_PG2:
        cur.execute(CHILDREN)
        names = [d[0] for d in cur.description]
        children = [dict(zip(names, r)) for r in cur.fetchall()]
        print("== psycopg2", name)
        for ch in children:
            try:
                cur.execute(sql, (str(ch[col]) if col == "parent_uid" else ch[col],))
                print(repr(ch["id"]), "->", repr(cur.fetchall()))
            except psycopg2.Error as e:
                print(repr(ch["id"]), "-> error", e.pgcode, str(e).splitlines()[0])


def run_pg3(port, db):
    import psycopg
    conn = psycopg.connect(host="127.0.0.1", port=port, dbname=db, user="postgres", autocommit=True)
    for name, sql, col, prepare in LOOPS_PG3:
        cur = conn.execute(CHILDREN)
        names = [d.name for d in cur.description]
        children = [dict(zip(names, r)) for r in cur.fetchall()]
        print("== psycopg3", name)
        for ch in children:
            try:
                rows = conn.execute(sql, (ch[col],), prepare=prepare).fetchall()
                print(repr(ch["id"]), "->", repr(rows))
            except psycopg.Error as e:
                print(repr(ch["id"]), "-> error", e.sqlstate, str(e).splitlines()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("what", choices=["setup", "psycopg2", "psycopg3"])
    a = ap.parse_args()
    if a.what == "setup":
        setup(a.port, a.db)
    elif a.what == "psycopg2":
        run_pg2(a.port, a.db)
    else:
        run_pg3(a.port, a.db)


if __name__ == "__main__":
    main()
