// Tenant IDs come from the X-Scope-OrgID header (as in Tempo, Loki and Mimir) or default to
// "default". The allowed characters are Cortex/Mimir's, so the same IDs work across that stack.
import { DEFAULT_TENANT } from './model/telemetry.ts';

/**
 * How many tenants each piece of per-tenant bookkeeping (rate ratios, refusal windows, lane order
 * and statistics, indexing counts) remembers; the least recently seen are forgotten, so a stream
 * of new tenant IDs cannot grow memory without bound (about 300 B per tenant was kept forever).
 */
export const REMEMBERED_TENANTS = 10_000;

const TENANT_PATTERN = /^[A-Za-z0-9!\-_.*'()]{1,150}$/;

export class InvalidTenantError extends Error {
  constructor(value: string) {
    super(`invalid tenant ID ${JSON.stringify(value.slice(0, 160))}: use 1 to 150 characters of A-Z a-z 0-9 ! - _ . * ' ( )`);
    this.name = 'InvalidTenantError';
  }
}

/** Whether a value is a usable tenant ID (the one rule both the OTLP receiver and GraphQL apply). */
export function isValidTenant(value: string): boolean {
  return TENANT_PATTERN.test(value) && value !== '.' && value !== '..';
}

/** The tenant for a request, from the header's value (missing or empty means the default tenant). */
export function resolveTenant(headerValue: string | readonly string[] | undefined | null): string {
  const value = Array.isArray(headerValue) ? headerValue[0] : (headerValue as string | undefined | null);
  if (value === undefined || value === null || value === '') return DEFAULT_TENANT;
  if (!isValidTenant(value)) throw new InvalidTenantError(value);
  return value;
}

/** Items by tenant, tenants in first-seen order, each group in item order (a request carries one tenant). */
export function groupByTenant<T extends { tenant: string }>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.tenant);
    if (group) group.push(item);
    else groups.set(item.tenant, [item]);
  }
  return groups;
}
