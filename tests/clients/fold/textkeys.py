#!/usr/bin/python3
"""Text keys with quotes, backslashes and unicode in a parent/child N+1 loop.

    textkeys.py --port PORT --db NAME setup
    textkeys.py --port PORT --db NAME --driver psycopg2|psycopg3-unnamed|psycopg3-prepared forward|reverse

tk_person(name text PRIMARY KEY) holds the awkward names below; tk_pet(owner text REFERENCES
tk_person(name)) two pets each. psycopg2 puts the keys into the SQL text as quoted literals
(simple protocol); psycopg 3 sends them as bound parameters (extended protocol: unnamed
statement, or prepare=True for a named one).
  forward  pets ORDER BY id, then the owner per pet:      SELECT ... FROM tk_person WHERE name = key
  reverse  persons ORDER BY name, then their pets:        SELECT ... FROM tk_pet WHERE owner = key
Prints repr() of every value so the bytes are compared exactly.
"""
import argparse

NAMES = [
    "O'Brien", "a\\b", '"q"', "ünï 💥", "it's \"both\" \\ and '' two", "'; DROP TABLE tk_pet; --",
    "$1", "back\\\\slash\\'", "E'x'", "tab\there", "new\nline", "  spaced  ", "%s", "%(x)s", "{a,b}",
    "NULL", "ß", "日本語", "Ωmega 𝔘", "", "plain", "O'Brien ", "o'brien", "\\x41", "–dash—",
]

FORWARD = ("SELECT id, owner, pet FROM tk_pet ORDER BY id",
           "SELECT name, note, length(name) AS len FROM tk_person WHERE name = %s", 1)
REVERSE = ("SELECT name, note FROM tk_person ORDER BY name",
           "SELECT id, owner, pet FROM tk_pet WHERE owner = %s ORDER BY id", 0)


def setup(port, db):
    import psycopg
    with psycopg.connect(host="127.0.0.1", port=port, dbname=db, user="postgres", autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS tk_pet, tk_person")
        c.execute("CREATE TABLE tk_person (name text PRIMARY KEY, note text NOT NULL)")
        c.execute("CREATE TABLE tk_pet (id int PRIMARY KEY, owner text NOT NULL REFERENCES tk_person (name), pet text NOT NULL)")
        with c.cursor() as cur:
            cur.executemany("INSERT INTO tk_person VALUES (%s, %s)",
                            [(n, "person #%d" % i) for i, n in enumerate(NAMES, 1)])
            pets = []
            for k in range(2):
                for i, n in enumerate(NAMES):
                    pets.append((len(pets) + 1, n, "pet %d of %r" % (k + 1, n)))
            cur.executemany("INSERT INTO tk_pet VALUES (%s, %s, %s)", pets)
        c.execute("ANALYZE tk_person, tk_pet")
    print("setup: %d persons, %d pets" % (len(NAMES), 2 * len(NAMES)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--driver", default="psycopg2", choices=["psycopg2", "psycopg3-unnamed", "psycopg3-prepared"])
    ap.add_argument("what", choices=["setup", "forward", "reverse"])
    a = ap.parse_args()
    if a.what == "setup":
        setup(a.port, a.db)
        return
    parent_sql, lookup_sql, keycol = FORWARD if a.what == "forward" else REVERSE
    if a.driver == "psycopg2":
        import psycopg2
        conn = psycopg2.connect(host="127.0.0.1", port=a.port, dbname=a.db, user="postgres", connect_timeout=10)
        conn.autocommit = True
        cur = conn.cursor()

        def lookup(key):
            cur.execute(lookup_sql, (key,))
            return cur.fetchall(), cur.statusmessage
    else:
        import psycopg
        conn = psycopg.connect(host="127.0.0.1", port=a.port, dbname=a.db, user="postgres",
                               connect_timeout=10, autocommit=True)
        conn.prepare_threshold = None
        cur = conn.cursor()
        prepare = a.driver == "psycopg3-prepared"

        def lookup(key):
            cur.execute(lookup_sql, (key,), prepare=prepare)
            return cur.fetchall(), cur.statusmessage
    cur.execute(parent_sql)
    parents = cur.fetchall()
    print("== %s %s: %d parent rows" % (a.what, a.driver, len(parents)))
    for p in parents:
        rows, tag = lookup(p[keycol])
        print(repr(p), "->", repr(rows), tag)
    conn.close()
    print("== done")


if __name__ == "__main__":
    main()
