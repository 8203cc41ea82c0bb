// Deep-merges a user's config section over its defaults, rejecting misspelled keys and values of
// the wrong type (the Collector fails fast on `config_verbosity_typo.yaml`; so do we).

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
 * `defaults` fixes the shape: a key absent from a non-empty defaults object is a typo; an empty
 * defaults object is an open map (ids → sections). A null or undefined default accepts any value.
 */
export function mergeConfig<T>(defaults: T, user: unknown, path: string): T {
  // `path` is a key path (`graphql.cors`), '' at the top; messages start with it.
  const at = path ? `${path}: ` : '';
  if (user === undefined || user === null) return structuredClone(defaults);
  if (defaults === undefined || defaults === null) return user as T;
  if (isPlainObject(defaults)) {
    if (!isPlainObject(user)) throw new ConfigError(`${at}expected a mapping (actual: ${JSON.stringify(user)})`);
    const out: Record<string, unknown> = structuredClone(defaults);
    const open = Object.keys(defaults).length === 0;
    for (const [key, value] of Object.entries(user)) {
      if (!open && !Object.hasOwn(defaults, key)) {
        throw new ConfigError(`${at}unknown key "${key}" (known keys: ${Object.keys(defaults).join(', ')})`);
      }
      out[key] = open ? value : mergeConfig(defaults[key], value, path ? `${path}.${key}` : key);
    }
    return out as T;
  }
  if (Array.isArray(defaults)) {
    if (!Array.isArray(user)) throw new ConfigError(`${at}expected a list (actual: ${JSON.stringify(user)})`);
    return user as T;
  }
  if (typeof user !== typeof defaults) {
    throw new ConfigError(`${at}expected ${typeof defaults} (actual: ${JSON.stringify(user)})`);
  }
  return user as T;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
