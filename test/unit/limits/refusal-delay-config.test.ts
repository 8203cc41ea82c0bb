// limits.refusalDelay in the config: defaults, env vars, and refusals of bad values with a clear message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/config/merge.ts';

test('the tarpit is on by default: 32 refusals at once per window, then held at most 5 s, 1,000 in all, 64 per tenant', () => {
  assert.deepEqual(loadConfig({ env: {} }).limits.refusalDelay, { afterRefusals: 32, maxMs: 5000, maxHeld: 1000, maxHeldPerTenant: 64 });
});

test('every key has its env var', () => {
  const cfg = loadConfig({
    env: { TELEQL_REFUSAL_DELAY_MAX_MS: '0', TELEQL_REFUSAL_DELAY_AFTER_REFUSALS: '8', TELEQL_REFUSAL_DELAY_MAX_HELD: '10', TELEQL_REFUSAL_DELAY_MAX_HELD_PER_TENANT: '2' },
  });
  assert.deepEqual(cfg.limits.refusalDelay, { afterRefusals: 8, maxMs: 0, maxHeld: 10, maxHeldPerTenant: 2 });
});

test('bad values are refused naming the key', () => {
  assert.throws(() => loadConfig({ env: {}, overrides: { limits: { refusalDelay: { maxMs: 60_001 } } } }), (err: Error) => err instanceof ConfigError && /limits\.refusalDelay\.maxMs: expected at most 60000/.test(err.message));
  assert.throws(() => loadConfig({ env: {}, overrides: { limits: { refusalDelay: { maxHeld: -1 } } } }), /limits\.refusalDelay\.maxHeld: expected an integer of 0 or more/);
  assert.throws(() => loadConfig({ env: {}, overrides: { limits: { refusalDelay: { afterRefusals: 1.5 } } } }), /limits\.refusalDelay\.afterRefusals/);
  assert.throws(() => loadConfig({ env: {}, overrides: { limits: { refusalDelay: { maxDelay: 5 } } } }), /unknown key "maxDelay"/);
});
