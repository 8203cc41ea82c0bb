import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { formatLog, formatSpan, painter } from '../../../src/cli/tail.ts';

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
  const run = async (args: string[]) => {
    const { runTail } = await import('../../../src/cli/tail.ts');
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await runTail(['--url', 'http://127.0.0.1:1/graphql', ...args], { stdout: new PassThrough(), stderr, env: {}, interrupted: new Promise(() => {}) });
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
});
