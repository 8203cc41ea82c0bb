// Runs every test file under test/ with node's own test runner (Node 20 has no --test glob).
// Usage: node scripts/run-tests.mjs [path-substring …]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return find(p);
    return p.endsWith('.test.ts') ? [p] : [];
  });
}
const only = process.argv.slice(2);
const files = find('test').filter((f) => only.length === 0 || only.some((o) => f.includes(o))).sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  [
    // Two files at a time, each in its own process: 328 s instead of 523 s on the 2-core dev machine,
    // 538 s instead of 785 s with two CPU hogs beside it (session 36). TELEQL_TEST_CONCURRENCY=1: one.
    '--import', 'tsx', '--test', `--test-concurrency=${process.env.TELEQL_TEST_CONCURRENCY ?? '2'}`, '--test-timeout=240000',
    '--test-reporter=tap', '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/test-summary-reporter.mjs', '--test-reporter-destination=stdout',
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, TELEQL_LOG_LEVEL: process.env.TELEQL_LOG_LEVEL ?? 'silent' } },
);
process.exit(r.status ?? 1);
