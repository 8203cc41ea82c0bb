// The text of one record costs bounded work whatever the record holds (QA round 33, embed): a
// record with 160,000 attributes or 200,000 exception events builds its text from a bounded part of
// them (it threw RangeError from a spread into push()), a 1 MB body, status message, exception
// message or SQL statement reaches the template rules cut to MAX_TEMPLATE_INPUT (three rules were
// quadratic over such inputs: seconds per 50 KB), redaction markers lose their rule's name in every
// attribute, and the current semantic-convention keys are embedded.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyValue } from '../../../src/model/telemetry.ts';
import { logTemplate, MAX_TEMPLATE_INPUT, stripSqlLiterals } from '../../../src/search/template.ts';
import { logDocs, logText, spanDocs, spanText } from '../../../src/search/text.ts';
import { attrs, log, resource, span, T0 } from '../../helpers/telemetry-builders.ts';

const MB = 1_000_000;

/**
 * Runs fn and returns the longest string any regular expression was run on meanwhile (every
 * replace, test, match and split goes through RegExp.prototype.exec once it is replaced). Throws at
 * once on a string longer than `limit`, so the quadratic rules are never run on it.
 */
function longestRegexInput<T>(limit: number, fn: () => T): { result: T; longest: number } {
  const exec = RegExp.prototype.exec;
  let longest = 0;
  RegExp.prototype.exec = function (this: RegExp, s: string) {
    longest = Math.max(longest, s.length);
    if (s.length > limit) throw new Error(`a regular expression was run on ${s.length} characters (${this.source.slice(0, 40)})`);
    return exec.call(this, s);
  };
  try {
    return { result: fn(), longest };
  } finally {
    RegExp.prototype.exec = exec;
  }
}

/** `n` attributes `rpc.a<i>` = "ok x" (meaningful: every rpc.* key is). */
function manyRpcAttributes(n: number): KeyValue[] {
  return Array.from({ length: n }, (_, i) => ({ key: `rpc.a${i}`, value: { stringValue: 'ok x' } }));
}

