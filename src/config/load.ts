// Where settings come from, lowest to highest: defaults in code < config file (YAML/JSON) <
// environment variables < command-line flags. Validated once here; the result is frozen.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { defaultConfig } from './defaults.ts';
import { ConfigError, ConfigProblems, deepFreeze, mergeConfig } from './merge.ts';
import type { GatewayConfig } from './types.ts';
import { validateSearchConfig } from '../search/config.ts';
import { validateSecurityConfig } from './security.ts';
import { retentionPlan } from '../stores/duckdb/retention.ts';
import { checkPipelineSections } from '../../ingest/pipeline.ts';
import { redisUrlForDisplay } from '../startup/ioredis.ts';
import { withoutCredentials } from '../url-credentials.ts';

export interface ConfigSources {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Already-structured overrides (from CLI flags or tests), merged last. */
  overrides?: unknown;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** shutdown.drainMs at most: longer than any orchestrator waits after SIGTERM (Kubernetes' default grace is 30 s). */
const MAX_DRAIN_MS = 300_000;
/** storage.jaeger.spanLookup bounds: a lookback from a minute to a leap year; each request asks for up to 1,000 whole traces. */
const SPAN_LOOKBACK_MS = { min: 60_000, max: 366 * 86_400_000 };
const SPAN_LOOKUP_MAX_REQUESTS = 64;
/** storage.duckdb.threads at most: far above any machine's cores, a bound so a typo (10000) is caught. */
const MAX_DUCKDB_THREADS = 1024;

/** The documented environment variables (README's table lists each: a test checks). */
export const ENV_VARS: { name: string; path: string; kind: 'string' | 'port' | 'int' | 'list'; help: string }[] = [
  { name: 'TELEQL_HOST', path: '*host', kind: 'string', help: 'bind address of every listener (default 127.0.0.1)' },
  { name: 'TELEQL_GRAPHQL_PORT', path: 'graphql.port', kind: 'port', help: 'GraphQL HTTP + WebSocket port (4000)' },
  { name: 'TELEQL_OTLP_GRPC_PORT', path: 'receivers.otlp.grpc.port', kind: 'port', help: 'OTLP/gRPC port (4317)' },
  { name: 'TELEQL_OTLP_HTTP_PORT', path: 'receivers.otlp.http.port', kind: 'port', help: 'OTLP/HTTP port (4318)' },
  { name: 'TELEQL_MAX_REQUEST_BYTES', path: 'receivers.otlp.maxRequestBytes', kind: 'int', help: 'largest OTLP request body, after decompression (16 MiB)' },
  { name: 'TELEQL_DATA_PATH', path: 'storage.duckdb.path', kind: 'string', help: "DuckDB file, or ':memory:' (./data/teleql.duckdb)" },
  { name: 'TELEQL_TRACES_READ', path: 'storage.read.traces', kind: 'string', help: 'where trace queries are answered: duckdb | jaeger (duckdb)' },
  { name: 'TELEQL_LOGS_READ', path: 'storage.read.logs', kind: 'string', help: 'where log queries are answered: duckdb | elasticsearch (duckdb)' },
  { name: 'TELEQL_JAEGER_URL', path: 'storage.jaeger.url', kind: 'string', help: 'Jaeger query base URL, e.g. http://jaeger:16686' },
  { name: 'TELEQL_JAEGER_SPAN_LOOKUP_LOOKBACK_MS', path: 'storage.jaeger.spanLookup.lookbackMs', kind: 'int', help: 'a span looked up by ID in Jaeger without a from time is searched for this far back, 60000 to 31622400000 (604800000: 7 days)' },
  { name: 'TELEQL_JAEGER_SPAN_LOOKUP_MAX_REQUESTS', path: 'storage.jaeger.spanLookup.maxRequests', kind: 'int', help: 'FindTraces requests one span lookup in Jaeger makes at most, 1 to 64 (8)' },
  { name: 'TELEQL_ES_NODE', path: 'storage.elasticsearch.node', kind: 'string', help: 'Elasticsearch URL, e.g. http://elasticsearch:9200' },
  { name: 'TELEQL_ES_USERNAME', path: 'storage.elasticsearch.username', kind: 'string', help: 'Elasticsearch basic-auth user' },
  { name: 'TELEQL_ES_PASSWORD', path: 'storage.elasticsearch.password', kind: 'string', help: 'Elasticsearch basic-auth password' },
  { name: 'TELEQL_ES_API_KEY', path: 'storage.elasticsearch.apiKey', kind: 'string', help: 'Elasticsearch API key (instead of user/password)' },
  { name: 'TELEQL_METRICS_READ', path: 'storage.read.metrics', kind: 'string', help: 'where metric queries are answered: duckdb | prometheus (duckdb)' },
  { name: 'TELEQL_PROMETHEUS_URL', path: 'storage.prometheus.url', kind: 'string', help: 'Prometheus base URL for metric reads, e.g. http://prometheus:9090' },
  { name: 'TELEQL_PROMETHEUS_BEARER', path: 'storage.prometheus.bearer', kind: 'string', help: 'bearer token for Prometheus reads' },
  { name: 'TELEQL_TAIL_FLUSH_INTERVAL_MS', path: 'tail.flushIntervalMs', kind: 'int', help: 'live tails: events pushed to a graphql-ws socket are held up to this many ms so they share one write; 0 = write at once (0)' },
  { name: 'TELEQL_TAIL_BUSY_FLUSH_INTERVAL_MS', path: 'tail.busyFlushIntervalMs', kind: 'int', help: 'the same while the event loop was at least 90 % busy over each of the last two half seconds, so ingest keeps the CPU (100)' },
  { name: 'TELEQL_TAIL_REDIS_URL', path: 'tail.redis.url', kind: 'string', help: "live tails across replicas: Redis URL, e.g. redis://redis:6379 ('' = in-process)" },
  { name: 'TELEQL_RED_SOURCE', path: 'correlation.red.source', kind: 'string', help: 'where RED series come from: spans | prometheus (spans)' },
  { name: 'TELEQL_RED_PROMETHEUS_URL', path: 'correlation.red.prometheusUrl', kind: 'string', help: 'Prometheus with spanmetrics series, e.g. http://prometheus:9090' },
  { name: 'TELEQL_SEARCH_MODEL', path: 'search.model', kind: 'string', help: 'embedding model: a Hugging Face ID or a folder under TELEQL_SEARCH_MODEL_PATH (Xenova/all-MiniLM-L6-v2)' },
  { name: 'TELEQL_SEARCH_MODEL_PATH', path: 'search.localModelPath', kind: 'string', help: 'directory holding local model folders' },
  { name: 'TELEQL_SEARCH_DTYPE', path: 'search.dtype', kind: 'string', help: "model weights variant, e.g. q8, fp32 ('' = the model's default)" },
  { name: 'TELEQL_LOG_LEVEL', path: 'log.level', kind: 'string', help: 'fatal|error|warn|info|debug|trace|silent (info)' },
  { name: 'TELEQL_ALERT_RULES_FILE', path: 'alerting.rulesFile', kind: 'string', help: 'YAML file of alert rules, reloaded when it changes' },
  { name: 'TELEQL_TRACES_EXPORTERS', path: 'pipelines.traces.exporters', kind: 'list', help: 'comma-separated write targets for traces, e.g. duckdb,embedding,jaeger (duckdb,embedding; embedding feeds semantic search)' },
  { name: 'TELEQL_LOGS_EXPORTERS', path: 'pipelines.logs.exporters', kind: 'list', help: 'comma-separated write targets for logs, e.g. duckdb,embedding,elasticsearch (duckdb,embedding; embedding feeds semantic search)' },
  { name: 'TELEQL_METRICS_EXPORTERS', path: 'pipelines.metrics.exporters', kind: 'list', help: 'comma-separated write targets for metrics, e.g. duckdb,prometheus (duckdb)' },
  { name: 'TELEQL_JAEGER_OTLP_ENDPOINT', path: 'exporters.jaeger.endpoint', kind: 'string', help: 'Jaeger OTLP receiver: http://jaeger:4318 (http) or jaeger:4317 (grpc)' },
  { name: 'TELEQL_JAEGER_OTLP_PROTOCOL', path: 'exporters.jaeger.protocol', kind: 'string', help: 'http | grpc (http)' },
  { name: 'TELEQL_JAEGER_OTLP_BEARER', path: 'exporters.jaeger.auth.bearer', kind: 'string', help: 'bearer token sent to the Jaeger OTLP receiver' },
  { name: 'TELEQL_JAEGER_OTLP_CA_FILE', path: 'exporters.jaeger.tls.caFile', kind: 'string', help: 'CA bundle for an https/TLS Jaeger OTLP endpoint' },
  { name: 'TELEQL_ES_BEARER', path: 'storage.elasticsearch.bearer', kind: 'string', help: 'Elasticsearch bearer token (instead of user/password)' },
  { name: 'TELEQL_ES_CA_FILE', path: 'storage.elasticsearch.caFile', kind: 'string', help: 'CA bundle for an https Elasticsearch' },
  { name: 'TELEQL_AUTH_MODE', path: 'auth.mode', kind: 'string', help: 'none | apiKey | jwt | apiKey+jwt (none)' },
  { name: 'TELEQL_JWT_SECRET', path: 'auth.jwt.secret', kind: 'string', help: 'shared secret for HS256/384/512 bearer JWTs (32+ characters; not with TELEQL_JWKS_FILE)' },
  { name: 'TELEQL_JWKS_FILE', path: 'auth.jwt.jwksFile', kind: 'string', help: 'JWKS file with the public keys for bearer JWTs (not with TELEQL_JWT_SECRET)' },
  { name: 'TELEQL_TLS_CERT_FILE', path: 'tls.certFile', kind: 'string', help: 'PEM certificate: every listener serves TLS' },
  { name: 'TELEQL_TLS_KEY_FILE', path: 'tls.keyFile', kind: 'string', help: 'PEM private key for tls.certFile' },
  { name: 'TELEQL_TLS_RELOAD_INTERVAL_MS', path: 'tls.reloadIntervalMs', kind: 'int', help: 'how often the TLS files are checked for a change; a renewed certificate is served to new connections without a restart (60000; 0 = read once)' },
  { name: 'TELEQL_DUCKDB_MEMORY_LIMIT', path: 'storage.duckdb.memoryLimit', kind: 'string', help: "DuckDB's buffer pool limit, e.g. 512MB (64MB; 80% of RAM: memoryLimit '' in the config file)" },
  { name: 'TELEQL_DUCKDB_WRITE_STEP_ROWS', path: 'storage.duckdb.writeStepRows', kind: 'int', help: 'rows per data chunk the store writer appends: smaller = more writer CPU (512)' },
  { name: 'TELEQL_DUCKDB_WRITE_STEP_MS', path: 'storage.duckdb.writeStepMs', kind: 'int', help: 'ms the store writer runs before yielding to the event loop: smaller = shorter stalls for live tails and queries (10)' },
  { name: 'TELEQL_DUCKDB_REOPEN_EVERY_ROWS', path: 'storage.duckdb.reopenEveryRows', kind: 'int', help: 'rows written after which the DuckDB instance is closed and reopened, giving back the native memory DuckDB keeps per row group written; 0 = never (2000000)' },
  { name: 'TELEQL_DUCKDB_READ_LANES', path: 'storage.duckdb.readLanes', kind: 'int', help: 'DuckDB read connections, shared fairly per tenant; one tenant holds at most this − 1 (3)' },
  { name: 'TELEQL_RETENTION', path: 'storage.retention.period', kind: 'string', help: "delete data older than this, e.g. 7d, 12h; '0' or off keeps it forever (7d)" },
  { name: 'TELEQL_RETENTION_TRACES', path: 'storage.retention.traces', kind: 'string', help: "retention for spans ('' = TELEQL_RETENTION)" },
  { name: 'TELEQL_RETENTION_LOGS', path: 'storage.retention.logs', kind: 'string', help: "retention for logs ('' = TELEQL_RETENTION)" },
  { name: 'TELEQL_RETENTION_METRICS', path: 'storage.retention.metrics', kind: 'string', help: "retention for metric points ('' = TELEQL_RETENTION)" },
  { name: 'TELEQL_INGEST_CLOSE_AFTER_REFUSALS', path: 'limits.ingest.closeAfterRefusals', kind: 'int', help: 'OTLP/HTTP 429s a tenant gets within one Retry-After window before further ones close the connection with the body unread (32; 0 = always drain)' },
  { name: 'TELEQL_HTTP_KEEPALIVE_TIMEOUT_MS', path: 'limits.connections.httpKeepAliveTimeoutMs', kind: 'int', help: 'idle kept-alive HTTP connections are closed after this (5000; 0 = never)' },
  { name: 'TELEQL_HTTP_HEADERS_TIMEOUT_MS', path: 'limits.connections.httpHeadersTimeoutMs', kind: 'int', help: 'HTTP request headers must arrive within this, else 408 (20000)' },
  { name: 'TELEQL_HTTP_REQUEST_TIMEOUT_MS', path: 'limits.connections.httpRequestTimeoutMs', kind: 'int', help: 'a whole HTTP request must arrive within this, else 408 (120000)' },
  { name: 'TELEQL_WS_IDLE_TIMEOUT_MS', path: 'limits.connections.wsIdleTimeoutMs', kind: 'int', help: 'graphql-ws connections with no operation and no message are closed after this (300000)' },
  { name: 'TELEQL_WS_PING_INTERVAL_MS', path: 'limits.connections.wsPingIntervalMs', kind: 'int', help: 'graphql-ws ping interval; a connection that missed the previous pong is cut, unless it is behind (then TELEQL_SSE_STALLED_MS applies) (30000)' },
  { name: 'TELEQL_SSE_STALLED_MS', path: 'limits.connections.sseStalledMs', kind: 'int', help: 'GraphQL-over-SSE streams, and graphql-ws connections behind on a missed pong, whose client took nothing written for this long are cut (600000; SSE: 0 = never)' },
  { name: 'TELEQL_GRPC_MAX_IDLE_MS', path: 'limits.connections.grpcMaxIdleMs', kind: 'int', help: 'OTLP/gRPC connections with no call get GOAWAY after this (300000)' },
  { name: 'TELEQL_GRPC_KEEPALIVE_TIME_MS', path: 'limits.connections.grpcKeepaliveTimeMs', kind: 'int', help: 'OTLP/gRPC server keepalive ping interval (120000)' },
  { name: 'TELEQL_GRPC_KEEPALIVE_TIMEOUT_MS', path: 'limits.connections.grpcKeepaliveTimeoutMs', kind: 'int', help: 'OTLP/gRPC connections that do not answer a ping within this are closed (20000)' },
  { name: 'TELEQL_MAX_CONNECTIONS_PER_LISTENER', path: 'limits.connections.maxPerListener', kind: 'int', help: 'connections open at once per listener (OTLP/gRPC, OTLP/HTTP, GraphQL); more are refused at accept, with 503 on plain HTTP (10000; 0 = no cap)' },
  { name: 'TELEQL_MAX_CONNECTIONS_PER_ADDRESS', path: 'limits.connections.maxPerAddress', kind: 'int', help: 'the same per client address; raise it or set 0 behind a proxy or NAT that many clients share (2000; 0 = no cap)' },
  { name: 'TELEQL_CONNECTIONS_IPV6_PREFIX_LENGTH', path: 'limits.connections.ipv6PrefixLength', kind: 'int', help: 'IPv6 clients count against the per-address cap by this many leading bits of their address (64: one network; 128: each address)' },
  { name: 'TELEQL_REFUSAL_DELAY_MAX_MS', path: 'limits.refusalDelay.maxMs', kind: 'int', help: "a tenant's rate-limit refusals past limits.refusalDelay.afterRefusals in one Retry-After window are held unanswered until the window ends, at most this long (5000; 0 = off)" },
  { name: 'TELEQL_REFUSAL_DELAY_AFTER_REFUSALS', path: 'limits.refusalDelay.afterRefusals', kind: 'int', help: 'rate-limit refusals of a tenant within one Retry-After window answered at once before later ones are held (32; 0 = never hold)' },
  { name: 'TELEQL_REFUSAL_DELAY_MAX_HELD', path: 'limits.refusalDelay.maxHeld', kind: 'int', help: 'refusals held at once, all tenants; beyond, answered at once (1000)' },
  { name: 'TELEQL_REFUSAL_DELAY_MAX_HELD_PER_TENANT', path: 'limits.refusalDelay.maxHeldPerTenant', kind: 'int', help: 'refusals of one tenant held at once; beyond, answered at once (64)' },
  { name: 'TELEQL_SHUTDOWN_DRAIN_MS', path: 'shutdown.drainMs', kind: 'int', help: 'on SIGTERM/SIGINT, /readyz answers 503 this long while OTLP and GraphQL are still served, then the listeners close (0; Kubernetes: e.g. 10000)' },
];

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[keys[keys.length - 1]!] = value;
}

const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };
const MIN_MEMORY_LIMIT_BYTES = 32e6;

