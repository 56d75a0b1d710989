// node-postgres workload: a shop served through a small repository layer, over the extended
// protocol (parameterized queries: unnamed statements, untyped parameters, text results), with
// the client in pipeline mode (pg >= 8.21: `new Client({ pipeline: true })` writes every queued
// query at once instead of waiting for the previous ReadyForQuery).
//
//   node wl_node.js PORT DB setup
//   node wl_node.js PORT DB ENDPOINT nplus1|optimized
//
// Tables (prefix nd_): customer 300, product 250, warehouse 12, stock ~750, order 1,000,
// order_item ~3,000; foreign keys declared.
//
// Endpoints (nplus1 and optimized print the same JSON lines):
//   order_page     200 orders; customers fetched with Promise.all over the orders (pipelined
//                  single-key lookups, repeated keys), then each order's items (pipelined,
//                  reverse key), then each item's product (pipelined; keys from the answers of
//                  the previous level)
//   customer_page  120 customers, awaited one by one: the customer's orders, then per order
//                  `SELECT count(*) ... WHERE order_id = $1` (a per-key aggregate)
//   inventory      250 products; each product's stock rows (pipelined), then each stock row's
//                  warehouse (pipelined, 12 distinct keys over ~625 lookups)
//   order_stream   300 orders read 50 rows at a time (Execute with a row limit), then each
//                  order's customer, awaited one by one (this client is not pipelined)
// Twins: one `WHERE ... = ANY($1)` query per level, joined in JavaScript.
//
// The last line on stderr is `WLSTATS {"wall": s, "sent": n}`.
'use strict';
process.env.TZ = 'UTC'; // dates print the same on every machine
const path = require('path');
const { Client } = require(path.join(__dirname, 'node_modules', 'pg'));

const [port, database, what, variant] = process.argv.slice(2);

class Repo {
  constructor(client) {
    this.client = client;
    this.sent = 0;
  }

  async q(text, values) {
    this.sent++;
    return (await this.client.query(text, values)).rows;
  }

  // single-row and per-parent lookups: what an N+1 endpoint calls once per row
  async customer(id) {
    return (await this.q('SELECT id, name, email, tier FROM nd_customer WHERE id = $1', [id]))[0];
  }
  itemsOfOrder(orderId) {
    return this.q('SELECT id, order_id, product_id, qty FROM nd_order_item WHERE order_id = $1 ORDER BY id', [orderId]);
  }
  async product(id) {
    return (await this.q('SELECT id, sku, name, price FROM nd_product WHERE id = $1', [id]))[0];
  }
  ordersOfCustomer(customerId) {
    return this.q('SELECT id, customer_id, placed_on, status FROM nd_order WHERE customer_id = $1 ORDER BY id', [customerId]);
  }
  async itemCount(orderId) {
    return (await this.q('SELECT count(*) AS n FROM nd_order_item WHERE order_id = $1', [orderId]))[0].n;
  }
  stockOfProduct(productId) {
    return this.q('SELECT product_id, warehouse_id, qty FROM nd_stock WHERE product_id = $1 ORDER BY warehouse_id', [productId]);
  }
  async warehouse(id) {
    return (await this.q('SELECT id, code, city FROM nd_warehouse WHERE id = $1', [id]))[0];
  }

  // the batched forms the hand-optimized endpoints use
  customers(ids) { return this.q('SELECT id, name, email, tier FROM nd_customer WHERE id = ANY($1)', [ids]); }
  itemsOfOrders(ids) {
    return this.q('SELECT id, order_id, product_id, qty FROM nd_order_item WHERE order_id = ANY($1) ORDER BY id', [ids]);
  }
  products(ids) { return this.q('SELECT id, sku, name, price FROM nd_product WHERE id = ANY($1)', [ids]); }
  ordersOfCustomers(ids) {
    return this.q('SELECT id, customer_id, placed_on, status FROM nd_order WHERE customer_id = ANY($1) ORDER BY id', [ids]);
  }
  itemCounts(ids) {
    return this.q('SELECT order_id, count(*) AS n FROM nd_order_item WHERE order_id = ANY($1) GROUP BY order_id', [ids]);
  }
  stockOfProducts(ids) {
    return this.q('SELECT product_id, warehouse_id, qty FROM nd_stock WHERE product_id = ANY($1) ORDER BY product_id, warehouse_id', [ids]);
  }
  warehouses(ids) { return this.q('SELECT id, code, city FROM nd_warehouse WHERE id = ANY($1)', [ids]); }
}

const byKey = (rows, k) => new Map(rows.map((r) => [r[k], r]));
const groupBy = (rows, k) => {
  const m = new Map();
  for (const r of rows) {
    if (!m.has(r[k])) m.set(r[k], []);
    m.get(r[k]).push(r);
  }
  return m;
};
const uniq = (xs) => [...new Set(xs)];

