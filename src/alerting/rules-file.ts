// The rules file (alerting.rulesFile): read at start and again whenever it changes (fs.watch on its
// directory, debounced, so editors that write by rename are seen too). A file that does not parse
// or holds an invalid rule is refused as a whole with an error naming the rule and field; the
// rules already loaded stay in force.
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_TENANT } from '../model/telemetry.ts';
import { parseRule, type RuleDefaults } from './rules.ts';
import { AlertingError, type AlertRule } from './types.ts';

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
  if (extra.length) throw new AlertingError('BAD_RULE', `${file}: unknown key "${extra[0]}" (known keys: rules)`);
  const seen = new Set<string>();
  return ((list ?? []) as unknown[]).map((raw, i) => {
    // File rules without an id are identified by name, so their alert state survives reloads.
    const named = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : raw;
    const name = named && typeof named === 'object' && typeof (named as { name?: unknown }).name === 'string' ? (named as { name: string }).name : undefined;
    const withId = name !== undefined && !('id' in (named as object)) ? { ...(named as object), id: name } : named;
    // rules[5] ("BadOne"): people find a rule by its name, not by counting from 0.
    const where = `${file}: rules[${i}]${name === undefined ? '' : ` (${JSON.stringify(name)})`}`;
    const rule = parseRule(withId, { tenant: DEFAULT_TENANT, source: 'file', where, defaults });
    const k = `${rule.tenant}\u0000${rule.id}`;
    if (seen.has(k)) throw new AlertingError('BAD_RULE', `${file}: rules[${i}]: duplicate rule id ${JSON.stringify(rule.id)} for tenant ${rule.tenant}`);
    seen.add(k);
    return rule;
  });
}

export interface RulesFileWatcher {
  /** Loads the file once; resolves with the error message when it is invalid (rules unchanged). */
  reload(): Promise<string | null>;
  close(): void;
  /** The last load's error, or null. */
  lastError(): string | null;
}

export function watchRulesFile(opts: {
  file: string;
  debounceMs: number;
  defaults?: RuleDefaults;
  logger: Logger;
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

  async function load(onlyIfChanged = false): Promise<string | null> {
    try {
      const text = await readFile(file, 'utf8');
      if (onlyIfChanged && text === lastText) return lastError;
      lastText = text;
      const rules = parseRulesFile(text, opts.file, opts.defaults);
      await opts.apply(rules);
      lastError = null;
      applied = true;
      opts.logger.info({ file: opts.file, rules: rules.length }, 'alert rules loaded');
    } catch (err) {
      lastError = err instanceof AlertingError ? err.message : `${opts.file}: ${(err as Error).message}`;
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
    lastError: () => lastError,
    close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