function envOverrides(env: NodeJS.ProcessEnv, problems: ConfigProblems): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const v of ENV_VARS) {
    const raw = env[v.name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (v.kind === 'list') {
      value = raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
    } else if (v.kind !== 'string') {
      // Digits only: Number() reads ' ' as 0 and '0x10' as 16.
      const n = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      const max = v.kind === 'port' ? 65535 : Number.MAX_SAFE_INTEGER;
      if (!Number.isInteger(n) || n < 0 || n > max) {
        problems.refuse(v.path, `${v.name}: expected an integer from 0 to ${max} (actual: '${raw}')`);
        continue;
      }
      value = n;
    }
    if (v.path === '*host') {
      for (const p of ['graphql.host', 'receivers.otlp.grpc.host', 'receivers.otlp.http.host']) setPath(out, p, value);
    } else setPath(out, v.path, value);
  }
  return out;
}

function readFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(`config file ${file}: not valid YAML: ${(err as Error).message}`);
  }
}

/** Merge component sections (open maps) key by key so env/flags can set one field of `otlp`. */
function mergeLayers(base: GatewayConfig, layer: unknown, source: string, problems: ConfigProblems): GatewayConfig {
  if (layer === undefined || layer === null) return base;
  if (typeof layer !== 'object' || Array.isArray(layer)) {
    problems.add(`${source}: expected a mapping`);
    return base;
  }
  const { receivers, processors, exporters, ...rest } = layer as Record<string, unknown>;
  // "config file /etc/teleql.yaml: graphql: unknown key …", not "…/teleql.yaml.graphql: …".
  const layerProblems = new ConfigProblems();
  const merged = mergeConfig(base, rest, '', layerProblems);
  problems.adopt(layerProblems, source);
  const sections = { receivers, processors, exporters };
  for (const section of ['receivers', 'processors', 'exporters'] as const) {
    const over = sections[section];
    if (over === undefined || over === null) continue;
    if (typeof over !== 'object' || Array.isArray(over)) {
      problems.add(`${source}: ${section}: expected a mapping of component ids`);
      continue;
    }
    merged[section] = { ...base[section] };
    for (const [id, value] of Object.entries(over)) merged[section][id] = deepMerge(base[section][id], value);
  }
  return merged;
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (typeof a !== 'object' || a === null || Array.isArray(a) || typeof b !== 'object' || b === null || Array.isArray(b)) return b ?? a;
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b)) out[k] = deepMerge(out[k], v);
  return out;
}

