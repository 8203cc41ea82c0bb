import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compare, formatRuleDuration, parseRule, parseRuleDuration, parseStoredRule, ruleToPlain, valueText } from '../../../src/alerting/rules.ts';
import { parseRulesFile } from '../../../src/alerting/rules-file.ts';
import { AlertingError } from '../../../src/alerting/types.ts';

const base = { tenant: 'default', source: 'api' as const, where: 'rule' };

test('durations read and print in the Prometheus style', () => {
  assert.equal(parseRuleDuration('5m', 'for'), 300_000_000_000n);
  assert.equal(parseRuleDuration('1h30m', 'for'), 5_400_000_000_000n);
  assert.equal(parseRuleDuration('250ms', 'for'), 250_000_000n);
  assert.equal(formatRuleDuration(5_400_000_000_000n), '1h30m');
  assert.equal(formatRuleDuration(0n), '0s');
  assert.equal(formatRuleDuration(1_000_000_500n), '1s500ns');
  assert.throws(() => parseRuleDuration('5 minutes', 'rules[0].for'), /rules\[0\]\.for: expected a duration like "30s"/);
});

test('a span error-rate rule gets its defaults and splits by service', () => {
  const r = parseRule({ name: 'Errors', kind: 'SPAN_ERROR_RATE', threshold: 0.05, for: '5m' }, base);
  assert.equal(r.comparator, 'GT');
  assert.equal(r.window, 300_000_000_000n);
  assert.equal(r.interval, 60_000_000_000n);
  assert.equal(r.for, 300_000_000_000n);
  assert.deepEqual(r.by, ['service']);
  assert.deepEqual(r.groupBy, ['alertname']);
  assert.equal(r.tenant, 'default');
});

test('the plain form parses back to the same rule', () => {
  const r = parseRule(
    { name: 'Slow', kind: 'SPAN_LATENCY_QUANTILE', quantile: 0.95, threshold: 250, services: ['api'], by: ['service', 'operation'], labels: { team: 'x' } },
    base,
  );
  assert.deepEqual(parseRule(ruleToPlain(r), base), r);
});

test('invalid rules are refused with the field named', () => {
  const bad = (raw: unknown, pattern: RegExp) =>
    assert.throws(() => parseRule(raw, base), (err: unknown) => err instanceof AlertingError && err.code === 'BAD_RULE' && pattern.test(err.message));
  bad({ kind: 'SPAN_ERROR_RATE', threshold: 1 }, /^rule\.name: a rule needs a name$/);
  bad({ name: 'a', kind: 'CPU', threshold: 1 }, /^rule\.kind: expected one of PROMQL/);
  bad({ name: 'a', kind: 'SPAN_ERROR_RATE' }, /^rule\.threshold/);
  bad({ name: 'a', kind: 'PROMQL', threshold: 1 }, /^rule\.expr/);
  bad({ name: 'a', kind: 'SPAN_ERROR_RATE', threshold: 1, treshold: 2 }, /^rule\.treshold: unknown key/);
  bad({ name: 'a', kind: 'SPAN_LATENCY_QUANTILE', threshold: 1, quantile: 1.5 }, /^rule\.quantile/);
  bad({ name: 'a', kind: 'LOG_COUNT', threshold: 1, by: ['operation'] }, /^rule\.by: log rules/);
  bad({ name: 'a', kind: 'LOG_COUNT', threshold: 1, filter: { kind: [2] } }, /^rule\.filter: /);
  bad({ name: 'a', kind: 'LOG_COUNT', threshold: 1, filter: { attributes: [{ key: 'x', op: 'regex', value: '(' }] } }, /^rule\.filter: invalid regex/);
  bad({ name: 'a', kind: 'NO_DATA', signal: 'metrics' }, /^rule\.metric/);
  bad({ name: 'a', kind: 'SPAN_ERROR_RATE', threshold: 1, interval: '0s' }, /^rule\.interval: expected a duration from 1s to 30d \(actual: 0s\)$/);
});

