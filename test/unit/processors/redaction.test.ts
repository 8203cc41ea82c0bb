// The redaction processor: each rule on realistic text, what it must not touch, every place
// values sit, the order it runs in beside attribute limits, and linear time on hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRedactionProcessor, defaultRedactionProcessorConfig } from '../../../ingest/processors/redaction/redaction-processor.ts';
import { bracketReader, keyMatcher, redactSqlLiterals, redactText, RULES, type RuleName } from '../../../ingest/processors/redaction/rules.ts';
import { createLimitsProcessor, defaultLimitsProcessorConfig } from '../../../ingest/processors/limits/limits-processor.ts';
import { withSecurityProcessors } from '../../../src/server/security.ts';
import { testConfig } from '../../helpers/gateway.ts';
import { sinkConsumer } from '../../helpers/sink-consumer.ts';
import { attrs, log, metricPoint, numberPoint, resource, scope, span } from '../../helpers/telemetry-builders.ts';
import { silentLogger } from '../../../src/logger.ts';
import type { AnyValue, KeyValue } from '../../../src/model/telemetry.ts';

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
  const inputs = [
    'a.'.repeat(200_000) + '@',
    '@'.repeat(400_000),
    "'".repeat(400_000),
    '1 '.repeat(200_000),
    'eyJ'.repeat(130_000),
    '://' + ':'.repeat(400_000),
    'password='.repeat(40_000),
    'DB_PASSWORD='.repeat(40_000),
    '"password":'.repeat(40_000),
    '\\"password\\":\\"'.repeat(40_000),
    'a'.repeat(400_000) + '=x',
    '4111 '.repeat(100_000),
    '1234567890'.repeat(40_000),
    '4111111111111111 '.repeat(25_000),
    'x://a:' + 'b@'.repeat(200_000),
    'c0ffee1234567890123'.repeat(20_000),
    '{"token":{'.repeat(40_000),
    '{"token":['.repeat(40_000),
    '"secret": ["'.repeat(40_000),
    'token=' + '('.repeat(400_000),
    'token=a)'.repeat(50_000),
    `${luhnFrom(6_011_000_000_000_000_000n)} `.repeat(20_000),
    `card ${luhnFrom(6_011_000_000_000_000_000n)}`.repeat(16_000),
    'a%40'.repeat(100_000),
    '%40'.repeat(130_000),
    'ü'.repeat(400_000) + '@例.jp',
    'x@例'.repeat(100_000),
    "password '".repeat(40_000),
    'IDENTIFIED BY $t$'.repeat(25_000),
    Array.from({ length: 25_000 }, (_, i) => `password $t${i}$ `).join(''),
    'ALTER USER a IDENTIFIED WITH p BY "'.repeat(12_000),
    '--password '.repeat(40_000),
    '--password "'.repeat(40_000),
    'mysql -p'.repeat(50_000),
    '-----BEGIN PRIVATE KEY-----'.repeat(15_000),
    '-----BEGIN PRIVATE KEY-----' + 'A'.repeat(400_000),
    'Token abcdefgh '.repeat(25_000),
    '4111.1111.'.repeat(40_000),
    'Cookie: a=1' + '; b=2'.repeat(60_000),
    'cookie=' + ';x='.repeat(130_000),
    '<password>'.repeat(40_000),
    '<password>' + 'x'.repeat(400_000),
    '<a><![CDATA['.repeat(30_000) + '</a>',
    '<token a="' + 'b'.repeat(400_000),
    ':password => '.repeat(30_000),
  ];
  for (const input of inputs) {
    // A quadratic pattern would run for many minutes on 400 KB: the test's timeout is the guard.
    assert.equal(typeof redactText(input, all, () => {}), 'string');
  }
  // Digits as long as a request allows, in groups or not, are found without a regex that keeps a
  // backtrack entry per group or digit (and overflows the stack).
  assert.equal(redactText('1 '.repeat(4_000_000), all, () => {}).length, 8_000_000);
  assert.equal(redactText('1234567890'.repeat(1_600_000), all, () => {}).length, 16_000_000);
  // SQL literals: many dollar tags that never close, and quotes that never close.
  for (const sql of [Array.from({ length: 40_000 }, (_, i) => `$t${i}$ `).join(''), '"'.repeat(400_000), '$$'.repeat(200_000) + "'"]) {
    assert.equal(typeof redactSqlLiterals(sql, () => {}), 'string');
  }
});

test('key=value secrets: where a key ends before its separator (the bounds rules.ts nextAssignment reads back over)', () => {
  const masked = (text: string) => redact(text).text.endsWith('<redacted:secretAssignment>');
  assert.ok(masked(`password${' '.repeat(8)}= hunter2`), 'up to 8 white-space characters before the separator');
  assert.ok(!masked(`password${' '.repeat(9)}= hunter2`), 'not 9');
  assert.ok(masked('password\u00a0:\u3000hunter2'), 'Unicode white space counts as white space');
  assert.ok(masked(`${'a'.repeat(119)}_password=hunter2`), 'a key of 128 characters');
  assert.ok(!masked(`${'a'.repeat(120)}_password=hunter2`), 'not one of 129 (no part of it is taken for a key)');
  assert.ok(masked('log {\\"password\\": \\"hunter2'), 'a key in escaped JSON quotes');
  assert.ok(!masked('password\\\\"=hunter2'), 'two backslashes before the quote are not an escaped quote');
  assert.equal(redact('x=1 y=2 token =abc z: 3').text, 'x=1 y=2 token =<redacted:secretAssignment> z: 3');
});

test('key=value secrets are found by the words of the key: prefixed environment names, camelCase, header names', () => {
  for (const [text, want] of [
    ['DB_PASSWORD=hunter2', 'DB_PASSWORD=<redacted:secretAssignment>'],
    ['export MYSQL_ROOT_PASSWORD=hunter2 && run', 'export MYSQL_ROOT_PASSWORD=<redacted:secretAssignment> && run'],
    ['AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCY aws s3 ls', 'AWS_SECRET_ACCESS_KEY=<redacted:secretAssignment> aws s3 ls'],
    ['x_api_key: abcdef0123', 'x_api_key: <redacted:secretAssignment>'],
    ['X-Api-Key: abcdef0123', 'X-Api-Key: <redacted:secretAssignment>'],
    ['accessToken=abc.def refreshToken=ghi', 'accessToken=<redacted:secretAssignment> refreshToken=<redacted:secretAssignment>'],
    ['GET /reset?token=6f1e2d&user=bob', 'GET /reset?token=<redacted:secretAssignment>&user=bob'],
    ['note=password=hunter2', 'note=password=<redacted:secretAssignment>'],
  ]) {
    assert.equal(redact(text!).text, want, text);
  }
  // Counts of AI model tokens are not tokens.
  for (const text of ['usage input_tokens=1200 output_tokens=87 max_tokens: 4096', 'llm.token_count.prompt=12 gen_ai.token.type=input tokenizer=cl100k_base', 'the tokens: are explained below']) {
    assert.equal(redact(text).text, text);
  }
});

