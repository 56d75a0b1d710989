#!/usr/bin/python3
"""SQLAlchemy 1.4 ORM lazy loading (relationship lazy='select') over the polls/library data
(models and data in sqla_models.py, shared with fold/sqla_loops.py).

    lazy.py --port PORT [--db NAME] setup    create the tables and load the data
    lazy.py --port PORT [--db NAME] loops    forward FK, reverse FK and m2m lazy-load loops

Driver: psycopg2. SQLAlchemy 1.4.46 (Debian 12) has no postgresql+psycopg (psycopg 3) dialect;
that arrived in 2.0. The extended protocol through psycopg 3 is exercised by psycopg3_ext.py.
Prints every value, then the number of statements SQLAlchemy sent, so runs can be diffed.
"""
import argparse
import sys

# First: sqla_models (next to this script, so on sys.path) silences 1.4's "not 2.0-ready"
# banner, which SQLAlchemy reads when it is first imported.
from sqla_models import Book, Choice, Question, engine_for, setup
from sqlalchemy import event, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402


def loops(engine):
    sent = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    def report(name, start):
        print("== %s: %d statements sent by SQLAlchemy" % (name, len(sent) - start))

    with Session(engine) as s:
        n = len(sent)
        print("== forward FK (choice.question)")
        for c in s.execute(select(Choice).order_by(Choice.id)).scalars():
            print("%s : %s" % (c.question.question_text, c.choice_text))
        report("forward", n)
    with Session(engine) as s:
        n = len(sent)
        print("== reverse FK (question.choices)")
        for q in s.execute(select(Question).order_by(Question.id)).scalars():
            print("%s %s -> %s" % (q.question_text, q.pub_date.isoformat(),
                                   ", ".join("%s(%d)" % (c.choice_text, c.votes) for c in q.choices)))
        report("reverse", n)
    with Session(engine) as s:
        n = len(sent)
        print("== nested (book.author, book.tags, author.books)")
        for b in s.execute(select(Book).order_by(Book.id)).scalars():
            print("%s by %s [%s] (author has %d books)" % (
                b.title, b.author.name, ", ".join(t.name for t in b.tags), len(b.author.books)))
        report("nested", n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", default="sqla_test")
    ap.add_argument("what", choices=["setup", "loops"])
    a = ap.parse_args()
    engine = engine_for(a.port, a.db)
    if a.what == "setup":
        setup(engine)
    else:
        loops(engine)
    engine.dispose()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
