"""SQLAlchemy 1.4 models and data shared by the ORM clients: sqla/lazy.py (all loops in one run,
t_psycopg3) and fold/sqla_loops.py (one loop per run with statement counts, t_fold_ext; its
setup also makes the tables p3_loops.py reads in t_fold_tx).

Tables: question/choice (100 x 5), author (12), book (120), tag (6), book_tag (240), with
declared foreign keys; every relationship loads lazily (lazy='select'), one SELECT per access.
Driver: psycopg2. SQLAlchemy 1.4.46 (Debian 12) has no postgresql+psycopg (psycopg 3) dialect;
that arrived in 2.0.

Importing this module sets SQLALCHEMY_SILENCE_UBER_WARNING (1.4's "not 2.0-ready" banner)
before SQLAlchemy loads, so the outputs diffed by the tests carry no warning.
"""
import datetime
import os

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

from sqlalchemy import (Column, DateTime, ForeignKey, Integer, String, Table,  # noqa: E402
                        create_engine, text)
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
    # Read only by lazy.py's nested loop; back_populates issues no SQL of its own, so the loops
    # that never touch author.books send the same statements with or without it.
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
    """Drops and creates the tables, loads the data, ANALYZEs; prints "loaded"."""
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
