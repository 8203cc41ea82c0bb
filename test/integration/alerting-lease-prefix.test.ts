// Two teleql deployments sharing one redis-server, told apart by tail.redis.channelPrefix: each
// has its own notifier lease, so both send their alerts (QA: with one fixed lease key for every
// deployment, one of them held it and the other never notified). Real gateways, a real Redis and a
// real webhook server; time comes from each gateway's test clock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.ts';
import { notifyLeaseKey } from '../../src/alerting/notify-lease.ts';
import { silentLogger } from '../../src/logger.ts';
import { testConfig } from '../helpers/gateway.ts';
import { redisMissing, startRedis, type TestRedis } from '../helpers/redis-server.ts';
import { startWebhookServer, type WebhookServer } from '../helpers/webhook-server.ts';

const MIN = 60_000_000_000n;
const T0 = ((BigInt(Date.now()) * 1_000_000n) / MIN) * MIN - 60n * MIN;

interface Gateway {
  app: App;
  metricsUrl: string;
  clock: { t: bigint; now(): bigint };
}

async function startGateway(redis: { url: string; channelPrefix: string }, rulesFile: string, hookUrl: string): Promise<Gateway> {
  const clock = { t: T0, now: () => clock.t };
  const cfg = testConfig({
    tail: { redis },
    alerting: {
      tickMs: 0,
      defaultGroupWait: '0s',
      defaultGroupInterval: '1ms',
      rulesFile,
      receivers: [{ name: 'ops', type: 'webhook', url: hookUrl }],
      retry: { attempts: 1, initialBackoffMs: 20, maxBackoffMs: 50, timeoutMs: 5000 },
    },
  });
  const app = buildApp(cfg, { logger: silentLogger(), clock });
  await app.start();
  return { app, metricsUrl: `http://${app.addresses().graphql}/metrics`, clock };
}

async function notifier(g: Gateway): Promise<number> {
  const text = await (await fetch(g.metricsUrl)).text();
  return Number(/^teleql_alerting_notifier (\d)$/m.exec(text)?.[1]);
}

describe('two deployments sharing one redis with different channel prefixes', { skip: redisMissing }, () => {
  let redis: TestRedis;
  let hook: WebhookServer;
  let dir: string;
  const gateways: Gateway[] = [];

  before(async () => {
    [redis, hook] = await Promise.all([startRedis(), startWebhookServer()]);
    dir = await mkdtemp(join(tmpdir(), 'teleql-lease-prefix-'));
    const rulesFile = join(dir, 'rules.yaml');
    // No spans at all: the rule fires at the first evaluation on each deployment.
    await writeFile(rulesFile, 'rules:\n  - name: NoOrders\n    tenant: acme\n    kind: NO_DATA\n    signal: spans\n    services: [orders]\n    window: 1m\n    interval: 1m\n');
    gateways.push(await startGateway({ url: redis.url, channelPrefix: 'shop-eu' }, rulesFile, `${hook.url}/eu`));
    gateways.push(await startGateway({ url: redis.url, channelPrefix: 'shop-us' }, rulesFile, `${hook.url}/us`));
  });
  after(async () => {
    for (const g of gateways) await g.app.stop();
    await Promise.all([redis?.stop(), hook?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('each deployment holds its own lease and sends its own alerts', async () => {
    for (const g of gateways) g.clock.t = T0;
    const engines = gateways.map((g) => g.app.internals.alerting()!);
    await Promise.all(engines.map((e) => e.tick()));
    await Promise.all(engines.map((e) => e.idle()));
    assert.deepEqual(await Promise.all(gateways.map(notifier)), [1, 1], 'both deployments have a notifier');
    assert.deepEqual(hook.received.map((r) => r.path).sort(), ['/eu', '/us'], 'each deployment sent its firing group');
  });

  test('the lease key follows the channel prefix; without one it stays the key earlier versions used', () => {
    assert.equal(notifyLeaseKey('shop-eu'), 'shop-eu:alerting:notifier');
    assert.equal(notifyLeaseKey(''), 'teleql:alerting:notifier');
    assert.equal(notifyLeaseKey('teleql:tail'), 'teleql:alerting:notifier');
  });
});
