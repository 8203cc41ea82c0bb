// A cumulative counter, histogram or summary whose start time moves past its last point has
// restarted (its process restarted). When the new value is already above the last one, Prometheus
// cannot see that: rate() and increase() count new − old. So a zero sample is written between the
// new start time and the new point, and PromQL sees the reset, as Prometheus does with a scraped
// created timestamp (created-timestamp-zero-ingestion). Remote write 1.0 has no field for a start
// time, and a `{name}_created` series would not change what rate() and increase() count.
// - The zero sample is 1 ms before the new point rather than at the start time: the reset then falls
//   in the step of the new point, as a reset to a lower value does, and the Prometheus metric store's
//   steps stay exact wherever they were (a step with a reset after its first sample is not).
// - Per series, the last start and point time are kept in memory, bounded (`maxSeries`, least
//   recently updated forgotten first); a series seen for the first time (also after a restart of
//   the gateway) gets no zero sample, as its last point is not known.
// - Gauges and non-monotonic sums are not counters: no zero sample.
// - Points made cumulative from deltas keep one start time, so they never get one either.
import type { MetricPoint, MetricPointValue } from '../../../src/model/telemetry.ts';
import { Temporality } from '../../../src/model/telemetry.ts';
import { seriesKey } from './delta-to-cumulative.ts';

const NO_RECORDED_VALUE = 1; // DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK
const nsToMs = (ns: bigint): bigint => ns / 1_000_000n;

export interface StartResets {
  /** The points, each restarted series' point preceded by a zero point at its start time. */
  mark(points: readonly MetricPoint[]): { points: MetricPoint[]; zeroPoints: number };
  /** Series whose start time is in memory. */
  size(): number;
}

/** The point as it was at its start (nothing counted yet), at `timeUnixNano`. */
function zeroPoint(point: MetricPointValue, timeUnixNano: bigint): MetricPointValue {
  const at = { timeUnixNano, flags: 0 };
  switch (point.type) {
    case 'number': {
      const { asInt: _int, ...rest } = point;
      return { ...rest, ...at, asDouble: 0, exemplars: [] };
    }
    case 'histogram': {
      const { min: _min, max: _max, ...rest } = point;
      return { ...rest, ...at, count: 0, bucketCounts: point.bucketCounts.map(() => 0), ...(point.sum !== undefined && { sum: 0 }), exemplars: [] };
    }
    case 'exponentialHistogram': {
      const { min: _min, max: _max, ...rest } = point;
      return {
        ...rest, ...at, count: 0, zeroCount: 0, ...(point.sum !== undefined && { sum: 0 }),
        positive: { offset: 0, bucketCounts: [] }, negative: { offset: 0, bucketCounts: [] }, exemplars: [],
      };
    }
    case 'summary':
      return { ...point, ...at, count: 0, sum: 0, quantileValues: [] };
  }
}

export function createStartResets(opts: { maxSeries: number }): StartResets {
  const states = new Map<string, { startNs: bigint; lastNs: bigint }>();
  return {
    size: () => states.size,
    mark(points) {
      const out: MetricPoint[] = [];
      let zeroPoints = 0;
      for (const mp of points) {
        const { metric, point } = mp;
        const counts = metric.type === 'histogram' || metric.type === 'exponentialHistogram' || metric.type === 'summary' || (metric.type === 'sum' && metric.isMonotonic);
        if (!counts || metric.aggregationTemporality === Temporality.DELTA || (point.flags & NO_RECORDED_VALUE) !== 0) {
          out.push(mp);
          continue;
        }
        const key = seriesKey(mp);
        const prev = states.get(key);
        if (prev && point.timeUnixNano <= prev.lastNs) {
          out.push(mp); // out of order: Prometheus decides; the state stays with the newest point
          continue;
        }
        // Compared in milliseconds, Prometheus' resolution: the zero sample needs a time of its own.
        const startMs = nsToMs(point.startTimeUnixNano);
        if (prev && point.startTimeUnixNano !== prev.startNs && startMs > nsToMs(prev.lastNs) && startMs < nsToMs(point.timeUnixNano)) {
          out.push({ ...mp, point: zeroPoint(point, (nsToMs(point.timeUnixNano) - 1n) * 1_000_000n) });
          zeroPoints++;
        }
        states.delete(key); // re-inserted last: Map order is then least recently updated first
        states.set(key, { startNs: point.startTimeUnixNano, lastNs: point.timeUnixNano });
        while (states.size > opts.maxSeries) states.delete(states.keys().next().value!);
        out.push(mp);
      }
      return { points: out, zeroPoints };
    },
  };
}
