// Quantile estimates and the subtraction of cumulative histograms, against hand-computed values
// (Prometheus' histogram_quantile: linear within the bucket the rank falls in).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addObservations, exponentialBuckets, observedSince, quantileOf, summaryQuantile, type Observations } from '../../../src/stores/duckdb/histogram-steps.ts';

const exp = (scale: number, positive: number[], negative: number[] = [], zeroCount = 0, zeroThreshold = 0, offsets: [number, number] = [0, 0]) =>
  exponentialBuckets({ scale, zeroCount, zeroThreshold, positive: { offset: offsets[0], bucketCounts: positive }, negative: { offset: offsets[1], bucketCounts: negative } });

test('explicit buckets: the lowest bucket starts at 0, a rank past the bounds gives the highest bound', () => {
  const b = { kind: 'explicit' as const, bounds: [1, 2, 4], counts: [2, 2, 0, 4] };
  assert.equal(quantileOf(b, 0.25), 1);
  assert.equal(quantileOf(b, 0.375), 1.5);
  assert.equal(quantileOf(b, 0.9), 4);
  assert.equal(quantileOf({ kind: 'explicit', bounds: [-1, 1], counts: [4, 0, 0] }, 0.5), -1, 'a first bound at or below 0 is the answer');
  assert.equal(quantileOf({ kind: 'explicit', bounds: [], counts: [5] }, 0.5), null, 'a single +Inf bucket tells nothing');
  assert.equal(quantileOf({ kind: 'explicit', bounds: [1], counts: [0, 0] }, 0.5), null, 'no observations');
});

test('exponential buckets: negative ones first, then the zero bucket, then positive ones', () => {
  // Scale 0: bucket i holds (2^i, 2^(i+1)]; negative bucket i holds [-2^(i+1), -2^i).
  const b = exp(0, [2], [2], 4, 0.5);
  // Ranks 0–2 are in [-2, -1), 2–6 in the zero bucket [-0.5, 0.5], 6–8 in (1, 2].
  assert.equal(quantileOf(b, 0.125), -1.5);
  assert.equal(quantileOf(b, 0.5), 0);
  assert.equal(quantileOf(b, 1), 2);
  // With only positive buckets, the zero bucket starts at 0.
  assert.equal(quantileOf(exp(0, [4], [], 4, 0.5), 0.25), 0.25);
});

test('a cumulative histogram less an earlier one at a finer scale is subtracted at the coarser scale', () => {
  const earlier: Observations = { count: 4, sum: 6, buckets: exp(1, [2, 2]) };
  const later: Observations = { count: 12, sum: 30, buckets: exp(0, [8, 4]) };
  const d = observedSince(later, earlier)!;
  assert.deepEqual([d.count, d.sum], [8, 24]);
  assert.deepEqual(d.buckets, exp(0, [4, 4]));
  // A bucket that went down is a reset, not an observation.
  assert.equal(observedSince({ count: 12, sum: 30, buckets: exp(0, [1, 11]) }, earlier), undefined);
  assert.equal(observedSince({ count: 3, sum: 1, buckets: exp(0, [3]) }, earlier), undefined);
});

test('adding observations with different explicit bounds leaves no quantile, but the count and sum', () => {
  const a: Observations = { count: 2, sum: 3, buckets: { kind: 'explicit', bounds: [1], counts: [1, 1] } };
  const b: Observations = { count: 1, sum: 5, buckets: { kind: 'explicit', bounds: [2], counts: [0, 1] } };
  const both = addObservations(a, b);
  assert.deepEqual([both.count, both.sum, both.buckets], [3, 8, null]);
  assert.equal(quantileOf(both.buckets, 0.5), null);
});

test('a summary answers only a quantile it carries', () => {
  const qs = [{ quantile: 0.5, value: 3 }, { quantile: 0.99, value: null }];
  assert.equal(summaryQuantile(qs, 0.5), 3);
  assert.equal(summaryQuantile(qs, 0.9), null);
  assert.equal(summaryQuantile(qs, 0.99), null, 'a NaN quantile stays unknown');
});
