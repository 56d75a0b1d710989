#!/usr/bin/python3
"""psycopg 3 (3.1): the extended query protocol as psycopg 3 drives it.

    psycopg3_ext.py --port PORT [--db NAME]

Runs over the tables lazy.py setup creates. Covers: server-side parameter binding (unnamed
statement per execute, prepare_threshold=None), prepare=True (named statements), automatic
preparation after prepare_threshold uses, binary results, executemany, explicit pipeline mode,
errors inside and outside transactions, a server-side (named) cursor, COPY both ways, notices.
Prints every value so runs can be diffed.
"""
import argparse
import datetime
import decimal
import hashlib
import uuid

import psycopg
from psycopg import errors as pgerr


def show(label, rows):
    for r in rows:
        print(label, "|", " | ".join(repr(v) for v in r))


def err(label, e):
    print(label, "error", e.sqlstate, type(e).__name__, str(e.diag.message_primary))


def fk_loops(conn):
    choices = conn.execute("SELECT id, question_id, choice_text FROM choice ORDER BY id").fetchall()
    print("choices:", len(choices))
    sql = "SELECT question_text, pub_date FROM question WHERE id = %s"
    # 1. extended protocol, unnamed statement every time (preparation disabled)
    conn.prepare_threshold = None
    with conn.cursor() as cur:
        for cid, qid, text in choices:
            cur.execute(sql, (qid,))
            qt, pd = cur.fetchone()
            print("unnamed", cid, text, ":", qt, pd.isoformat())
    # 2. prepare=True: named prepared statement from the first execute
    with conn.cursor() as cur:
        for cid, qid, text in choices[:100]:
            cur.execute(sql, (qid,), prepare=True)
            print("prepared", cid, text, ":", cur.fetchone()[0])
    # 3. psycopg's default: prepares automatically after 5 executions
    conn.prepare_threshold = 5
    with conn.cursor() as cur:
        for cid, qid, text in choices[:60]:
            cur.execute("SELECT id, choice_text, votes FROM choice WHERE question_id = %s ORDER BY id", (qid,))
            print("auto", cid, [tuple(r) for r in cur.fetchall()])


def types_binary(conn):
    vals = (42, -(2 ** 40), decimal.Decimal("12345.6789"), "héllo wörld", None, True,
            datetime.datetime(2020, 2, 29, 12, 34, 56, 789000, tzinfo=datetime.timezone.utc),
            datetime.date(1999, 12, 31), b"\x00\x01\xfe\xff", uuid.UUID(int=0x1234567890abcdef),
            [1, 2, 3], ["a", None, "c"], 3.5)
    q = ("SELECT %s::int4, %s::int8, %s::numeric, %s::text, %s::text, %s::bool, %s::timestamptz, "
         "%s::date, %s::bytea, %s::uuid, %s::int[], %s::text[], %s::float8")
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute(q, vals)
            show("types binary=%s" % binary, cur.fetchall())
            cur.execute("SELECT '{\"a\": [1, 2, {\"b\": null}]}'::jsonb AS j, interval '1 day 2 hours' AS i")
            show("json binary=%s" % binary, cur.fetchall())
            print("columns", [(d.name, d.type_code) for d in cur.description])


def many_and_pipeline(conn):
    conn.execute("CREATE TEMP TABLE p3 (id int PRIMARY KEY, v text)")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO p3 VALUES (%s, %s)", [(i, "v%d" % i) for i in range(1, 201)])
        print("executemany rowcount", cur.rowcount)
        cur.executemany("INSERT INTO p3 VALUES (%s, %s) RETURNING id * 10", [(i, "r") for i in range(201, 206)],
                        returning=True)
        res = []
        while True:
            res.append(cur.fetchone()[0])
            if not cur.nextset():
                break
        print("executemany returning", res)
    with conn.pipeline() as p:
        c1 = conn.execute("SELECT count(*) FROM p3")
        c2 = conn.execute("SELECT v FROM p3 WHERE id = %s", (7,))
        c3 = conn.execute("UPDATE p3 SET v = v || '!' WHERE id <= %s", (3,))
        p.sync()
        c4 = conn.execute("SELECT string_agg(v, ',' ORDER BY id) FROM p3 WHERE id <= 4")
    print("pipeline", c1.fetchone(), c2.fetchone(), c3.rowcount, c4.fetchone())
    try:
        with conn.pipeline():
            conn.execute("INSERT INTO p3 VALUES (%s, 'ok')", (1000,))
            conn.execute("INSERT INTO p3 VALUES (%s, 'dup')", (1,))
            conn.execute("INSERT INTO p3 VALUES (%s, 'never')", (1001,))
    except psycopg.Error as e:
        err("pipeline", e)
    print("after pipeline error", conn.execute("SELECT array_agg(id ORDER BY id) FROM p3 WHERE id >= 1000").fetchone())