describe('the text of one record is bounded work', () => {
  it('builds the text of a span or log with 160,000 meaningful attributes from the first ones, without a spread into a call', () => {
    const many = manyRpcAttributes(160_000);
    const s = span({ resource: resource('gateway'), name: 'call', attributes: many });
    const text = spanText(s);
    assert.ok(text.startsWith('gateway | call | rpc call | rpc.a0 ok x | rpc.a1 ok x'), text.slice(0, 80));
    assert.equal(text.length, 513, 'cut at 512 and marked');
    const l = log({ resource: resource('gateway'), body: { stringValue: 'called' }, attributes: many });
    assert.equal(logText(l).length, 513);
    assert.equal(logDocs(l).length, 1);
  });

  it('reads at most the first 1,000 attributes of a record for its text', () => {
    let highest = -1;
    const attributes = new Proxy(manyRpcAttributes(50_000).map((kv) => ({ ...kv, key: `x.${kv.key}` })), {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) highest = Math.max(highest, Number(key));
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    spanText(span({ resource: resource('gateway'), name: 'call', attributes }));
    assert.ok(highest >= 0 && highest < 1_000, `read up to attribute ${highest}`);
  });

  it('makes exception items of the first 128 events of a span with 200,000 exception events', () => {
    const event = { timeUnixNano: T0, name: 'exception', attributes: attrs({ 'exception.type': 'Boom', 'exception.message': 'it broke' }), droppedAttributesCount: 0 };
    const s = span({ resource: resource('gateway'), name: 'call', events: Array.from({ length: 200_000 }, () => event) });
    const docs = spanDocs(s);
    assert.equal(docs.length, 1 + 128);
    assert.equal(docs[1]!.text, 'gateway | exception Boom: it broke');
  });
});

describe('templates read a bounded part of their input', () => {
  // The cut input and its `…`; a placeholder can be longer than what it replaced (`1` → `<num>`), so
  // the rules after it may read a few more characters, never more than a constant times the cut.
  const limit = 2 * MAX_TEMPLATE_INPUT;

  it('templates a 1 MB log body, status message, exception message and SQL statement with every rule on at most MAX_TEMPLATE_INPUT characters', () => {
    // Shapes the old rules were quadratic on: word boundaries in one run ("a-a-…", "a.a.…"), and `""x` in SQL.
    const dashes = 'a-'.repeat(MB / 2);
    const dots = 'a.'.repeat(MB / 2);
    const quotes = '""x'.repeat(MB / 3);
    const { result: body, longest } = longestRegexInput(limit, () => logText(log({ resource: resource('svc'), body: { stringValue: dashes } })));
    assert.equal(body, `svc | ${dashes.slice(0, 512 - 'svc | '.length)}…`);
    assert.ok(longest <= limit, `${longest}`);

    const s = span({
      resource: resource('svc'),
      name: dots,
      status: { code: 2, message: dots },
      attributes: attrs({ 'db.statement': `SELECT ${quotes}`, 'http.route': `/${dashes}` }),
      events: [{ timeUnixNano: T0, name: 'exception', attributes: attrs({ 'exception.type': dashes, 'exception.message': `mail ${dots}` }), droppedAttributesCount: 0 }],
    });
    const { result: docs } = longestRegexInput(limit, () => spanDocs(s));
    assert.equal(docs[0]!.text.length, 513);
    assert.ok(docs[0]!.text.startsWith('svc | a.a.a.'), docs[0]!.text.slice(0, 40));
    assert.equal(docs[1]!.text, `svc | exception ${dashes.slice(0, 160)}…: mail ${dots.slice(0, 512 - `svc | exception ${'a'.repeat(160)}…: mail `.length)}…`);

    const logged = log({ resource: resource('svc'), body: { stringValue: 'x' }, attributes: attrs({ 'exception.message': dots, 'db.query.text': `SELECT ${quotes}`, 'gen_ai.input.messages': dashes }) });
    const { result: logDocsOut } = longestRegexInput(limit, () => logDocs(logged));
    assert.equal(logDocsOut.length, 2);
    assert.ok(logDocsOut[0]!.text.length <= 513);

    const { result: sql } = longestRegexInput(limit, () => stripSqlLiterals(`SELECT ${quotes}`));
    assert.equal(sql, `SELECT ${quotes.slice(0, MAX_TEMPLATE_INPUT - 'SELECT '.length)}…`);
    const { result: template } = longestRegexInput(limit, () => logTemplate(`user 4711 at ${dots}`));
    assert.ok(template.startsWith('user <num> at a.a.a.'), template.slice(0, 30));
    assert.equal(template.length, MAX_TEMPLATE_INPUT - 'user 4711 at '.length + 'user <num> at '.length + 1);
  });

  it('keeps what the rewritten rules mask: e-mails, IDs after a word, SQL strings in double quotes', () => {
    assert.equal(logTemplate('mail to jane.doe+x@example.co.uk bounced (a.b@c.d)'), 'mail to <email> bounced (<email>)');
    assert.equal(logTemplate('request abc123def456ghi789jk failed'), 'request <id> failed');
    assert.equal(logTemplate('order-ab12cd34ef56gh78ij90 failed'), 'order-<id> failed', 'the word before the ID stays');
    assert.equal(logTemplate('gpt-4o-mini-2024-07-18-preview replied'), 'gpt-<id> replied');
    assert.equal(stripSqlLiterals('SELECT * FROM "orders" WHERE name = "bob" AND note = "say ""hi""", x = 1'), 'SELECT * FROM "orders" WHERE name = ? AND note = ?, x = ?');
    assert.equal(stripSqlLiterals('SELECT "a" FROM t WHERE s IN ("x", "y")'), 'SELECT "a" FROM t WHERE s IN (?)');
  });
});

describe('what an attribute adds to the text', () => {
  it('embeds a redaction marker as <redacted> in every attribute, templated or not', () => {
    const s = span({
      resource: resource('billing'),
      name: 'Charge',
      attributes: attrs({ 'rpc.system': 'grpc', 'rpc.credentials': '<redacted:sensitiveKey>', 'http.route': '/reset?token=<redacted:secretAssignment>', 'db.statement': 'SELECT <redacted:sensitiveKey>' }),
      events: [{ timeUnixNano: T0, name: 'exception', attributes: attrs({ 'exception.type': '<redacted:email>', 'exception.message': 'x' }), droppedAttributesCount: 0 }],
    });
    const [doc, ex] = spanDocs(s);
    assert.equal(doc!.text, 'billing | Charge | database query | http request | rpc call | rpc.system grpc | rpc.credentials <redacted> | http.route /reset?token=<redacted> | db.statement SELECT <redacted>');
    assert.equal(ex!.text, 'billing | exception <redacted>: x');
  });

  it('embeds the current semantic-convention keys (db.system.name, db.namespace, db.operation.name, messaging.operation.name, gen_ai.input.messages)', () => {
    const db = span({ resource: resource('chatbot'), name: 'query', attributes: attrs({ 'db.system.name': 'postgresql', 'db.namespace': 'warehouses', 'db.operation.name': 'SELECT', 'db.collection.name': 'umbrellas' }) });
    assert.equal(spanText(db), 'chatbot | query | database query | db.system.name postgresql | db.namespace warehouses | db.operation.name SELECT | db.collection.name umbrellas');
    const mq = span({ resource: resource('shop'), name: 'publish', attributes: attrs({ 'messaging.system': 'kafka', 'messaging.operation.name': 'send', 'messaging.operation.type': 'publish' }) });
    assert.equal(spanText(mq), 'shop | publish | message queue | messaging.system kafka | messaging.operation.name send | messaging.operation.type publish');
    const messages = JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'what is the refund policy for umbrellas' }] }]);
    const llm = span({ resource: resource('chatbot'), name: 'chat gpt-4o', attributes: attrs({ 'gen_ai.operation.name': 'chat', 'gen_ai.input.messages': messages }) });
    assert.equal(spanText(llm), 'chatbot | chat gpt-4o | llm model call | gen_ai.operation.name chat | gen_ai.input.messages user | text | what is the refund policy for umbrellas');
  });
});
