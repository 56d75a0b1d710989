#!/usr/bin/python3
"""The bare-driver N+1 loop of `make bench`: psycopg2, no ORM.

    bare_loop.py --port P --db NAME setup            create and fill bench_customer, bench_order
    bare_loop.py --port P --db NAME run [--n 500]    one parent query, then n single-key lookups
    bare_loop.py --port P --db NAME ping [--n 2000]  SELECT 1 round trips (latency, microseconds)

The loop is what an application without an ORM writes:

    cur.execute("SELECT id, customer_id, amount FROM bench_order ORDER BY id LIMIT %s", (n,))
    for order_id, customer_id, amount in cur.fetchall():
        cur.execute("SELECT ... FROM bench_customer WHERE id = %s", (customer_id,))

psycopg2 interpolates the key client-side and sends each statement over the simple query
protocol. The connection is in autocommit, like Django's, so the loop is exactly 501
statements and nothing else (psycopg2's default would add a BEGIN and a COMMIT, two more
round trips to the server whatever the proxy does). `run` prints one JSON line: wall and CPU seconds of the loop (connecting is not
part of it), statements sent, and a digest of every row fetched, so the bench can check that
direct and pgfold gave the same answers.
"""
import argparse
import hashlib
import json
import time

import psycopg2

N_CUSTOMERS = 500


def connect(a):
    return psycopg2.connect(host="127.0.0.1", port=a.port, dbname=a.db, user="postgres",
                            connect_timeout=10)


def setup(a):
    conn = connect(a)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS bench_order, bench_customer")
    cur.execute("""CREATE TABLE bench_customer (
                       id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL,
                       city text NOT NULL, created_at timestamptz NOT NULL)""")
    cur.execute("""CREATE TABLE bench_order (
                       id integer PRIMARY KEY,
                       customer_id integer NOT NULL REFERENCES bench_customer (id),
                       amount numeric(10, 2) NOT NULL)""")
    cur.execute("""INSERT INTO bench_customer
                   SELECT g, 'Customer ' || g, 'customer' || g || '@example.com',
                          (ARRAY['Lyon', 'Oslo', 'Porto', 'Quito'])[1 + g %% 4],
                          timestamptz '2020-01-01 00:00+00' + g * interval '1 day'
                     FROM generate_series(1, %s) g""", (N_CUSTOMERS,))
    # Every order points at a different customer, in a scrambled order (a permutation).
    cur.execute("""INSERT INTO bench_order
                   SELECT g, 1 + (g * 7) %% %s, (g * 13 %% 1000) / 10.0
                     FROM generate_series(1, %s) g""", (N_CUSTOMERS, N_CUSTOMERS))
    cur.execute("ANALYZE bench_customer, bench_order")
    conn.close()
    print("loaded: %d customers, %d orders" % (N_CUSTOMERS, N_CUSTOMERS))


def run(a):
    conn = connect(a)
    conn.autocommit = True
    cur = conn.cursor()
    digest = hashlib.sha256()
    sent = 0
    t0, c0 = time.perf_counter(), time.process_time()
    cur.execute("SELECT id, customer_id, amount FROM bench_order ORDER BY id LIMIT %s", (a.n,))
    sent += 1
    for order_id, customer_id, amount in cur.fetchall():
        cur.execute("SELECT id, name, email, city, created_at FROM bench_customer WHERE id = %s",
                    (customer_id,))
        sent += 1
        digest.update(repr((order_id, amount, cur.fetchall())).encode())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    conn.close()
    print(json.dumps({"loop": "bare", "wall": wall, "cpu": cpu, "sent": sent,
                      "digest": digest.hexdigest()[:16]}))


def ping(a):
    conn = connect(a)
    conn.autocommit = True
    cur = conn.cursor()
    for _ in range(50):
        cur.execute("SELECT 1")
        cur.fetchall()
    t = []
    for _ in range(a.n):
        t0 = time.perf_counter()
        cur.execute("SELECT 1")
        cur.fetchall()
        t.append(time.perf_counter() - t0)
    conn.close()
    t.sort()
    print(json.dumps({"n": a.n, "p50_us": t[len(t) // 2] * 1e6, "p90_us": t[len(t) * 9 // 10] * 1e6,
                      "mean_us": sum(t) / len(t) * 1e6}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--n", type=int)
    ap.add_argument("what", choices=["setup", "run", "ping"])
    a = ap.parse_args()
    if a.what == "setup":
        setup(a)
    elif a.what == "run":
        a.n = a.n or 500
        run(a)
    else:
        a.n = a.n or 2000
        ping(a)


if __name__ == "__main__":
    main()
