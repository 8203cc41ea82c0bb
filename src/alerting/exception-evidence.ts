// Alert evidence's exception groups come from the one exception grouping (src/correlation/:
// type + normalised stack frames), so an alert's groups are the ones `exceptionGroups` shows.
import { findExceptionGroups } from '../correlation/exception-groups.ts';
import type { ExceptionGroupStore } from '../stores/correlation-types.ts';
import type { ExceptionGroupSource } from './types.ts';

/**
 * The rule's services and the evidence's trace IDs narrow the occurrences; other filter fields
 * (operations, attributes) have no counterpart on exception occurrences and are not applied.
 */
export function exceptionEvidence(store: ExceptionGroupStore): ExceptionGroupSource {
  return {
    async topExceptionGroups(tenant, q) {
      const groups = await findExceptionGroups(store, tenant, {
        range: q.range,
        ...(q.filter.service?.length && { services: q.filter.service }),
        ...(q.filter.traceId?.length && { traceIds: q.filter.traceId }),
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
