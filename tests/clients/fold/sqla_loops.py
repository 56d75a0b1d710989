#!/usr/bin/python3
"""SQLAlchemy 1.4 ORM lazy loading (relationship lazy='select'), one loop per run.

    sqla_loops.py --port PORT --db NAME setup
    sqla_loops.py --port PORT --db NAME forward|reverse|m2m

Driver: psycopg2 (simple protocol; SQLAlchemy puts the keys in as literals). SQLAlchemy 1.4.46,
the version Debian 12 ships, has no postgresql+psycopg (psycopg 3) dialect: it arrived in 2.0.
The extended protocol is exercised by p3_loops.py (psycopg 3) and node_loops.js over the same
tables. Tables: question/choice (100 x 5), author (12), book (120), tag (6), book_tag (240),
with declared foreign keys.

Loops (each prints every value it touches, then the statements SQLAlchemy sent):
  forward  choice.question for 500 choices   (1 + 100 lazy loads: the identity map
                                              remembers a question once loaded)
  reverse  question.choices for 100 questions (1 + 100)
  m2m      book.author and book.tags for 120 books (1 + 12 + 120)
"""
import argparse
import datetime
import os
import sys

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

from sqlalchemy import (Column, DateTime, ForeignKey, Integer, String, Table, create_engine,  # noqa: E402
                        event, select, text)
from sqlalchemy.orm import Session, declarative_base, relationship  # noqa: E402

Base = declarative_base()

book_tag = Table(
    "book_tag", Base.metadata,
    Column("book_id", ForeignKey("book.id"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id"), primary_key=True),
)


class Question(Base):
    __tablename__ = "question"
    id = Column(Integer, primary_key=True)
    question_text = Column(String(200), nullable=False)
    pub_date = Column(DateTime(timezone=True), nullable=False)
    choices = relationship("Choice", back_populates="question", lazy="select", order_by="Choice.id")


class Choice(Base):
    __tablename__ = "choice"
    id = Column(Integer, primary_key=True)
    question_id = Column(ForeignKey("question.id"), nullable=False, index=True)
    choice_text = Column(String(200), nullable=False)
    votes = Column(Integer, nullable=False, default=0)
    question = relationship("Question", back_populates="choices", lazy="select")


class Author(Base):
    __tablename__ = "author"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False)


class Tag(Base):
    __tablename__ = "tag"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False)


class Book(Base):
    __tablename__ = "book"
    id = Column(Integer, primary_key=True)
    title = Column(String(200), nullable=False)
    author_id = Column(ForeignKey("author.id"), nullable=False, index=True)
    author = relationship("Author", lazy="select")
    tags = relationship("Tag", secondary=book_tag, lazy="select", order_by="Tag.id")


def engine_for(port, db):
    return create_engine("postgresql+psycopg2://postgres@127.0.0.1:%d/%s" % (port, db),
                         future=True, connect_args={"connect_timeout": 10})


def setup(engine):
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    base = datetime.datetime(2017, 1, 1, tzinfo=datetime.timezone.utc)
    with Session(engine) as s, s.begin():
        qs = [Question(id=i, question_text="What is question %d?" % i,
                       pub_date=base + datetime.timedelta(hours=i)) for i in range(1, 101)]
        s.add_all(qs)
        s.add_all([Choice(id=(q.id - 1) * 5 + j, question=q, choice_text="Q%d choice %d" % (q.id, j),
                          votes=(q.id * 31 + j * 7) % 50) for q in qs for j in range(1, 6)])
        authors = [Author(id=i, name="Author %02d" % i) for i in range(1, 13)]
        tags = [Tag(id=i, name="tag-%d" % i) for i in range(1, 7)]
        s.add_all(authors + tags)
        s.add_all([Book(id=i, title="Book %03d" % i, author=authors[i % 12],
                        tags=[tags[(i + k) % 6] for k in (0, 2)]) for i in range(1, 121)])
    with engine.begin() as c:
        c.execute(text("ANALYZE"))
    print("loaded")


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
