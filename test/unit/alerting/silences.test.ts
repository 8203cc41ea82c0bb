import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkMatchers, fingerprint, newSilence, silenceActive, silenceMatches } from '../../../src/alerting/silences.ts';

const labels = { alertname: 'Errors', service: 'checkout', operation: 'POST /pay' };

test('matchers work as in Alertmanager: =, !=, =~ and !~ anchored, a missing label reads as empty', () => {
  // Matching alone (as alertEvents filters use it): newSilence also refuses matchers that all match "".
  const s = (matchers: unknown) => ({ id: 's', tenant: 't', matchers: checkMatchers(matchers), startsAt: 0n, endsAt: 10n, createdBy: '', comment: '' });
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
  assert.throws(() => newSilence('t', { matchers: [{ name: 'a', value: 'b', type: '=' }], startsAt: 5n, endsAt: 5n }, 0n), /endsAt .* must be after startsAt/);
});

test('silences Alertmanager refuses are refused: a matcher on a name no label has, matchers that all match the empty string, a past end', () => {
  // Found by QA: alertname=~".*" was accepted and muted every alert of the tenant; bad-name="x" was
  // accepted and never matched anything.
  const a = (name: string, value: string, type: string) => ({ name, value, type });
  assert.throws(() => checkMatchers([a('bad-name', 'x', '=')]), /^AlertingError: matchers\[0\]\.name: a label name must match \[a-zA-Z_\]\[a-zA-Z0-9_\]\* \(actual: "bad-name"\)$/);
  const emptyOnly = /^AlertingError: matchers: at least one matcher must not match the empty string \(as in Alertmanager\)/;
  for (const matchers of [[a('alertname', '.*', '=~')], [a('alertname', '', '=')], [a('severity', 'page', '!='), a('team', 'x|', '=~')]]) {
    assert.throws(() => newSilence('t', { matchers, duration: 60n }, 0n), emptyOnly, JSON.stringify(matchers));
  }
  assert.ok(newSilence('t', { matchers: [a('alertname', '.*', '=~'), a('service', 'checkout', '=')], duration: 60n }, 0n));
  assert.throws(() => newSilence('t', { matchers: [a('alertname', 'X', '=')], duration: 0n }, 0n), /^AlertingError: duration: must be greater than 0$/);
  const now = 1_764_000_000_000_000_000n;
  assert.throws(
    () => newSilence('t', { matchers: [a('alertname', 'X', '=')], endsAt: now - 1_000_000_000n }, now),
    /^AlertingError: endsAt \(2025-11-24T15:59:59\.000Z\) must be after startsAt \(2025-11-24T16:00:00\.000Z, now\)$/,
  );
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
