#!/usr/bin/python3
"""psycopg 3 workload (Debian python3-psycopg 3.1, extended protocol): invoicing.

    wl_pg3.py PORT DB setup
    wl_pg3.py PORT DB ENDPOINT nplus1|optimized

Tables (prefix p3_): customer 250, carrier 6, invoice 800, invoice_line ~2,400, shipment 700;
foreign keys declared.

Endpoints (nplus1 and optimized print the same lines):
  invoices   300 invoices read with binary results; per invoice the customer and the invoice's
             lines, each lookup with prepare=True (a named statement, parsed once) and binary
             results; Python ints go out as int2/int4/int8 parameters, binary
  shipments  the shipments read through a server-side cursor (DECLARE ... CURSOR, FETCH FORWARD
             50 at a time, inside a transaction); per shipment the carrier and the invoice,
             per invoice its customer (two levels), with psycopg's default prepare_threshold
             (a statement becomes a named prepared statement on its 6th execution)
Twins: one `= ANY(%s)` query per level.

The last line on stderr is `WLSTATS {"wall": s, "sent": n}`.
"""
import json
import sys
import time

import psycopg


class Counting:
    """A cursor wrapper that counts the statements the endpoint sends."""

    def __init__(self, conn):
        self.conn = conn
        self.sent = 0

    def all(self, sql, params=None, **kw):
        self.sent += 1
        binary = kw.pop("binary", False)
        with self.conn.cursor(binary=binary) as cur:
            cur.execute(sql, params, **kw)
            return cur.fetchall()

    def one(self, sql, params=None, **kw):
        rows = self.all(sql, params, **kw)
        return rows[0] if rows else None


def setup(conn):
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS p3_shipment, p3_invoice_line, p3_invoice, p3_carrier, p3_customer CASCADE")
        cur.execute("CREATE TABLE p3_customer (id int PRIMARY KEY, name text NOT NULL, country text NOT NULL)")
        cur.execute("CREATE TABLE p3_carrier (id int PRIMARY KEY, name text NOT NULL)")
        cur.execute("""CREATE TABLE p3_invoice (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES p3_customer,
                       issued_on date NOT NULL, total numeric(10,2) NOT NULL)""")
        cur.execute("""CREATE TABLE p3_invoice_line (id int PRIMARY KEY, invoice_id int NOT NULL REFERENCES p3_invoice,
                       sku text NOT NULL, amount numeric(10,2) NOT NULL)""")
        cur.execute("""CREATE TABLE p3_shipment (id int PRIMARY KEY, invoice_id int NOT NULL REFERENCES p3_invoice,
                       carrier_id int NOT NULL REFERENCES p3_carrier, shipped_at timestamptz NOT NULL)""")
        cur.execute("CREATE INDEX ON p3_invoice_line (invoice_id)")
        cur.execute("""INSERT INTO p3_customer SELECT i, 'Client ' || i, (ARRAY['AR','BE','CA','DK','EG'])[1 + i % 5]
                       FROM generate_series(1, 250) i""")
        cur.execute("""INSERT INTO p3_carrier SELECT i, (ARRAY['Ace','Bolt','Comet','Dart','Eagle','Flux'])[i]
                       FROM generate_series(1, 6) i""")
        cur.execute("""INSERT INTO p3_invoice SELECT i, 1 + (i * 41) % 250, date '2024-02-01' + (i * 5) % 300,
                       (i * 97) % 5000 + 0.25 FROM generate_series(1, 800) i""")
        cur.execute("""INSERT INTO p3_invoice_line SELECT row_number() OVER (ORDER BY i, k), i,
                       'SKU-' || ((i * 13 + k * 7) % 500), ((i + k) * 19) % 300 + 0.5
                       FROM generate_series(1, 800) i, generate_series(0, 4) k WHERE k <= (i * 3) % 5""")
        cur.execute("""INSERT INTO p3_shipment SELECT i, 1 + (i * 7) % 800, 1 + (i * 5) % 6,
                       timestamptz '2024-03-01 00:00:00+00' + i * interval '37 minutes' FROM generate_series(1, 700) i""")
        cur.execute("ANALYZE")
        counts = []
        for t in ("p3_customer", "p3_carrier", "p3_invoice", "p3_invoice_line", "p3_shipment"):
            cur.execute("SELECT count(*) FROM " + t)
            counts.append("%s %d" % (t, cur.fetchone()[0]))
    conn.commit()
    print("loaded: " + ", ".join(counts))


