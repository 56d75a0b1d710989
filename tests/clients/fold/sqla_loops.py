#!/usr/bin/python3
"""SQLAlchemy 1.4 ORM lazy loading (relationship lazy='select'), one loop per run.

    sqla_loops.py --port PORT --db NAME setup
    sqla_loops.py --port PORT --db NAME forward|reverse|m2m

Driver: psycopg2 (simple protocol; SQLAlchemy puts the keys in as literals). SQLAlchemy 1.4.46,
the version Debian 12 ships, has no postgresql+psycopg (psycopg 3) dialect: it arrived in 2.0.
The extended protocol is exercised by p3_loops.py (psycopg 3) and node_loops.js over the same
tables. Tables, models and data: ../sqla/sqla_models.py (shared with ../sqla/lazy.py):
question/choice (100 x 5), author (12), book (120), tag (6), book_tag (240), with declared
foreign keys.

Loops (each prints every value it touches, then the statements SQLAlchemy sent):
  forward  choice.question for 500 choices   (1 + 100 lazy loads: the identity map
                                              remembers a question once loaded)
  reverse  question.choices for 100 questions (1 + 100)
  m2m      book.author and book.tags for 120 books (1 + 12 + 120)
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sqla"))

# First: sqla_models silences 1.4's "not 2.0-ready" banner, which SQLAlchemy reads when it is
# first imported.
from sqla_models import Book, Choice, Question, engine_for, setup  # noqa: E402
from sqlalchemy import event, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402


def run(engine, name):
    sent = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    with Session(engine) as s:
        if name == "forward":
            for c in s.execute(select(Choice).order_by(Choice.id)).scalars():
                print("%s : %s" % (c.question.question_text, c.choice_text))
        elif name == "reverse":
            for q in s.execute(select(Question).order_by(Question.id)).scalars():
                print("%s %s -> %s" % (q.question_text, q.pub_date.isoformat(),
                                       ", ".join("%s(%d)" % (c.choice_text, c.votes) for c in q.choices)))
        else:
            for b in s.execute(select(Book).order_by(Book.id)).scalars():
                print("%s by %s [%s]" % (b.title, b.author.name, ", ".join(t.name for t in b.tags)))
    print("== %s: %d statements sent by SQLAlchemy" % (name, len(sent)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("what", choices=["setup", "forward", "reverse", "m2m"])
    a = ap.parse_args()
    engine = engine_for(a.port, a.db)
    if a.what == "setup":
        setup(engine)
    else:
        run(engine, a.what)
    engine.dispose()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
