// Parsing and printing of the Timestamp and Duration scalars. Internally both are bigint
// nanoseconds, so a value read from a client survives to the store without losing precision.
import { GatewayError } from '../src/errors.ts';
import { decimalTimes, UNIT_NS, unitDurationNs } from '../src/model/duration.ts';
import { INT64_MAX } from '../src/model/int64.ts';
import { relativeInstant } from '../src/server/request-clock.ts';

const NS_PER_MS = 1_000_000n;

const MS_DIGITS = /^\d{1,13}(\.\d+)?$/;
const NS_DIGITS = /^\d{18,19}$/;
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

function badTimestamp(value: unknown, why: string): GatewayError {
  return new GatewayError(
    'GW_BAD_TIME_RANGE',
    `Timestamp ${JSON.stringify(String(value))} is invalid: ${why} (GW_BAD_TIME_RANGE)`,
  );
}

function inRange(ns: bigint, value: unknown): bigint {
  if (ns < 0n || ns > INT64_MAX) throw badTimestamp(value, 'it must fall between 1970-01-01T00:00:00Z and 2262-04-11T23:47:16Z');
  return ns;
}

/**
 * Whole digits in a unit the scalar does not take, refused rather than read in one it does (a range
 * from such a misread instant silently covers everything, or nothing). 10 digits are epoch seconds
 * (Grafana's `${__from:date:seconds}`) and 16 epoch microseconds (Jaeger's HTTP API) of 2001–2286:
 * read as milliseconds and nanoseconds, early 1970. 14, 15 and 17 digits are no unit of these years
 * (as milliseconds past 2262, as nanoseconds before March 1973). Nanoseconds of 18–19 digits are taken.
 */
function refuseUnitMistake(value: unknown, whole: string): void {
  if (!/^\d+$/.test(whole)) return;
  switch (whole.length) {
    case 10:
      throw badTimestamp(value, '10 digits look like epoch seconds; send epoch milliseconds (Grafana: ${__from}) or ISO 8601');
    case 16:
      throw badTimestamp(
        value,
        '16 digits look like epoch microseconds (Jaeger\'s API uses them); send epoch milliseconds (up to 13 digits), epoch nanoseconds (a string of 18–19 digits) or ISO 8601',
      );
    case 14:
    case 15:
    case 17:
      throw badTimestamp(value, `${whole.length} digits are no epoch unit of these years; use up to 13 digits for epoch milliseconds or a string of 18–19 digits for epoch nanoseconds`);
  }
}

/**
 * Reads a Timestamp input. Accepted forms:
 * - a number: epoch milliseconds (a fraction keeps microseconds; use a string for nanoseconds);
 * - a string of 1–13 digits (optionally with a fraction): epoch milliseconds — what Grafana's
 *   `${__from}` sends;
 * - a string of 18–19 digits: epoch nanoseconds — what OTLP and `startTimeUnixNano` use;
 * - `now` or `now-<duration>` (e.g. `now-15m`), relative to the time of the request (one instant
 *   per request, request-clock.ts; a later page of a search resolves it against its first page's);
 * - ISO 8601 / RFC 3339 with an offset (`Z` or `±hh:mm`) and up to 9 fraction digits, or a bare
 *   date (midnight UTC).
 * 10 digits (epoch seconds), 16 (epoch microseconds), 14, 15 and 17 are refused as a unit mistake
 * (refuseUnitMistake), as a number or a string.
 */
export function parseTimestamp(value: unknown): bigint {
  if (typeof value === 'bigint') return inRange(value, value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw badTimestamp(value, 'epoch milliseconds must be a finite number');
    refuseUnitMistake(value, String(Math.trunc(value)));
    // Whole numbers directly: toFixed writes 1e21 and above in exponent form, which BigInt refuses.
    if (Number.isInteger(value)) return inRange(BigInt(value) * NS_PER_MS, value);
    // A double near 1.7e12 ms resolves ~0.2 µs, so whole microseconds are all it can carry.
    const [whole = '0', frac = ''] = Math.abs(value).toFixed(3).split('.');
    return inRange((value < 0 ? -1n : 1n) * decimalTimes(whole, frac, NS_PER_MS), value);
  }
  if (typeof value !== 'string') throw badTimestamp(value, 'expected epoch milliseconds, epoch nanoseconds or ISO 8601');
  const s = value.trim();
  // Grafana rounds `now/d` down as a range's start and up as its end; a scalar cannot tell which
  // it is, so rounding is refused by name rather than read as a bad duration.
  if (s.startsWith('now') && s.includes('/')) {
    throw badTimestamp(value, 'rounding ("/d", "/h") is not supported: send the instant, e.g. Grafana\'s ${__from} / ${__to} (epoch milliseconds)');
  }
  // Grafana-style relative times, so a saved query keeps meaning "the last 15 minutes".
  const relative = /^now(?:\s*-\s*(\S.*))?$/.exec(s);
  if (relative) return inRange(relativeInstant(relative[1] ? relativeDuration(value, relative[1]) : 0n), value);
  if (MS_DIGITS.test(s)) {
    const [whole = '0', frac = ''] = s.split('.');
    refuseUnitMistake(value, whole);
    return inRange(decimalTimes(whole, frac, NS_PER_MS), value);
  }
  if (NS_DIGITS.test(s)) return inRange(BigInt(s), value);
  refuseUnitMistake(value, s.replace(/\.\d+$/, ''));
  const m = ISO.exec(s);
  if (!m) {
    throw badTimestamp(
      value,
      'expected epoch milliseconds (≤ 13 digits), epoch nanoseconds (18–19 digits), ISO 8601 with an offset, e.g. 2026-01-02T03:04:05.123456789Z, or now / now-15m',
    );
  }
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  if (h !== undefined && zone === undefined) throw badTimestamp(value, 'an ISO 8601 time needs an offset (Z or ±hh:mm)');
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(sec ?? 0);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw badTimestamp(value, 'the date or time is out of range');
  }
  let offsetMinutes = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2));
    if (oh > 23 || om > 59) throw badTimestamp(value, 'the offset is out of range');
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const fracNs = BigInt((frac ?? '').padEnd(9, '0'));
  return inRange(BigInt(ms - offsetMinutes * 60_000) * NS_PER_MS + fracNs, value);
}