def errors_and_tx(conn):
    for sql, params in (("SELECT 1 / %s", (0,)), ("SELEC 1", None), ("SELECT %s::int", ("x",)),
                        ("SELECT * FROM no_such_table WHERE id = %s", (1,))):
        try:
            conn.execute(sql, params)
        except psycopg.Error as e:
            err("autocommit", e)
    print("still works", conn.execute("SELECT %s || %s", ("a", "b")).fetchone())
    try:
        with conn.transaction():
            conn.execute("INSERT INTO p3 VALUES (%s, %s)", (500, "in tx"))
            conn.execute("SELECT 1 / %s", (0,))
    except pgerr.DivisionByZero as e:
        err("transaction", e)
    print("rolled back", conn.execute("SELECT count(*) FROM p3 WHERE id = 500").fetchone())
    with conn.transaction():
        conn.execute("INSERT INTO p3 VALUES (%s, %s)", (501, "committed"))
        try:
            with conn.transaction():  # savepoint
                conn.execute("INSERT INTO p3 VALUES (%s, %s)", (501, "dup"))
        except pgerr.UniqueViolation as e:
            err("savepoint", e)
    print("committed", conn.execute("SELECT v FROM p3 WHERE id = 501").fetchone())


def server_cursor_copy_notice(conn):
    with conn.transaction():
        with conn.cursor(name="ssc") as cur:
            cur.itersize = 37
            cur.execute("SELECT g, md5(g::text) FROM generate_series(1, 500) g WHERE g %% %s = 0", (3,))
            rows = list(cur)
            print("server cursor rows", len(rows), rows[:2], rows[-1])
    h = hashlib.md5()
    with conn.cursor() as cur:
        with cur.copy("COPY (SELECT g, 'row ' || g FROM generate_series(1, 5000) g) TO STDOUT") as cp:
            for block in cp:
                h.update(block)
        print("copy out md5", h.hexdigest())
        conn.execute("CREATE TEMP TABLE cp3 (a int, b text, c timestamptz)")
        with cur.copy("COPY cp3 FROM STDIN") as cp:
            for i in range(3000):
                cp.write_row((i, "text %d\t\\ é" % i, datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc)
                              + datetime.timedelta(minutes=i)))
        print("copy in", cur.execute("SELECT count(*), md5(string_agg(a || b || c, ',' ORDER BY a)) FROM cp3").fetchone())
    notices = []
    conn.add_notice_handler(lambda d: notices.append((d.severity_nonlocalized, d.sqlstate, d.message_primary)))
    conn.execute("DO $$ BEGIN RAISE NOTICE 'note %', 1; RAISE WARNING 'careful'; END $$")
    print("notices", notices)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", default="sqla_test")
    a = ap.parse_args()
    with psycopg.connect(host="127.0.0.1", port=a.port, dbname=a.db, user="postgres",
                         autocommit=True, connect_timeout=10) as conn:
        print("server", conn.info.server_version, "encoding", conn.info.encoding,
              "tz", conn.info.parameter_status("TimeZone"))
        fk_loops(conn)
        types_binary(conn)
        many_and_pipeline(conn)
        errors_and_tx(conn)
        server_cursor_copy_notice(conn)
        print("done, transaction status", conn.info.transaction_status.name)


if __name__ == "__main__":
    main()