test('JSON and quoted secrets are masked inside their quotes, so the JSON stays valid', () => {
  const body = '{"user":"bob","password": "s3cr\\"et","api_key":"abc123","token" : "xyz","n":1}';
  const got = redact(body).text;
  assert.deepEqual(JSON.parse(got), { user: 'bob', password: '<redacted:secretAssignment>', api_key: '<redacted:secretAssignment>', token: '<redacted:secretAssignment>', n: 1 });
  // A JSON log line inside a JSON log line (container runtimes write these), and single quotes.
  const wrapped = JSON.stringify({ log: JSON.stringify({ password: 'p"w\\x', ok: true }) });
  assert.deepEqual(JSON.parse(JSON.parse(redact(wrapped).text).log), { password: '<redacted:secretAssignment>', ok: true });
  assert.equal(redact("{'password': 's3cret'}").text, "{'password': '<redacted:secretAssignment>'}");
  // A value cut before its closing quote is masked to its end.
  assert.equal(redact('{"password":"s3cret-and-mo').text, '{"password":"<redacted:secretAssignment>');
  assert.equal(redact('{"password":""}').text, '{"password":""}', 'an empty value hides nothing');
});

const luhnValid = (d: string) => {
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let x = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
    sum += x;
  }
  return sum % 10 === 0;
};
/** The first number from `n` up that passes the Luhn check: a timestamp a Luhn-only rule masks. */
const luhnFrom = (n: bigint) => {
  while (!luhnValid(String(n))) n++;
  return String(n);
};

test('card numbers next to other digits are masked as whole groups: expiry dates, CVVs, order numbers around them', () => {
  for (const [text, want] of [
    ['card=4111 1111 1111 1111 exp 12/29', 'card=<redacted:creditCard> exp 12/29'],
    ['card 4111111111111111 12/29', 'card <redacted:creditCard> 12/29'],
    ['4111 1111 1111 1111 123', '<redacted:creditCard> 123'],
    ['call 555 4111111111111111 now', 'call 555 <redacted:creditCard> now'],
    ['order 12 5500-0000-0000-0004', 'order 12 <redacted:creditCard>'],
    ['card4111111111111111 cc_4111111111111111', 'card<redacted:creditCard> cc_<redacted:creditCard>'],
    ['amex 3782 822463 10005, diners 30569309025904, jcb 3530111333300000', 'amex <redacted:creditCard>, diners <redacted:creditCard>, jcb <redacted:creditCard>'],
    ['two 4111111111111111 6011111111111117', 'two <redacted:creditCard> <redacted:creditCard>'],
    ['mc 2223003122003222 up 6200000000000005', 'mc <redacted:creditCard> up <redacted:creditCard>'],
  ]) {
    assert.equal(redact(text!).text, want, text);
  }
  // Never a window cut out of a longer digit string: half of all 19-digit numbers hold one.
  for (const text of ['ref:41111111111111110', 'id 411111111111111100000']) assert.equal(redact(text).text, text);
});

test('timestamps, hex IDs and decimals are never taken for cards, even when they pass the Luhn check', () => {
  const stamps = [
    luhnFrom(1_733_000_000_000_000_000n), // ns, 19 digits
    luhnFrom(1_733_000_000_000_000n), // µs, 16 digits
    luhnFrom(1_733_000_000_000n), // ms, 13 digits
    luhnFrom(2_100_000_000_000_000_000n), // ns in 2036
    luhnFrom(2_201_000_000_000_000_000n), // ns in 2039 (Mir cards start 2200–2204, with 16 digits)
  ];
  for (const ts of stamps) {
    for (const text of [`ts ${ts}`, `{"timeUnixNano":"${ts}","observed":${ts}}`, `start=${ts} end=${ts}`, `${ts} 4111`]) assert.equal(redact(text).text, text);
  }
  const hexId = 'c0ffee' + luhnFrom(4_111_111_111_111_111n) + 'abcdef0123';
  for (const text of [`trace_id=${hexId}`, `ptr 0x${luhnFrom(4_111_111_111_111_111n)}`, `score ${'0.' + luhnFrom(6_011_000_990_139_424n)}`, `${luhnFrom(4_111_111_111_111_111n)}.5 kg`]) {
    assert.equal(redact(text).text, text);
  }
});

test('a bare secret value ends before a closing bracket it did not open, and JSON stays valid', () => {
  for (const [text, want] of [
    ['token=abc}', 'token=<redacted:secretAssignment>}'],
    ['call f(token=abc), retry', 'call f(token=<redacted:secretAssignment>), retry'],
    ['[token=abc] <password=hunter2>', '[token=<redacted:secretAssignment>] <password=<redacted:secretAssignment>>'],
    ['map[token:abc user:bob]', 'map[token:<redacted:secretAssignment> user:bob]'],
    ['secret=abc]]).', 'secret=<redacted:secretAssignment>]]).'],
    // Brackets the value opened, or one inside a word, are the value's own: nothing of it is left out.
    ['token=f(x) next', 'token=<redacted:secretAssignment> next'],
    ['password=p}ss word', 'password=<redacted:secretAssignment> word'],
    ['token=<redacted:apiKey>', 'token=<redacted:apiKey>'],
  ]) {
    assert.equal(redact(text!).text, want, text);
  }
  // JSON: null, true and false are kept; a bare number becomes a JSON string; an object or array
  // under a secret key is secret whole (found by QA: `"token":["a","b"]` was kept as sent).
  const body = '{"token":null,"password":1234,"secret":true,"credentials":{"user":"bob","password":"x"},"api_key":-1.5e3,"tokens":["a","b}"],"note":{"pwd":[1,{"x":"y"}]}}';
  assert.deepEqual(JSON.parse(redact(body).text), {
    token: null,
    password: '<redacted:secretAssignment>',
    secret: true,
    credentials: '<redacted:secretAssignment>',
    api_key: '<redacted:secretAssignment>',
    tokens: ['a', 'b}'],
    note: { pwd: '<redacted:secretAssignment>' },
  });
  assert.equal(redact('{"auth_token": [ "a\\"]", "b" ], "ok": 1}').text, '{"auth_token": "<redacted:secretAssignment>", "ok": 1}');
  // Inside an escaped JSON text too, and one that never closes (it was cut) is masked to the text's
  // end: in both, only its own keys used to be looked at, so an array's strings were kept.
  assert.deepEqual(JSON.parse(JSON.parse(redact(JSON.stringify({ log: '{"credentials":{"password":"x","user":"bob"}}' })).text).log), {
    credentials: '<redacted:secretAssignment>',
  });
  assert.equal(redact('{"token":["a", {"password":"x"}').text, '{"token":"<redacted:secretAssignment>"');
  const wrapped = JSON.stringify({ log: '{"token":null,"password":1234}' });
  assert.deepEqual(JSON.parse(JSON.parse(redact(wrapped).text).log), { token: null, password: '<redacted:secretAssignment>' });
});