test('a key the rule\'s kind does not read is refused, not ignored (QA round 37)', () => {
  const refused = (raw: Record<string, unknown>, message: string) =>
    assert.throws(() => parseRule({ name: 'a', threshold: 1, ...raw }, base), (err: unknown) => err instanceof AlertingError && err.code === 'BAD_RULE' && err.message === message);
  refused(
    { kind: 'PROMQL', expr: 'up', services: ['checkout'] },
    'rule.services: a PROMQL rule does not use services (it reads expr); remove it; select the series with label matchers in expr instead',
  );
  refused({ kind: 'LOG_COUNT', operations: ['GET /cart'] }, 'rule.operations: a LOG_COUNT rule does not use operations (it reads services, by, filter); remove it');
  refused({ kind: 'LOG_COUNT', quantile: 0.9 }, 'rule.quantile: a LOG_COUNT rule does not use quantile (it reads services, by, filter); remove it');
  refused({ kind: 'SPAN_ERROR_RATE', expr: 'up' }, 'rule.expr: a SPAN_ERROR_RATE rule does not use expr (it reads services, operations, by, filter); remove it');
  refused({ kind: 'SPAN_ERROR_RATE', signal: 'logs' }, 'rule.signal: a SPAN_ERROR_RATE rule does not use signal (it reads services, operations, by, filter); remove it');
  refused({ kind: 'NO_DATA', operations: ['GET /cart'] }, 'rule.operations: a NO_DATA rule does not use operations (it reads signal, services, by, filter, metric); remove it');
  refused({ kind: 'NO_DATA', signal: 'spans', metric: 'x' }, 'rule.metric: a NO_DATA rule on spans does not use metric (only one on metrics does); remove it, or set signal: metrics');
  refused({ kind: 'NO_DATA', by: ['service'] }, 'rule.by: a NO_DATA rule split by service needs the services to watch (services): a service that sent nothing cannot be found otherwise');
  refused({ kind: 'NO_DATA', services: ['a'], by: ['operation'] }, 'rule.by: a NO_DATA rule can be split by service only (one alert per listed service)');
  // Empty lists and nulls are no value: what GraphQL clients and templated files send for "unset".
  assert.equal(parseRule({ name: 'a', kind: 'PROMQL', expr: 'up', threshold: 1, services: [], operations: null, by: [] }, base).expr, 'up');
  assert.deepEqual(parseRule({ name: 'a', kind: 'NO_DATA', services: ['a', 'b'], by: ['service'] }, base).by, ['service']);
  // The rules file says where.
  assert.throws(
    () => parseRulesFile('rules:\n  - name: CartErrors\n    kind: LOG_COUNT\n    threshold: 0\n    operations: [GET /cart]\n', 'rules.yaml'),
    /^AlertingError: rules\.yaml: rules\[0\] \("CartErrors"\)\.operations: a LOG_COUNT rule does not use operations/,
  );
});

