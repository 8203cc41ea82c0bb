// Upgrading onto alerting data an earlier version stored: a rule whose filter regex, or a silence
// whose matcher, this version refuses (named groups, too many states: the regex limits were
// tightened since). The rows are written into the DuckDB file as that version wrote them, and a
// real gateway is started on it: it must start, serve, evaluate the other rules, and show the
// refused rule and silence, which the mutations then repair or remove.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp, type App } from '../../src/app.ts';
import type { AlertEngine } from '../../src/alerting/engine.ts';
import { testConfig } from '../helpers/gateway.ts';
import { capturingLogger } from '../helpers/capturing-logger.ts';
import { gqlData } from '../helpers/graphql-client.ts';
import { tempStorePaths } from '../helpers/temp-store.ts';
import { silentLogger } from '../../src/logger.ts';
import type { Logger } from 'pino';

const MIN = 60_000_000_000n;
// Whole minutes, an hour ago.
const T0 = ((BigInt(Date.now()) * 1_000_000n) / MIN) * MIN - 60n * MIN;
const storePath = tempStorePaths('alerting-stored-refused');

interface Gateway {
  app: App;
  engine: AlertEngine;
  graphqlUrl: string;
  clock: { t: bigint; now(): bigint };
}

async function startGateway(dataPath: string, logger: Logger = silentLogger()): Promise<Gateway> {
  const clock = { t: T0, now: () => clock.t };
  const app = buildApp(testConfig({ alerting: { tickMs: 0 } }, dataPath), { logger, clock });
  await app.start();
  return { app, engine: app.internals.alerting()!, graphqlUrl: `http://${app.addresses().graphql}/graphql`, clock };
}

/** An API rule's row as earlier versions stored it: alert_rules (tenant, id, definition, updated_ns), the definition in its plain form. */
async function storeOldRule(gw: Gateway, id: string, name: string, regex: string): Promise<void> {
  const definition = {
    id,
    name,
    kind: 'LOG_COUNT',
    threshold: 0,
    comparator: 'GT',
    window: '5m',
    for: '0s',
    interval: '1m',
    labels: {},
    annotations: {},
    receivers: [],
    groupBy: ['alertname'],
    repeatInterval: '4h',
    by: [],
    services: [],
    filter: { attributes: [{ key: 'user', op: 'regex', value: regex }] },
  };
  await gw.app.internals.store()!.db.query('INSERT INTO alert_rules VALUES ($1, $2, $3, $4)', ['default', id, JSON.stringify(definition), T0]);
}

/** A silence's row as earlier versions stored it: alert_silences (tenant, id, body, starts_ns, ends_ns), bigints in the body as "123n". */
async function storeOldSilence(gw: Gateway, id: string, matchers: { name: string; value: string; type: string }[]): Promise<void> {
  const startsAt = T0 - 60n * MIN;
  const endsAt = T0 + 24n * 60n * MIN;
  const body = { id, tenant: 'default', matchers, startsAt: `${startsAt}n`, endsAt: `${endsAt}n`, createdBy: 'ops', comment: 'stored by an earlier version' };
  await gw.app.internals.store()!.db.query('INSERT INTO alert_silences VALUES ($1, $2, $3, $4, $5)', ['default', id, JSON.stringify(body), startsAt, endsAt]);
}

/** A NO_DATA rule on logs: fires at its first evaluation on a store without logs, so it shows whether rules are evaluated. */
async function createQuietRule(gw: Gateway): Promise<string> {
  const data = await gqlData<{ createAlertRule: { id: string } }>(
    gw.graphqlUrl,
    'mutation { createAlertRule(input: { name: "Quiet", kind: NO_DATA, signal: LOGS, window: "5m", interval: "1m" }) { id } }',
  );
  return data.createAlertRule.id;
}

interface RuleRow {
  id: string;
  name: string;
  lastEvaluatedAt: string | null;
  lastEvaluationError: string | null;
}
const rulesOf = async (gw: Gateway) => (await gqlData<{ alertRules: RuleRow[] }>(gw.graphqlUrl, '{ alertRules { id name lastEvaluatedAt lastEvaluationError } }')).alertRules;
const alertsOf = async (gw: Gateway) =>
  (await gqlData<{ alerts: { state: string; silencedBy: string[]; rule: { name: string } }[] }>(gw.graphqlUrl, '{ alerts { state silencedBy rule { name } } }')).alerts;

