// node-postgres (npm "pg") against pgfold or PostgreSQL: parameterized queries (extended
// protocol, unnamed statement), a named prepared statement in an N+1 loop, errors, transactions,
// a pool running queries in parallel. Prints everything deterministically for a direct/proxy diff.
//
//   node client.js PORT [DB]
'use strict';
const crypto = require('crypto');
const { Client, Pool } = require('pg');

const port = parseInt(process.argv[2], 10);
const database = process.argv[3] || 'pgfold_test';
const conf = { host: '127.0.0.1', port, user: 'postgres', database, connectionTimeoutMillis: 10000 };

function show(label, value) {
  console.log(label, JSON.stringify(value, (k, v) => {
    if (v && v.type === 'Buffer' && Array.isArray(v.data)) return '\\x' + Buffer.from(v.data).toString('hex');
    return v;
  }));
}

function fields(res) {
  return res.fields.map((f) => `${f.name}:${f.dataTypeID}`).join(',');
}

async function expectError(client, label, query, values) {
  try {
    await client.query(query, values);
    console.log(label, 'UNEXPECTED success');
  } catch (e) {
    console.log(label, 'error', e.code, e.severity, e.message);
  }
}

async function main() {
  const client = new Client(conf);
  const notices = [];
  client.on('notice', (n) => notices.push(`${n.severity} ${n.code} ${n.message}`));
  await client.connect();

  // Parameterized queries: Parse/Bind/Execute with the unnamed statement.
  let r = await client.query('SELECT $1::int + $2::int AS sum, $3::text AS t', [40, 2, 'héllo']);
  show('param', { rows: r.rows, command: r.command, rowCount: r.rowCount, fields: fields(r) });
  r = await client.query(
    'SELECT $1::numeric AS n, $2::bool AS b, $3::timestamptz AS ts, $4::jsonb AS j, $5::int[] AS a, $6::bytea AS by, $7::text AS nul',
    ['12345.678900', true, '2021-03-04T05:06:07.089Z', JSON.stringify({ k: [1, 'two', null] }), [3, 1, 2],
      Buffer.from([0, 1, 254, 255]), null]);
  show('types', r.rows);
  r = await client.query({ text: 'SELECT g, g * g AS sq FROM generate_series(1, $1::int) g', values: [5], rowMode: 'array' });
  show('rowMode array', r.rows);

  // Data for the loop, in this session only.
  await client.query(`CREATE TEMP TABLE node_items AS
      SELECT g AS id, 'item ' || g AS label, (g % 7) AS grp,
             timestamptz '2020-01-01 00:00:00+00' + g * interval '1 hour' AS created
        FROM generate_series(1, 100) g`);
  await client.query('ALTER TABLE node_items ADD PRIMARY KEY (id)');

  // The N+1 shape with a named prepared statement: parsed once, executed 100 times.
  const ids = (await client.query('SELECT id FROM node_items ORDER BY id')).rows.map((x) => x.id);
  for (const id of ids) {
    r = await client.query({
      name: 'fetch-q',
      text: 'SELECT id, label, grp, created FROM node_items WHERE id = $1',
      values: [id],
    });
    show('fetch-q', r.rows);
  }
  // The same name with the same text is reused; errors with named statements.
  await expectError(client, 'named div0', { name: 'div', text: 'SELECT 100 / $1::int AS q', values: [0] });
  r = await client.query({ name: 'div', text: 'SELECT 100 / $1::int AS q', values: [4] });
  show('named div after error', r.rows);
  await expectError(client, 'named syntax', { name: 'broken', text: 'SELEC $1::int', values: [1] });
  await expectError(client, 'missing table', 'SELECT * FROM no_such_table WHERE id = $1', [1]);
  await expectError(client, 'bad param', 'SELECT $1::int', ['not a number']);

  // Simple query protocol (no parameters): several statements in one string.
  r = await client.query('SELECT 1 AS a; SELECT 2 AS b, 3 AS c');
  show('multi', r.map((x) => ({ rows: x.rows, command: x.command })));

  // Transactions: an error aborts, ROLLBACK recovers; savepoints.
  await client.query('BEGIN');
  await client.query('INSERT INTO node_items VALUES ($1, $2, 0, now())', [1000, 'in tx']);
  await expectError(client, 'in tx dup', 'INSERT INTO node_items VALUES ($1, $2, 0, now())', [1, 'dup']);
  await expectError(client, 'in failed tx', 'SELECT $1::int', [1]);
  await client.query('ROLLBACK');
  await client.query('BEGIN');
  await client.query('INSERT INTO node_items VALUES ($1, $2, 0, now())', [1001, 'kept']);
  await client.query('SAVEPOINT s1');
  await expectError(client, 'savepoint dup', 'INSERT INTO node_items VALUES ($1, $2, 0, now())', [1, 'dup']);
  await client.query('ROLLBACK TO SAVEPOINT s1');
  await client.query('COMMIT');
  r = await client.query('SELECT id, label FROM node_items WHERE id >= $1 ORDER BY id', [1000]);
  show('after tx', r.rows);

  // Queries queued without waiting (node-postgres sends them one after another).
  const queued = await Promise.all(ids.slice(0, 20).map((id) =>
    client.query({ name: 'fetch-q', text: 'SELECT id, label, grp, created FROM node_items WHERE id = $1', values: [id] })));
  show('queued', queued.map((x) => x.rows[0].label));

  // A larger result, checksummed.
  r = await client.query('SELECT g, md5(g::text) AS h FROM generate_series(1, $1::int) g', [20000]);
  show('big', { rows: r.rowCount, md5: crypto.createHash('md5').update(JSON.stringify(r.rows)).digest('hex') });

  await client.query("DO $$ BEGIN RAISE NOTICE 'notice from %', 'node'; END $$");
  show('notices', notices);
  await client.end();

  // A pool: four connections, queries in parallel.
  const pool = new Pool({ ...conf, max: 4 });
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
    pool.query({ name: 'pool-q', text: 'SELECT $1::int * 3 AS v, pg_sleep(0.01) IS NULL AS s', values: [i] })));
  show('pool', results.map((x) => x.rows[0].v));
  await pool.end();
  console.log('done');
}

main().catch((e) => {
  console.log('FAILED', e.code, e.message);
  process.exit(1);
});
