// The index template for teleql's log data streams. Elasticsearch's built-in `logs-*-*` template maps
// `@timestamp` as `date` (ms) and has no place for teleql's fields, so ours (higher priority) sets:
// - `@timestamp`/`observed_timestamp` as `date_nanos` (OTLP times are ns);
// - `attributes`, `resource.attributes` as objects with `subobjects: false`, so `http.method` and
//   `http` can both be keys; every leaf a keyword (what eq/in/regex compare, like DuckDB's string map)
//   with a `teleql_num` double sub-field for numeric comparisons (non-numbers are skipped, not refused);
// - `teleql.record` not parsed at all (`enabled: false`): the lossless copy is read, never searched;
// - room for many attribute keys and for collapse inner hits up to the store's per-key limit.
import type { estypes } from '@elastic/elasticsearch';
import { NUMBER_SUBFIELD } from './query.ts';
import { wildcardRegExp } from '../../model/patterns.ts';

export const TEMPLATE_NAME = 'teleql-logs';
export const DEFAULT_TEMPLATE_PATTERN = 'logs-teleql-*';
/** Above Elastic's built-in `logs` template (100), below what an operator would use to override us. */
export const TEMPLATE_PRIORITY = 200;

const attributeLeaf = (path: string): Record<string, estypes.MappingDynamicTemplate> => ({
  [`teleql_${path.replace(/\W/g, '_')}`]: {
    path_match: `${path}.*`,
    match_mapping_type: '*',
    mapping: { type: 'keyword', ignore_above: 8191, fields: { [NUMBER_SUBFIELD]: { type: 'double', ignore_malformed: true } } },
  },
});

export function logsIndexTemplate(pattern = DEFAULT_TEMPLATE_PATTERN): estypes.IndicesPutIndexTemplateRequest {
  return {
    name: TEMPLATE_NAME,
    index_patterns: [pattern],
    priority: TEMPLATE_PRIORITY,
    data_stream: {},
    _meta: { managed_by: 'teleql', description: 'OTLP log records written by teleql' },
    template: {
      settings: {
        'index.mapping.total_fields.limit': 10_000,
        'index.max_inner_result_window': 10_000,
        'index.codec': 'best_compression',
      },
      mappings: {
        dynamic_templates: [attributeLeaf('attributes'), attributeLeaf('resource.attributes')],
        properties: {
          '@timestamp': { type: 'date_nanos' },
          observed_timestamp: { type: 'date_nanos' },
          severity_number: { type: 'integer' },
          severity_text: { type: 'keyword' },
          body: { properties: { text: { type: 'text' }, structured: { type: 'object', enabled: false } } },
          attributes: { type: 'object', subobjects: false },
          resource: { properties: { attributes: { type: 'object', subobjects: false }, schema_url: { type: 'keyword' } } },
          scope: { properties: { name: { type: 'keyword' }, version: { type: 'keyword' } } },
          trace_id: { type: 'keyword' },
          span_id: { type: 'keyword' },
          event_name: { type: 'keyword' },
          data_stream: {
            properties: { type: { type: 'constant_keyword' }, dataset: { type: 'constant_keyword' }, namespace: { type: 'constant_keyword' } },
          },
          teleql: {
            properties: {
              tenant: { type: 'keyword' },
              id: { type: 'keyword' },
              record: { type: 'object', enabled: false },
              body_text: { type: 'text' },
            },
          },
        },
      },
    },
  };
}

/** Whether an index pattern (`*` wildcards only, as index templates and index names take them) matches `name`. */
export function indexPatternMatches(pattern: string, name: string): boolean {
  return wildcardRegExp(pattern).test(name);
}

/**
 * Whether a search target (`storage.elasticsearch.index`: names and `*` patterns, comma-separated, a
 * `-` entry excluding what it matches from the entries before it, `_all`) covers the data stream
 * `name`. Undefined when the expression cannot be judged here: a remote cluster (`other:logs-*`) or
 * date math (`<logs-{now/d}>`). A name that does not match may still be an alias of the stream;
 * only Elasticsearch knows.
 */
export function indexExpressionCovers(expression: string, name: string): boolean | undefined {
  let covered = false;
  for (const raw of expression.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    if (part.includes(':') || part.startsWith('<')) return undefined;
    if (part.startsWith('-') && part.length > 1) {
      if (indexPatternMatches(part.slice(1), name)) covered = false;
    } else if (part === '_all' || indexPatternMatches(part, name)) {
      covered = true;
    }
  }
  return covered;
}