/** ` or set TELEQL_JAEGER_OTLP_ENDPOINT`: the variable that creates a component section, if one does. */
function sectionVariableHint(section: string): string {
  const variable = ENV_VARS.find((v) => v.path.startsWith(`${section}.`));
  return variable ? ` or set ${variable.name}` : '';
}

/** A URL setting as a message shows it: without user info, also when the scheme is missing (`user:pass@host`). */
const shownUrl = (value: string) => withoutCredentials(value).replace(/^[^/@\s]*@/, '***@');

function validate(cfg: GatewayConfig, problems: ConfigProblems): void {
  validateSecurityConfig(cfg, problems);
  checkPipelineSections(cfg, sectionVariableHint, problems);
  if (!LOG_LEVELS.includes(cfg.log.level)) problems.add(`log.level: expected one of ${LOG_LEVELS.join('|')} (actual: '${cfg.log.level}')`);
  if (!Number.isInteger(cfg.graphql.port) || cfg.graphql.port < 0 || cfg.graphql.port > 65535) {
    problems.add(`graphql.port: expected an integer from 0 to 65535 (actual: ${cfg.graphql.port})`);
  }
  const origins = cfg.graphql.cors.allowedOrigins;
  if (!Array.isArray(origins) || !origins.every((o) => typeof o === 'string' && (o === '*' || /^https?:\/\/[^/]+$/.test(o)))) {
    problems.add(`graphql.cors.allowedOrigins: expected origins like "https://grafana.example.com" (no path) or "*" (actual: ${JSON.stringify(origins)})`);
  }
  if (!cfg.graphql.path.startsWith('/')) problems.add(`graphql.path: must start with "/" (actual: '${cfg.graphql.path}')`);
  for (const key of ['maxSubscriptions', 'maxPerConnection', 'bufferSize', 'maxReplay', 'maxPerTenant'] as const) {
    const v = cfg.tail[key];
    if (!Number.isInteger(v) || v < 1) problems.add(`tail.${key}: expected an integer greater than 0 (actual: ${v})`);
  }
  const { matchBudgetMs } = cfg.tail;
  if (!Number.isInteger(matchBudgetMs) || matchBudgetMs < 0 || matchBudgetMs > 10_000) {
    problems.add(`tail.matchBudgetMs: expected an integer number of ms per 10 s from 0 (no budget) to 10000 (actual: ${matchBudgetMs})`);
  }
  for (const key of ['flushIntervalMs', 'busyFlushIntervalMs'] as const) {
    const v = cfg.tail[key];
    if (!Number.isInteger(v) || v < 0 || v > 1000) problems.add(`tail.${key}: expected an integer from 0 (write at once) to 1000 (actual: ${v})`);
  }
  for (const key of ['rootWaitMs', 'quietMs', 'maxTraces', 'maxSpansPerTrace'] as const) {
    const v = cfg.tail.traces[key];
    const min = key === 'rootWaitMs' ? 0 : 1;
    if (!Number.isInteger(v) || v < min) problems.add(`tail.traces.${key}: expected an integer of at least ${min} (actual: ${v})`);
  }
  if (cfg.tail.redis.url !== '' && !/^rediss?:\/\//.test(cfg.tail.redis.url)) {
    problems.add(`tail.redis.url: expected a redis:// or rediss:// URL, or '' for in-process tails (actual: '${redisUrlForDisplay(cfg.tail.redis.url)}')`);
  }
  if (cfg.storage.duckdb.path === '') problems.add('storage.duckdb.path: must not be empty');
  // DuckDB itself answers a bad value with a bare "Failed to set config", after the listeners are bound.
  const { threads } = cfg.storage.duckdb;
  if (!Number.isInteger(threads) || threads < 0 || threads > MAX_DUCKDB_THREADS) {
    problems.add(`storage.duckdb.threads: expected an integer from 0 (DuckDB's default, one per core) to ${MAX_DUCKDB_THREADS} (actual: ${threads})`);
  }
  const { readLanes } = cfg.storage.duckdb;
  if (!Number.isInteger(readLanes) || readLanes < 1 || readLanes > 64) {
    problems.add(`storage.duckdb.readLanes: expected an integer from 1 to 64 (actual: ${readLanes})`);
  }
  // A power of two, so the writer's 2,048-row appender flushes fall on step boundaries.
  const { writeStepRows } = cfg.storage.duckdb;
  if (!Number.isInteger(writeStepRows) || writeStepRows < 64 || writeStepRows > 2048 || (writeStepRows & (writeStepRows - 1)) !== 0) {
    problems.add(`storage.duckdb.writeStepRows: expected a power of two from 64 to 2048 (actual: ${writeStepRows})`);
  }
  // DuckDB's own size syntax; checked here so a typo fails at start-up with the key's name.
  const { memoryLimit } = cfg.storage.duckdb;
  const size = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.exec(memoryLimit);
  if (memoryLimit !== '' && !size) {
    problems.add(`storage.duckdb.memoryLimit: expected a size such as 64MB or 1GiB, or '' for DuckDB's default (actual: '${memoryLimit}')`);
  }
  // Below this a commit on a non-empty file cannot find a block (4–8 MB), or reads starve the writes
  // (16 MB): acknowledged batches were dropped while /readyz said ready (storage QA).
  if (size && Number(size[1]) * SIZE_UNITS[size[2]!.toUpperCase()]! < MIN_MEMORY_LIMIT_BYTES) {
    problems.add(`storage.duckdb.memoryLimit: expected at least 32MB, below which writes fail beside reads (actual: '${memoryLimit}')`);
  }
  const { writeStepMs } = cfg.storage.duckdb;
  if (!Number.isInteger(writeStepMs) || writeStepMs < 1 || writeStepMs > 100) {
    problems.add(`storage.duckdb.writeStepMs: expected an integer number of ms from 1 to 100 (actual: ${writeStepMs})`);
  }
  const { reopenEveryRows } = cfg.storage.duckdb;
  if (!Number.isSafeInteger(reopenEveryRows) || (reopenEveryRows !== 0 && reopenEveryRows < 100_000)) {
    problems.add(`storage.duckdb.reopenEveryRows: expected 0 (never) or an integer of at least 100000 (actual: ${reopenEveryRows})`);
  }
  const { read, jaeger, elasticsearch } = cfg.storage;
  const allowed = { traces: ['duckdb', 'jaeger'], logs: ['duckdb', 'elasticsearch'], metrics: ['duckdb', 'prometheus'] } as const;
  for (const signal of ['traces', 'logs', 'metrics'] as const) {
    if (!(allowed[signal] as readonly string[]).includes(read[signal])) {
      problems.add(`storage.read.${signal}: expected one of ${allowed[signal].join('|')} (actual: '${read[signal]}')`);
    }
  }
  const { lookbackMs, maxRequests } = jaeger.spanLookup;
  if (!Number.isSafeInteger(lookbackMs) || lookbackMs < SPAN_LOOKBACK_MS.min || lookbackMs > SPAN_LOOKBACK_MS.max) {
    problems.add(`storage.jaeger.spanLookup.lookbackMs: expected an integer number of ms from ${SPAN_LOOKBACK_MS.min} to ${SPAN_LOOKBACK_MS.max} (actual: ${lookbackMs})`);
  }
  if (!Number.isInteger(maxRequests) || maxRequests < 1 || maxRequests > SPAN_LOOKUP_MAX_REQUESTS) {
    problems.add(`storage.jaeger.spanLookup.maxRequests: expected an integer from 1 to ${SPAN_LOOKUP_MAX_REQUESTS} (actual: ${maxRequests})`);
  }
  if (read.traces === 'jaeger' && !/^https?:\/\//.test(jaeger.url)) {
    problems.add(`storage.jaeger.url: traces are read from Jaeger, so an http(s) URL is needed (actual: '${shownUrl(jaeger.url)}')`);
  }
  if (read.metrics === 'prometheus' && !/^https?:\/\//.test(cfg.storage.prometheus.url)) {
    problems.add(`storage.prometheus.url: metrics are read from Prometheus, so an http(s) URL is needed (actual: '${shownUrl(cfg.storage.prometheus.url)}')`);
  }
  if (read.logs === 'elasticsearch' && !/^https?:\/\//.test(elasticsearch.node)) {
    problems.add(`storage.elasticsearch.node: logs are read from Elasticsearch, so an http(s) URL is needed (actual: '${shownUrl(elasticsearch.node)}')`);
  }
  const { red } = cfg.correlation;
  if (!['spans', 'prometheus'].includes(red.source)) problems.add(`correlation.red.source: expected one of spans|prometheus (actual: '${red.source}')`);
  if (!['ms', 's'].includes(red.durationUnit)) problems.add(`correlation.red.durationUnit: expected one of ms|s (actual: '${red.durationUnit}')`);
  if (red.source === 'prometheus' && !/^https?:\/\//.test(red.prometheusUrl)) {
    problems.add(`correlation.red.prometheusUrl: RED comes from Prometheus, so an http(s) URL is needed (actual: '${shownUrl(red.prometheusUrl)}')`);
  }
  const { drainMs } = cfg.shutdown;
  if (!Number.isInteger(drainMs) || drainMs < 0 || drainMs > MAX_DRAIN_MS) {
    problems.add(`shutdown.drainMs: expected an integer number of ms from 0 to ${MAX_DRAIN_MS} (actual: ${drainMs})`);
  }
  validateSearchConfig(cfg.search, problems);
  problems.check(() => retentionPlan(cfg.storage.retention));
}

export function loadConfig(sources: ConfigSources = {}): GatewayConfig {
  const env = sources.env ?? process.env;
  const file = sources.file ?? env.TELEQL_CONFIG;
  const problems = new ConfigProblems();
  let cfg = defaultConfig();
  // A file that cannot be read or parsed is the one mistake worth naming: nothing else is known.
  if (file) cfg = mergeLayers(cfg, readFile(file), `config file ${file}`, problems);
  cfg = mergeLayers(cfg, envOverrides(env, problems), 'environment', problems);
  cfg = mergeLayers(cfg, sources.overrides, 'overrides', problems);
  validate(cfg, problems);
  problems.throwIfAny();
  return deepFreeze(cfg);
}
