import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { formatLog, formatSpan, painter } from '../../../src/cli/tail.ts';
import { printable } from '../../../src/model/printable.ts';

const tty = Object.assign(new PassThrough(), { isTTY: true });
const pipe = new PassThrough();
const span = {
  traceId: '5bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  name: 'GET /cart',
  kind: 'SERVER',
  service: 'checkout',
  startTime: '2024-05-01T12:00:00.000000000Z',
  durationMs: 3.25,
  status: { code: 'ERROR', message: 'boom' },
  attributes: { 'http.route': '/cart', 'http.response.status_code': 500 },
};
const log = {
  id: 'tail:1',
  time: '2024-05-01T12:00:01.000000000Z',
  severity: 'WARN',
  severityNumber: 13,
  severityText: 'WARN',
  service: 'payments',
  bodyText: 'retrying\n  after timeout',
  body: { stringValue: 'retrying' },
  traceId: null,
  spanId: null,
  eventName: null,
  attributes: { attempt: 2 },
};

describe('teleql tail lines', () => {
  test('a span line: time, service, name, duration, status, ids and attributes', () => {
    assert.equal(
      formatSpan(span, painter({ stdout: pipe, env: {} })),
      '2024-05-01T12:00:00.000000000Z checkout GET /cart 3.25ms ERROR boom trace=5bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7 http.route=/cart http.response.status_code=500',
    );
  });

  test('a log line keeps to one line and pads the level', () => {
    assert.equal(formatLog(log, painter({ stdout: pipe, env: {} })), '2024-05-01T12:00:01.000000000Z WARN  payments retrying ⏎ after timeout attempt=2');
  });

  test('attribute values keep to one line too, and a long one (a prompt) is cut, saying how much is left out', () => {
    const prompt = `Summarise:\n${'x'.repeat(15_000)}`;
    const line = formatSpan({ ...span, attributes: { 'exception.stacktrace': 'Error: boom\n    at f (a.js:1)', 'gen_ai.prompt': prompt } }, painter({ stdout: pipe, env: {} }));
    assert.ok(!line.includes('\n'), 'one line');
    assert.ok(line.includes('exception.stacktrace=Error: boom ⏎ at f (a.js:1)'), line.slice(0, 300));
    assert.ok(line.endsWith(`gen_ai.prompt=Summarise: ⏎ ${'x'.repeat(187)}…(+14,813 chars)`), line.slice(-300));
  });

  test('telemetry cannot drive the terminal: every field shows its control characters escaped, and a record stays one line', () => {
    // Every field but the body and attribute values was printed raw: ESC sequences cleared the
    // screen, set the title, planted links, moved the cursor to rewrite earlier lines, and a line
    // break in a service or span name started a fake record.
    const evil = '\u001b[2J\u001b]0;PWNED\u0007\u009b31m\u202eevil\u2066\r\bFAKE\nLINE\u0000\u007f';
    const shown = '\\x1b[2J\\x1b]0;PWNED\\x07\\x9b31m\\u202eevil\\u2066 ⏎ \\x08FAKE ⏎ LINE\\x00\\x7f';
    assert.equal(printable(evil), shown);
    assert.equal(printable('a\tb\r\nc\u2028d'), 'a b ⏎ c ⏎ d');
    const plain = painter({ stdout: pipe, env: {} });
    const colour = painter({ stdout: tty, env: {} });
    const spanLine = (paint: typeof plain) =>
      formatSpan({ ...span, service: evil, name: evil, status: { code: 'ERROR', message: evil }, traceId: evil, spanId: evil, startTime: evil, attributes: { [evil]: evil, n: [evil] } }, paint);
    const logLine = (paint: typeof plain) =>
      formatLog({ ...log, service: evil, severity: null, severityText: evil, eventName: evil, bodyText: evil, traceId: evil, spanId: evil, time: evil, attributes: { [evil]: evil } }, paint);
    for (const line of [spanLine(plain), logLine(plain)]) {
      assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, JSON.stringify(line)); // eslint-disable-line no-control-regex
      assert.ok(line.includes(shown), line);
    }
    // With colour, the only escapes are the painter's own SGR sequences.
    for (const line of [spanLine(colour), logLine(colour)]) {
      const withoutPaint = line.replace(/\u001b\[\d+m/g, ''); // eslint-disable-line no-control-regex
      assert.doesNotMatch(withoutPaint, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, JSON.stringify(line)); // eslint-disable-line no-control-regex
    }
    // No colour for a terminal that cannot show it, or for a user who asked for none.
    for (const env of [{ TERM: 'dumb' }, { NO_COLOR: '1' }]) assert.equal(spanLine(painter({ stdout: tty, env })), spanLine(plain), JSON.stringify(env));
    assert.notEqual(spanLine(colour), spanLine(plain));
    // A body that is not a string (a map) is shown as JSON, itself escaped.
    assert.ok(formatLog({ ...log, bodyText: null, body: { k: 'a\u009bb' } }, plain).includes('{"k":"a\\x9bb"}'));
  });

  test('a log record with only an event name shows the name', () => {
    // It printed "time INFO  svc" and nothing saying what happened.
    const event = { ...log, severity: 'INFO', severityNumber: 9, bodyText: null, body: null, eventName: 'browser.page_view', attributes: {} };
    assert.equal(formatLog(event, painter({ stdout: pipe, env: {} })), '2024-05-01T12:00:01.000000000Z INFO  payments browser.page_view');
    assert.equal(formatLog({ ...event, bodyText: 'clicked' }, painter({ stdout: pipe, env: {} })), '2024-05-01T12:00:01.000000000Z INFO  payments browser.page_view clicked');
  });

  test('a long attribute value is cut on whole characters and counts characters, not UTF-16 units', () => {
    // 'a'×199 + 3 emoji printed half an emoji (U+FFFD on the terminal) and "(+5 chars)".
    const line = formatSpan({ ...span, attributes: { k: `${'a'.repeat(199)}${'😀'.repeat(3)}` } }, painter({ stdout: pipe, env: {} }));
    assert.ok(line.endsWith(` k=${'a'.repeat(199)}😀…(+2 chars)`), line.slice(-40));
    assert.equal(formatSpan({ ...span, attributes: { k: '😀'.repeat(200) } }, painter({ stdout: pipe, env: {} })).endsWith(` k=${'😀'.repeat(200)}`), true, 'exactly 200 is not cut');
  });

  test('colour only on a terminal, and never with NO_COLOR', () => {
    const coloured = formatSpan(span, painter({ stdout: tty, env: {} }));
    assert.ok(coloured.includes('\u001b[31mERROR boom\u001b[39m'), coloured);
    assert.ok(coloured.includes('\u001b[36mcheckout\u001b[39m'));
    assert.ok(formatLog(log, painter({ stdout: tty, env: {} })).includes('\u001b[33mWARN '));
    assert.ok(!formatSpan(span, painter({ stdout: tty, env: { NO_COLOR: '1' } })).includes('\u001b['));
    assert.ok(!formatSpan(span, painter({ stdout: pipe, env: {} })).includes('\u001b['));
  });
});

