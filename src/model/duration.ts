// Duration text, one grammar for every place that reads one (GraphQL `Duration`, alert rules,
// retention windows, the tail CLI): Go-style units `ns us µs ms s m h d`, plus Prometheus' and
// Grafana's `w` (7 days) and `y` (365 days), combinable (`1h30m`) and fractional (`1.5s`). Callers
// add their own error wording and their own extra forms.

export const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 7n * 86_400_000_000_000n,
  y: 365n * 86_400_000_000_000n,
};
const DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|μs|ms|s|m|h|d|w|y))+$/;
const DURATION_PART = /(\d+)(?:\.(\d+))?(ns|us|µs|μs|ms|s|m|h|d|w|y)/g;

/** Fractional decimal `whole.frac` times `unit`, rounded half-up to an integer. */
export function decimalTimes(whole: string, frac: string, unit: bigint): bigint {
  const scale = 10n ** BigInt(frac.length);
  const scaled = (BigInt(whole) * scale + BigInt(frac || '0')) * unit;
  return (scaled * 2n + scale) / (2n * scale);
}

/** Nanoseconds of a unit text such as "250ms" or "1h30m"; undefined when it is not one. */
export function unitDurationNs(text: string): bigint | undefined {
  const s = text.trim();
  if (!DURATION.test(s)) return undefined;
  let total = 0n;
  for (const [, whole = '0', frac = '', unit = 'ns'] of s.matchAll(DURATION_PART)) total += decimalTimes(whole, frac, UNIT_NS[unit] ?? 1n);
  return total;
}
