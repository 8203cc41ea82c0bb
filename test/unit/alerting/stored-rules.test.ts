// Rules as earlier versions stored them (alert_rules.definition): one this version refuses is kept
// and marked broken with the reason, never thrown (which stopped the gateway at start).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStoredRule, ruleToPlain } from '../../../src/alerting/rules.ts';

const stored = (extra: Record<string, unknown>) =>
  JSON.stringify({ id: 'r1', name: 'Old', kind: 'LOG_COUNT', threshold: 3, comparator: 'GT', window: '5m', for: '0s', interval: '1m', receivers: ['ops'], groupBy: ['alertname'], repeatInterval: '4h', ...extra });

test('a stored rule this version takes is not broken', () => {
  const rule = parseStoredRule(stored({ filter: { attributes: [{ key: 'user', op: 'regex', value: '(?P<who>u)1' }] } }), { tenant: 't', id: 'r1' });
  assert.equal(rule.broken, undefined);
});

test('a stored rule whose filter regex is refused now is broken, with the reason, and lists as it was stored', () => {
  for (const regex of ['(?<who>u)1', 'a{0,1000}b{0,1000}c{0,1000}']) {
    const rule = parseStoredRule(stored({ filter: { attributes: [{ key: 'user', op: 'regex', value: regex }] } }), { tenant: 't', id: 'r1' });
    assert.match(rule.broken ?? '', new RegExp(`^stored rule r1\\.filter: invalid regex ${JSON.stringify(regex).replace(/[()?{},]/g, '\\$&')}`));
    assert.deepEqual(ruleToPlain(rule).filter, { attributes: [{ key: 'user', op: 'regex', value: regex }] });
    assert.equal(rule.threshold, 3);
    assert.deepEqual(rule.receivers, ['ops']);
  }
});

test('a stored NO_DATA rule on metrics with a filter (dropped by versions that took it) is broken, listed with its own fields', () => {
  const rule = parseStoredRule(stored({ kind: 'NO_DATA', signal: 'metrics', metric: 'qa.requests', threshold: 0, comparator: 'EQ', filter: { service: ['a'] } }), { tenant: 't', id: 'r1' });
  assert.match(rule.broken ?? '', /filter: a NO_DATA rule on metrics takes no filter/);
  assert.equal(rule.metric, 'qa.requests');
  assert.deepEqual(rule.filter, { service: ['a'] });
});

test('a stored rule even the relaxed reading refuses (a key this version does not know) is listed by its ID and name', () => {
  const rule = parseStoredRule(stored({ newerKey: true }), { tenant: 't', id: 'r1' });
  assert.match(rule.broken ?? '', /^stored rule r1\.newerKey: unknown key/);
  assert.deepEqual([rule.id, rule.tenant, rule.name, rule.kind, rule.source], ['r1', 't', 'Old', 'LOG_COUNT', 'api']);
  const unreadable = parseStoredRule('{not json', { tenant: 't', id: 'r2' });
  assert.deepEqual([unreadable.id, unreadable.name], ['r2', 'r2']);
  assert.notEqual(unreadable.broken, undefined);
});
