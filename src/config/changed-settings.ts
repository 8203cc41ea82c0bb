// Which settings differ between two configs, by key path: a SIGHUP names the ones it does not apply.

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The key paths (`graphql.port`, `auth.jwt.secret`, `exporters.jaeger`) whose values differ between
 * `before` and `after`, in the order of their keys. A list is one value (`pipelines.traces.exporters`),
 * and a section present on one side only is named once. Paths only, never values: secrets stay out of logs.
 */
export function changedSettings(before: unknown, after: unknown, path = ''): string[] {
  if (isMapping(before) && isMapping(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((k) => changedSettings(before[k], after[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [path];
}
