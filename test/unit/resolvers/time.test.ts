import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../../src/errors.ts';
import { formatDuration, formatTimestamp, nsToMs, parseDuration, parseTimestamp } from '../../../resolvers/time.ts';

function rejects(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    assert.equal(err.extensions.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

const NS = 1_795_317_807_123_456_789n; // 2026-11-22T03:23:27.123456789Z

describe('Timestamp', () => {
  test('"now" and "now-15m" are relative to the time of parsing', () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const now = parseTimestamp('now');
    const ago = parseTimestamp('now-15m');
    const after = BigInt(Date.now()) * 1_000_000n;
    assert.ok(now >= before && now <= after);
    // "now-15m" is parsed after "now", so it may see a later clock: the gap is 15 minutes minus at
    // most the time between the two parses.
    const diff = now - ago - 15n * 60n * 1_000_000_000n;
    assert.ok(diff <= 0n && -diff <= after - before, `now - (now-15m) is 15 minutes (off by ${diff} ns)`);
    assert.throws(() => parseTimestamp('now-forever'));
    // A relative Timestamp is refused as one (QA round 38c: a Duration error, GW_BAD_ARGUMENT), Grafana's months by name.
    assert.throws(() => parseTimestamp('now-x'), (err: Error & { extensions?: { code?: string } }) => err.extensions?.code === 'GW_BAD_TIME_RANGE' && /Timestamp "now-x" is invalid: "x" is not a duration/.test(err.message));
    assert.throws(() => parseTimestamp('now-1M'), (err: Error & { extensions?: { code?: string } }) => err.extensions?.code === 'GW_BAD_TIME_RANGE' && /months \("M"\) have no fixed length: use days, e\.g\. now-30d/.test(err.message));
    // Bounded by the clock before and after the parse (the clock read first and the parse's own could differ by a tick).
    const WEEK = 7n * 86_400_000_000_000n;
    const beforeWeek = BigInt(Date.now()) * 1_000_000n;
    const weekAgo = parseTimestamp('now-1w');
    const afterWeek = BigInt(Date.now()) * 1_000_000n;
    assert.ok(weekAgo >= beforeWeek - WEEK && weekAgo <= afterWeek - WEEK, 'Grafana\'s now-1w');
  });

  test('an ISO 8601 string with nine fraction digits keeps every nanosecond', () => {
    assert.equal(parseTimestamp('2026-11-22T03:23:27.123456789Z'), NS);
  });

  test('output is ISO 8601 in UTC with all nine fraction digits', () => {
    assert.equal(formatTimestamp(NS), '2026-11-22T03:23:27.123456789Z');
    assert.equal(formatTimestamp(0n), '1970-01-01T00:00:00.000000000Z');
    assert.equal(formatTimestamp(parseTimestamp('2026-11-22T03:23:27Z')), '2026-11-22T03:23:27.000000000Z');
  });

  test('parsing the output gives back the same nanoseconds', () => {
    for (const ns of [NS, 1n, 999_999_999n, 1_700_000_000_000_000_001n]) assert.equal(parseTimestamp(formatTimestamp(ns)), ns);
  });

  test('ISO 8601 accepts shorter fractions, offsets, a space separator and a bare date', () => {
    assert.equal(parseTimestamp('2026-11-22T03:23:27.1Z'), 1_795_317_807_100_000_000n);
    assert.equal(parseTimestamp('2026-11-22T03:23:27.123456Z'), 1_795_317_807_123_456_000n);
    assert.equal(parseTimestamp('2026-11-22T05:23:27.123456789+02:00'), NS);
    assert.equal(parseTimestamp('2026-11-22T01:23:27.123456789-0200'), NS);
    assert.equal(parseTimestamp('2026-11-22 03:23:27.123456789z'), NS);
    assert.equal(parseTimestamp('2026-11-22T03:23Z'), 1_795_317_780_000_000_000n);
    assert.equal(parseTimestamp('2026-11-22'), 1_795_305_600_000_000_000n);
  });

  test('a number is epoch milliseconds, and a fraction keeps microseconds', () => {
    assert.equal(parseTimestamp(1_795_317_807_123), 1_795_317_807_123_000_000n);
    assert.equal(parseTimestamp(1_795_317_807_123.456), 1_795_317_807_123_456_000n);
    assert.equal(parseTimestamp(0), 0n);
  });

  test('a string of up to 13 digits is epoch milliseconds', () => {
    assert.equal(parseTimestamp('1795317807123'), 1_795_317_807_123_000_000n);
    assert.equal(parseTimestamp('1795317807123.456789'), NS);
    assert.equal(parseTimestamp('5'), 5_000_000n);
    assert.equal(parseTimestamp('9223372036854'), 9_223_372_036_854_000_000n);
  });

  test('a string of 18 or 19 digits is epoch nanoseconds', () => {
    assert.equal(parseTimestamp('1795317807123456789'), NS);
    assert.equal(parseTimestamp('100000000000000000'), 100_000_000_000_000_000n, '1973-03-03T09:46:40Z');
  });

  test('a bigint passes through as nanoseconds', () => {
    assert.equal(parseTimestamp(NS), NS);
  });

  test('10, 14, 15 and 17 digits are rejected as a likely unit mistake', () => {
    // Grafana's ${__from:date:seconds}: read as milliseconds it was January 1970, and a search from
    // it covered everything stored.
    for (const seconds of [1_795_317_807, '1795317807', '1795317807.5']) {
      rejects(() => parseTimestamp(seconds), 'GW_BAD_TIME_RANGE', /10 digits look like epoch seconds; send epoch milliseconds/);
    }
    assert.equal(parseTimestamp(0), 0n, 'the epoch itself is still a time');
    for (const digits of ['17953178071234', '179531780712345', 17_953_178_071_234, '17953178071234567', '17953178071234567.8']) {
      rejects(() => parseTimestamp(digits), 'GW_BAD_TIME_RANGE', /1[457] digits are no epoch unit of these years; use up to 13 digits for epoch milliseconds or a string of 18–19 digits for epoch nanoseconds/);
    }
  });

  test('16 digits are refused as epoch microseconds (Jaeger\'s API), as a string, a number or a literal Int', () => {
    // 2026-12-06T10:00:00Z in microseconds, as a Jaeger URL's start= has it: read as nanoseconds it
    // was 1970-01-21T19:02:31.2Z, and a search from it covered everything stored.
    for (const micros of ['1796551200000000', 1_796_551_200_000_000, '1796551200000000.5', '1000000000000000']) {
      rejects(() => parseTimestamp(micros), 'GW_BAD_TIME_RANGE', /16 digits look like epoch microseconds \(Jaeger's API uses them\); send epoch milliseconds \(up to 13 digits\), epoch nanoseconds \(a string of 18–19 digits\) or ISO 8601/);
    }
    assert.equal(parseTimestamp('1796551200000000000'), 1_796_551_200_000_000_000n, 'the same instant in nanoseconds');
  });

  test('malformed and out-of-range timestamps are rejected with GW_BAD_TIME_RANGE', () => {
    const cases: [unknown, RegExp][] = [
      ['yesterday', /expected epoch milliseconds .* or now \/ now-15m \(GW_BAD_TIME_RANGE\)$/],
      // Grafana's rounding: refused by name, not as a bad duration "1h/h".
      ['now/d', /rounding \("\/d", "\/h"\) is not supported/],
      ['now-1h/h', /rounding .* is not supported: send the instant/],
      ['', /expected epoch milliseconds/],
      ['2026-11-22T03:23:27', /needs an offset/],
      ['2026-11-22T03:23:27.1234567891Z', /expected epoch milliseconds/],
      ['2026-02-30T00:00:00Z', /out of range/],
      ['2026-13-01', /out of range/],
      ['2026-11-22T24:00:00Z', /out of range/],
      ['2026-11-22T03:60:00Z', /out of range/],
      ['2026-11-22T03:23:27+25:00', /offset is out of range/],
      ['1969-12-31T23:59:59Z', /between 1970/],
      ['2263-01-01T00:00:00Z', /between 1970/],
      ['99999999999999999999', /expected epoch milliseconds/],
      ['9999999999999999999', /between 1970/],
      ['9999999999999', /between 1970/],
      [-1, /between 1970/],
      // toFixed writes these in exponent form: they must still get the range message (fuzz, seed 1414).
      [1e21, /between 1970/],
      [1e308, /between 1970/],
      [-1e308, /between 1970/],
      [Number.NaN, /finite/],
      [Number.POSITIVE_INFINITY, /finite/],
      [true, /expected epoch milliseconds/],
      [null, /expected epoch milliseconds/],
      [{}, /expected epoch milliseconds/],
      ['-5', /expected epoch milliseconds/],
      ['1e12', /expected epoch milliseconds/],
    ];
    for (const [input, pattern] of cases) rejects(() => parseTimestamp(input), 'GW_BAD_TIME_RANGE', pattern);
  });

  test('the error message quotes the input and names the code', () => {
    rejects(() => parseTimestamp('nope'), 'GW_BAD_TIME_RANGE', /^Timestamp "nope" is invalid: .*\(GW_BAD_TIME_RANGE\)$/);
  });
});

describe('Duration', () => {
  test('every unit is accepted', () => {
    assert.equal(parseDuration('20ns'), 20n);
    assert.equal(parseDuration('100us'), 100_000n);
    assert.equal(parseDuration('100µs'), 100_000n);
    assert.equal(parseDuration('250ms'), 250_000_000n);
    assert.equal(parseDuration('2s'), 2_000_000_000n);
    assert.equal(parseDuration('5m'), 300_000_000_000n);
    assert.equal(parseDuration('2h'), 7_200_000_000_000n);
    assert.equal(parseDuration('1d'), 86_400_000_000_000n);
    // Prometheus' and Grafana's weeks and years ($__interval and now-1w): they were refused.
    assert.equal(parseDuration('1w'), 7n * 86_400_000_000_000n);
    assert.equal(parseDuration('1y2w'), 379n * 86_400_000_000_000n);
  });

  test('units combine and take fractions', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000_000_000n);
    assert.equal(parseDuration('1.5s'), 1_500_000_000n);
    assert.equal(parseDuration('1m0.000000001s'), 60_000_000_001n);
    assert.equal(parseDuration('0.0000005ms'), 1n);
  });

  test('a number or a numeric string is milliseconds', () => {
    assert.equal(parseDuration(250), 250_000_000n);
    assert.equal(parseDuration(0.5), 500_000n);
    assert.equal(parseDuration(0), 0n);
    assert.equal(parseDuration('250'), 250_000_000n);
    assert.equal(parseDuration('1.234567'), 1_234_567n);
    assert.equal(parseDuration(9_223_372_036_854), 9_223_372_036_854_000_000n);
  });

  test('durations past 2^63-1 ns (~292 years) are rejected, however written', () => {
    // Found by the fuzzer (seed 1414): these reached DuckDB as out-of-range BIGINTs, or (1e21 ms and
    // up, which toFixed writes in exponent form) failed to convert, and came back as internal errors.
    for (const input of [1e21, 1e308, 9_223_372_036_855, '99999999999h', '9223372036854775808ns', 9_223_372_036_854_775_808n]) {
      rejects(() => parseDuration(input), 'GW_BAD_ARGUMENT', /at most 9223372036854775807ns/);
    }
    assert.equal(parseDuration('9223372036854775807ns'), 9_223_372_036_854_775_807n);
  });

  test('malformed and negative durations are rejected with GW_BAD_ARGUMENT', () => {
    for (const input of ['', 'fast', '5', '-5ms', '5 ms', '5msx', 'ms', '1.s', '5M', '1Y'].filter((i) => i !== '5')) {
      rejects(() => parseDuration(input), 'GW_BAD_ARGUMENT', /^Duration .* is invalid: .*\(GW_BAD_ARGUMENT\)$/);
    }
    for (const input of [-1, Number.NaN, Number.POSITIVE_INFINITY, -1n, true, null, {}]) {
      rejects(() => parseDuration(input), 'GW_BAD_ARGUMENT', /is invalid/);
    }
  });

  test('output uses the largest fitting unit and parses back to the same value', () => {
    const cases: [bigint, string][] = [
      [0n, '0ns'],
      [20n, '20ns'],
      [100_000n, '100us'],
      [1_500n, '1.5us'],
      [1_234_000n, '1.234ms'],
      [1_234_567n, '1.234567ms'],
      [1_500_000_000n, '1.5s'],
      [60_000_000_000n, '1m'],
      [5_400_000_000_000n, '1h30m'],
      [3_600_000_000_001n, '1h0.000000001s'],
      [3_661_500_000_000n, '1h1m1.5s'],
    ];
    for (const [ns, text] of cases) {
      assert.equal(formatDuration(ns), text);
      assert.equal(parseDuration(text), ns);
    }
  });
});

test('nsToMs keeps whole milliseconds exact: a time of today is past 2^53 ns', () => {
  // Number(ns) / 1e6 gave 1796400728553.9998 for …554000000 (Grafana's links and joins missed the record).
  assert.equal(nsToMs(1_796_400_728_554_000_000n), 1_796_400_728_554);
  assert.equal(nsToMs(1_796_400_728_554_250_000n), 1_796_400_728_554.25);
  for (let ms = 1_796_400_728_000n; ms < 1_796_400_728_000n + 2000n; ms++) assert.equal(nsToMs(ms * 1_000_000n), Number(ms));
  assert.equal(nsToMs(1_500_000n), 1.5);
});