def ep_invoices(db, opt, out):
    invoices = db.all("SELECT id, customer_id, issued_on, total FROM p3_invoice ORDER BY id LIMIT 300", binary=True)
    if opt:
        cs = {r[0]: r for r in db.all("SELECT id, name, country FROM p3_customer WHERE id = ANY(%s)",
                                      (sorted({i[1] for i in invoices}),), binary=True)}
        lines = {}
        for r in db.all("SELECT invoice_id, sku, amount FROM p3_invoice_line WHERE invoice_id = ANY(%s) ORDER BY id",
                        ([i[0] for i in invoices],), binary=True):
            lines.setdefault(r[0], []).append(r[1:])
    for inv in invoices:
        if opt:
            c, ls = cs[inv[1]], lines.get(inv[0], [])
        else:
            c = db.one("SELECT id, name, country FROM p3_customer WHERE id = %s", (inv[1],), prepare=True, binary=True)
            ls = db.all("SELECT sku, amount FROM p3_invoice_line WHERE invoice_id = %s ORDER BY id", (inv[0],),
                        prepare=True, binary=True)
        out.append("invoice %d %s %s: %s (%s) [%s]" % (inv[0], inv[2], inv[3], c[1], c[2],
                                                       ", ".join("%s %s" % tuple(l_) for l_ in ls)))


def ep_shipments(db, opt, out):
    conn = db.conn
    with conn.transaction():
        if opt:
            ships = db.all("SELECT id, invoice_id, carrier_id, shipped_at FROM p3_shipment ORDER BY id")
            carriers = {r[0]: r for r in db.all("SELECT id, name FROM p3_carrier WHERE id = ANY(%s)",
                                                (sorted({s[2] for s in ships}),))}
            invs = {r[0]: r for r in db.all("SELECT id, customer_id, total FROM p3_invoice WHERE id = ANY(%s)",
                                            (sorted({s[1] for s in ships}),))}
            custs = {r[0]: r for r in db.all("SELECT id, name FROM p3_customer WHERE id = ANY(%s)",
                                             (sorted({i[1] for i in invs.values()}),))}
            for s in ships:
                inv = invs[s[1]]
                out.append("shipment %d %s via %s: invoice %d %s for %s" % (
                    s[0], s[3].isoformat(), carriers[s[2]][1], inv[0], inv[2], custs[inv[1]][1]))
            return
        db.sent += 1                      # the DECLARE; each FETCH is one more statement
        with conn.cursor(name="ships") as cur:
            cur.itersize = 50
            cur.execute("SELECT id, invoice_id, carrier_id, shipped_at FROM p3_shipment ORDER BY id")
            n = 0
            for s in cur:
                n += 1
                if n % cur.itersize == 1:
                    db.sent += 1
                carrier = db.one("SELECT id, name FROM p3_carrier WHERE id = %s", (s[2],))
                inv = db.one("SELECT id, customer_id, total FROM p3_invoice WHERE id = %s", (s[1],))
                cust = db.one("SELECT id, name FROM p3_customer WHERE id = %s", (inv[1],))
                out.append("shipment %d %s via %s: invoice %d %s for %s" % (
                    s[0], s[3].isoformat(), carrier[1], inv[0], inv[2], cust[1]))


ENDPOINTS = {"invoices": ep_invoices, "shipments": ep_shipments}


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: wl_pg3.py PORT DB setup | PORT DB ENDPOINT nplus1|optimized")
    port, db, what = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    conn = psycopg.connect(host="127.0.0.1", port=port, dbname=db, user="postgres", connect_timeout=10,
                           autocommit=True)
    if what == "setup":
        conn.autocommit = False
        setup(conn)
        conn.close()
        return
    variant = sys.argv[4]
    if what not in ENDPOINTS or variant not in ("nplus1", "optimized"):
        sys.exit("unknown endpoint or variant")
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute("SELECT pg_stat_statements_reset()")       # count the endpoint only (lib.sh)
    c = Counting(conn)
    out = []
    t0 = time.perf_counter()
    ENDPOINTS[what](c, variant == "optimized", out)
    wall = time.perf_counter() - t0
    conn.close()
    for line in out:
        print(line)
    print("WLSTATS " + json.dumps({"wall": round(wall, 6), "sent": c.sent}), file=sys.stderr)


if __name__ == "__main__":
    main()