describe('flags the gateway would refuse are usage errors (exit 2) before connecting', () => {
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const { runTail } = await import('../../../src/cli/tail.ts');
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await runTail(['--url', 'http://127.0.0.1:1/graphql', ...args], { stdout: new PassThrough(), stderr, env, interrupted: new Promise(() => {}) });
    return { code, err };
  };

  test('a duration, an age or time, a severity number', async () => {
    // These exited 1 after a round trip (--min-duration abc, --since yesterday), were read as epoch
    // milliseconds (--since 15: everything stored replayed), or were taken (--severity 0).
    const cases: [string[], RegExp][] = [
      [['--min-duration', 'abc'], /--min-duration "abc": expected a duration such as 250ms/],
      [['--since', 'yesterday'], /--since "yesterday": expected an age such as 15m or 2h, or an RFC 3339 time/],
      [['--since', '15'], /--since "15": expected an age/],
      [['--severity', '0'], /--severity "0": expected .* or a number from 1 to 24/],
    ];
    for (const [args, message] of cases) {
      const { code, err } = await run(args);
      assert.equal(code, 2, args.join(' '));
      assert.match(err, message);
    }
  });

  test('a time the gateway would refuse, an age reaching before 1970, headers and a token Node would refuse to send', async () => {
    // --since without an offset passed here and the gateway refused it (exit 1); 999999999d threw
    // "Invalid time value" (exit 1); a bad header name or value and a token with a line break threw
    // Node's ERR_INVALID_HTTP_TOKEN / ERR_INVALID_CHAR with a stack trace from inside ws (exit 1).
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--since', '2026-12-06T09:00'], {}, /^teleql tail: --since "2026-12-06T09:00": an ISO 8601 time needs an offset \(Z or ±hh:mm\); expected an age such as 15m or 2h, or an RFC 3339 time with an offset/],
      [['--since', '2026-13-45T99:00:00Z'], {}, /^teleql tail: --since "2026-13-45T99:00:00Z": the date or time is out of range;/],
      [['--since', '999999999d'], {}, /^teleql tail: --since "999999999d": reaches back before 1970;/],
      [['--since', '300000y'], {}, /^teleql tail: --since "300000y": reaches back before 1970;/],
      [['--header', 'Bad Name: v'], {}, /^teleql tail: --header "Bad Name: v": the name must be letters, digits and/],
      [['--header', 'X-A: b\r\nInjected: 1'], {}, /^teleql tail: --header "X-A: b\\r\\nInjected: 1": the value must not contain line breaks/],
      [['--tenant', 'a\nb'], {}, /^teleql tail: --tenant "a\\nb": must not contain line breaks/],
      [[], { TELEQL_TOKEN: 's3kr1t\nvalue' }, /^teleql tail: TELEQL_TOKEN: the token must not contain line breaks or other control characters\n/],
      [['--url', 'http://exa mple/graphql'], {}, /^teleql tail: --url "http:\/\/exa mple\/graphql": expected an http\(s\):\/\/ or ws\(s\):\/\/ URL/],
    ];
    for (const [args, env, message] of cases) {
      const { code, err } = await run(args, env);
      assert.equal(code, 2, args.join(' ') || JSON.stringify(env));
      assert.match(err, message);
      assert.match(err, /\n\nusage: teleql tail/);
      assert.ok(!err.includes('s3kr1t'), 'the token is not echoed');
    }
  });

  test('an age and a time the gateway takes pass', async () => {
    // Checked by what the command does next: it tries to connect (to a closed port: exit 1).
    for (const since of ['15m', '2026-12-06T09:00:00Z', '2026-12-06T09:00:00.123456789+01:00']) {
      const { code, err } = await run(['--since', since]);
      assert.equal(code, 1, since);
      assert.match(err, /cannot connect to ws:\/\/127\.0\.0\.1:1\/graphql/);
    }
  });
});
