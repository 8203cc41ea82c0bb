// Turns the `receivers / processors / exporters / pipelines` config into running components:
// receiver → processors (in order) → fan-out to exporters, one chain per signal. A receiver named
// in several pipelines is one instance feeding each signal's chain; processors and exporters get an
// instance per signal, as in the Collector.
import type { Logger } from 'pino';
import { throttledLog } from '../src/logger.ts';
import type { Component, Consumer, Host, NextConsumers, Signal } from './component.ts';
import { SignalNotSupportedError } from './component.ts';
import { fanout } from './helpers/fanout.ts';
import { componentType, type Registry } from './registry.ts';
import { ConfigError, ConfigProblems, SettingError, mergeConfig } from '../src/config/merge.ts';

export interface PipelineConfig {
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface IngestConfig {
  receivers: Record<string, unknown>;
  processors: Record<string, unknown>;
  exporters: Record<string, unknown>;
  pipelines: Partial<Record<Signal, PipelineConfig>>;
}

export interface RunningPipelines {
  /** Components by id (`otlp`, `batch/traces`, `duckdb/logs`…), for stats and tests. */
  components: ReadonlyMap<string, Component>;
  start(host: Host): Promise<void>;
  shutdown(): Promise<void>;
}

/** Consumers that see every batch a receiver produces, before processing (e.g. the live-tail bus). */
export type Taps = NextConsumers;

const SECTION = { receivers: 'receiver', processors: 'processor', exporters: 'exporter' } as const;

/**
 * Every component a pipeline names has its section (`exporters.jaeger`), checked before any type
 * lookup: an exporter named through TELEQL_TRACES_EXPORTERS without its section is a missing
 * section, not an unknown type. `hint` adds how to create a section (the config loader knows the
 * environment variables that do).
 */
export function checkPipelineSections(cfg: IngestConfig, hint: (section: string) => string = () => '', problems?: ConfigProblems): void {
  for (const [signal, pipe] of Object.entries(cfg.pipelines) as [Signal, PipelineConfig][]) {
    for (const kind of ['receivers', 'processors', 'exporters'] as const) {
      for (const id of pipe[kind]) {
        if (id in cfg[kind]) continue;
        const configured = Object.keys(cfg[kind]);
        const mistake = new ConfigError(
          `pipelines.${signal}.${kind}: ${SECTION[kind]} "${id}" is named in the pipeline but there is no ${kind}.${id} section ` +
            `(configured ${kind}: ${configured.length > 0 ? configured.join(', ') : 'none'}); add ${kind}.${id} to the config file${hint(`${kind}.${id}`)}`,
        );
        if (!problems) throw mistake;
        problems.errors.push(mistake);
      }
    }
  }
}

function unknownType(registry: Registry, kind: keyof typeof SECTION, id: string): ConfigError {
  return new ConfigError(`${kind}.${id}: unknown ${SECTION[kind]} type "${componentType(id)}" (known: ${[...registry[kind].keys()].join(', ')})`);
}

/**
 * Sections no pipeline names are checked too (their type, and their keys against its defaults), as
 * the Collector checks every configured component: `processors: { redacton: {} }` was silently
 * ignored, and the operator believed records were masked. They are not built.
 */
function checkUnnamedSections(registry: Registry, cfg: IngestConfig, problems: ConfigProblems): void {
  for (const kind of ['receivers', 'processors', 'exporters'] as const) {
    const named = new Set(Object.values(cfg.pipelines).flatMap((pipe) => pipe?.[kind] ?? []));
    for (const id of Object.keys(cfg[kind])) {
      if (named.has(id)) continue;
      const type = componentType(id);
      const factory = registry[kind].get(type);
      problems.check(() => {
        if (!factory) throw unknownType(registry, kind, id);
        mergeConfig(factory.createDefaultConfig(), cfg[kind][id], `${kind}.${id}`);
      });
    }
  }
}

/**
 * Builds every component (nothing starts). Each mistake of the config is found before any is
 * thrown: one ConfigError names them all (a section refused is not built, so one with several
 * mistakes names its first; an exporter of two pipelines names it once).
 */
export function buildPipelines(registry: Registry, cfg: IngestConfig, logger: Logger, taps: Taps = {}): RunningPipelines {
  const problems = new ConfigProblems();
  checkPipelineSections(cfg, undefined, problems);
  checkUnnamedSections(registry, cfg, problems);
  const exporters: [string, Component][] = [];
  const processors: [string, Component][] = [];
  const receivers: [string, Component][] = [];
  const receiverNext = new Map<string, NextConsumers>();

  const settingsFor = (id: string) => ({ id, logger: logger.child({ component: id }) });
  // A factory's create checks its config and builds objects (I/O waits for start), so what it
  // refuses is a config mistake: the gateway stops with exit code 2 and a message naming the
  // section, and the setting when the factory names it (SettingError). Undefined: refused (kept in
  // `problems`).
  // A section of several pipelines is built (and refused) once per pipeline: each mistake is named once.
  const keep = (mistake: ConfigError) => {
    if (!problems.errors.some((e) => e.message === mistake.message)) problems.errors.push(mistake);
  };
  const created = <C>(kind: keyof typeof SECTION, id: string, make: () => C): C | undefined => {
    try {
      return make();
    } catch (err) {
      if (!(err instanceof Error)) throw err;
      let mistake = err;
      if (err instanceof SettingError) mistake = new SettingError(`${kind}.${id}.${err.key}`, err.problem);
      else if (!(err instanceof ConfigError)) mistake = new ConfigError(err.message.startsWith(`${kind}.`) ? err.message : `${kind}.${id}: ${err.message}`);
      if (!(mistake instanceof ConfigError)) throw err;
      keep(mistake);
      return undefined;
    }
  };
  /**
   * The factory of `id`'s type for this signal, or undefined: with the mistake kept, or (a missing
   * section, already kept) without one.
   */
  const factoryFor = <F extends { type: string; signals: readonly Signal[] }>(kind: keyof typeof SECTION, found: F | undefined, id: string, where: string, signal: Signal): F | undefined => {
    if (!(id in cfg[kind])) return undefined;
    if (!found) keep(unknownType(registry, kind, id));
    else if (!found.signals.includes(signal)) problems.errors.push(new ConfigError(`${where}: ${SECTION[kind]} "${id}": ${new SignalNotSupportedError(found.type, signal).message}`));
    else return found;
    return undefined;
  };
  const configFor = (section: Record<string, unknown>, id: string, defaults: unknown, what: string) => mergeConfig(defaults, section[id], `${what}s.${id}`);

  for (const [signal, pipe] of Object.entries(cfg.pipelines) as [Signal, PipelineConfig][]) {
    if (pipe.receivers.length === 0 || pipe.exporters.length === 0) {
      problems.errors.push(new ConfigError(`pipelines.${signal}: needs at least one receiver and one exporter`));
      continue;
    }
    const exporterConsumers = pipe.exporters.flatMap((id) => {
      const factory = factoryFor('exporters', registry.exporters.get(componentType(id)), id, `pipelines.${signal}.exporters`, signal);
      const exporter = factory && created('exporters', id, () => factory.create(settingsFor(`${id}/${signal}`), configFor(cfg.exporters, id, factory.createDefaultConfig(), 'exporter'), signal));
      if (!exporter) return [];
      exporters.push([`${id}/${signal}`, exporter]);
      return [exporter];
    });
    let next: Consumer<typeof signal> = fanout(exporterConsumers);
    let mutatesData = false;
    for (const id of [...pipe.processors].reverse()) {
      const factory = factoryFor('processors', registry.processors.get(componentType(id)), id, `pipelines.${signal}.processors`, signal);
      const processor = factory && created('processors', id, () => factory.create(settingsFor(`${id}/${signal}`), configFor(cfg.processors, id, factory.createDefaultConfig(), 'processor'), signal, next));
      if (!processor) continue;
      processors.push([`${id}/${signal}`, processor]);
      next = processor;
      mutatesData ||= factory.mutatesData;
    }
    const tap = taps[signal] as Consumer<typeof signal> | undefined;
    // The tap sees a batch once the pipeline took it (the batch processor queued it: before the
    // store writes it), after redaction and attribute limits changed it in place: live tails show
    // what the store will hold, never a batch a processor refused and the client will resend.
    const head = tap ? acceptedThenTapped(next, tap, logger, !mutatesData) : next;
    for (const id of pipe.receivers) {
      const nexts = receiverNext.get(id) ?? {};
      (nexts as Record<Signal, Consumer<Signal>>)[signal] = head as Consumer<Signal>;
      receiverNext.set(id, nexts);
    }
  }

  for (const [id, nexts] of receiverNext) {
    const found = registry.receivers.get(componentType(id));
    const factory = (Object.keys(nexts) as Signal[]).every((signal) => factoryFor('receivers', found, id, `pipelines.${signal}.receivers`, signal)) ? found : undefined;
    const receiver = factory && created('receivers', id, () => factory.create(settingsFor(id), configFor(cfg.receivers, id, factory.createDefaultConfig(), 'receiver'), nexts));
    if (receiver) receivers.push([id, receiver]);
  }
  problems.throwIfAny();

  // Start downstream first so a receiver never feeds a component that is not running;
  // shut down upstream first so nothing arrives at a component that has flushed. Exporters feed
  // nothing, so they stop together: each one's shutdownTimeoutMs runs from shutdownBegins, and the
  // flush takes the longest of them, not their sum (three hanging backends held SIGTERM 15 s).
  const startOrder = [...exporters, ...processors.reverse(), ...receivers];
  const isExporter = new Set(exporters.map(([, c]) => c));
  let started: [string, Component][] = [];
  const stop = async ([id, c]: [string, Component]): Promise<void> => {
    try {
      await c.shutdown();
    } catch (err) {
      logger.error({ err, component: id }, 'component failed to shut down cleanly');
    }
  };
  return {
    components: new Map(startOrder),
    async start(host) {
      for (const entry of startOrder) {
        await entry[1].start(host);
        started.push(entry);
      }
    },
    async shutdown() {
      const stopping = [...started].reverse();
      started = [];
      for (const [, c] of stopping) c.shutdownBegins?.();
      for (const entry of stopping) if (!isExporter.has(entry[1])) await stop(entry);
      await Promise.all(stopping.filter(([, c]) => isExporter.has(c)).map(stop));
    },
  };
}

/**
 * `requestIsItems`: no processor of the chain mutates data, so the request a receiver passes decodes
 * into the very items the tap gets. A tap's failure is the tap's: the batch was accepted, and failing the request would make the client
 * resend records already stored (a Redis publish that could not encode a batch answered 503, and each
 * retry stored the batch again: QA round 29).
 */
function acceptedThenTapped<S extends Signal>(next: Consumer<S>, tap: Consumer<S>, logger: Logger, requestIsItems: boolean): Consumer<S> {
  const errorOnce = throttledLog(60_000);
  return {
    async consume(items, request) {
      await next.consume(items);
      try {
        // The request stands for the items only while no processor changed them.
        await tap.consume(items, requestIsItems ? request : undefined);
      } catch (err) {
        errorOnce(() => logger.error({ err, items: items.length }, 'live tails did not get an accepted batch (logged at most once a minute)'));
      }
    },
  };
}