test('an object or array under a secret key is masked whole in JSON, JSON inside a JSON string, a Python repr and key=value text', () => {
  const marker = '<redacted:secretAssignment>';
  // JSON: brackets, quotes and backslashes inside its strings do not end it; the JSON stays valid.
  const body = JSON.stringify({ token: ['a]', '{"b', '\\'], password: { x: 1, y: [']'] }, user: 'bob', api_key: [[1], { '}': '"' }], n: 2 });
  assert.deepEqual(JSON.parse(redact(body).text), { token: marker, password: marker, user: 'bob', api_key: marker, n: 2 });
  // JSON inside a JSON string (container runtimes' log lines): its escaped quotes and backslashes
  // are read as the JSON's own; the outer JSON stays valid and so does the inner.
  const inner = { token: ['a', ']"\\'], credentials: { user: 'u', pin: '1234' }, ok: 1 };
  const wrapped = redact(JSON.stringify({ log: JSON.stringify(inner), stream: 'stdout' })).text;
  assert.deepEqual(JSON.parse(wrapped), { log: JSON.stringify({ token: marker, credentials: marker, ok: 1 }), stream: 'stdout' });
  // Cut before it closes: masked to where its text ends (the inner JSON's string, or the text).
  const cut = redact('{"log":"{\\"token\\":[\\"a\\",\\"b","stream":"stdout"}').text;
  assert.deepEqual(JSON.parse(cut), { log: `{"token":"${marker}"`, stream: 'stdout' });
  assert.equal(redact('{"user":"bob","secret":{"k":["v"').text, `{"user":"bob","secret":"${marker}"`);
  // Python's repr: strings in either quote.
  assert.equal(redact("{'password': ['a]', \"it's\"], 'user': 'bob'}").text, `{'password': '${marker}', 'user': 'bob'}`);
  assert.equal(redact("{'token': {'x': 'y'}}").text, `{'token': '${marker}'}`);
  // key=value text, Go's %v of a map: the whole bracketed value, spaces and commas in it too.
  for (const [text, want] of [
    ['token=[a, b] user=bob', `token=${marker} user=bob`],
    ['password: [hunter2, hunter3]', `password: ${marker}`],
    ['map[password:[a b] user:bob]', `map[password:${marker} user:bob]`],
    ['secret={"k": "v}"} next', `secret=${marker} next`],
    ['token=[abc user=bob', `token=${marker} user=bob`], // never closed: a bare value as before
  ]) {
    assert.equal(redact(text!).text, want, text);
  }
  // Keys that do not name a secret keep their values; an empty object or array hides nothing.
  const kept = '{"gen_ai.usage.input_tokens":[1,2],"token_count":{"a":1},"user":["a"],"token":[],"secret":{ }}';
  assert.equal(redact(kept).text, kept);
});

test('objects and arrays under secret keys are read in linear time however they nest (characters read counted, results checked)', () => {
  const marker = '<redacted:secretAssignment>';
  // Many secret values in one large JSON text: each masked, each read once.
  const many = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`token${i}`, ['a]', { b: '[' }]]));
  const manyText = JSON.stringify(many);
  const got = JSON.parse(redact(manyText).text) as Record<string, unknown>;
  assert.equal(Object.keys(got).length, 20_000);
  assert.ok(Object.values(got).every((v) => v === marker));

  // Unclosed openers nested 100,000 deep (1 MB), then a secret that closes: every opener's question
  // is answered from one read going on, so the secret is found, not left out of a spent budget.
  const pad = '{"token":['.repeat(100_000);
  const nested = `${pad}{"password":["s3cret"]}`;
  const r = redact(nested).text;
  assert.equal(r.includes('s3cret'), false);
  // The first opener whose value, cut at the text's end, fits MAX_STRUCTURED_VALUE is masked to the end.
  assert.ok(r.startsWith(pad.slice(0, 900_000)) && r.endsWith(`"token":"${marker}"`), r.slice(-80));

  for (const [text, quoting] of [
    [manyText, 'json'],
    [nested, 'json'],
    ['{"token":{'.repeat(100_000), 'json'],
    ['"secret": ["'.repeat(100_000), 'json'], // each opener inside the previous read's string
    ['\\"token\\":[\\"'.repeat(100_000), 'escaped'],
    ["'token': ['".repeat(100_000), 'quotes'],
    ['token=['.repeat(100_000), 'bare'],
  ] as const) {
    // Every opening bracket asked about, as redactAssignments may: the characters read stay within
    // three times the text's length (each read once, plus a bounded share for text that does not
    // read as its quoting says).
    const reader = bracketReader(text);
    for (let at = 0; at < text.length; at++) {
      const c = text[at];
      if (c === '[' || c === '{') reader.end(at, quoting);
    }
    assert.ok(reader.charsRead() <= 3 * text.length, `${text.slice(0, 12)}…: ${reader.charsRead()} characters read for ${text.length}`);
  }
});

/** `n` Luhn-valid, in groups of four. */
const grouped = (n: string) => n.replace(/(\d{4})(?=\d)/g, '$1 ');

test('long decimal IDs are not cards unless something says so: a card word, an expiry, a CVV, groups, a card key', async () => {
  // 19-digit Luhn-valid numbers with a Visa, Discover, UnionPay, JCB, Maestro and Diners prefix (the
  // Datadog 64-bit IDs that were masked), and 17- and 18-digit ones.
  const ids = [4_000_000_000_000_000_000n, 6_011_000_000_000_000_000n, 6_200_000_000_000_000_000n, 3_528_000_000_000_000_000n, 5_600_000_000_000_000_000n, 3_600_000_000_000_000_000n, 60_110_000_000_000_000n, 601_100_000_000_000_000n].map(luhnFrom);
  for (const id of ids) {
    for (const text of [id, `dd.trace_id=${id} dd.span_id=${id}`, `{"trace_id":"${id}","span_id":${id}}`, `discard ${id} expected`, `span ${id} took 12 ms`]) {
      assert.equal(redact(text).text, text, text);
    }
    for (const text of [`card ${id}`, `{"pan":"${id}"}`, `cardNumber=${id}`, `${id} exp 12/29`, `${id} 03/2031`, `paid with Visa: ${id}`, `${id} cvv 123`, grouped(id)]) {
      assert.equal(redact(text).text.includes(id.slice(-6)), false, text);
    }
    for (const text of [`${id} on 2029/12/31`, `${id} at 12/31/2029`]) assert.equal(redact(text).text, text, 'a date is not an expiry');
  }

  // A card key is the sign for the attribute's value (after the same value under another key was
  // seen clean, and cached as clean).
  const sink = sinkConsumer<'traces'>();
  const p = createRedactionProcessor('redaction/traces', defaultRedactionProcessorConfig(), 'traces', sink, silentLogger());
  const id = ids[1]!;
  await p.consume([
    span({ resource: resource('svc'), attributes: attrs({ 'dd.trace_id': id, 'dd.span_id': id }) }),
    span({ resource: resource('svc'), attributes: attrs({ 'payment.card.number': id, cc_num: { arrayValue: { values: [{ stringValue: id }] } }, pan: id }) }),
  ]);
  const [plain, card] = sink.all().map((x) => Object.fromEntries(x.attributes.map((kv) => [kv.key, kv.value])));
  assert.deepEqual(plain, { 'dd.trace_id': { stringValue: id }, 'dd.span_id': { stringValue: id } });
  assert.deepEqual(card, {
    'payment.card.number': { stringValue: '<redacted:creditCard>' },
    cc_num: { arrayValue: { values: [{ stringValue: '<redacted:creditCard>' }] } },
    pan: { stringValue: '<redacted:creditCard>' },
  });
});

test('a card number sent as an integer is masked under a card key; integers elsewhere are kept', async () => {
  // Found by QA: `{"card_number": 4111111111111111}` logged as attributes kept the number.
  const sink = sinkConsumer<'logs'>();
  const p = createRedactionProcessor('redaction/logs', defaultRedactionProcessorConfig(), 'logs', sink, silentLogger());
  const visa = '4111111111111111';
  const long = luhnFrom(4_000_000_000_000_000_000n); // 19 digits, still an int64
  await p.consume([
    log({
      resource: resource('svc'),
      attributes: [
        { key: 'card_number', value: { intValue: visa } },
        { key: 'payment.card.number', value: { intValue: long } },
        { key: 'pan', value: { arrayValue: { values: [{ intValue: visa }] } } },
        { key: 'card.number', value: { intValue: '4111111111111112' } }, // fails the Luhn check
        { key: 'order.id', value: { intValue: visa } },
        { key: 'card.expiry.month', value: { intValue: '12' } },
      ],
    }),
  ]);
  assert.deepEqual(Object.fromEntries(sink.all()[0]!.attributes.map((kv) => [kv.key, kv.value])), {
    card_number: { stringValue: '<redacted:creditCard>' },
    'payment.card.number': { stringValue: '<redacted:creditCard>' },
    pan: { arrayValue: { values: [{ stringValue: '<redacted:creditCard>' }] } },
    'card.number': { intValue: '4111111111111112' },
    'order.id': { intValue: visa },
    'card.expiry.month': { intValue: '12' },
  });
});

