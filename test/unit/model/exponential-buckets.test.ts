// Bucket maps as dense arrays. Found in review: the lowest and highest index were found by spreading
// every index into Math.min/Math.max, which throws RangeError past ~120,000 arguments, and one
// data point may hold that many buckets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketSpan, toExponentialBuckets, type BucketCounts } from '../../../src/model/exponential-buckets.ts';

test('a dense array from the lowest to the highest index, whatever the number of buckets', () => {
  assert.equal(bucketSpan(new Map()), 0);
  assert.deepEqual(toExponentialBuckets(new Map([[3, 2], [-1, 5]])), { offset: -1, bucketCounts: [5, 0, 0, 0, 2] });
  const many: BucketCounts = new Map();
  for (let i = 0; i < 300_000; i++) many.set(i - 150_000, 1);
  assert.equal(bucketSpan(many), 300_000);
  const dense = toExponentialBuckets(many);
  assert.equal(dense.offset, -150_000);
  assert.equal(dense.bucketCounts.length, 300_000);
});