async function orderPage(repo, opt, out) {
  const orders = await repo.q('SELECT id, customer_id, placed_on, status FROM nd_order ORDER BY id LIMIT 200');
  let customers; let items; let products;
  if (!opt) {
    customers = await Promise.all(orders.map((o) => repo.customer(o.customer_id)));
    items = await Promise.all(orders.map((o) => repo.itemsOfOrder(o.id)));
    products = await Promise.all(items.map((its) => Promise.all(its.map((it) => repo.product(it.product_id)))));
  } else {
    const cs = byKey(await repo.customers(uniq(orders.map((o) => o.customer_id))), 'id');
    customers = orders.map((o) => cs.get(o.customer_id));
    const is = groupBy(await repo.itemsOfOrders(orders.map((o) => o.id)), 'order_id');
    items = orders.map((o) => is.get(o.id) || []);
    const ps = byKey(await repo.products(uniq(items.flat().map((it) => it.product_id))), 'id');
    products = items.map((its) => its.map((it) => ps.get(it.product_id)));
  }
  orders.forEach((o, i) => {
    out.push(JSON.stringify({
      order: o.id, status: o.status, placed_on: o.placed_on, customer: customers[i],
      items: items[i].map((it, j) => ({ qty: it.qty, product: products[i][j] })),
    }));
  });
}

async function customerPage(repo, opt, out) {
  const customers = await repo.q('SELECT id, name, tier FROM nd_customer WHERE tier <> $1 ORDER BY id LIMIT 120', ['none']);
  if (!opt) {
    for (const c of customers) {
      const orders = await repo.ordersOfCustomer(c.id);
      const counts = [];
      for (const o of orders) counts.push(await repo.itemCount(o.id));
      out.push(JSON.stringify({ customer: c, orders: orders.map((o, i) => ({ id: o.id, status: o.status, items: counts[i] })) }));
    }
    return;
  }
  const os = groupBy(await repo.ordersOfCustomers(customers.map((c) => c.id)), 'customer_id');
  const all = [...os.values()].flat();
  const ns = byKey(all.length ? await repo.itemCounts(all.map((o) => o.id)) : [], 'order_id');
  for (const c of customers) {
    const orders = os.get(c.id) || [];
    out.push(JSON.stringify({
      customer: c, orders: orders.map((o) => ({ id: o.id, status: o.status, items: ns.has(o.id) ? ns.get(o.id).n : '0' })),
    }));
  }
}

async function inventory(repo, opt, out) {
  const products = await repo.q('SELECT id, sku, name FROM nd_product ORDER BY sku');
  let stock; let whs;
  if (!opt) {
    stock = await Promise.all(products.map((p) => repo.stockOfProduct(p.id)));
    whs = await Promise.all(stock.map((rows) => Promise.all(rows.map((s) => repo.warehouse(s.warehouse_id)))));
  } else {
    const ss = groupBy(await repo.stockOfProducts(products.map((p) => p.id)), 'product_id');
    stock = products.map((p) => ss.get(p.id) || []);
    const ws = byKey(await repo.warehouses(uniq(stock.flat().map((s) => s.warehouse_id))), 'id');
    whs = stock.map((rows) => rows.map((s) => ws.get(s.warehouse_id)));
  }
  products.forEach((p, i) => {
    out.push(JSON.stringify({
      product: p, stock: stock[i].map((s, j) => ({ qty: s.qty, warehouse: whs[i][j] })),
      total: stock[i].reduce((a, s) => a + s.qty, 0),
    }));
  });
}