test('a card number sent as a double (a JSON parser\'s number) or inside a card\'s key-value list is masked; other numbers are kept', async () => {
  // Found reviewing the integer fix: the Collector's JSON parser gives every number as a double, and
  // a card is often an object (`card: {number: …, exp_month: 12}`) whose field names say nothing of
  // a card. Only the card's own fields are read so (one level: not `card: {meta: {ref: …}}`).
  const sink = sinkConsumer<'logs'>();
  const p = createRedactionProcessor('redaction/logs', defaultRedactionProcessorConfig(), 'logs', sink, silentLogger());
  const visa = 4111111111111111;
  const card = (values: KeyValue[]): AnyValue => ({ kvlistValue: { values } });
  await p.consume([
    log({
      resource: resource('svc'),
      attributes: [
        { key: 'card_number', value: { doubleValue: visa } },
        { key: 'card', value: card([{ key: 'number', value: { intValue: String(visa) } }, { key: 'exp_month', value: { intValue: '12' } }, { key: 'brand', value: { stringValue: 'visa' } }]) },
        { key: 'cards', value: { arrayValue: { values: [card([{ key: 'number', value: { doubleValue: 5555555555554444 } }])] } } },
        { key: 'card.amount', value: { doubleValue: 12.5 } },
        { key: 'card.number', value: { doubleValue: 4111111111111111e3 } }, // beyond 2^53: not its digits
        { key: 'order', value: card([{ key: 'number', value: { doubleValue: visa } }]) },
        { key: 'payment.card', value: card([{ key: 'meta', value: card([{ key: 'ref', value: { intValue: String(visa) } }]) }]) },
        { key: 'price', value: { doubleValue: visa } },
      ],
    }),
  ]);
  assert.deepEqual(Object.fromEntries(sink.all()[0]!.attributes.map((kv) => [kv.key, kv.value])), {
    card_number: { stringValue: '<redacted:creditCard>' },
    card: card([{ key: 'number', value: { stringValue: '<redacted:creditCard>' } }, { key: 'exp_month', value: { intValue: '12' } }, { key: 'brand', value: { stringValue: 'visa' } }]),
    cards: { arrayValue: { values: [card([{ key: 'number', value: { stringValue: '<redacted:creditCard>' } }])] } },
    'card.amount': { doubleValue: 12.5 },
    'card.number': { doubleValue: 4111111111111111e3 },
    order: card([{ key: 'number', value: { doubleValue: visa } }]),
    'payment.card': card([{ key: 'meta', value: card([{ key: 'ref', value: { intValue: String(visa) } }]) }]),
    price: { doubleValue: visa },
  });

  // Random 64-bit IDs as integers and doubles, bare or in a key-value list, under keys that are not
  // a card's: none masked.
  let seed = 0x2545f4914f6cdd1dn;
  const next = () => (seed = (seed * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn);
  const ids = Array.from({ length: 2_000 }, () => next());
  const ids2 = sinkConsumer<'logs'>();
  const p2 = createRedactionProcessor('redaction/logs', defaultRedactionProcessorConfig(), 'logs', ids2, silentLogger());
  await p2.consume(
    ids.map((id) =>
      log({
        resource: resource('svc'),
        attributes: [
          { key: 'trace.id', value: { intValue: String(id) } },
          { key: 'request', value: card([{ key: 'id', value: { intValue: String(id >> 1n) } }, { key: 'n', value: { doubleValue: Number(id >> 11n) } }]) },
        ],
      }),
    ),
  );
  assert.equal(JSON.stringify(ids2.all().map((r) => r.attributes)).includes('redacted'), false);
});

test('URL passwords: an empty user, an @ inside the password or the user, not the path or query', () => {
  assert.equal(redact('redis://:hunter2@cache:6379/0').text, 'redis://:<redacted:urlPassword>@cache:6379/0');
  assert.equal(redact('postgres://app:p@ss@db:5432/orders').text, 'postgres://app:<redacted:urlPassword>@db:5432/orders');
  assert.equal(redact('amqp://svc:a:b@c@mq/vhost next').text, 'amqp://svc:<redacted:urlPassword>@mq/vhost next');
  assert.equal(redact('mongodb://ops%40corp:pw@db/x').text, 'mongodb://ops%40corp:<redacted:urlPassword>@db/x');
  for (const text of ['https://user@host:8443/path', 'https://host:8443/users/@alice', 'https://host:8443/x?to=a@b']) assert.equal(redact(text).text, text);
});

test('sensitive keys are matched word by word: tokens of AI usage stay, every credential key is masked', async () => {
  const kept = [
    'gen_ai.usage.input_tokens',
    'gen_ai.usage.output_tokens',
    'gen_ai.usage.cache_read_input_tokens',
    'gen_ai.request.max_tokens',
    'gen_ai.token.type',
    'llm.token_count.prompt',
    'llm.token_count.completion',
    'llm.usage.total_tokens',
    'ai.usage.promptTokens',
    'input_token_count',
    'gen_ai.tokenizer',
    'secretary',
  ];
  const masked = [
    'x-auth-token',
    'access_token',
    'github.token',
    'http.request.header.authorization',
    'http.request.header.x-api-key',
    'http.response.header.set-cookie',
    'authToken',
    'APIKey',
    'aws.secret_access_key',
    'DB_PASSWORD',
    'db.connection.password',
    'oauth2token',
    'client_secret',
    'privateKey',
    'credentials',
  ];
  const isSensitive = keyMatcher(defaultRedactionProcessorConfig().sensitiveKeys, defaultRedactionProcessorConfig().sensitiveKeyQualifiers);
  assert.deepEqual(kept.filter(isSensitive), []);
  assert.deepEqual(masked.filter((k) => !isSensitive(k)), []);

  const sink = sinkConsumer<'traces'>();
  const p = createRedactionProcessor('redaction/traces', defaultRedactionProcessorConfig(), 'traces', sink, silentLogger());
  await p.consume([
    span({
      resource: resource('claude-code'),
      attributes: [
        ...kept.map((key, i): KeyValue => ({ key, value: i % 2 ? { intValue: String(100 + i) } : { stringValue: key === 'gen_ai.token.type' ? 'input' : String(100 + i) } })),
        ...masked.map((key): KeyValue => ({ key, value: { stringValue: 'v4lue' } })),
      ],
    }),
  ]);
  const got = new Map(sink.all()[0]!.attributes.map((kv) => [kv.key, kv.value]));
  kept.forEach((key, i) => {
    const sent = key === 'gen_ai.token.type' ? 'input' : String(100 + i);
    assert.deepEqual(got.get(key), i % 2 ? { intValue: sent } : { stringValue: sent }, key);
  });
  for (const key of masked) assert.deepEqual(got.get(key), { stringValue: '<redacted:sensitiveKey>' }, key);
});

test('a card\'s verification code is masked under its keys, as an attribute (string or number) and in key=value and JSON text', async () => {
  // Three or four digits no pattern tells from another number, and data PCI DSS forbids storing:
  // only the key says what it is.
  const sink = sinkConsumer<'logs'>();
  const p = createRedactionProcessor('redaction/logs', defaultRedactionProcessorConfig(), 'logs', sink, silentLogger());
  await p.consume([
    log({
      resource: resource('checkout'),
      attributes: [
        { key: 'card.cvv', value: { stringValue: '123' } },
        { key: 'payment.cvc', value: { intValue: '4567' } },
        { key: 'cvv2', value: { doubleValue: 321 } },
        { key: 'card', value: { kvlistValue: { values: [{ key: 'security_code', value: { intValue: '999' } }, { key: 'exp_month', value: { intValue: '12' } }] } } },
        { key: 'card.cvv_length', value: { intValue: '3' } }, // a property of the code, not the code
        { key: 'misc', value: { stringValue: '123' } },
      ],
      body: { stringValue: 'charge failed: card=4111 1111 1111 1111 cvv=123 exp=12/27 {"cvc": "456", "amount": 12}' },
    }),
  ]);
  const got = sink.all()[0]!;
  const masked = { stringValue: '<redacted:sensitiveKey>' };
  assert.deepEqual(Object.fromEntries(got.attributes.map((kv) => [kv.key, kv.value])), {
    'card.cvv': masked,
    'payment.cvc': masked,
    cvv2: masked,
    card: { kvlistValue: { values: [{ key: 'security_code', value: masked }, { key: 'exp_month', value: { intValue: '12' } }] } },
    'card.cvv_length': { intValue: '3' },
    misc: { stringValue: '123' },
  });
  assert.deepEqual(got.body, {
    stringValue: 'charge failed: card=<redacted:creditCard> cvv=<redacted:secretAssignment> exp=12/27 {"cvc": "<redacted:secretAssignment>", "amount": 12}',
  });
});

test('a key-value list under a sensitive key has every value masked, its keys kept; lists and bytes are masked whole', async () => {
  const sink = sinkConsumer<'logs'>();
  const p = createRedactionProcessor('redaction/logs', defaultRedactionProcessorConfig(), 'logs', sink, silentLogger());
  const kv = (o: Record<string, AnyValue>): AnyValue => ({ kvlistValue: { values: Object.entries(o).map(([key, value]) => ({ key, value })) } });
  await p.consume([
    log({
      attributes: attrs({
        credentials: kv({ user: { stringValue: 'bob' }, pass: { stringValue: 'hunter2' }, pin: { intValue: '1234' }, nested: kv({ otp: { stringValue: '999111' } }) }),
        'http.request.header.authorization': { arrayValue: { values: [{ stringValue: 'Basic dXNlcjpwYXNz' }] } },
        'db.password': { bytesValue: Buffer.from('hunter2').toString('base64') },
        'user.password': {},
      }),
    }),
  ]);
  const a = Object.fromEntries(sink.all()[0]!.attributes.map((x) => [x.key, x.value]));
  const m = { stringValue: '<redacted:sensitiveKey>' };
  assert.deepEqual(a.credentials, kv({ user: m, pass: m, pin: m, nested: kv({ otp: m }) }));
  assert.deepEqual(a['http.request.header.authorization'], m);
  assert.deepEqual(a['db.password'], m);
  assert.deepEqual(a['user.password'], {}, 'an empty value hides nothing');
});

test('span, event and scope names, trace states, severity texts, event names, schema URLs, metric metadata and bytes values are redacted too', async () => {
  const sink = sinkConsumer<'traces'>();
  const p = createRedactionProcessor('redaction/traces', defaultRedactionProcessorConfig(), 'traces', sink, silentLogger());
  const sc = { ...scope('billing token=abc123', '1.0 for ops@example.com'), schemaUrl: 'https://u:pw@schemas.example.com/1.0' };
  const res = { ...resource('svc'), schemaUrl: 'https://u:pw@schemas.example.com/1.0' };
  const text = (s: string): AnyValue => ({ bytesValue: Buffer.from(s).toString('base64') });
  const binary: AnyValue = { bytesValue: Buffer.from([0xff, 0xfe, 0x40, 0x41, 0x2e, 0x63, 0x6f]).toString('base64') };
  await p.consume([
    span({
      resource: res,
      scope: sc,
      name: 'GET /reset?token=6f1e2d9a',
      traceState: 'vendor=secret=abc',
      attributes: attrs({ payload: text('mail jane@example.com'), raw: binary }),
      events: [{ timeUnixNano: 1n, name: 'retry for jane@example.com', attributes: [], droppedAttributesCount: 0 }],
      links: [{ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceState: 'k=password=hunter2', flags: 0, attributes: [], droppedAttributesCount: 0 }],
    }),
  ]);
  const s = sink.all()[0]!;
  assert.equal(s.name, 'GET /reset?token=<redacted:secretAssignment>');
  assert.equal(s.traceState, 'vendor=secret=<redacted:secretAssignment>');
  assert.equal(s.events[0]!.name, 'retry for <redacted:email>');
  assert.equal(s.links[0]!.traceState, 'k=password=<redacted:secretAssignment>');
  assert.equal(s.scope.name, 'billing token=<redacted:secretAssignment>');
  assert.equal(s.scope.version, '1.0 for <redacted:email>');
  assert.equal(s.scope.schemaUrl, 'https://u:<redacted:urlPassword>@schemas.example.com/1.0');
  assert.equal(s.resource.schemaUrl, 'https://u:<redacted:urlPassword>@schemas.example.com/1.0');
  const a = Object.fromEntries(s.attributes.map((x) => [x.key, x.value]));
  assert.equal(Buffer.from((a.payload as { bytesValue: string }).bytesValue, 'base64').toString(), 'mail <redacted:email>', 'UTF-8 bytes are scanned and stay bytes');
  assert.deepEqual(a.raw, binary, 'bytes that are not UTF-8 are kept');

  const logs = sinkConsumer<'logs'>();
  const lp = createRedactionProcessor('redaction/logs', defaultRedactionProcessorConfig(), 'logs', logs, silentLogger());
  await lp.consume([log({ severityText: 'ERROR token=abc', eventName: 'login.failed for jane@example.com', body: text('password=hunter2') })]);
  const l = logs.all()[0]!;
  assert.equal(l.severityText, 'ERROR token=<redacted:secretAssignment>');
  assert.equal(l.eventName, 'login.failed for <redacted:email>');
  assert.equal(Buffer.from((l.body as { bytesValue: string }).bytesValue, 'base64').toString(), 'password=<redacted:secretAssignment>');

  const metrics = sinkConsumer<'metrics'>();
  const mp = createRedactionProcessor('redaction/metrics', defaultRedactionProcessorConfig(), 'metrics', metrics, silentLogger());
  const point = metricPoint(numberPoint({ attributes: attrs({ 'gen_ai.token.type': 'input' }) }), {
    name: 'gen_ai.client.token.usage',
    description: 'tokens used; owner ops@example.com',
    metadata: attrs({ 'api.key': 'k', note: 'DB_PASSWORD=hunter2' }),
  });
  await mp.consume([point]);
  const got = metrics.all()[0]!;
  assert.equal(got.metric.name, 'gen_ai.client.token.usage');
  assert.equal(got.metric.description, 'tokens used; owner <redacted:email>');
  assert.deepEqual(got.metric.metadata, attrs({ 'api.key': '<redacted:sensitiveKey>', note: 'DB_PASSWORD=<redacted:secretAssignment>' }));
  assert.deepEqual(got.point.attributes, attrs({ 'gen_ai.token.type': 'input' }));
});

test('redaction sees values before attribute limits cut them: default order, inserted order, and a config naming limits first refused', async () => {
  const order = (processors: Record<string, unknown>, pipelines?: Record<string, unknown>) =>
    withSecurityProcessors(testConfig({ processors, ...(pipelines && { pipelines }) })).pipelines;
  assert.deepEqual(order({ redaction: {}, limits: {} }).traces!.processors, ['memory_limiter', 'redaction', 'limits', 'batch']);
  const named = { traces: { receivers: ['otlp'], processors: ['memory_limiter', 'redaction', 'batch'], exporters: ['duckdb'] } };
  assert.deepEqual(order({ redaction: {}, limits: {} }, named).traces!.processors, ['memory_limiter', 'redaction', 'limits', 'batch']);
  const limitsFirst = { logs: { receivers: ['otlp'], processors: ['memory_limiter', 'limits', 'redaction/pii', 'batch'], exporters: ['duckdb'] } };
  assert.throws(
    () => order({ 'redaction/pii': {}, limits: {} }, limitsFirst),
    (err: Error) => err.name === 'ConfigError' && /^pipelines\.logs\.processors: "limits" runs before "redaction\/pii" \(memory_limiter, limits, redaction\/pii, batch\)/.test(err.message),
  );

  // What the order protects: a card number across the truncation point.
  const sink = sinkConsumer<'traces'>();
  const limits = createLimitsProcessor('limits/traces', { ...defaultLimitsProcessorConfig(), maxValueLength: 40 }, 'traces', sink, silentLogger());
  const p = createRedactionProcessor('redaction/traces', defaultRedactionProcessorConfig(), 'traces', limits, silentLogger());
  await p.consume([span({ resource: resource('svc'), attributes: attrs({ note: 'charged to card 4111 1111 1111 1111 today' }) })]);
  const value = (sink.all()[0]!.attributes[0]!.value as { stringValue: string }).stringValue;
  assert.equal(value.length, 40);
  assert.doesNotMatch(value, /4111/);

  // A cut that falls inside a marker the redaction wrote moves before it: no `<redacted:ema`.
  const cut = sinkConsumer<'logs'>();
  const lp = createRedactionProcessor('redaction/logs', defaultRedactionProcessorConfig(), 'logs', createLimitsProcessor('limits/logs', { ...defaultLimitsProcessorConfig(), maxValueLength: 20 }, 'logs', cut, silentLogger()), silentLogger());
  await lp.consume([log({ resource: resource('svc'), body: { stringValue: 'user jane@example.com logged in' } })]);
  assert.deepEqual(cut.all()[0]!.body, { stringValue: 'user ' });
});

test('sensitiveKeys, sensitiveKeyQualifiers: entries without a letter or digit are refused; qualifiers are configurable', async () => {
  assert.throws(
    () => createRedactionProcessor('redaction/logs', { ...defaultRedactionProcessorConfig(), sensitiveKeys: ['password', '..'] }, 'logs', sinkConsumer<'logs'>(), silentLogger()),
    (err: Error) => err.name === 'SettingError' && /^sensitiveKeys: expected a list of key names/.test(err.message),
  );
  const sink = sinkConsumer<'logs'>();
  const p = createRedactionProcessor('redaction/logs', { ...defaultRedactionProcessorConfig(), sensitiveKeyQualifiers: ['count'] }, 'logs', sink, silentLogger());
  await p.consume([log({ resource: resource('svc'), attributes: attrs({ 'llm.token_count.total': 12n, 'gen_ai.token.type': 'input' }) })]);
  assert.deepEqual(sink.all()[0]!.attributes, attrs({ 'llm.token_count.total': 12n, 'gen_ai.token.type': '<redacted:sensitiveKey>' }));
});

test('unknown rules are refused at start-up naming the known ones', () => {
  assert.throws(
    () => createRedactionProcessor('redaction/logs', { ...defaultRedactionProcessorConfig(), rules: ['ssn'] }, 'logs', sinkConsumer<'logs'>(), silentLogger()),
    /unknown rule ssn \(known: creditCard, email/,
  );
});

test('every pair of a Cookie header in text is masked, not only the first (security QA gap)', () => {
  assert.equal(redact('Cookie: theme=dark; sid=abc123secret; lang=en').text, 'Cookie: <redacted:secretAssignment>');
  assert.equal(redact('cookie=a=1;sid=zzz next').text, 'cookie=<redacted:secretAssignment> next');
  assert.equal(redact('Set-Cookie: sid=abc123; Path=/; HttpOnly').text, 'Set-Cookie: <redacted:secretAssignment>; HttpOnly');
  assert.equal(redact('Cookie: a=1; ' + 'b=2; '.repeat(200) + 'sid=zz9').text, 'Cookie: <redacted:secretAssignment>');
  // Only under a cookie key; a colon ends the pairs (the next header is looked at on its own).
  assert.equal(redact('token=abc; theme=dark').text, 'token=<redacted:secretAssignment>; theme=dark');
  assert.equal(redact('Cookie: sessionid=9f8e7d6c5b4a; Authorization: 9f8e7d6c5b4a3f2e').text, 'Cookie: <redacted:secretAssignment>; Authorization: <redacted:secretAssignment>');
});

test('passphrases, Ruby hashes and XML elements under secret keys are masked in text (security QA gaps)', () => {
  assert.equal(redact('ssh passphrase=hunter22 ok').text, 'ssh passphrase=<redacted:secretAssignment> ok');
  assert.equal(redact('{:password => "hunter2", :user => "bob"}').text, '{:password => "<redacted:secretAssignment>", :user => "bob"}');
  assert.equal(redact('params: {"token"=>"abc123"}').text, 'params: {"token"=>"<redacted:secretAssignment>"}');
  assert.equal(redact('<login><user>bob</user><password>hunter2</password></login>').text, '<login><user>bob</user><password><redacted:secretAssignment></password></login>');
  assert.equal(redact('<wsse:Password Type="PasswordText">s3cr3t</wsse:Password>').text, '<wsse:Password Type="PasswordText"><redacted:secretAssignment></wsse:Password>');
  assert.equal(redact('<api_key><![CDATA[k<e>y]]></api_key>').text, '<api_key><redacted:secretAssignment></api_key>');
  // Not secret: other elements, empty ones, arrows and comparisons that are not assignments.
  assert.equal(redact('<user>bob</user><password></password> x => y; a == b').text, '<user>bob</user><password></password> x => y; a == b');
});

test('one list of secret keys: cookies and raw Authorization values in text, pwd and access_key as attributes, are masked (security QA)', async () => {
  // Found by security QA: the attribute list and the text list differed, each missing the other's keys.
  assert.equal(redact('request headers: Cookie: sessionid=9f8e7d6c5b4a; Authorization: 9f8e7d6c5b4a3f2e').text, 'request headers: Cookie: <redacted:secretAssignment>; Authorization: <redacted:secretAssignment>');
  assert.equal(
    redact('{"req":{"headers":{"cookie":"connect.sid=s%3AabcDEF123.xyz","authorization":"c2VjcmV0LXRva2VuLXZhbHVl"}}}').text,
    '{"req":{"headers":{"cookie":"<redacted:secretAssignment>","authorization":"<redacted:secretAssignment>"}}}',
  );
  assert.equal(redact("{'headers': {'Set-Cookie': 'sessionid=9f8e7d6c5b4a'}}").text, "{'headers': {'Set-Cookie': '<redacted:secretAssignment>'}}");
  assert.equal(redact('credential=Plain-Value-123 proxy-authorization=xyz987').text, 'credential=<redacted:secretAssignment> proxy-authorization=<redacted:secretAssignment>');
  // The scheme of a credential the bearerToken rule masked stays, quoted or not.
  assert.equal(redact('Authorization: Basic dXNlcjpwYXNz').text, 'Authorization: Basic <redacted:bearerToken>');
  assert.equal(redact('{"authorization": "Bearer abcdef123456"}').text, '{"authorization": "Bearer <redacted:bearerToken>"}');
  // A scheme the bearerToken rule does not know: its credential is masked with the scheme kept.
  assert.equal(redact('Proxy-Authorization: Negotiate YIIGhgYJKoZIhvcSAQICAQ== next').text, 'Proxy-Authorization: Negotiate <redacted:secretAssignment> next');
  assert.equal(redact('password: hunter2 and more').text, 'password: <redacted:secretAssignment> and more');

  const sink = sinkConsumer<'logs'>();
  const p = createRedactionProcessor('redaction/logs', defaultRedactionProcessorConfig(), 'logs', sink, silentLogger());
  await p.consume([log({ resource: resource('svc'), body: { stringValue: 'cookie=Plain-Value-123 pwd=Plain-Value-123' }, attributes: attrs({ pwd: 'Plain-Value-123', 'db.pwd': 'x', access_key: 'y', accessKey: 'z', cookie: 'c' }) })]);
  const got = sink.all()[0]!;
  assert.deepEqual(got.body, { stringValue: 'cookie=<redacted:secretAssignment> pwd=<redacted:secretAssignment>' });
  assert.deepEqual(got.attributes, attrs({ pwd: '<redacted:sensitiveKey>', 'db.pwd': '<redacted:sensitiveKey>', access_key: '<redacted:sensitiveKey>', accessKey: '<redacted:sensitiveKey>', cookie: '<redacted:sensitiveKey>' }));
  // A key configured as sensitive is secret in text too.
  const custom = sinkConsumer<'logs'>();
  const cp = createRedactionProcessor('redaction/logs', { ...defaultRedactionProcessorConfig(), sensitiveKeys: ['ssn'] }, 'logs', custom, silentLogger());
  await cp.consume([log({ resource: resource('svc'), body: { stringValue: 'ssn=078-05-1120' }, attributes: attrs({ 'user.ssn': '078-05-1120' }) })]);
  assert.deepEqual(custom.all()[0]!.body, { stringValue: 'ssn=<redacted:secretAssignment>' });
  assert.deepEqual(custom.all()[0]!.attributes, attrs({ 'user.ssn': '<redacted:sensitiveKey>' }));
});

test('e-mail addresses with non-ASCII local parts, IDN domains or a %40-encoded @ are masked whole, never in part (security QA)', () => {
  assert.equal(redact('user josé@example.com').text, 'user <redacted:email>');
  assert.equal(redact('mail hans@müller.de.').text, 'mail <redacted:email>.');
  assert.equal(redact('to user@例え.jp now').text, 'to <redacted:email> now');
  assert.equal(redact('müller.hans@example.de').text, '<redacted:email>', 'was mü<redacted:email>');
  assert.equal(redact('x@bücher.xn--p1ai').text, '<redacted:email>');
  assert.equal(redact('/unsubscribe?to=alice%40example.com&list=7').text, '/unsubscribe?to=<redacted:email>&list=7');
  assert.equal(redact(`${'a'.repeat(80)}@example.com`).text, '<redacted:email>', 'a local part longer than 64 characters is masked whole');
  assert.equal(redact('联系john@example.com谢谢').text, '<redacted:email>谢谢', 'a domain ends where its last label changes script');
  assert.equal(redact('price 100%40off, a%40b, «café»@ x').text, 'price 100%40off, a%40b, «café»@ x');
});

test('bearerToken masks credentials, not the word after Token, Basic or Digest in prose (security QA)', () => {
  for (const prose of ['Token validation failed for request', 'token refreshed successfully ok', 'Basic information about the account', 'Digest computation finished', 'Basic JavaScript knowledge']) {
    assert.equal(redact(prose).text, prose);
  }
  const masked: [string, string][] = [
    ['Authorization: Basic dXNlcjpwYXNz', 'Authorization: Basic <redacted:bearerToken>'],
    ['sent Basic dXNlcjpwYXNz upstream', 'sent Basic <redacted:bearerToken> upstream'],
    ['Authorization: Token abcdefghij', 'Authorization: Token <redacted:bearerToken>'],
    ['auth Token abc12345xyz', 'auth Token <redacted:bearerToken>'],
    ['Bearer abcdefghijkl', 'Bearer <redacted:bearerToken>'],
    ['digest Digest c2VjcmV0+/x=', 'digest Digest <redacted:bearerToken>'],
  ];
  for (const [text, want] of masked) assert.equal(redact(text).text, want, text);
});

test('SQL: "…" literals unless db.system quotes identifiers so, dollar quotes, and IDENTIFIED BY / PASSWORD literals in any text (security QA)', async () => {
  const sink = sinkConsumer<'traces'>();
  const p = createRedactionProcessor('redaction/traces', defaultRedactionProcessorConfig(), 'traces', sink, silentLogger());
  await p.consume([
    span({ resource: resource('svc'), attributes: attrs({ 'db.system': 'mysql', 'db.statement': `SELECT * FROM u WHERE email='x@y' AND pw="hunter2pw"` }) }),
    span({ resource: resource('svc'), attributes: attrs({ 'db.query.text': 'CREATE USER bob IDENTIFIED BY "hunter2pw"' }) }),
    span({ resource: resource('svc'), attributes: attrs({ 'db.system.name': 'postgresql', 'db.query.text': 'ALTER ROLE app PASSWORD $$hunter2$$; SELECT "email", $q$it\'s$q$ FROM "users" WHERE id = $1' }) }),
  ]);
  const [a, b, c] = sink.all().map((s) => s.attributes);
  // (pw= names a password: the assignment rule masks it before the literal rule would.)
  assert.deepEqual(a, attrs({ 'db.system': 'mysql', 'db.statement': `SELECT * FROM u WHERE email='?' AND pw="<redacted:secretAssignment>"` }));
  assert.deepEqual(b, attrs({ 'db.query.text': 'CREATE USER bob IDENTIFIED BY "?"' }));
  assert.deepEqual(c, attrs({ 'db.system.name': 'postgresql', 'db.query.text': 'ALTER ROLE app PASSWORD $$?$$; SELECT "email", $$?$$ FROM "users" WHERE id = $1' }));
  // In any text (a log body), the literal after PASSWORD or IDENTIFIED [WITH plugin] BY.
  const text: [string, string][] = [
    ["ALTER USER app WITH PASSWORD 'hunter2'", "ALTER USER app WITH PASSWORD '<redacted:secretAssignment>'"],
    ["CREATE USER 'bob'@'%' IDENTIFIED BY \"hunter2\"", "CREATE USER 'bob'@'%' IDENTIFIED BY \"<redacted:secretAssignment>\""],
    ["CREATE USER bob IDENTIFIED WITH mysql_native_password BY 'pw1'", "CREATE USER bob IDENTIFIED WITH mysql_native_password BY '<redacted:secretAssignment>'"],
    ['ALTER ROLE app PASSWORD $x$hunter2$x$', 'ALTER ROLE app PASSWORD $x$<redacted:secretAssignment>$x$'],
    ["ran ALTER USER app PASSWORD '?'", "ran ALTER USER app PASSWORD '?'"],
    ["reset by 'admin' and the password policy", "reset by 'admin' and the password policy"],
    // Oracle takes the password unquoted (issue 6 QA, session 35); its VALUES form is a hash; prose is not SQL.
    ['ALTER USER x IDENTIFIED BY rawpw77', 'ALTER USER x IDENTIFIED BY <redacted:secretAssignment>'],
    ['create user "App" identified by Secret#1 default tablespace users', 'create user "App" identified by <redacted:secretAssignment> default tablespace users'],
    ['GRANT CONNECT TO scott IDENTIFIED BY tiger', 'GRANT CONNECT TO scott IDENTIFIED BY <redacted:secretAssignment>'],
    ["ALTER USER x IDENTIFIED BY VALUES 'S:8F2D'", "ALTER USER x IDENTIFIED BY VALUES 'S:8F2D'"],
    ['a request identified by its trace id', 'a request identified by its trace id'],
    // `pw` names a password as `pwd` does.
    ["login failed pw='sqlsecretlit' user=bob", "login failed pw='<redacted:secretAssignment>' user=bob"],
  ];
  for (const [t, want] of text) assert.equal(redact(t).text, want, t);
});

test('passwords on command lines (process.command_args, command lines in text), PEM private keys, npm tokens and Stripe restricted keys are masked', async () => {
  assert.equal(redact('myapp --password hunter2 --verbose').text, 'myapp --password <redacted:secretAssignment> --verbose');
  assert.equal(redact('exec myapp --db-password "my pw" --port 80').text, 'exec myapp --db-password "<redacted:secretAssignment>" --port 80');
  assert.equal(redact('mysql -uroot -phunter2 shop').text, 'mysql -uroot -p<redacted:secretAssignment> shop');
  for (const kept of ['ssh -p2222 host', 'docker run -p8080:80 img', 'run --token-count 5 --verbose', 'mysql -uroot -p shop']) assert.equal(redact(kept).text, kept);
  const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----';
  assert.equal(redact(`key ${pem} loaded`).text, 'key <redacted:apiKey> loaded');
  assert.equal(redact('{"k":"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg+/=\\nAAA"}').text, '{"k":"<redacted:apiKey>"}', 'cut before its END: to where the base64 ends');
  assert.equal(redact('-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----').text.includes('MIIBIjAN'), true, 'a public key is no secret');
  assert.equal(redact(`npm npm_${'a1B2'.repeat(9)} x`).text, 'npm <redacted:apiKey> x');
  assert.equal(redact(`stripe rk_live_${'a1'.repeat(12)} x`).text, 'stripe <redacted:apiKey> x');

  const sink = sinkConsumer<'traces'>();
  const p = createRedactionProcessor('redaction/traces', defaultRedactionProcessorConfig(), 'traces', sink, silentLogger());
  const args = (...values: string[]): KeyValue => ({ key: 'process.command_args', value: { arrayValue: { values: values.map((stringValue) => ({ stringValue })) } } });
  await p.consume([
    span({
      resource: { ...resource('svc'), attributes: [args('myapp', '--db-password', 'hunter2', '--port', '80', '--api-token', '--verbose')] },
      attributes: [args('/usr/bin/mysql', '-uroot', '-phunter2', 'shop'), args('ssh', '-p2222', 'host')],
    }),
  ]);
  const got = sink.all()[0]!;
  const values = (kv: KeyValue) => (kv.value as { arrayValue: { values: { stringValue: string }[] } }).arrayValue.values.map((v) => v.stringValue);
  assert.deepEqual(values(got.resource.attributes[0]!), ['myapp', '--db-password', '<redacted:secretAssignment>', '--port', '80', '--api-token', '--verbose']);
  assert.deepEqual(values(got.attributes[0]!), ['/usr/bin/mysql', '-uroot', '-p<redacted:secretAssignment>', 'shop']);
  assert.deepEqual(values(got.attributes[1]!), ['ssh', '-p2222', 'host']);
});

test('card numbers grouped by dots or no-break spaces are masked; version strings, IPv4 addresses and decimals are not', () => {
  assert.equal(redact('card 4111.1111.1111.1111 ok').text, 'card <redacted:creditCard> ok');
  assert.equal(redact('card 4111\u00a01111\u00a01111\u00a01111').text, 'card <redacted:creditCard>');
  assert.equal(redact('amex 3782.822463.10005').text, 'amex <redacted:creditCard>');
  const kept = ['ip 192.168.100.200 and 10.0.0.1:8080', 'v 1.2.3 and 2023.10.1234', 'x=123.4567890123456 y=4111.111111111111', '1.0.0-20231205.123456', '400.500.600.700.800.900', '4111.11111111.1111'];
  for (const text of kept) assert.equal(redact(text).text, text);
});

test('a redaction processor must run before batch (live tails see a batch when it is queued); instances are matched by type (security QA)', () => {
  const order = (processors: Record<string, unknown>, pipelines?: Record<string, unknown>) =>
    withSecurityProcessors(testConfig({ processors, ...(pipelines && { pipelines }) })).pipelines;
  // Found by security QA: `[memory_limiter, batch, redaction]` started, stored masked and streamed raw.
  const afterBatch = { traces: { receivers: ['otlp'], processors: ['memory_limiter', 'batch', 'redaction'], exporters: ['duckdb'] } };
  assert.throws(
    () => order({ redaction: {} }, afterBatch),
    (err: Error) => err.name === 'ConfigError' && /^pipelines\.traces\.processors: "redaction" runs after "batch" \(memory_limiter, batch, redaction\); .*name the redaction processor before batch$/.test(err.message),
  );
  // Found by security QA: a `redaction/pii` section was never run.
  assert.deepEqual(order({ 'redaction/pii': {} }).logs!.processors, ['memory_limiter', 'redaction/pii', 'batch']);
  assert.deepEqual(order({ 'redaction/pii': {}, 'limits/small': {} }).metrics!.processors, ['memory_limiter', 'redaction/pii', 'limits/small', 'batch']);
  const named = { traces: { receivers: ['otlp'], processors: ['memory_limiter/big', 'batch'], exporters: ['duckdb'] } };
  assert.deepEqual(order({ 'memory_limiter/big': {}, redaction: {} }, named).traces!.processors, ['memory_limiter/big', 'redaction', 'batch'], 'a named memory limiter instance is a memory limiter');
  // A pipeline naming one instance keeps its choice; an instance no pipeline runs is refused.
  const onlyPii = Object.fromEntries(['traces', 'logs', 'metrics'].map((s) => [s, { receivers: ['otlp'], processors: ['memory_limiter', 'redaction/pii', 'batch'], exporters: ['duckdb'] }]));
  assert.throws(() => order({ redaction: {}, 'redaction/pii': {} }, onlyPii), (err: Error) => err.name === 'ConfigError' && /^processors\.redaction: configured but no pipeline runs it/.test(err.message));
  assert.deepEqual(order({ 'redaction/pii': {} }, onlyPii).traces!.processors, ['memory_limiter', 'redaction/pii', 'batch']);
});
