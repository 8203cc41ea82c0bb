// Alerting with several replicas: two real gateways share a real redis-server and one rules file,
// and evaluate the same rules over the same data; a real webhook server counts what arrives. Only
// the replica holding the notifier lease sends, so each group is notified once; when it stops, the
// other takes over. Time comes from each gateway's test clock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import { testConfig } from '../helpers/gateway.ts';
import type { AlertEngine } from '../../src/alerting/engine.ts';
import { redisMissing, startRedis, type TestRedis } from '../helpers/redis-server.ts';
import { startWebhookServer, type WebhookServer } from '../helpers/webhook-server.ts';
import { hex, postOtlp, spansBody } from '../helpers/tail-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const MIN = 60_000_000_000n;
const SEC = 1_000_000_000n;
const T0 = (BigInt(Date.now()) * 1_000_000n) / MIN * MIN - 60n * MIN;

interface Replica {
  name: string;
  app: App;
  engine: AlertEngine;
  otlpHttp: string;
  metricsUrl: string;
  clock: { t: bigint; now(): bigint };
}

async function startReplica(name: string, redisUrl: string, rulesFile: string, hookUrl: string): Promise<Replica> {
  const clock = { t: T0, now: () => clock.t };
  const cfg = testConfig({
    tail: { redis: { url: redisUrl } },
    alerting: {
      tickMs: 0,
      // group_wait 0 and a group_interval shorter than any tick: each change is sent at the evaluation that makes it.
      defaultGroupWait: '0s',
      defaultGroupInterval: '1ms',
      rulesFile,
      receivers: [{ name: 'ops', type: 'webhook', url: `${hookUrl}/hook` }],
      retry: { attempts: 2, initialBackoffMs: 20, maxBackoffMs: 50, timeoutMs: 5000 },
    },
  });
  const app = buildApp(cfg, { logger: silentLogger(), clock });
  await app.start();
  const a = app.addresses();
  return { name, app, engine: app.internals.alerting()!, otlpHttp: `http://${a.otlpHttp!}`, metricsUrl: `http://${a.graphql}/metrics`, clock };
}

async function notifier(r: Replica): Promise<number> {
  const text = await (await fetch(r.metricsUrl)).text();
  return Number(/^teleql_alerting_notifier (\d)$/m.exec(text)?.[1]);
}

/** One span of `service` at `at`, stored on every replica given. */
async function span(replicas: Replica[], service: string, at: bigint, n: number): Promise<void> {
  for (const r of replicas) {
    assert.equal(await postOtlp(r, '/v1/traces', spansBody(service, [{ traceId: hex(n, 32), spanId: hex(n, 16), name: 'work', startNs: at }]), 'acme'), 200);
    const db = r.app.internals.store()!.db;
    await waitFor(async () => Number((await db.query('SELECT count(*) AS n FROM spans WHERE span_id = $1', [hex(n, 16)]))[0]!.n), (c) => c === 1, `span ${n} stored on ${r.name}`);
  }
}

async function tickAll(replicas: Replica[], at: bigint): Promise<void> {
  for (const r of replicas) r.clock.t = at;
  await Promise.all(replicas.map((r) => r.engine.tick()));
  await Promise.all(replicas.map((r) => r.engine.idle()));
}

interface Message {
  status: string;
  groupLabels: Record<string, string>;
  alerts: { status: string; labels: Record<string, string> }[];
}

