import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { logTemplate, stripSqlLiterals } from '../../../src/search/template.ts';
import { bodyWords } from '../../../src/search/text.ts';

describe('log templates', () => {
  it('masks numbers, IDs, hex, UUIDs, timestamps, IPs, paths and quoted strings', () => {
    assert.equal(
      logTemplate('user 4711 logged in from 10.1.2.3:5432 at 2024-05-01T12:00:00.123Z (session 3f2a9c1e-8b7d-4c2a-9e1f-0a1b2c3d4e5f)'),
      'user <num> logged in from <ip> at <ts> (session <uuid>)',
    );
    assert.equal(logTemplate('write /var/lib/data/segment-0001.log: no space left on device'), 'write <path>: no space left on device');
    assert.equal(logTemplate('container 0a1b2c3d4e5f6a7b killed, addr 0xdeadbeef'), 'container <hex> killed, addr <hex>');
    assert.equal(logTemplate('payment for "Jane Doe" failed: \'card_declined\''), 'payment for <str> failed: <str>');
    assert.equal(logTemplate('mail to jane.doe@example.com bounced'), 'mail to <email> bounced');
    assert.equal(logTemplate('GET https://api.example.com/v1/orders?id=5 took 31 ms'), 'GET <url> took <num> ms');
    assert.equal(logTemplate('request abc123def456ghi789jk failed'), 'request <id> failed');
  });

  it('gives one template for messages that differ only in their values', () => {
    const a = logTemplate('query on orders exceeded statement timeout of 30000 ms (pid 8812)');
    const b = logTemplate('query on orders exceeded statement timeout of 5000 ms (pid 17)');
    assert.equal(a, b);
    assert.equal(a, 'query on orders exceeded statement timeout of <num> ms (pid <num>)');
  });

  it('masks redaction markers to a placeholder without the rule name, and drops leaves that are only markers', () => {
    assert.equal(logTemplate('login failed: password=<redacted:secretAssignment> (<redacted:email>)'), 'login failed: password=<redacted> (<redacted>)');
    const map = {
      kvlistValue: {
        values: [
          { key: 'msg', value: { stringValue: 'token leak' } },
          { key: 'api_key', value: { stringValue: '<redacted:sensitiveKey>' } },
          { key: 'password', value: { stringValue: '<redacted:sensitiveKey>' } },
        ],
      },
    };
    assert.equal(bodyWords(map), 'token leak');
  });

  it('keeps words that contain digits as part of a name and collapses whitespace', () => {
    assert.equal(logTemplate('  http2   stream   reset  '), 'http2 stream reset');
    assert.equal(logTemplate('gpt-4o replied'), 'gpt-4o replied');
  });
});

describe('SQL literal stripping', () => {
  it('replaces strings, numbers and IN lists with ?', () => {
    assert.equal(
      stripSqlLiterals("SELECT * FROM orders WHERE customer_id = 4711 AND status = 'open' AND id IN (1, 2, 3)"),
      'SELECT * FROM orders WHERE customer_id = ? AND status = ? AND id IN (?)',
    );
    assert.equal(stripSqlLiterals("UPDATE t SET name = 'O''Brien', n = -1.5"), 'UPDATE t SET name = ?, n = ?');
  });

  it('leaves identifiers with digits alone', () => {
    assert.equal(stripSqlLiterals('SELECT col1 FROM table2 LIMIT 10'), 'SELECT col1 FROM table2 LIMIT ?');
  });
});

describe('texts embedded for spans and logs', async () => {
  const { spanDocs, logDocs } = await import('../../../src/search/text.ts');
  const { attrs, log, resource, span, T0, SEC } = await import('../../helpers/telemetry-builders.ts');

  it('builds a span text from service, name, kind words, status, slowness and meaningful attributes', () => {
    const s = span({
      resource: resource('orders-db'),
      name: 'SELECT orders',
      startTimeUnixNano: T0,
      endTimeUnixNano: T0 + 3n * SEC,
      status: { code: 2, message: 'statement timeout after 30000 ms' },
      attributes: attrs({ 'db.system': 'postgresql', 'db.statement': "SELECT * FROM orders WHERE id = 42 AND s = 'x'", 'net.peer.port': 5432n, 'user.id': 'u-123' }),
      events: [{ timeUnixNano: T0, name: 'exception', attributes: attrs({ 'exception.type': 'QueryTimeoutError', 'exception.message': 'timeout after 30000 ms' }), droppedAttributesCount: 0 }],
    });
    const [doc, ex] = spanDocs(s);
    assert.equal(
      doc!.text,
      'orders-db | SELECT orders | database query | error statement timeout after <num> ms | slow | db.system postgresql | db.statement SELECT * FROM orders WHERE id = ? AND s = ?',
    );
    assert.equal(ex!.kind, 'exception');
    assert.equal(ex!.text, 'orders-db | exception QueryTimeoutError: timeout after <num> ms');
  });

  it('builds a log text from service, severity and the body template, keeping what finds the stored row', () => {
    const l = log({ resource: resource('auth'), severityNumber: 13, severityText: 'WARN', body: { stringValue: 'login failed for user 4711 from 10.0.0.1' }, timeUnixNano: T0 });
    const [doc] = logDocs(l);
    assert.equal(doc!.text, 'auth | warn | login failed for user <num> from <ip>');
    assert.deepEqual(doc!.log?.body, { stringValue: 'login failed for user 4711 from 10.0.0.1' });
    assert.equal(doc!.timeNs, T0);
  });

  it('embeds the string leaves of structured bodies, message-like keys first, without keys or bare placeholders', async () => {
    const { bodyWords } = await import('../../../src/search/text.ts');
    assert.equal(bodyWords({ stringValue: '{"level":"error","user":"alice","msg":"payment failed for order 42","trace":"4bf92f3577b34da6a3ce929d0e0e4736"}' }), 'payment failed for order <num> | error | alice');
    assert.equal(
      bodyWords({ kvlistValue: { values: attrs({ event: 'cache miss', tags: { arrayValue: { values: [{ stringValue: 'redis' }, { intValue: '3' }] } }, at: '2024-05-01T12:00:00Z' }) } }),
      'cache miss | redis',
    );
    assert.equal(bodyWords({ stringValue: '{not json} user 5 logged in' }), '{not json} user <num> logged in', 'plain text with braces is a template');
    assert.equal(bodyWords({ stringValue: '{"msg": "unterminated' }), '{<str>: "unterminated', 'text that does not parse is a template');
    const huge = bodyWords({ arrayValue: { values: Array.from({ length: 50_000 }, (_, i) => ({ stringValue: `step ${i} done` })) } });
    assert.ok(huge.length < 2_000, 'bounded');
  });
});