test('interval, window and for are held to sane bounds, the error naming the field and the value', () => {
  // Found by QA: interval 1ms, a window of 0 or of years, a negative for were all accepted.
  const bad = (raw: Record<string, unknown>, message: string) =>
    assert.throws(() => parseRule({ name: 'a', kind: 'LOG_COUNT', threshold: 1, ...raw }, base), (err: unknown) => err instanceof AlertingError && err.code === 'BAD_RULE' && err.message === message);
  bad({ interval: '1ms' }, 'rule.interval: expected a duration from 1s to 30d (actual: 1ms)');
  bad({ interval: '999ms' }, 'rule.interval: expected a duration from 1s to 30d (actual: 999ms)');
  bad({ interval: '31d' }, 'rule.interval: expected a duration from 1s to 30d (actual: 31d)');
  bad({ window: '0s' }, 'rule.window: expected a duration from 1s to 30d (actual: 0s)');
  bad({ window: 500_000_000n }, 'rule.window: expected a duration from 1s to 30d (actual: 500ms)');
  bad({ window: '1y' }, 'rule.window: expected a duration from 1s to 30d (actual: 365d)');
  bad({ window: '-5m' }, 'rule.window: must not be negative (actual: "-5m")');
  bad({ for: -1_000_000_000n }, 'rule.for: must not be negative (actual: -1s)');
  bad({ for: '30d1ns' }, 'rule.for: expected a duration at most 30d (actual: 30d1ns)');
  // The bounds themselves are allowed, and for: 0 fires at the first evaluation that holds.
  const edge = parseRule({ name: 'a', kind: 'LOG_COUNT', threshold: 1, interval: '1s', window: '30d', for: '0s' }, base);
  assert.deepEqual([edge.interval, edge.window, edge.for], [1_000_000_000n, 30n * 86_400_000_000_000n, 0n]);
  // A window shorter than the interval would leave moments no evaluation sees (found by QA: a
  // LOG_COUNT rule of window 30s every 2m missed the logs between its windows).
  bad({ interval: '2m', window: '30s' }, 'rule.window: must be at least the interval (2m), so that every moment is in some evaluation\'s window (actual: 30s)');
  bad({ kind: 'NO_DATA', window: '10s', interval: '1m' }, 'rule.window: must be at least the interval (1m), so that every moment is in some evaluation\'s window (actual: 10s)');
  assert.equal(parseRule({ name: 'a', kind: 'LOG_COUNT', threshold: 1, interval: '2m', window: '2m' }, base).window, 120_000_000_000n);
  // A PromQL rule's ranges are in its expression; its window only bounds the evidence.
  assert.equal(parseRule({ name: 'a', kind: 'PROMQL', expr: 'up', threshold: 1, interval: '2m', window: '30s' }, base).window, 30_000_000_000n);
  // A rule stored before the bounds existed still loads (it must not stop the gateway).
  assert.equal(parseRule({ name: 'a', kind: 'LOG_COUNT', threshold: 1, interval: '1ms' }, { ...base, checkBounds: false }).interval, 1_000_000n);
  assert.equal(parseRule({ name: 'a', kind: 'LOG_COUNT', threshold: 1, interval: '2m', window: '30s' }, { ...base, checkBounds: false }).window, 30_000_000_000n);
  assert.throws(
    () => parseRulesFile('rules:\n  - name: Sparse\n    kind: LOG_COUNT\n    threshold: 1\n    interval: 5m\n    window: 1m\n', 'rules.yaml'),
    /^AlertingError: rules\.yaml: rules\[0\] \("Sparse"\)\.window: must be at least the interval \(5m\)/,
  );
  // In the rules file, the error names the rule.
  assert.throws(
    () => parseRulesFile('rules:\n  - name: Fast\n    kind: NO_DATA\n    interval: 1ms\n', 'rules.yaml'),
    /^AlertingError: rules\.yaml: rules\[0\] \("Fast"\)\.interval: expected a duration from 1s to 30d \(actual: 1ms\)$/,
  );
});

test('a value of ±Inf compares as a number, so +Inf > 5 fires; NaN satisfies no comparator', () => {
  // Found by QA: a rule whose value was +Inf (Prometheus' answer to x / 0) never fired.
  assert.ok(compare(Infinity, 'GT', 5));
  assert.ok(compare(Infinity, 'GTE', 5));
  assert.ok(compare(Infinity, 'NEQ', 5));
  assert.ok(!compare(Infinity, 'LT', 5));
  assert.ok(compare(-Infinity, 'LT', 5));
  for (const c of ['GT', 'GTE', 'LT', 'LTE', 'EQ', 'NEQ'] as const) assert.equal(compare(NaN, c, 5), false, c);
});

test('NO_DATA fires on a count equal to 0 unless told otherwise', () => {
  const r = parseRule({ name: 'quiet', kind: 'NO_DATA', signal: 'logs' }, base);
  assert.equal(r.comparator, 'EQ');
  assert.equal(r.threshold, 0);
  assert.ok(compare(0, r.comparator, r.threshold));
  assert.ok(!compare(3, r.comparator, r.threshold));
});

test('NO_DATA on metrics takes services but refuses a filter it could not honour', () => {
  // QA round 27 (D3): the filter was dropped without a word.
  const r = parseRule({ name: 'quiet', kind: 'NO_DATA', signal: 'metrics', metric: 'qa_requests_total', services: ['ghost2'] }, base);
  assert.deepEqual([r.metric, r.services, r.filter], ['qa_requests_total', ['ghost2'], undefined]);
  assert.throws(
    () => parseRule({ name: 'quiet', kind: 'NO_DATA', signal: 'metrics', metric: 'qa.requests', filter: { service: ['ghost2'] } }, base),
    /^AlertingError: rule\.filter: a NO_DATA rule on metrics takes no filter; name the metric with metric and the services \(resource service\.name\) with services$/,
  );
});