/** ISO 8601 in UTC with all nine fraction digits, so the string sorts and keeps nanoseconds. */
export function formatTimestamp(ns: bigint): string {
  const ms = ns / NS_PER_MS;
  const fraction = String(ns % 1_000_000_000n).padStart(9, '0');
  return `${new Date(Number(ms)).toISOString().slice(0, 19)}.${fraction}Z`;
}

/**
 * Milliseconds with the sub-millisecond part as a fraction. Whole milliseconds are divided out as a
 * bigint first: Number(ns) of a time today is past 2^53 and rounds, so an exact ms read back as
 * `…553.9998` (one record in five), off by one for Grafana links and joins.
 */
export function nsToMs(ns: bigint): number {
  return Number(ns / NS_PER_MS) + Number(ns % NS_PER_MS) / 1e6;
}

/** An instant in whole milliseconds since the epoch, rounded down (times are never negative). */
export function epochMs(ns: bigint): number {
  return Number(ns / NS_PER_MS);
}

/**
 * The duration of `now-<duration>`, refused as the Timestamp it is part of (GW_BAD_TIME_RANGE, QA
 * round 38c: it was a Duration error the user never wrote); Grafana's months (`M`) are named, since
 * they have no fixed length.
 */
function relativeDuration(value: unknown, duration: string): bigint {
  if (/^\d+(\.\d+)?M$/.test(duration)) throw badTimestamp(value, 'months ("M") have no fixed length: use days, e.g. now-30d');
  try {
    return parseDuration(duration);
  } catch {
    throw badTimestamp(value, `"${duration}" is not a duration: use units ns, us, ms, s, m, h, d, w or y, e.g. now-15m or now-1h30m`);
  }
}

function badDuration(value: unknown, why: string): GatewayError {
  return new GatewayError('GW_BAD_ARGUMENT', `Duration ${JSON.stringify(String(value))} is invalid: ${why} (GW_BAD_ARGUMENT)`);
}

/**
 * Reads a Duration input: a number of milliseconds (number or numeric string), or Go-style
 * units `ns us µs ms s m h d w y` that may be combined (`1h30m`) and have fractions (`1.5s`).
 * Sub-nanosecond fractions round half-up. At most what a signed 64-bit nanosecond count holds
 * (~292 years): the stores compare durations as BIGINT, and a larger one is a mistake, not a filter.
 */
export function parseDuration(value: unknown): bigint {
  const ns = durationNs(value);
  if (ns > INT64_MAX) throw badDuration(value, `it must be at most ${INT64_MAX}ns (about 292 years)`);
  return ns;
}

function durationNs(value: unknown): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n) throw badDuration(value, 'it must not be negative');
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw badDuration(value, 'milliseconds must be a finite number ≥ 0');
    // Whole numbers directly: toFixed writes 1e21 and above in exponent form, which BigInt refuses.
    if (Number.isInteger(value)) return BigInt(value) * NS_PER_MS;
    const [whole = '0', frac = ''] = value.toFixed(6).split('.');
    return decimalTimes(whole, frac, NS_PER_MS);
  }
  if (typeof value !== 'string') throw badDuration(value, 'expected a number of milliseconds or a string like "250ms" or "1h30m"');
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const [whole = '0', frac = ''] = s.split('.');
    return decimalTimes(whole, frac, NS_PER_MS);
  }
  const ns = unitDurationNs(s);
  if (ns === undefined) {
    throw badDuration(value, 'expected a number of milliseconds or units ns, us, ms, s, m, h, d, w (7d), y (365d) such as "250ms", "1.5s" or "1h30m"');
  }
  return ns;
}

function trimFraction(ns: bigint, unit: bigint, digits: number): string {
  const whole = ns / unit;
  const frac = String(ns % unit).padStart(digits, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : String(whole);
}

/** Go's time.Duration style, using `us` so the result parses back: `20ns`, `1.234ms`, `1h30m`. */
export function formatDuration(ns: bigint): string {
  if (ns < 1_000n) return `${ns}ns`;
  if (ns < 1_000_000n) return `${trimFraction(ns, 1_000n, 3)}us`;
  if (ns < 1_000_000_000n) return `${trimFraction(ns, 1_000_000n, 6)}ms`;
  const hours = ns / UNIT_NS.h!;
  const minutes = (ns % UNIT_NS.h!) / UNIT_NS.m!;
  const rest = ns % UNIT_NS.m!;
  let out = '';
  if (hours > 0n) out += `${hours}h`;
  if (minutes > 0n) out += `${minutes}m`;
  if (rest > 0n || out === '') out += `${trimFraction(rest, 1_000_000_000n, 9)}s`;
  return out;
}
