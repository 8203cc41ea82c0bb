// Alerting, assembled from config: the engine over the DuckDB alert store and signal queries, the
// PromQL evaluator (Prometheus when configured, else the embedded subset), the notifier, the rules
// file watcher and the evaluation timer. src/app.ts starts and stops it.
import { exceptionEvidence } from './exception-evidence.ts';
import type { ExceptionGroupStore } from '../stores/correlation-types.ts';
import type { Logger } from 'pino';
import { ConfigError } from '../config/merge.ts';
import type { GatewayConfig } from '../config/types.ts';
import type { Db } from '../stores/duckdb/connection.ts';
import { openAlertStore } from '../stores/duckdb/alert-store.ts';
import { createAlertSignals } from '../stores/duckdb/alert-signals.ts';
import type { MetricStore } from '../stores/types.ts';
import type { PrometheusClientOptions } from '../stores/prometheus/client.ts';
import type { TailBus } from '../tail/bus.ts';
import { createAlertEngine, type AlertEngine, type GroupTiming } from './engine.ts';
import { createNotifier, type ReceiverConfig } from './notify.ts';
import { basicAuthOf, withoutCredentials } from '../url-credentials.ts';
import { notifyLeaseKey, redisNotifyLease, soleReplicaLease } from './notify-lease.ts';
import { createEmbeddedPromQl, createPrometheusPromQl } from './promql.ts';
import { createMetricNames } from './promql-names.ts';
import { parseRuleDuration, ruleDurationProblem, type RuleDefaults } from './rules.ts';
import { watchRulesFile, type RulesFileWatcher } from './rules-file.ts';
import { systemClock, type Clock } from './types.ts';

export interface Alerting {
  engine: AlertEngine;
  /** The rules file watcher, when a file is configured. */
  rulesFile: RulesFileWatcher | undefined;
  stop(): Promise<void>;
}

const RECEIVER_TYPES = ['webhook', 'slack', 'alertmanager'];
const MIN_LEASE_MS = 1000;

function checkReceivers(list: readonly ReceiverConfig[]): ReceiverConfig[] {
  const names = new Set<string>();
  return list.map((r, i) => {
    const where = `alerting.receivers[${i}]`;
    if (!r || typeof r.name !== 'string' || r.name === '') throw new ConfigError(`${where}.name: required`);
    if (names.has(r.name)) throw new ConfigError(`${where}.name: duplicate receiver ${JSON.stringify(r.name)}`);
    names.add(r.name);
    if (!RECEIVER_TYPES.includes(r.type)) throw new ConfigError(`${where}.type: expected one of ${RECEIVER_TYPES.join(', ')}`);
    let credentials: ReturnType<typeof basicAuthOf>;
    try {
      credentials = basicAuthOf(r.url);
    } catch {
      throw new ConfigError(`${where}.url: not a URL (actual: ${JSON.stringify(withoutCredentials(String(r.url)))})`);
    }
    if (!credentials) return { name: r.name, type: r.type, url: r.url, ...(r.headers && { headers: { ...r.headers } }) };
    // User info in the URL is sent as Basic auth, as Alertmanager does (fetch refuses such a URL).
    if (Object.keys(r.headers ?? {}).some((h) => h.toLowerCase() === 'authorization')) {
      throw new ConfigError(`${where}.url: has user info (user:password@) and ${where}.headers has Authorization too; keep one of them`);
    }
    return { name: r.name, type: r.type, url: credentials.url, headers: { ...r.headers, authorization: credentials.authorization } };
  });
}

/**
 * The alerting settings checked and read, without starting anything: start-up and a SIGHUP reload
 * both go through here (a config that would not start must count as a failed reload).
 */
