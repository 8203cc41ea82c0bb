import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkMatchers, fingerprint, newSilence, silenceActive, silenceMatches } from '../../../src/alerting/silences.ts';

const labels = { alertname: 'Errors', service: 'checkout', operation: 'POST /pay' };

test('matchers work as in Alertmanager: =, !=, =~ and !~ anchored, a missing label reads as empty', () => {
  const s = (matchers: unknown) => newSilence('t', { matchers, endsAt: 10n }, 0n);
  assert.ok(silenceMatches(s([{ name: 'service', value: 'checkout', type: '=' }]), labels));
  assert.ok(!silenceMatches(s([{ name: 'service', value: 'check', type: '=' }]), labels));
  assert.ok(silenceMatches(s([{ name: 'service', value: 'cart', type: '!=' }]), labels));
  assert.ok(silenceMatches(s([{ name: 'operation', value: 'POST .*', type: '=~' }]), labels));
  assert.ok(!silenceMatches(s([{ name: 'operation', value: 'POST', type: '=~' }]), labels), 'anchored at both ends');
  assert.ok(silenceMatches(s([{ name: 'operation', value: 'GET .*', type: '!~' }]), labels));
  assert.ok(silenceMatches(s([{ name: 'team', value: '', type: '=' }]), labels), 'missing label is ""');
  assert.ok(!silenceMatches(s([{ name: 'service', value: 'checkout', type: '=' }, { name: 'team', value: 'x', type: '=' }]), labels), 'all must match');
});

test('a silence is active from startsAt until (not including) endsAt', () => {
  const s = newSilence('t', { matchers: [{ name: 'a', value: 'b', type: '=' }], startsAt: 5n, endsAt: 10n }, 0n);
  assert.deepEqual([4n, 5n, 9n, 10n].map((t) => silenceActive(s, t)), [false, true, true, false]);
});

test('bad silences are refused with the matcher named', () => {
  assert.throws(() => checkMatchers([]), /at least one matcher/);
  assert.throws(() => checkMatchers([{ name: 'a', value: 'x', type: '~' }]), /matchers\[0\]\.type/);
  assert.throws(() => checkMatchers([{ name: 'a', value: '(', type: '=~' }]), /matchers\[0\]\.value: invalid regex/);
  assert.throws(() => newSilence('t', { matchers: [{ name: 'a', value: 'b', type: '=' }], startsAt: 5n, endsAt: 5n }, 0n), /endsAt must be after startsAt/);
});

test('the fingerprint depends on the rule and the label set, not on label order', () => {
  assert.equal(fingerprint('r1', { a: '1', b: '2' }), fingerprint('r1', { b: '2', a: '1' }));
  assert.notEqual(fingerprint('r1', { a: '1' }), fingerprint('r2', { a: '1' }));
  assert.notEqual(fingerprint('r1', { a: '1' }), fingerprint('r1', { a: '2' }));
});

test('regex matchers are RE2 as in Alertmanager: no pattern backtracks on the event loop, and none escapes its anchors', () => {
  // A silence `service=~"(a{1,30})+"` against a 27-letter service took ~5 s per evaluation (the
  // matcher was a plain JavaScript regex), stalling every tenant's ingest and queries.
  assert.throws(() => checkMatchers([{ name: 'service', value: '(a{1,30})+', type: '=~' }]), /matchers\[0\]\.value: invalid regex "\(a\{1,30\}\)\+": .*nested/);
  const s = (value: string) => newSilence('t', { matchers: [{ name: 'service', value, type: '=~' }], endsAt: 10n }, 0n);
  const hostile = { service: `${'a'.repeat(40)}!` };
  const started = performance.now();
  assert.equal(silenceMatches(s('(a+)+'), hostile), false);
  assert.ok(performance.now() - started < 1000, 'not a speed check: backtracking took seconds here');
  // Wrapped as ^(?:…)$ by hand, `x)|(?:.*` matched every value.
  assert.throws(() => checkMatchers([{ name: 'service', value: 'x)|(?:.*', type: '=~' }]), /matchers\[0\]\.value: invalid regex/);
  assert.ok(silenceMatches(s('(?i)CHECK.*'), { service: 'checkout' }), 'RE2 flags work');
});