test('the rules file names the rule and field of the first problem, and ids default to names', () => {
  const rules = parseRulesFile('rules:\n  - name: A\n    kind: NO_DATA\n  - name: B\n    tenant: acme\n    kind: NO_DATA\n', 'rules.yaml');
  assert.deepEqual(rules.map((r) => [r.id, r.tenant, r.source]), [['A', 'default', 'file'], ['B', 'acme', 'file']]);
  assert.throws(() => parseRulesFile('rules:\n  - name: A\n    kind: NO_DATA\n    for: soon\n', 'rules.yaml'), /^AlertingError: rules\.yaml: rules\[0\] \("A"\)\.for: expected a duration/);
  assert.throws(() => parseRulesFile('rules: [', 'rules.yaml'), /rules\.yaml: not valid YAML/);
  assert.throws(() => parseRulesFile('groups: []', 'rules.yaml'), /unknown key "groups" \(known keys: rules\); unlike a Prometheus rule file, it has no groups/);
  // Two rules of one name (Prometheus' warning and critical pair) need an id each: say so.
  assert.throws(
    () => parseRulesFile('rules:\n  - name: A\n    kind: NO_DATA\n  - name: A\n    kind: NO_DATA\n', 'r.yaml'),
    /^AlertingError: r\.yaml: rules\[1\] \("A"\): duplicate rule id "A" for tenant default \(a rule without an id is identified by its name: give rules of the same name an id each\)$/,
  );
  assert.equal(parseRulesFile('rules:\n  - { name: A, id: a-warn, kind: NO_DATA }\n  - { name: A, id: a-page, kind: NO_DATA }\n', 'r.yaml').length, 2);
  assert.deepEqual(parseRulesFile('', 'empty.yaml'), []);
});

test('the rules example in docs/alerting.md is a valid rules file', async () => {
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(new URL('../../../docs/alerting.md', import.meta.url), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
  const rules = parseRulesFile(yaml, 'docs/alerting.md');
  assert.deepEqual(rules.map((r) => [r.name, r.kind, r.tenant]), [
    ['CheckoutErrorRate', 'SPAN_ERROR_RATE', 'shop'],
    ['PaymentErrorsLogged', 'LOG_COUNT', 'default'],
    ['CheckoutSilent', 'NO_DATA', 'default'],
    ['HighHttpErrors', 'PROMQL', 'default'],
  ]);
});

test('a value prints exactly when it is an integer, else to 6 significant digits, never with digits it does not have (QA round 37)', () => {
  const cases: [number, string][] = [
    [123456789, '123456789'], // was 123457000: an exact-looking count off by 211
    [1234567, '1234567'],
    [1234567.5, '1.23457e+6'],
    [0.1 + 0.2, '0.3'],
    [19.999999999999996, '20'],
    [123.456789, '123.457'],
    [1.2e-7, '1.2e-7'],
    [1e21, '1e+21'],
    [2 ** 53, '9.0072e+15'],
    [-0, '0'],
    [Infinity, '+Inf'],
    [NaN, 'NaN'],
  ];
  for (const [value, text] of cases) assert.equal(valueText(value), text, String(value));
});

test('an annotation name must be a label name, as Prometheus checks it, else Alertmanager refuses every alert of the rule (QA round 37)', () => {
  assert.throws(
    () => parseRule({ name: 'a', kind: 'LOG_COUNT', threshold: 1, annotations: { 'runbook-url': 'https://runbooks/x' } }, base),
    (err: unknown) =>
      err instanceof AlertingError &&
      err.message === 'rule.annotations.runbook-url: an annotation name must match [a-zA-Z_][a-zA-Z0-9_]*, as a label name (Alertmanager refuses others: write runbook_url, not runbook-url)',
  );
  assert.deepEqual(parseRule({ name: 'a', kind: 'LOG_COUNT', threshold: 1, annotations: { runbook_url: 'https://runbooks/x' } }, base).annotations, { runbook_url: 'https://runbooks/x' });
  // One stored by an earlier version keeps working (its webhook and Slack receivers took it).
  const stored = parseStoredRule(JSON.stringify({ id: 'r1', name: 'a', kind: 'LOG_COUNT', threshold: 1, annotations: { 'runbook-url': 'x' } }), { tenant: 't', id: 'r1' });
  assert.equal(stored.broken, undefined);
  assert.deepEqual(stored.annotations, { 'runbook-url': 'x' });
});