async function setup(client) {
  const sql = [];
  sql.push('DROP TABLE IF EXISTS nd_stock, nd_warehouse, nd_order_item, nd_order, nd_product, nd_customer CASCADE');
  sql.push(`CREATE TABLE nd_customer (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, tier text NOT NULL)`);
  sql.push(`CREATE TABLE nd_product (id int PRIMARY KEY, sku text NOT NULL UNIQUE, name text NOT NULL, price numeric(8,2) NOT NULL)`);
  sql.push(`CREATE TABLE nd_order (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES nd_customer,
            placed_on date NOT NULL, status text NOT NULL)`);
  sql.push(`CREATE TABLE nd_order_item (id int PRIMARY KEY, order_id int NOT NULL REFERENCES nd_order,
            product_id int NOT NULL REFERENCES nd_product, qty int NOT NULL)`);
  sql.push(`CREATE TABLE nd_warehouse (id int PRIMARY KEY, code text NOT NULL, city text NOT NULL)`);
  sql.push(`CREATE TABLE nd_stock (product_id int NOT NULL REFERENCES nd_product, warehouse_id int NOT NULL REFERENCES nd_warehouse,
            qty int NOT NULL, PRIMARY KEY (product_id, warehouse_id))`);
  sql.push(`CREATE INDEX ON nd_order (customer_id)`);
  sql.push(`CREATE INDEX ON nd_order_item (order_id)`);
  sql.push(`INSERT INTO nd_customer SELECT i, 'Customer ' || i, 'c' || i || '@shop.test',
            (ARRAY['none','basic','gold','platinum'])[1 + (i * 7) % 4] FROM generate_series(1, 300) i`);
  sql.push(`INSERT INTO nd_product SELECT i, 'P-' || lpad(((i * 7919) % 10000)::text, 4, '0'), 'Product ' || i,
            (1 + (i * 13) % 300) + ((i * 37) % 100) / 100.0 FROM generate_series(1, 250) i`);
  sql.push(`INSERT INTO nd_order SELECT i, 1 + (i * 31) % 300, date '2024-01-01' + (i * 3) % 365,
            (ARRAY['new','paid','shipped','cancelled'])[1 + i % 4] FROM generate_series(1, 1000) i`);
  sql.push(`INSERT INTO nd_order_item SELECT row_number() OVER (ORDER BY o, k), o, 1 + (o * 17 + k * 53) % 250, 1 + (o + k) % 5
            FROM generate_series(1, 1000) o, generate_series(0, 4) k WHERE k < 1 + (o * 7) % 5`);
  sql.push(`INSERT INTO nd_warehouse SELECT i, 'WH' || lpad(i::text, 2, '0'), (ARRAY['Lyon','Osaka','Lagos','Lima'])[1 + i % 4]
            FROM generate_series(1, 12) i`);
  sql.push(`INSERT INTO nd_stock SELECT DISTINCT ON (p, 1 + (p * 5 + k * 7) % 12) p, 1 + (p * 5 + k * 7) % 12, (p * k * 11) % 90
            FROM generate_series(1, 250) p, generate_series(1, 4) k WHERE k <= 1 + p % 4 ORDER BY 1, 2`);
  sql.push('ANALYZE');
  for (const s of sql) await client.query(s);
  const counts = [];
  for (const t of ['nd_customer', 'nd_product', 'nd_order', 'nd_order_item', 'nd_warehouse', 'nd_stock']) {
    counts.push(`${t} ${(await client.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n}`);
  }
  console.log('loaded: ' + counts.join(', '));
}

// The source read in chunks: Execute with a row limit of 50 on the unnamed portal (pg's `rows`
// option; JDBC's setFetchSize does the same), PortalSuspended between chunks, then one lookup
// per row, awaited one by one. pg refuses `rows` in pipeline mode, so this endpoint's client is
// not pipelined.
async function orderStream(repo, opt, out) {
  repo.sent++;
  const orders = (await repo.client.query({
    text: 'SELECT id, customer_id, status FROM nd_order WHERE id > $1 ORDER BY id LIMIT 300', values: [400], rows: 50,
  })).rows;
  let customers;
  if (!opt) {
    customers = [];
    for (const o of orders) customers.push(await repo.customer(o.customer_id));
  } else {
    const cs = byKey(await repo.customers(uniq(orders.map((o) => o.customer_id))), 'id');
    customers = orders.map((o) => cs.get(o.customer_id));
  }
  orders.forEach((o, i) => out.push(JSON.stringify({ order: o.id, status: o.status, customer: customers[i] })));
}

const ENDPOINTS = { order_page: orderPage, customer_page: customerPage, inventory, order_stream: orderStream };
const NOT_PIPELINED = new Set(['order_stream']);

async function main() {
  if (!port || !database || !what) throw new Error('usage: wl_node.js PORT DB setup | PORT DB ENDPOINT nplus1|optimized');
  const client = new Client({
    host: '127.0.0.1', port: parseInt(port, 10), user: 'postgres', database, connectionTimeoutMillis: 10000,
    pipeline: what !== 'setup' && !NOT_PIPELINED.has(what),
  });
  await client.connect();
  if (what === 'setup') {
    await setup(client);
    await client.end();
    return;
  }
  if (!ENDPOINTS[what] || !['nplus1', 'optimized'].includes(variant)) throw new Error('unknown endpoint or variant');
  await client.query('SELECT pg_stat_statements_reset()'); // count the endpoint only (lib.sh)
  const repo = new Repo(client);
  const out = [];
  const t0 = process.hrtime.bigint();
  await ENDPOINTS[what](repo, variant === 'optimized', out);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  await client.end();
  process.stdout.write(out.join('\n') + '\n');
  process.stderr.write(`WLSTATS ${JSON.stringify({ wall: Number(wall.toFixed(6)), sent: repo.sent })}\n`);
}

main().catch((e) => {
  console.error('wl_node failed:', e.stack || e.message);
  process.exit(1);
});
