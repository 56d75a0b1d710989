// node-postgres N+1 loops over the tables sqla_loops.py setup creates.
//
//   node node_loops.js PORT DB forward|reverse|m2m param|named
//
// param: parameterized queries (Parse/Bind/Execute on the unnamed statement every time).
// named: a named prepared statement ({ name, text, values }), parsed once per connection.
// Prints every row, the fields and the command tag, so runs can be diffed.
'use strict';
const path = require('path');
const { Client } = require(path.join(__dirname, '..', 'node', 'node_modules', 'pg'));

const [port, database, loop, style] = [parseInt(process.argv[2], 10), process.argv[3], process.argv[4], process.argv[5]];
const LOOPS = {
  forward: ['SELECT id, question_id, choice_text FROM choice ORDER BY id',
    'SELECT id, question_text, pub_date FROM question WHERE id = $1', 'question_id'],
  reverse: ['SELECT id, question_text FROM question ORDER BY id',
    'SELECT id, question_id, choice_text, votes FROM choice WHERE question_id = $1 ORDER BY id', 'id'],
  m2m: ['SELECT id, title, author_id FROM book ORDER BY id',
    'SELECT t.id, t.name FROM tag t JOIN book_tag bt ON bt.tag_id = t.id WHERE bt.book_id = $1 ORDER BY t.id', 'id'],
};

async function main() {
  if (!LOOPS[loop] || !['param', 'named'].includes(style)) throw new Error('usage: PORT DB forward|reverse|m2m param|named');
  const [parentSql, lookupSql, keyCol] = LOOPS[loop];
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', database, connectionTimeoutMillis: 10000 });
  await client.connect();
  const parents = (await client.query(parentSql)).rows;
  console.log(`== ${loop} ${style}: ${parents.length} parent rows`);
  for (const p of parents) {
    const q = style === 'named'
      ? { name: `fold-${loop}`, text: lookupSql, values: [p[keyCol]] }
      : { text: lookupSql, values: [p[keyCol]] };
    const r = await client.query(q);
    console.log(JSON.stringify(p), '->', JSON.stringify(r.rows), r.command, r.rowCount,
      r.fields.map((f) => `${f.name}:${f.dataTypeID}`).join(','));
  }
  await client.end();
  console.log(`== ${loop} ${style}: ${parents.length} lookups`);
}

main().catch((e) => {
  console.log('FAILED', e.code, e.message);
  process.exit(1);
});
