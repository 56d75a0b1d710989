// The node-postgres N+1 loop of `make bench`: the same tables and shape as bare_loop.py, over
// the extended protocol (parameterized queries, unnamed statement, one Sync group each).
//
//   node node_loop.js PORT DB [N]
//
// Uses the "pg" module the integration tests installed (tests/clients/node/node_modules; the
// bench runs `npm ci` there the way tests/integration/t_node.sh does when it is missing).
// Prints one JSON line: wall and CPU seconds of the loop (connecting excluded), statements
// sent, and a digest of every row fetched.
'use strict';
const crypto = require('crypto');
const path = require('path');
const { Client } = require(path.join(__dirname, '..', 'tests', 'clients', 'node', 'node_modules', 'pg'));

async function main() {
  const port = parseInt(process.argv[2], 10);
  const database = process.argv[3];
  const n = parseInt(process.argv[4] || '500', 10);
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', database, connectionTimeoutMillis: 10000 });
  await client.connect();
  const digest = crypto.createHash('sha256');
  let sent = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const orders = await client.query('SELECT id, customer_id, amount FROM bench_order ORDER BY id LIMIT $1', [n]);
  sent++;
  for (const o of orders.rows) {
    const r = await client.query(
      'SELECT id, name, email, city, created_at FROM bench_customer WHERE id = $1', [o.customer_id]);
    sent++;
    digest.update(JSON.stringify([o.id, o.amount, r.rows]));
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  await client.end();
  console.log(JSON.stringify({
    loop: 'node', wall, cpu: (c.user + c.system) / 1e6, sent, digest: digest.digest('hex').slice(0, 16),
  }));
}

main().catch((e) => {
  console.error('node_loop failed:', e.message);
  process.exit(1);
});
