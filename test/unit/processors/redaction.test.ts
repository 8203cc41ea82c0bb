// The redaction processor: each rule on realistic text, what it must not touch, every place
// values sit, and linear time on hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRedactionProcessor, defaultRedactionProcessorConfig } from '../../../ingest/processors/redaction/redaction-processor.ts';
import { redactText, RULES, type RuleName } from '../../../ingest/processors/redaction/rules.ts';
import { sinkConsumer } from '../../helpers/sink-consumer.ts';
import { attrs, log, resource, span } from '../../helpers/telemetry-builders.ts';
import { silentLogger } from '../../../src/logger.ts';

const all = new Set<RuleName>(RULES);
const redact = (s: string) => {
  const hits: string[] = [];
  return { text: redactText(s, all, (r) => hits.push(r)), hits };
};

test('credit card numbers that pass the Luhn check are masked; other digit runs are not', () => {
  assert.deepEqual(redact('paid with 4111 1111 1111 1111 today'), { text: 'paid with <redacted:creditCard> today', hits: ['creditCard'] });
  assert.equal(redact('card 5500-0000-0000-0004').text, 'card <redacted:creditCard>');
  assert.equal(redact('order 4111111111111112 (fails Luhn)').text, 'order 4111111111111112 (fails Luhn)');
  assert.equal(redact('ts 1733000000000').text, 'ts 1733000000000', 'too short');
});

test('e-mail addresses, bearer tokens, JWTs and well-known API keys are masked', () => {
  assert.equal(redact('mail jane.doe+x@example.co.uk now').text, 'mail <redacted:email> now');
  assert.equal(redact('Authorization: Bearer abcdef123456.xyz').text, 'Authorization: Bearer <redacted:bearerToken>');
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
  assert.equal(redact(`token=${jwt}`).text.includes('eyJ'), false);
  assert.equal(redact('key sk-proj-abcdefghijklmnopqrstuvwxyz123456').text, 'key <redacted:apiKey>');
  assert.equal(redact('aws AKIAIOSFODNN7EXAMPLE').text, 'aws <redacted:apiKey>');
  assert.equal(redact('gh ghp_' + 'a'.repeat(36)).text, 'gh <redacted:apiKey>');
  assert.equal(redact('user@ alone and a@b are not addresses').text, 'user@ alone and a@b are not addresses');
});

test('passwords in URLs and key=value secrets are masked, the rest of the text kept', () => {
  assert.equal(redact('connect postgres://app:s3cr3t@db:5432/orders').text, 'connect postgres://app:<redacted:urlPassword>@db:5432/orders');
  assert.equal(redact('login password=hunter2&user=bob').text, 'login password=<redacted:secretAssignment>&user=bob');
  assert.equal(redact('the password is not in this sentence').text, 'the password is not in this sentence');
});

test('every place a value sits is redacted: resource, record, event and link attributes, log bodies, nested values, status', async () => {
  const sink = sinkConsumer<'traces'>();
  const p = createRedactionProcessor('redaction/traces', defaultRedactionProcessorConfig(), 'traces', sink, silentLogger());
  const res = resource('svc', { 'deploy.contact': 'ops@example.com' });
  const s = span({
    resource: res,
    attributes: attrs({
      'db.statement': "SELECT * FROM users WHERE email = 'bob@example.com' AND pin = '1234'",
      'http.request.header.authorization': 'Basic dXNlcjpwYXNz',
      'user.password': 'hunter2',
      nested: { kvlistValue: { values: [{ key: 'card', value: { arrayValue: { values: [{ stringValue: '4111 1111 1111 1111' }] } } }] } },
      count: 3n,
    }),
    events: [{ timeUnixNano: 1n, name: 'e', attributes: attrs({ 'exception.message': 'failed for jane@example.com' }), droppedAttributesCount: 0 }],
    status: { code: 2, message: 'token=abcdef1234 rejected' },
  });
  await p.consume([s, span({ resource: res })]);
  const got = sink.all()[0]!;
  const a = Object.fromEntries(got.attributes.map((kv) => [kv.key, kv.value]));
  assert.deepEqual(a['db.statement'], { stringValue: "SELECT * FROM users WHERE email = '?' AND pin = '?'" });
  assert.deepEqual(a['http.request.header.authorization'], { stringValue: '<redacted:sensitiveKey>' });
  assert.deepEqual(a['user.password'], { stringValue: '<redacted:sensitiveKey>' });
  assert.deepEqual(a.nested, { kvlistValue: { values: [{ key: 'card', value: { arrayValue: { values: [{ stringValue: '<redacted:creditCard>' }] } } }] } });
  assert.deepEqual(a.count, { intValue: '3' });
  assert.deepEqual(got.resource.attributes.find((kv) => kv.key === 'deploy.contact')?.value, { stringValue: '<redacted:email>' });
  assert.deepEqual(got.events[0]!.attributes[0]!.value, { stringValue: 'failed for <redacted:email>' });
  assert.equal(got.status.message, 'token=<redacted:secretAssignment> rejected');
  assert.equal(p.counts().email, 2, 'the shared resource is redacted once per batch');

  const logs = sinkConsumer<'logs'>();
  const lp = createRedactionProcessor('redaction/logs', defaultRedactionProcessorConfig(), 'logs', logs, silentLogger());
  await lp.consume([log({ body: { stringValue: 'charge 4111-1111-1111-1111 for jane@example.com' } })]);
  assert.deepEqual(logs.all()[0]!.body, { stringValue: 'charge <redacted:creditCard> for <redacted:email>' });
});

test('hostile input is scanned in linear time (no catastrophic backtracking)', { timeout: 60_000 }, () => {
  const inputs = ['a.'.repeat(200_000) + '@', '@'.repeat(400_000), "'".repeat(400_000), '1 '.repeat(200_000), 'eyJ'.repeat(130_000), '://' + ':'.repeat(400_000), 'password='.repeat(40_000)];
  for (const input of inputs) {
    // A quadratic pattern would run for many minutes on 400 KB: the test's timeout is the guard.
    assert.equal(typeof redactText(input, all, () => {}), 'string');
  }
});

test('unknown rules are refused at start-up naming the known ones', () => {
  assert.throws(
    () => createRedactionProcessor('redaction/logs', { ...defaultRedactionProcessorConfig(), rules: ['ssn'] }, 'logs', sinkConsumer<'logs'>(), silentLogger()),
    /unknown rule ssn \(known: creditCard, email/,
  );
});
