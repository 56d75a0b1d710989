#!/usr/bin/python3
"""SQLAlchemy 1.4 ORM workload (psycopg2, simple protocol): a shop whose relationships load
lazily (lazy='select'), three levels deep.

    wl_sqla.py PORT DB setup
    wl_sqla.py PORT DB ENDPOINT nplus1|optimized

Tables (prefix sa_): country 8, city 40, customer 300, supplier 30, category 20 (5 top-level,
15 below them), product 400, tag 12, product_tag ~800, order 1,200, order_line ~3,600; every
foreign key declared.

Endpoints (each prints one line per object it touches; nplus1 and optimized print the same):
  orders            400 orders -> customer -> city -> country        (many-to-one x 3)
  customer_history  150 customers -> orders -> lines -> product -> category
                                                                   (one-to-many x 2, many-to-one x 2)
  supplier_catalog  30 suppliers -> products -> tags (many-to-many) and category -> parent
The lazy many-to-one loads go through the identity map (one SELECT per distinct key), the
one-to-many ones run once per parent. The optimized twins use joinedload / selectinload.
The session runs in one transaction (SQLAlchemy's default), so the loops run inside a block.

The last line on stderr is `WLSTATS {"wall": s, "sent": n}` (endpoint wall time, statements
SQLAlchemy sent).
"""
import datetime
import decimal
import json
import os
import sys
import time

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

from sqlalchemy import (Column, DateTime, ForeignKey, Integer, Numeric, String, Table,  # noqa: E402
                        create_engine, event, select, text)
from sqlalchemy.orm import (Session, declarative_base, joinedload, relationship,  # noqa: E402
                            selectinload)

Base = declarative_base()

product_tag = Table(
    "sa_product_tag", Base.metadata,
    Column("product_id", ForeignKey("sa_product.id"), primary_key=True),
    Column("tag_id", ForeignKey("sa_tag.id"), primary_key=True),
)


class Country(Base):
    __tablename__ = "sa_country"
    id = Column(Integer, primary_key=True)
    code = Column(String(2), nullable=False)
    name = Column(String(64), nullable=False)


class City(Base):
    __tablename__ = "sa_city"
    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False)
    country_id = Column(ForeignKey("sa_country.id"), nullable=False)
    country = relationship(Country, lazy="select")


class Customer(Base):
    __tablename__ = "sa_customer"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False)
    email = Column(String(100), nullable=False)
    city_id = Column(ForeignKey("sa_city.id"), nullable=False)
    city = relationship(City, lazy="select")
    orders = relationship("Order", lazy="select", order_by="Order.id", back_populates="customer")


class Supplier(Base):
    __tablename__ = "sa_supplier"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False)
    city_id = Column(ForeignKey("sa_city.id"), nullable=False)
    products = relationship("Product", lazy="select", order_by="Product.sku", back_populates="supplier")


class Category(Base):
    __tablename__ = "sa_category"
    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False)
    parent_id = Column(ForeignKey("sa_category.id"))
    parent = relationship("Category", remote_side=[id], lazy="select")


class Tag(Base):
    __tablename__ = "sa_tag"
    id = Column(Integer, primary_key=True)
    name = Column(String(32), nullable=False)


class Product(Base):
    __tablename__ = "sa_product"
    id = Column(Integer, primary_key=True)
    sku = Column(String(16), nullable=False, unique=True)
    name = Column(String(100), nullable=False)
    price = Column(Numeric(8, 2), nullable=False)
    supplier_id = Column(ForeignKey("sa_supplier.id"), nullable=False)
    category_id = Column(ForeignKey("sa_category.id"), nullable=False)
    supplier = relationship(Supplier, lazy="select", back_populates="products")
    category = relationship(Category, lazy="select")
    tags = relationship(Tag, secondary=product_tag, lazy="select", order_by=Tag.name)


class Order(Base):
    __tablename__ = "sa_order"
    id = Column(Integer, primary_key=True)
    customer_id = Column(ForeignKey("sa_customer.id"), nullable=False)
    placed_at = Column(DateTime(timezone=True), nullable=False)
    status = Column(String(16), nullable=False)
    customer = relationship(Customer, lazy="select", back_populates="orders")
    lines = relationship("OrderLine", lazy="select", order_by="OrderLine.id")


class OrderLine(Base):
    __tablename__ = "sa_order_line"
    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("sa_order.id"), nullable=False)
    product_id = Column(ForeignKey("sa_product.id"), nullable=False)
    qty = Column(Integer, nullable=False)
    unit_price = Column(Numeric(8, 2), nullable=False)
    product = relationship(Product, lazy="select")


def engine_for(port, db):
    return create_engine("postgresql+psycopg2://postgres@127.0.0.1:%d/%s" % (port, db),
                         connect_args={"connect_timeout": 10}, future=True)


COUNTRIES = [("DE", "Germany"), ("FR", "France"), ("IN", "India"), ("JP", "Japan"), ("KE", "Kenya"),
             ("MX", "Mexico"), ("NO", "Norway"), ("US", "United States")]


