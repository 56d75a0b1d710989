#!/usr/bin/python3
"""The seed's Django N+1 loops (tests/clients/django/nplus1.py), timed for `make bench`.

    django_loop.py --port P --db NAME forward|reverse|m2m

Runs the loop nplus1.py defines (the same models, data and code, imported, not copied) and
prints one JSON line: wall seconds (perf_counter) and CPU seconds of this process
(process_time) over the loop alone, the number of statements Django sent, and a digest of the
lines the loop produced, so the bench can check that direct and pgfold agree (and a second
digest that ignores the order of characters within a line: the m2m loop prints each book's tags
from `b.tags.all()`, which has no ORDER BY, so two correct answers may list them in another
order). Setup is
nplus1.py's own: `nplus1.py --port P --db NAME setup`.
"""
import argparse
import hashlib
import inspect
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "clients", "django"))

import nplus1  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("loop", choices=sorted(nplus1.LOOPS))
    a = ap.parse_args()
    # nplus1.configure() has taken (port, db) and (host, port, db): call whichever it is.
    if "host" in inspect.signature(nplus1.configure).parameters:
        nplus1.configure("127.0.0.1", a.port, a.db)
    else:
        nplus1.configure(a.port, a.db)
    from django.db import connection

    sent = []

    def counter(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    connection.ensure_connection()  # connecting is not part of the loop, as in nplus1.py
    out = []
    with connection.execute_wrapper(counter):
        t0, c0 = time.perf_counter(), time.process_time()
        nplus1.LOOPS[a.loop](out)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    connection.close()
    digest = hashlib.sha256("\n".join(out).encode()).hexdigest()[:16]
    unordered = "\n".join(sorted("".join(sorted(line)) for line in out))
    print(json.dumps({"loop": a.loop, "wall": wall, "cpu": cpu, "sent": len(sent), "digest": digest,
                      "digest_unordered": hashlib.sha256(unordered.encode()).hexdigest()[:16]}))


if __name__ == "__main__":
    main()
