#!/usr/bin/python3
"""Standalone Django (settings in code, no manage.py) running the seed's N+1 loops.

    nplus1.py --port PORT [--db NAME] setup          create the tables, load the data
    nplus1.py --port PORT [--db NAME] forward|reverse|m2m|all [--timing]

setup loads the seed's example (100 questions x 5 choices) and 12 authors, 6 tags, 120 books
(2 tags each). The loops print every value they touch, in the order Django hands them out,
then a summary line with the number of queries Django sent, so output direct and through
pgfold can be diffed. --timing prints "TIMING <loop> <seconds>" on stderr (never compared).
"""
import argparse
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django  # noqa: E402
from django.conf import settings  # noqa: E402


def configure(host, port, db):
    settings.configure(
        DEBUG=False,
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": db,
                "USER": "postgres",
                "HOST": host,
                "PORT": str(port),
                "CONN_MAX_AGE": 0,
                "OPTIONS": {"connect_timeout": 10},
            }
        },
        INSTALLED_APPS=["polls"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()


def setup():
    from django.db import connection
    from polls.models import Author, Book, Choice, Question, Tag

    models = [Question, Choice, Author, Tag, Book]
    with connection.cursor() as cur:
        for m in reversed(models):
            cur.execute('DROP TABLE IF EXISTS "%s" CASCADE' % m._meta.db_table)
        cur.execute('DROP TABLE IF EXISTS "polls_book_tags" CASCADE')
    with connection.schema_editor() as editor:
        for m in models:
            editor.create_model(m)  # also creates Book.tags' through table

    base = datetime.datetime(2017, 1, 1, tzinfo=datetime.timezone.utc)
    questions = Question.objects.bulk_create(
        [Question(question_text="What is question %d?" % i, pub_date=base + datetime.timedelta(hours=i))
         for i in range(1, 101)])
    Choice.objects.bulk_create(
        [Choice(question=q, choice_text="Q%d choice %d" % (qi, j), votes=(qi * 31 + j * 7) % 50)
         for qi, q in enumerate(questions, 1) for j in range(1, 6)])
    authors = Author.objects.bulk_create([Author(name="Author %02d" % i) for i in range(1, 13)])
    tags = Tag.objects.bulk_create([Tag(name="tag-%d" % i) for i in range(1, 7)])
    books = Book.objects.bulk_create(
        [Book(title="Book %03d" % i, author=authors[i % 12]) for i in range(1, 121)])
    Through = Book.tags.through
    Through.objects.bulk_create(
        [Through(book_id=b.id, tag_id=tags[(bi + k) % 6].id)
         for bi, b in enumerate(books) for k in (0, 2)])
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print("loaded: %d questions, %d choices, %d authors, %d tags, %d books, %d book tags" % (
        Question.objects.count(), Choice.objects.count(), Author.objects.count(),
        Tag.objects.count(), Book.objects.count(), Through.objects.count()))


def loop_forward(out):
    from polls.models import Choice
    # The seed's "Default" snippet: 501 queries direct.
    for choice in Choice.objects.all():
        out.append("%s : %s" % (choice.question.question_text, choice.choice_text))


def loop_reverse(out):
    from polls.models import Question
    for q in Question.objects.all():
        out.append("%s -> %s" % (q.question_text,
                                 ", ".join("%s(%d)" % (c.choice_text, c.votes) for c in q.choice_set.all())))


def loop_m2m(out):
    from polls.models import Book
    for b in Book.objects.all():
        out.append("%s by %s [%s]" % (b.title, b.author.name, ", ".join(t.name for t in b.tags.all())))


LOOPS = {"forward": loop_forward, "reverse": loop_reverse, "m2m": loop_m2m}


def run_loop(name, timing):
    from django.db import connection

    sent = []

    def counter(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    connection.ensure_connection()  # connecting is not part of the loop
    out = []
    with connection.execute_wrapper(counter):
        t0 = time.perf_counter()
        LOOPS[name](out)
        secs = time.perf_counter() - t0
    print("== %s" % name)
    for line in out:
        print(line)
    print("== %s: %d lines, %d queries sent by Django" % (name, len(out), len(sent)))
    if timing:
        print("TIMING %s %.6f" % (name, secs), file=sys.stderr)
    connection.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", default=os.environ.get("TEST_DB", "pgfold_test"))
    ap.add_argument("--timing", action="store_true")
    ap.add_argument("what", choices=["setup", "forward", "reverse", "m2m", "all"])
    a = ap.parse_args()
    configure(a.host, a.port, a.db)
    if a.what == "setup":
        setup()
    elif a.what == "all":
        for name in ("forward", "reverse", "m2m"):
            run_loop(name, a.timing)
    else:
        run_loop(a.what, a.timing)


if __name__ == "__main__":
    main()
