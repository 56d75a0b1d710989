#!/usr/bin/python3
"""SQLAlchemy 1.4 ORM lazy loading (relationship lazy='select') over the polls/library data.

    lazy.py --port PORT [--db NAME] setup    create the tables and load the data
    lazy.py --port PORT [--db NAME] loops    forward FK, reverse FK and m2m lazy-load loops

Driver: psycopg2. SQLAlchemy 1.4.46 (Debian 12) has no postgresql+psycopg (psycopg 3) dialect;
that arrived in 2.0. The extended protocol through psycopg 3 is exercised by psycopg3_ext.py.
Prints every value, then the number of statements SQLAlchemy sent, so runs can be diffed.
"""
import argparse
import datetime
import os
import sys

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")  # 1.4's "not 2.0-ready" banner

from sqlalchemy import (Column, DateTime, ForeignKey, Integer, String, Table, create_engine,
                        event, select, text)
from sqlalchemy.orm import Session, declarative_base, relationship

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
    books = relationship("Book", back_populates="author", lazy="select", order_by="Book.id")


class Tag(Base):
    __tablename__ = "tag"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False)


class Book(Base):
    __tablename__ = "book"
    id = Column(Integer, primary_key=True)
    title = Column(String(200), nullable=False)
    author_id = Column(ForeignKey("author.id"), nullable=False, index=True)
    author = relationship("Author", back_populates="books", lazy="select")
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
