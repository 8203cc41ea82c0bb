// A short fuzz round inside `npm test` (the long one is `npm run fuzz`): the gateway runs as its own
// process and gets a fixed sequence (seed 7) of mutated OTLP for every signal, schema-generated
// GraphQL documents and live tails, regex bombs that meet matching data, SQL metacharacters with
// the rows they must find, and good records before bad ones, for at most 30 s of fuzzing. What fails it is in scripts/fuzz.ts; a failure names the case
// and the file with its full input (replay: FUZZ_SEED=7 FUZZ_CASE=<n> npm run fuzz).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnGateway } from '../../scripts/fuzz/gateway-process.ts';
import { FUZZED_GATEWAY_CONFIG, printReport, runFuzz } from '../../scripts/fuzz.ts';

test('360 fuzz cases (seed 7, ≤ 30 s): clean refusals, no hang (/healthz probed from outside), records kept, RSS bounded', { timeout: 180_000 }, async (t) => {
  const gw = await spawnGateway(FUZZED_GATEWAY_CONFIG);
  try {
    // Floods of at most 100,000 invalid items: a million take ~250 MB while decoded (a high-water
    // mark, not a leak; docs/known-gaps.md), which `npm run fuzz` still sends and reports.
    const report = await runFuzz(gw, { seed: 7, iterations: 360, seconds: 30, maxRssGrowthMb: 256, maxFloodItems: 100_000 });
    printReport(report, (line) => t.diagnostic(line));
    assert.deepEqual(report.failures, []);
    assert.ok(report.requests >= 80, `only ${report.requests} cases ran in 30 s`);
  } finally {
    await gw.stop(5_000);
  }
});
