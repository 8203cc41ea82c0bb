// Alert evidence's exception groups come from the one exception grouping (src/correlation/:
// type + normalised stack frames), so an alert's groups are the ones `exceptionGroups` shows.
import { findExceptionGroups } from '../correlation/exception-groups.ts';
import type { ExceptionGroupStore } from '../stores/correlation-types.ts';
import type { TelemetryFilter } from '../stores/types.ts';
import type { ExceptionGroupSource } from './types.ts';

/**
 * The values of `field` every match must have: the intersection of the field's lists at the top of
 * the filter and in its `and` terms, at any depth (the engine puts the rule's services and the
 * alert's own service there); undefined when no such list constrains it. `or` and `not` terms
 * narrow nothing for certain and are not read.
 */
function requiredValues(filter: TelemetryFilter, field: 'service' | 'traceId'): string[] | undefined {
  let required: string[] | undefined;
  const visit = (f: TelemetryFilter) => {
    const list = f[field];
    if (list?.length) required = required ? required.filter((v) => list.includes(v)) : [...list];
    for (const term of f.and ?? []) visit(term);
  };
  visit(filter);
  return required;
}

/**
 * The services the filter requires (the rule's, and the alert's own service) and the evidence's
 * trace IDs narrow the occurrences; other filter fields (operations, attributes) have no
 * counterpart on exception occurrences and are not applied.
 */
export function exceptionEvidence(store: ExceptionGroupStore): ExceptionGroupSource {
  return {
    async topExceptionGroups(tenant, q) {
      const services = requiredValues(q.filter, 'service');
      const traceIds = requiredValues(q.filter, 'traceId');
      // Lists that share no value: nothing can match (an empty list would mean "any").
      if (services?.length === 0 || traceIds?.length === 0) return [];
      const groups = await findExceptionGroups(store, tenant, {
        range: q.range,
        ...(services && { services }),
        ...(traceIds && { traceIds }),
        limit: q.limit,
        examples: 1,
      });
      return groups.map((g) => ({
        fingerprint: g.fingerprint,
        type: g.type,
        message: g.sampleMessage,
        count: g.count,
        sampleTraceId: g.exampleSpans[0]?.traceId ?? null,
      }));
    },
  };
}
