// Deep-merges a user's config section over its defaults, rejecting misspelled keys and values of
// the wrong type (the Collector fails fast on `config_verbosity_typo.yaml`; so do we).

/** Keys whose values are secrets (`auth.jwt.secret`, `storage.prometheus.password`, …). */
const SECRET_KEY = /(?:^|\.)(?:[a-z]*password|[a-z]*secret|bearer|apiKey|[a-z]*token)$/i;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * One setting that is wrong, named by its key. A component names the key within its own section
 * (`endpoint`, `tls.caFile`); the pipeline builder, which knows the section, names it in full
 * (`exporters.jaeger.endpoint`).
 */
export class SettingError extends ConfigError {
  constructor(
    readonly key: string,
    readonly problem: string,
  ) {
    super(`${key}: ${problem}`);
    this.name = 'SettingError';
  }
}

/**
 * The mistakes found in one config, so a start names them all rather than one per attempt (the
 * Collector joins its validation errors the same way). Checks throw at their first mistake; each
 * is run on its own through `check`.
 */
export class ConfigProblems {
  readonly errors: ConfigError[] = [];
  /** Key paths whose values were refused as read: checks of them, or of what holds them, would only echo that. */
  private readonly refusedKeys = new Set<string>();

  /** A value refused as read (`key`: its path); it keeps its default. */
  refuse(key: string, message: string): void {
    this.refusedKeys.add(key);
    this.errors.push(new ConfigError(message));
  }

  /**
   * A mistake found by a check, its message starting `key: `; left out when the key, a key inside
   * it or the key holding it was refused as read (`auth.jwt.secret` refused: "auth.jwt: set
   * jwt.secret" would be wrong).
   */
  add(message: string): void {
    const key = message.slice(0, message.indexOf(':'));
    for (const refused of this.refusedKeys) {
      if (refused === key || refused.startsWith(`${key}.`) || key.startsWith(`${refused}.`)) return;
    }
    this.errors.push(new ConfigError(message));
  }

  /** `other`'s mistakes, their messages after `source: ` (a file's name), and its refused keys. */
  adopt(other: ConfigProblems, source: string): void {
    for (const key of other.refusedKeys) this.refusedKeys.add(key);
    for (const error of other.errors) this.errors.push(new ConfigError(`${source}: ${error.message}`));
  }

  /** Runs `run`; a ConfigError it throws is kept, each of a list's (any other error is a bug and goes on). */
  check(run: () => void): void {
    try {
      run();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.errors.push(...(err instanceof ConfigMistakes ? err.mistakes : [err]));
    }
  }

  /** One mistake as itself; several as one error that lists them, one per line. */
  throwIfAny(): void {
    if (this.errors.length === 1) throw this.errors[0]!;
    if (this.errors.length > 1) throw new ConfigMistakes(this.errors);
  }
}

/** Several mistakes of one config, named together (ConfigProblems.check takes them apart again); still named ConfigError. */
export class ConfigMistakes extends ConfigError {
  readonly mistakes: readonly ConfigError[];
  constructor(mistakes: readonly ConfigError[]) {
    super(`${mistakes.length} mistakes:\n${mistakes.map((e) => `  - ${e.message}`).join('\n')}`);
    this.mistakes = mistakes;
  }
}

/**
 * `defaults` fixes the shape: a key absent from a non-empty defaults object is a typo; an empty
 * defaults object is an open map (ids → sections). A null or undefined default accepts any value.
 * Without `problems` the first mistake throws; with it, each is kept there and the default stays.
 */
export function mergeConfig<T>(defaults: T, user: unknown, path: string, problems?: ConfigProblems): T {
  // `path` is a key path (`graphql.cors`), '' at the top; messages start with it.
  const at = path ? `${path}: ` : '';
  const refuse = (message: string, key = path): T => {
    if (!problems) throw new ConfigError(`${at}${message}`);
    problems.refuse(key, `${at}${message}`);
    return structuredClone(defaults);
  };
  if (user === undefined || user === null) return structuredClone(defaults);
  if (defaults === undefined || defaults === null) return user as T;
  if (isPlainObject(defaults)) {
    if (!isPlainObject(user)) return refuse(`expected a mapping (actual: ${JSON.stringify(user)})`);
    const out: Record<string, unknown> = structuredClone(defaults);
    const open = Object.keys(defaults).length === 0;
    for (const [key, value] of Object.entries(user)) {
      if (!open && !Object.hasOwn(defaults, key)) {
        refuse(`unknown key "${key}" (known keys: ${Object.keys(defaults).join(', ')})`, path ? `${path}.${key}` : key);
        continue;
      }
      out[key] = open ? value : mergeConfig(defaults[key], value, path ? `${path}.${key}` : key, problems);
    }
    return out as T;
  }
  if (Array.isArray(defaults)) {
    if (!Array.isArray(user)) return refuse(`expected a list (actual: ${JSON.stringify(user)})`);
    return user as T;
  }
  // A secret's value is not repeated (the message goes to terminals and logs).
  if (typeof user !== typeof defaults) return refuse(`expected ${typeof defaults} (actual: ${SECRET_KEY.test(path) ? `a ${typeof user}, not shown` : JSON.stringify(user)})`);
  return user as T;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
