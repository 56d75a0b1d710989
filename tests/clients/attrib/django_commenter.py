#!/usr/bin/python3
"""The seed's Django N+1 loops with sqlcommenter comments, as google-cloud-sqlcommenter's
Django middleware writes them (Debian has no package of it, so its comment writer is
re-created here: an execute_wrapper that appends the comment to every statement).

    django_commenter.py --port PORT --db NAME [--app-name APPLICATION_NAME]
                        [--view VIEW --route ROUTE | --no-comment] [--atomic] LOOP

LOOP is forward, reverse or m2m (tests/clients/django/nplus1.py; the data comes from its
setup). Each run is one "request" to VIEW: every statement carries
app_name, controller (the view), db_driver, framework, route and a traceparent of its own, the
keys sorted, keys and values URL-encoded and each '%' doubled as sqlcommenter does for
psycopg2's parameter interpolation. --atomic runs the loop inside transaction.atomic().
Prints what the loop printed, then a summary line with the number of statements Django sent.
"""
import argparse
import os
import sys
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "django"))

import django  # noqa: E402
from django.conf import settings  # noqa: E402


def configure(port, db, app_name):
    settings.configure(
        DEBUG=False,
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": db,
                "USER": "postgres",
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "CONN_MAX_AGE": 0,
                "OPTIONS": {"connect_timeout": 10, "application_name": app_name},
            }
        },
        INSTALLED_APPS=["polls"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()


def url_quote(s):
    # sqlcommenter: urllib's quote, then '%' doubled (psycopg2 interpolates the text)
    return urllib.parse.quote(s, safe="").replace("%", "%%")


def sql_comment(meta):
    return " /*" + ",".join("%s=%r" % (url_quote(k), url_quote(v))
                            for k, v in sorted(meta.items()) if v is not None) + "*/"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--app-name", default="polls-web")
    ap.add_argument("--view")
    ap.add_argument("--route")
    ap.add_argument("--no-comment", action="store_true")
    ap.add_argument("--atomic", action="store_true")
    ap.add_argument("loop", choices=["forward", "reverse", "m2m"])
    a = ap.parse_args()
    configure(a.port, a.db, a.app_name)

    import nplus1
    from django.db import connection, transaction

    meta = {
        "app_name": "polls",
        "controller": a.view,
        "db_driver": connection.settings_dict["ENGINE"],
        "framework": "django:%s" % django.get_version(),
        "route": a.route,
        # W3C trace context: new per request, so never part of a location
        "traceparent": "00-%s-%s-01" % (uuid.uuid4().hex, uuid.uuid4().hex[:16]),
    }
    comment = "" if a.no_comment else sql_comment(meta)
    sent = []

    def commenter(execute, sql, params, many, context):
        sql = sql + comment
        sent.append(sql)
        return execute(sql, params, many, context)

    connection.ensure_connection()
    out = []
    with connection.execute_wrapper(commenter):
        if a.atomic:
            with transaction.atomic():
                nplus1.LOOPS[a.loop](out)
        else:
            nplus1.LOOPS[a.loop](out)
    for line in out:
        print(line)
    # BEGIN and COMMIT of atomic() do not pass execute wrappers: count them apart
    print("== %s: %d lines, %d queries sent by Django%s" % (
        a.loop, len(out), len(sent), " (+ BEGIN, COMMIT)" if a.atomic else ""))
    connection.close()


if __name__ == "__main__":
    main()