export function checkAlertingConfig(cfg: GatewayConfig['alerting']): {
  defaults: RuleDefaults;
  grouping: GroupTiming;
  silenceRetention: bigint;
  historyRetention: bigint;
  receivers: ReceiverConfig[];
} {
  let defaults: RuleDefaults;
  let grouping: GroupTiming;
  let silenceRetention: bigint;
  let historyRetention: bigint;
  try {
    defaults = {
      interval: parseRuleDuration(cfg.defaultInterval, 'alerting.defaultInterval'),
      window: parseRuleDuration(cfg.defaultWindow, 'alerting.defaultWindow'),
      repeatInterval: parseRuleDuration(cfg.defaultRepeatInterval, 'alerting.defaultRepeatInterval'),
    };
    // Every rule that leaves them unset takes these: held to the bounds a rule's own must keep.
    for (const [field, path] of [['interval', 'alerting.defaultInterval'], ['window', 'alerting.defaultWindow']] as const) {
      const problem = ruleDurationProblem(field, defaults[field], path);
      if (problem) throw new Error(problem);
    }
    grouping = {
      groupWait: parseRuleDuration(cfg.defaultGroupWait, 'alerting.defaultGroupWait'),
      groupInterval: parseRuleDuration(cfg.defaultGroupInterval, 'alerting.defaultGroupInterval'),
    };
    // As Alertmanager refuses a zero group_interval: every change would page at once, which is what it is there to stop.
    if (grouping.groupInterval === 0n) throw new Error('alerting.defaultGroupInterval: must be greater than 0');
    silenceRetention = parseRuleDuration(cfg.silenceRetention, 'alerting.silenceRetention');
    historyRetention = parseRuleDuration(cfg.historyRetention, 'alerting.historyRetention');
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  for (const k of ['maxRulesPerTenant', 'maxSilencesPerTenant'] as const) {
    if (!Number.isSafeInteger(cfg[k]) || cfg[k] < 1) throw new ConfigError(`alerting.${k}: expected an integer greater than 0 (actual: ${cfg[k]})`);
  }
  // 0 means no timer (tests drive ticks themselves); below that a typo would silently stop alerting.
  if (!Number.isSafeInteger(cfg.tickMs) || cfg.tickMs < 0) throw new ConfigError(`alerting.tickMs: expected an integer of 0 or more (actual: ${cfg.tickMs})`);
  const receivers = checkReceivers(cfg.receivers);
  // The holder renews on its own timer (a third of the lease), whatever the ticks take; below a
  // second a Redis answering a little slowly would hand the lease around.
  if (!Number.isInteger(cfg.leaseMs) || cfg.leaseMs < MIN_LEASE_MS) {
    throw new ConfigError(`alerting.leaseMs: expected an integer of at least ${MIN_LEASE_MS} (actual: ${cfg.leaseMs})`);
  }
  return { defaults, grouping, silenceRetention, historyRetention, receivers };
}

export async function startAlerting(opts: {
  config: GatewayConfig['alerting'];
  db: Db;
  metrics: MetricStore;
  /** Exception occurrences, grouped for evidence as the `exceptionGroups` query groups them. */
  exceptions: ExceptionGroupStore;
  bus: TailBus;
  clock?: Clock;
  logger: Logger;
  /** Redis shared by the replicas (tail.redis.url): only the lease holder notifies. '' = one replica. */
  redisUrl?: string;
  /** tail.redis.channelPrefix: deployments sharing one Redis database each have their own lease. */
  redisChannelPrefix?: string;
  /** graphql.path, for the rule links (generatorURL) in notifications; default /graphql. */
  graphqlPath?: string;
  /** The Prometheus PROMQL rules run on (src/app.ts picks it); without one, the embedded subset. */
  prometheus?: PrometheusClientOptions;
}): Promise<Alerting> {
  const { config: cfg, logger } = opts;
  const { defaults, grouping, silenceRetention, historyRetention, receivers } = checkAlertingConfig(cfg);
  if (cfg.tickMs === 0) logger.warn('alerting.tickMs is 0: no rule is evaluated on a timer (alerts never fire unless something calls tick)');
  const signals = createAlertSignals(opts.db);
  // prometheus-query (and axios) load only when rules run on Prometheus.
  const prometheus = opts.prometheus && (await import('../stores/prometheus/client.ts')).createPrometheusClient(opts.prometheus);
  let rulesFile: RulesFileWatcher | undefined;
  const engine = createAlertEngine({
    store: await openAlertStore(opts.db),
    signals,
    exceptions: exceptionEvidence(opts.exceptions),
    promql: prometheus ? createPrometheusPromQl({ api: prometheus, logger }) : createEmbeddedPromQl(opts.metrics),
    notifier: createNotifier({ retry: cfg.retry, links: { externalUrl: cfg.externalUrl, graphqlPath: opts.graphqlPath ?? '/graphql' }, logger }),
    receivers,
    publish: (t) => opts.bus.publish(t.tenant, 'alerts', [t]),
    clock: opts.clock ?? systemClock,
    logger,
    ruleDefaults: defaults,
    grouping,
    lease: opts.redisUrl ? redisNotifyLease({ url: opts.redisUrl, logger, ttlMs: cfg.leaseMs, key: notifyLeaseKey(opts.redisChannelPrefix ?? '') }) : soleReplicaLease(),
    limits: { rulesPerTenant: cfg.maxRulesPerTenant, silencesPerTenant: cfg.maxSilencesPerTenant, silenceRetention, historyRetention },
    rulesFileMetrics: () => rulesFile?.metrics() ?? [],
    rulesFileRefusal: () => rulesFile?.refusal() ?? null,
    // Not awaited: the reload's own rule change waits for the one that called this to end.
    onApiRuleGone: () => void rulesFile?.reloadIfRefusedByApply(),
    // NO_DATA on metrics counts the embedded store's points, whose names PROMQL rules read this way too.
    metricNames: createMetricNames(opts.metrics),
    tickNs: BigInt(cfg.tickMs) * 1_000_000n,
  });
  await engine.start();

  if (cfg.rulesFile) {
    rulesFile = watchRulesFile({ file: cfg.rulesFile, debounceMs: cfg.reloadDebounceMs, defaults, logger, check: (rules) => engine.checkFileRules(rules), apply: (rules) => engine.setFileRules(rules) });
    const error = await rulesFile.reload();
    // At start-up an invalid file is fatal (exit code 2), as any invalid config is; later reloads only log.
    if (error) {
      rulesFile.close();
      await engine.stop();
      throw new ConfigError(error);
    }
  }

  // Only now is every rule known: alerts of a rule gone while the gateway was down are resolved.
  await engine.retireRulesGone();

  let timer: NodeJS.Timeout | undefined;
  if (cfg.tickMs > 0) {
    timer = setInterval(() => void engine.tick(), cfg.tickMs);
    timer.unref();
  }

  return {
    engine,
    rulesFile,
    async stop() {
      clearInterval(timer);
      rulesFile?.close();
      await engine.stop();
    },
  };
}