test('a stored rule whose filter regex is refused now loads as broken: the gateway starts, evaluates the others, and the rule can be repaired or deleted', async () => {
  const path = storePath();
  const before = await startGateway(path);
  let quietId: string;
  try {
    quietId = await createQuietRule(before);
    await storeOldRule(before, 'named-group', 'NamedGroup', '(?<who>u)1');
    await storeOldRule(before, 'many-states', 'ManyStates', 'a{0,1000}b{0,1000}c{0,1000}');
  } finally {
    await before.app.stop();
  }

  const { logger, lines } = capturingLogger();
  const gw = await startGateway(path, logger);
  try {
    // Logged once each at start, with the rule's ID and the reason.
    const logged = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('a stored alert rule is refused'));
    assert.deepEqual(logged.map((l) => l.rule).sort(), ['many-states', 'named-group']);
    assert.match(String(logged.find((l) => l.rule === 'named-group')!.reason), /filter: invalid regex "\(\?<who>u\)1": a named group is written \(\?P<name>…\)/);
    assert.match(String(logged.find((l) => l.rule === 'many-states')!.reason), /more than 128 positions/);

    gw.clock.t = T0 + 5n * MIN;
    await gw.engine.tick();
    const rules = await rulesOf(gw);
    assert.deepEqual(rules.map((r) => r.name), ['ManyStates', 'NamedGroup', 'Quiet']);
    const quiet = rules.find((r) => r.id === quietId)!;
    assert.equal(quiet.lastEvaluationError, null);
    assert.deepEqual(await alertsOf(gw), [{ state: 'FIRING', silencedBy: [], rule: { name: 'Quiet' } }], 'the other rules are evaluated');
    const broken = rules.find((r) => r.id === 'named-group')!;
    assert.equal(broken.lastEvaluatedAt, null, 'a broken rule is not evaluated');
    assert.match(broken.lastEvaluationError ?? '', /^not evaluated: stored by an earlier version, this rule is refused now \(stored rule named-group\.filter: invalid regex/);

    // An update with a filter this version takes repairs it.
    const updated = await gqlData<{ updateAlertRule: { filter: unknown } }>(
      gw.graphqlUrl,
      'mutation { updateAlertRule(id: "named-group", input: { name: "NamedGroup", kind: LOG_COUNT, threshold: 0, filter: { attributes: [{ key: "user", regex: "(?P<who>u)1" }] } }) { filter } }',
    );
    assert.deepEqual(updated.updateAlertRule.filter, { attributes: [{ key: 'user', op: 'regex', value: '(?P<who>u)1' }] });
    gw.clock.t += MIN;
    await gw.engine.tick();
    const repaired = (await rulesOf(gw)).find((r) => r.id === 'named-group')!;
    assert.equal(repaired.lastEvaluationError, null);
    assert.notEqual(repaired.lastEvaluatedAt, null);

    // Deleting one removes its stored row too.
    assert.deepEqual(await gqlData(gw.graphqlUrl, 'mutation { deleteAlertRule(id: "many-states") }'), { deleteAlertRule: true });
    assert.deepEqual((await rulesOf(gw)).map((r) => r.name), ['NamedGroup', 'Quiet']);
    const rows = await gw.app.internals.store()!.db.query("SELECT id FROM alert_rules WHERE tenant = 'default' ORDER BY id");
    assert.deepEqual(rows.map((r) => r.id).sort(), ['named-group', quietId].sort());
  } finally {
    await gw.app.stop();
  }
});

test('a stored broken rule is kept as it was stored: neither a start nor a tick rewrites or deletes its row', async () => {
  const path = storePath();
  const read = async (gw: Gateway) => gw.app.internals.store()!.db.query('SELECT * FROM alert_rules');
  const before = await startGateway(path);
  let stored: Record<string, unknown>[];
  try {
    await storeOldRule(before, 'named-group', 'NamedGroup', '(?<who>u)1');
    stored = await read(before);
  } finally {
    await before.app.stop();
  }
  const gw = await startGateway(path);
  try {
    gw.clock.t = T0 + 5n * MIN;
    await gw.engine.tick();
    assert.deepEqual(await read(gw), stored);
  } finally {
    await gw.app.stop();
  }
});

test('a stored silence whose matcher regex is refused now silences nothing, fails no evaluation, is listed with the reason, and unsilence ends it', async () => {
  const path = storePath();
  const before = await startGateway(path);
  try {
    await createQuietRule(before);
    // Both would match the Quiet rule's alert, had this version taken them.
    await storeOldSilence(before, 'named-group', [{ name: 'alertname', value: '(?<n>Q)uiet', type: '=~' }]);
    await storeOldSilence(before, 'many-states', [{ name: 'alertname', value: 'Quiet|a{0,1000}b{0,1000}c{0,1000}', type: '=~' }]);
  } finally {
    await before.app.stop();
  }

  const { logger, lines } = capturingLogger();
  const gw = await startGateway(path, logger);
  try {
    gw.clock.t = T0 + 5n * MIN;
    await gw.engine.tick();
    const [quiet] = await rulesOf(gw);
    assert.equal(quiet!.lastEvaluationError, null, 'the tenant’s rules are evaluated');
    assert.deepEqual(await alertsOf(gw), [{ state: 'FIRING', silencedBy: [], rule: { name: 'Quiet' } }]);

    // Logged once each at start, with the silence's ID and the reason.
    const logged = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('a stored silence is refused'));
    assert.deepEqual(logged.map((l) => l.silence).sort(), ['many-states', 'named-group']);

    const { silences } = await gqlData<{ silences: { id: string; error: string | null }[] }>(gw.graphqlUrl, '{ silences { id error } }');
    assert.deepEqual(silences.map((s) => s.id).sort(), ['many-states', 'named-group']);
    for (const s of silences) assert.match(s.error ?? '', /^a matcher this version refuses, so it silences nothing: invalid regex/);

    await gqlData(gw.graphqlUrl, 'mutation { unsilence(id: "named-group") { id } }');
    const after = await gqlData<{ silences: { id: string }[] }>(gw.graphqlUrl, '{ silences { id } }');
    assert.deepEqual(after.silences.map((s) => s.id), ['many-states']);
  } finally {
    await gw.app.stop();
  }
});