/** Two replicas sharing a fresh redis-server, a rules file holding `rulesYaml` and a webhook server, set up and torn down around the calling suite. */
function twoReplicas(rulesYaml: string): { redis: TestRedis; hook: WebhookServer; a: Replica; b: Replica } {
  const pair = {} as { redis: TestRedis; hook: WebhookServer; a: Replica; b: Replica };
  let dir: string | undefined;
  before(async () => {
    [pair.redis, pair.hook] = await Promise.all([startRedis(), startWebhookServer()]);
    dir = await mkdtemp(join(tmpdir(), 'teleql-replicas-'));
    const rulesFile = join(dir, 'rules.yaml');
    await writeFile(rulesFile, rulesYaml);
    pair.a = await startReplica('a', pair.redis.url, rulesFile, pair.hook.url);
    pair.b = await startReplica('b', pair.redis.url, rulesFile, pair.hook.url);
  });
  after(async () => {
    await pair.a?.app.stop();
    await pair.b?.app.stop();
    await Promise.all([pair.redis?.stop(), pair.hook?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return pair;
}

describe('alerting with two replicas sharing redis', { skip: redisMissing }, () => {
  const rule = (name: string, service: string) => `  - name: ${name}\n    tenant: acme\n    kind: NO_DATA\n    signal: spans\n    services: [${service}]\n    window: 1m\n    interval: 1m\n`;
  const pair = twoReplicas(`rules:\n${rule('NoPayments', 'pay')}${rule('NoShipments', 'ship')}`);
  const messages = () => pair.hook.received.map((r) => r.body as Message).map((m) => `${m.groupLabels.alertname}:${m.status}`);

  test('both replicas evaluate, one notifies each group once, and the other takes over when it stops', async () => {
    const { a, b, hook } = pair;
    // No spans at all: both rules fire on both replicas, at the same moment.
    await tickAll([a, b], T0);
    for (const r of [a, b]) assert.deepEqual(r.engine.instances('acme').map((i) => `${i.ruleId}:${i.state}`).sort(), ['NoPayments:FIRING', 'NoShipments:FIRING'], r.name);
    assert.deepEqual(messages().sort(), ['NoPayments:firing', 'NoShipments:firing'], 'one message per group, not one per replica');
    const roles = [await notifier(a), await notifier(b)];
    assert.deepEqual([...roles].sort(), [0, 1], 'exactly one replica holds the notifier lease');
    const [holder, other] = roles[0] === 1 ? [a, b] : [b, a];

    // Payments arrive on both: one resolved message, and both replicas record the resolution.
    await span([a, b], 'pay', T0 + 30n * SEC, 1);
    await span([a, b], 'ship', T0 + 30n * SEC, 2);
    await tickAll([a, b], T0 + 1n * MIN);
    assert.deepEqual(messages().slice(2).sort(), ['NoPayments:resolved', 'NoShipments:resolved']);
    for (const r of [a, b]) assert.deepEqual(r.engine.instances('acme').map((i) => i.state), ['RESOLVED', 'RESOLVED'], r.name);

    // A repeat tick with nothing new sends nothing from either.
    await tickAll([a, b], T0 + 1n * MIN + 30n * SEC);
    assert.equal(hook.received.length, 4);

    // The holder stops (letting go of the lease); the other notifies from its next tick.
    await holder.app.stop();
    await span([other], 'ship', T0 + 90n * SEC, 3);
    await tickAll([other], T0 + 2n * MIN);
    assert.equal(await notifier(other), 1);
    // What changed, once, and the resolution the holder was asked to send: whether it arrived is not
    // known to the survivor (at least once: a repeated resolution, never a lost one).
    assert.deepEqual(messages().slice(4).sort(), ['NoPayments:firing', 'NoShipments:resolved'], 'the survivor sends what changed, once');
    await span([other], 'ship', T0 + 150n * SEC, 4);
    await tickAll([other], T0 + 3n * MIN);
    assert.equal(hook.received.length, 6, 'then nothing more');
  });
});

describe('alerting with two replicas: an API rule made on the replica that does not notify', { skip: redisMissing }, () => {
  const pair = twoReplicas('rules: []\n');

  // Issue 5 QA, session 35: the rule fired on its replica, nothing was sent (the holder has no such
  // rule), and lastNotificationError stayed null: only /metrics' other_replica count said anything.
  test('its alerts fire there, and its lastNotificationError says why nothing was sent', async () => {
    const { a, b, hook } = pair;
    await tickAll([a, b], T0); // takes the lease
    const [holder, other] = (await notifier(a)) === 1 ? [a, b] : [b, a];
    const rule = await other.engine.createRule('acme', { name: 'NoOrders', kind: 'NO_DATA', signal: 'spans', services: ['orders'], window: '1m', interval: '1m', receivers: ['ops'] });
    await tickAll([holder, other], T0 + 1n * MIN);
    assert.deepEqual(other.engine.instances('acme').map((i) => `${i.ruleId}:${i.state}`), [`${rule.id}:FIRING`]);
    assert.equal(hook.received.length, 0, 'the holder has no such rule');
    assert.match(String(other.engine.status('acme', rule.id).lastNotificationError), /another replica holds the notify lease, and an API rule is kept only on the replica that was sent it/);
    assert.equal(holder.engine.rule('acme', rule.id), undefined);
  });
});

describe('alerting with two replicas: a firing message the holder could not deliver', { skip: redisMissing }, () => {
  const pair = twoReplicas('rules:\n  - name: NoOrders\n    tenant: acme\n    kind: NO_DATA\n    signal: spans\n    services: [orders]\n    window: 1m\n    interval: 1m\n    repeatInterval: 4h\n');

  test('is sent by the replica that takes over, not taken as delivered', async () => {
    const { a, b, hook } = pair;
    // QA round 29 (D1): the other replica recorded the group as sent when the holder tried; after
    // the takeover it sent nothing, and then only the resolution of a page the receiver never got.
    hook.alwaysAnswer(500);
    await tickAll([a, b], T0);
    const [holder, other] = (await notifier(a)) === 1 ? [a, b] : [b, a];
    assert.equal(hook.received.length, 2, 'the holder tried (2 attempts), the other did not');
    await holder.app.stop();
    hook.alwaysAnswer(null);
    await tickAll([other], T0 + 1n * MIN);
    assert.equal(await notifier(other), 1);
    const delivered = hook.received.slice(2).map((r) => r.body as Message);
    assert.deepEqual(delivered.map((m) => `${m.groupLabels.alertname}:${m.status}`), ['NoOrders:firing']);
    // Once: the next tick has nothing new.
    await tickAll([other], T0 + 2n * MIN);
    assert.equal(hook.received.length, 3);
  });
});