def setup(engine):
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    base = datetime.datetime(2024, 3, 1, tzinfo=datetime.timezone.utc)
    with Session(engine) as s:
        s.add_all([Country(id=i, code=c, name=n) for i, (c, n) in enumerate(COUNTRIES, 1)])
        s.flush()
        s.add_all([City(id=i, name="City %02d" % i, country_id=1 + (i * 3) % 8) for i in range(1, 41)])
        s.flush()
        s.add_all([Customer(id=i, name="Customer %03d" % i, email="c%03d@example.com" % i,
                            city_id=1 + (i * 7) % 40) for i in range(1, 301)])
        s.add_all([Supplier(id=i, name="Supplier %02d" % i, city_id=1 + (i * 11) % 40) for i in range(1, 31)])
        s.flush()
        s.add_all([Category(id=i, name="Department %d" % i) for i in range(1, 6)])
        s.flush()
        s.add_all([Category(id=i, name="Aisle %d" % i, parent_id=1 + i % 5) for i in range(6, 21)])
        s.add_all([Tag(id=i, name="tag-%s" % w) for i, w in enumerate(
            "eco fragile gift heavy imported local new organic sale seasonal small vegan".split(), 1)])
        s.flush()
        s.add_all([Product(id=i, sku="SKU%05d" % ((i * 7919) % 100000), name="Product %03d" % i,
                           price=decimal.Decimal("%d.%02d" % (1 + (i * 13) % 200, (i * 37) % 100)),
                           supplier_id=1 + (i * 17) % 30, category_id=6 + (i * 5) % 15)
                   for i in range(1, 401)])
        s.flush()
        s.execute(product_tag.insert(), [{"product_id": p, "tag_id": 1 + (p * k * 3 + k) % 12}
                                         for p in range(1, 401) for k in range(1, 1 + p % 4)
                                         if (p * k * 3 + k) % 12 not in [(p * j * 3 + j) % 12 for j in range(1, k)]])
        s.add_all([Order(id=i, customer_id=1 + (i * 31) % 300, placed_at=base + datetime.timedelta(minutes=i * 17),
                         status=("new", "paid", "shipped", "returned")[i % 4]) for i in range(1, 1201)])
        s.flush()
        lines, n = [], 0
        for o in range(1, 1201):
            for k in range(1 + (o * 7) % 5):
                n += 1
                p = 1 + (o * 13 + k * 101) % 400
                lines.append(OrderLine(id=n, order_id=o, product_id=p, qty=1 + (o + k) % 4,
                                       unit_price=decimal.Decimal("%d.%02d" % (1 + (p * 13) % 200, (p * 37) % 100))))
        s.add_all(lines)
        s.commit()
    with engine.connect() as c:
        c.execute(text("ANALYZE"))
        counts = [(t.name, c.execute(select(text("count(*)")).select_from(t)).scalar())
                  for t in Base.metadata.sorted_tables]
    print("loaded: " + ", ".join("%s %d" % tc for tc in counts))


def ep_orders(s, opt, out):
    q = select(Order).order_by(Order.id).limit(400)
    if opt:
        q = q.options(joinedload(Order.customer).joinedload(Customer.city).joinedload(City.country))
    for o in s.execute(q).scalars():
        c = o.customer
        out.append("order %d %s %s: %s <%s> in %s, %s (%s)" % (
            o.id, o.placed_at.isoformat(), o.status, c.name, c.email, c.city.name,
            c.city.country.name, c.city.country.code))


def ep_customer_history(s, opt, out):
    q = select(Customer).order_by(Customer.id).limit(150)
    if opt:
        q = q.options(selectinload(Customer.orders).selectinload(Order.lines)
                      .joinedload(OrderLine.product).joinedload(Product.category))
    for c in s.execute(q).scalars():
        out.append("customer %d %s: %d orders" % (c.id, c.name, len(c.orders)))
        for o in c.orders:
            total = sum(line.qty * line.unit_price for line in o.lines)
            out.append("  order %d %s total %s" % (o.id, o.status, total))
            for line in o.lines:
                out.append("    %d x %s (%s) @ %s [%s]" % (line.qty, line.product.name, line.product.sku,
                                                          line.unit_price, line.product.category.name))


def ep_supplier_catalog(s, opt, out):
    q = select(Supplier).order_by(Supplier.id)
    if opt:
        q = q.options(selectinload(Supplier.products).options(
            selectinload(Product.tags), joinedload(Product.category).joinedload(Category.parent)))
    for sup in s.execute(q).scalars():
        out.append("supplier %d %s: %d products" % (sup.id, sup.name, len(sup.products)))
        for p in sup.products:
            out.append("  %s %s %s %s > %s [%s]" % (p.sku, p.name, p.price, p.category.parent.name,
                                                   p.category.name, ", ".join(t.name for t in p.tags)))


ENDPOINTS = {"orders": ep_orders, "customer_history": ep_customer_history,
             "supplier_catalog": ep_supplier_catalog}


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: wl_sqla.py PORT DB setup | PORT DB ENDPOINT nplus1|optimized")
    port, db, what = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    engine = engine_for(port, db)
    if what == "setup":
        setup(engine)
        return
    variant = sys.argv[4]
    if what not in ENDPOINTS or variant not in ("nplus1", "optimized"):
        sys.exit("unknown endpoint or variant")
    sent = []
    with engine.connect() as conn:                       # connecting is not part of the endpoint
        conn.exec_driver_sql("SELECT pg_stat_statements_reset()")   # count only the endpoint's
        conn.commit()
        event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
        with Session(bind=conn) as s:
            out = []
            t0 = time.perf_counter()
            ENDPOINTS[what](s, variant == "optimized", out)
            s.rollback()
            wall = time.perf_counter() - t0
    engine.dispose()
    for line in out:
        print(line)
    print("WLSTATS " + json.dumps({"wall": round(wall, 6), "sent": len(sent)}), file=sys.stderr)


if __name__ == "__main__":
    main()
