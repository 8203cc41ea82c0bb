// Exponential-histogram buckets as index → count maps, and the two changes that adding histograms
// of different resolution needs: lowering the scale (2^by neighbouring buckets become one) and
// widening the zero bucket (buckets wholly inside it move into the zero count).
import type { ExponentialBuckets } from './telemetry.ts';

export type BucketCounts = Map<number, number>;

/**
 * The index that bucket `index` falls into at a scale `by` lower. Bucket i at scale s holds
 * (base^i, base^(i+1)] with base = 2^(2^-s); at scale s - by the base is squared `by` times, so the
 * index is i / 2^by rounded down (down for negative indices too).
 */
export function downscaleIndex(index: number, by: number): number {
  return Math.floor(index / 2 ** by);
}

export function toBucketCounts(buckets: ExponentialBuckets): BucketCounts {
  const out: BucketCounts = new Map();
  buckets.bucketCounts.forEach((c, k) => {
    if (c !== 0) out.set(buckets.offset + k, c);
  });
  return out;
}

export function downscale(counts: BucketCounts, by: number): BucketCounts {
  if (by === 0) return counts;
  const out: BucketCounts = new Map();
  for (const [index, c] of counts) {
    const j = downscaleIndex(index, by);
    out.set(j, (out.get(j) ?? 0) + c);
  }
  return out;
}

export function addInto(into: BucketCounts, counts: BucketCounts): void {
  for (const [index, c] of counts) into.set(index, (into.get(index) ?? 0) + c);
}

/** Removes the buckets whose upper bound is at most `threshold` and returns their total count. */
export function takeBelow(counts: BucketCounts, scale: number, threshold: number): number {
  if (threshold <= 0) return 0;
  let taken = 0;
  for (const [index, c] of counts) {
    if (2 ** ((index + 1) * 2 ** -scale) <= threshold) {
      taken += c;
      counts.delete(index);
    }
  }
  return taken;
}

/** How many buckets a dense array from the lowest to the highest index needs. */
export function bucketSpan(counts: BucketCounts): number {
  if (counts.size === 0) return 0;
  const { lowest, highest } = indexRange(counts);
  return highest - lowest + 1;
}

/** The lowest and highest bucket index (loops, not spreads: a point may hold more buckets than a call takes arguments). */
function indexRange(counts: BucketCounts): { lowest: number; highest: number } {
  let lowest = Infinity;
  let highest = -Infinity;
  for (const index of counts.keys()) {
    if (index < lowest) lowest = index;
    if (index > highest) highest = index;
  }
  return { lowest, highest };
}

export function toExponentialBuckets(counts: BucketCounts): ExponentialBuckets {
  if (counts.size === 0) return { offset: 0, bucketCounts: [] };
  const offset = indexRange(counts).lowest;
  const bucketCounts = new Array<number>(bucketSpan(counts)).fill(0);
  for (const [index, c] of counts) bucketCounts[index - offset] = c;
  return { offset, bucketCounts };
}
