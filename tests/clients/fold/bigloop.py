#!/usr/bin/python3
"""A loop over 100,000 parent rows with one lookup each (psycopg2), for the session cache bound.

    bigloop.py --port PORT --db NAME setup|loop [--rows N] [--chunk C]

big_child: N rows (id, payload: 64 hex characters); big_parent: N rows whose big_child_id is a
permutation of 1..N (id * 7919 mod N + 1), so every lookup is a different key. loop reads
big_parent ORDER BY id and looks up "SELECT id, payload FROM big_child WHERE id = %s" per row,
printing each answer (N + 1 statements direct). --chunk C reads big_parent C rows at a time
(keyset pagination: WHERE id > last ORDER BY id LIMIT C), each chunk followed by its lookups
(N + N/C + 1 statements direct): every chunk is a result small enough to be a key source.
"""
import argparse

import psycopg2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--chunk", type=int, default=0)
    ap.add_argument("what", choices=["setup", "loop"])
    a = ap.parse_args()
    conn = psycopg2.connect(host="127.0.0.1", port=a.port, dbname=a.db, user="postgres", connect_timeout=10)
    conn.autocommit = True
    cur = conn.cursor()
    if a.what == "setup":
        cur.execute("DROP TABLE IF EXISTS big_parent, big_child")
        cur.execute("CREATE TABLE big_child (id int PRIMARY KEY, payload text NOT NULL)")
        cur.execute("INSERT INTO big_child SELECT g, md5(g::text) || md5((g * 3)::text) FROM generate_series(1, %s) g",
                    (a.rows,))
        cur.execute("CREATE TABLE big_parent (id int PRIMARY KEY, big_child_id int NOT NULL REFERENCES big_child)")
        cur.execute("INSERT INTO big_parent SELECT g, (g::bigint * 7919) %% %s + 1 FROM generate_series(1, %s) g",
                    (a.rows, a.rows))
        cur.execute("ANALYZE big_parent, big_child")
        print("setup: %d parents, %d children" % (a.rows, a.rows))
        return
    out = []
    nparents = n = 0
    last = 0
    while True:
        if a.chunk:
            cur.execute("SELECT id, big_child_id FROM big_parent WHERE id > %s ORDER BY id LIMIT %s", (last, a.chunk))
        else:
            cur.execute("SELECT id, big_child_id FROM big_parent ORDER BY id")
        parents = cur.fetchall()
        if not parents:
            break
        out.append("== %d parent rows" % len(parents))
        for pid, cid in parents:
            cur.execute("SELECT id, payload FROM big_child WHERE id = %s", (cid,))
            rows = cur.fetchall()
            n += len(rows)
            out.append("%d %r" % (pid, rows))
        nparents += len(parents)
        last = parents[-1][0]
        if not a.chunk:
            break
    print("\n".join(out))
    print("== %d lookups, %d rows" % (nparents, n))
    conn.close()


if __name__ == "__main__":
    main()
