#!/usr/bin/python3
"""The seed's Django loops (tests/clients/django/nplus1.py, same data) inside transaction.atomic().

    django_tx.py --port PORT --db NAME --iso rc|rr forward|reverse|m2m|forward-savepoints

--iso sets Django's OPTIONS isolation_level (psycopg2 sends it with the BEGIN of each block).
forward-savepoints: the forward loop with every lookup inside a nested atomic() block, i.e. a
SAVEPOINT / RELEASE SAVEPOINT pair around each lazy load (Django's usual nested transactions).
Prints the isolation level the block runs at, every value, and the queries Django sent.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "django"))

import django  # noqa: E402
import psycopg2.extensions  # noqa: E402
from django.conf import settings  # noqa: E402

ISO = {"rc": psycopg2.extensions.ISOLATION_LEVEL_READ_COMMITTED,
       "rr": psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ}


def configure(port, db, iso):
    settings.configure(
        DEBUG=False,
        DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql", "NAME": db, "USER": "postgres",
            "HOST": "127.0.0.1", "PORT": str(port), "CONN_MAX_AGE": 0,
            "OPTIONS": {"connect_timeout": 10, "isolation_level": ISO[iso]},
        }},
        INSTALLED_APPS=["polls"], USE_TZ=True, TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()


def forward_savepoints(out):
    from django.db import transaction
    from polls.models import Choice
    for choice in Choice.objects.all():
        with transaction.atomic():
            out.append("%s : %s" % (choice.question.question_text, choice.choice_text))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--iso", choices=sorted(ISO), required=True)
    ap.add_argument("loop", choices=["forward", "reverse", "m2m", "forward-savepoints"])
    a = ap.parse_args()
    configure(a.port, a.db, a.iso)
    import nplus1
    from django.db import connection, transaction
    loops = dict(nplus1.LOOPS)
    loops["forward-savepoints"] = forward_savepoints
    sent = []

    def counter(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    connection.ensure_connection()
    out = []
    with connection.execute_wrapper(counter):
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SHOW transaction_isolation")
                print("isolation:", cur.fetchone()[0])
            loops[a.loop](out)
            print("in block:", connection.in_atomic_block)
    for line in out:
        print(line)
    print("== %s: %d lines, %d queries sent by Django" % (a.loop, len(out), len(sent)))
    print("after block, transaction status:", connection.connection.get_transaction_status())
    connection.close()


if __name__ == "__main__":
    main()
