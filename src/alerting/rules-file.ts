// The rules file (alerting.rulesFile): read at start and again whenever it changes (fs.watch on its
// directory, debounced, so editors that write by rename are seen too). A file that does not parse
// or holds an invalid rule is refused as a whole with an error naming the rule and field; the
// rules already loaded stay in force. Each load's outcome is counted for /metrics.
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import type { MetricSample } from '../server/metrics.ts';
import { DEFAULT_TENANT } from '../model/telemetry.ts';
import { fileRuleTenant, parseRule, type RuleDefaults } from './rules.ts';
import { AlertingError, aboutTenant, type AlertRule } from './types.ts';

/** Every rule of the file's text, or an AlertingError for the first problem found. */
export function parseRulesFile(text: string, file: string, defaults?: RuleDefaults): AlertRule[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new AlertingError('BAD_RULE', `${file}: not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return [];
  const list = (doc as { rules?: unknown }).rules;
  if (typeof doc !== 'object' || Array.isArray(doc) || !Array.isArray(list ?? [])) {
    throw new AlertingError('BAD_RULE', `${file}: expected a mapping with a "rules" list`);
  }
  const extra = Object.keys(doc).filter((k) => k !== 'rules');
  if (extra.length) {
    // A Prometheus rule file has `groups`, each with its own `rules`; ours is the one list.
    const hint = extra[0] === 'groups' ? '; unlike a Prometheus rule file, it has no groups: one "rules" list, each rule with its own interval' : '';
    throw new AlertingError('BAD_RULE', `${file}: unknown key "${extra[0]}" (known keys: rules)${hint}`);
  }
  const seen = new Set<string>();
  return ((list ?? []) as unknown[]).map((raw, i) => {
    // File rules without an id are identified by name, so their alert state survives reloads.
    const named = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : raw;
    const name = named && typeof named === 'object' && typeof (named as { name?: unknown }).name === 'string' ? (named as { name: string }).name : undefined;
    const withId = name !== undefined && !('id' in (named as object)) ? { ...(named as object), id: name } : named;
    // rules[5] ("BadOne"): people find a rule by its name, not by counting from 0.
    const where = `${file}: rules[${i}]${name === undefined ? '' : ` (${JSON.stringify(name)})`}`;
    let rule: AlertRule;
    try {
      rule = parseRule(withId, { tenant: DEFAULT_TENANT, source: 'file', where, defaults });
    } catch (err) {
      // The rule's tenant, as parseRule reads it, so that tenant can be shown what is wrong with its rule.
      throw aboutTenant(err, fileRuleTenant(named, DEFAULT_TENANT));
    }
    const k = `${rule.tenant}\u0000${rule.id}`;
    if (seen.has(k)) {
      const unnamed = named && typeof named === 'object' && !('id' in (named as object)) ? ' (a rule without an id is identified by its name: give rules of the same name an id each)' : '';
      throw new AlertingError('BAD_RULE', `${where}: duplicate rule id ${JSON.stringify(rule.id)} for tenant ${rule.tenant}${unnamed}`, rule.tenant);
    }
    seen.add(k);
    return rule;
  });
}

/** Why the rules file's last load was refused, and about whose rule (AlertingError.tenant). */
export interface RulesFileRefusal {
  error: string;
  /** The tenant whose rule the error is about; undefined when it is about the file as a whole. */
  tenant: string | undefined;
  atMs: number;
}

export interface RulesFileWatcher {
  /** Loads the file once; resolves with the error message when it is invalid (rules unchanged). */
  reload(): Promise<string | null>;
  /**
   * Loads the file again when its last load was refused by `apply` (a rule clashing with an API
   * rule), since the API rules may have changed since; a file refused for its own text waits for
   * the text to change.
   */
  reloadIfRefusedByApply(): Promise<string | null>;
  close(): void;
  /** The last load's error, or null. */
  lastError(): string | null;
  /** The last load's refusal, or null when it succeeded. */
  refusal(): RulesFileRefusal | null;
  /** Refused loads, and whether the last one succeeded (as Prometheus' prometheus_config_last_reload_*). */
  metrics(): MetricSample[];
}

export function watchRulesFile(opts: {
  file: string;
  debounceMs: number;
  defaults?: RuleDefaults;
  logger: Logger;
  /** Refuses rules the file may not hold for reasons beyond their text alone (PromQL the evaluator cannot run). */
  check?(rules: AlertRule[]): Promise<void>;
  apply(rules: AlertRule[]): Promise<void>;
}): RulesFileWatcher {
  const file = resolve(opts.file);
  let lastError: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  let loading: Promise<string | null> = Promise.resolve(null);
  let watcher: FSWatcher | undefined;
  let closed = false;

  let lastText: string | undefined;
  let applied = false;
  let failures = 0;
  let lastSuccessAtMs: number | null = null;
  // The last load was refused by apply (a clash with an API rule), not for its own text.
  let refusedByApply = false;
  let refusal: RulesFileRefusal | null = null;

  async function load(onlyIfChanged = false): Promise<string | null> {
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
      if (onlyIfChanged && text === lastText) return lastError;
      lastText = text;
      refusedByApply = false;
      const rules = parseRulesFile(text, opts.file, opts.defaults);
      // Refused for its own content: loaded again only when the text changes.
      await opts.check?.(rules).catch((err: unknown) => {
        throw err instanceof AlertingError ? new AlertingError(err.code, `${opts.file}: ${err.message}`, err.tenant) : err;
      });
      try {
        await opts.apply(rules);
      } catch (err) {
        refusedByApply = true;
        throw err instanceof AlertingError ? new AlertingError(err.code, `${opts.file}: ${err.message}`, err.tenant) : err;
      }
      lastError = null;
      refusal = null;
      applied = true;
      lastSuccessAtMs = Date.now();
      opts.logger.info({ file: opts.file, rules: rules.length }, 'alert rules loaded');
    } catch (err) {
      const error = err instanceof AlertingError ? err.message : `${opts.file}: ${(err as Error).message}`;
      // A missing file is read again at every change in its directory (a DuckDB file next to it
      // changes many times a second): the same failure to read it is counted and logged once.
      if (onlyIfChanged && text === undefined && error === lastError) return lastError;
      failures++;
      lastError = error;
      refusal = { error, tenant: err instanceof AlertingError ? err.tenant : undefined, atMs: Date.now() };
      // At start-up there are no previous rules: the caller stops the gateway instead.
      opts.logger.error({ file: opts.file, error: lastError }, applied ? 'alert rules file refused; the previous rules stay in force' : 'alert rules file refused');
    }
    return lastError;
  }

  const reload = (onlyIfChanged = false) => {
    const next = () => load(onlyIfChanged);
    loading = loading.then(next, next);
    return loading;
  };

  try {
    // The directory is watched: an editor that saves by writing a new file and renaming it
    // replaces the inode, which a watch on the file itself would lose. Any entry's change is read:
    // a Kubernetes ConfigMap swaps a `..data` symlink the file's own symlink goes through, and no
    // event names the file; unchanged text is not applied again.
    watcher = watch(dirname(file), () => {
      if (closed) return;
      clearTimeout(timer);
      timer = setTimeout(() => void reload(true), opts.debounceMs);
    });
    watcher.on('error', (err) => opts.logger.warn({ err }, 'watching the alert rules file failed'));
  } catch (err) {
    opts.logger.warn({ err, file: opts.file }, 'cannot watch the alert rules file; changes need a restart');
  }

  return {
    reload: () => reload(),
    reloadIfRefusedByApply: () => (refusedByApply ? reload() : Promise.resolve(lastError)),
    lastError: () => lastError,
    refusal: () => refusal,
    metrics: () => [
      { name: 'teleql_alerting_rules_file_reload_failures_total', help: 'Loads of the alert rules file that were refused (unreadable, invalid, or clashing with an API rule)', type: 'counter', value: failures },
      { name: 'teleql_alerting_rules_file_last_reload_successful', help: '1 when the last load of the alert rules file succeeded, 0 when it was refused (the previous rules stay in force)', type: 'gauge', value: lastError === null ? 1 : 0 },
      { name: 'teleql_alerting_rules_file_last_reload_success_timestamp_seconds', help: 'When the alert rules file was last loaded successfully', type: 'gauge', value: lastSuccessAtMs === null ? 0 : lastSuccessAtMs / 1000 },
    ],
    close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
