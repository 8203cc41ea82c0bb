// Who may send, as which tenant, and how much: the receiver asks its guard before reading a body
// (credentials, tenant, `ingest` scope, and the tenant's rate budget charged by the body's declared
// size and an item estimate) and settles the charge once the body is decoded.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { AuthError, type Authenticator } from '../../../src/auth/authenticator.ts';
import type { HeaderLookup } from '../../../src/auth/types.ts';
import { InvalidTenantError, REMEMBERED_TENANTS } from '../../../src/tenant.ts';
import { RateLimitedError, type TenantRateLimit } from '../../../src/limits/tenant-rate-limit.ts';
import { type RefusalPenalty, type RefusalWindow, passes } from '../../../src/limits/refusal-penalty.ts';
import type { OtlpFormat } from '../../../src/otlp/codec.ts';
import { ReceiveError, tenantOf } from './receive.ts';

/** What was charged before the body was read or decoded, so the charge can be settled after. */
export interface Reservation {
  items: number;
  bytes: number;
}

export interface ReceiverGuard {
  /**
   * The tenant of a request, or a ReceiveError (401/UNAUTHENTICATED, 403/PERMISSION_DENIED, 400).
   * Synchronous when no credential needs checking, so an open receiver handles a request in the
   * same turn it arrives, exactly as before auth existed.
   */
  admit(headers: HeaderLookup, tenantHeader: string): string | Promise<string>;
  /**
   * Before the body is read (HTTP) or decoded (gRPC): refuses a tenant whose budget for this second
   * is used up, else charges the body's size (when known) and an estimate of its items, learned
   * from the tenant's earlier requests. A 429/RESOURCE_EXHAUSTED ReceiveError when over a limit.
   * undefined when no limit is configured (nothing to settle).
   */
  reserve(tenant: string, format: OtlpFormat, bytes: number | undefined): Promise<Reservation> | undefined;
  /**
   * Before anything of the request is read: a 429/RESOURCE_EXHAUSTED ReceiveError when the tenant has
   * used up this second's budget or still owes (nothing is charged). Absent when no limit is configured.
   */
  owing?(tenant: string): Promise<void>;
  /**
   * Counts a rate-limit refusal of the tenant (OTLP/HTTP and gRPC alike): its refusal window, for
   * the tarpit (limits.refusalDelay), and `close` when it keeps sending after being refused
   * (limits.ingest.closeAfterRefusals), so an HTTP refusal closes the connection instead of reading
   * the rest of the body. Absent when no limit or no penalty is configured.
   */
  penalise?(tenant: string, retryAfterSeconds: number): { window: RefusalWindow; close: boolean };
  /** After decoding: charges what the reservation missed (or gives back what it overestimated). */
  settle(tenant: string, format: OtlpFormat, reserved: Reservation | undefined, items: number, bytes: number): Promise<void>;
}

/** No credentials, no limits: the tenant header alone (what a receiver built without a guard does). */
export const openGuard: ReceiverGuard = {
  admit: (headers, tenantHeader) => tenantOf(headers(tenantHeader.toLowerCase()), tenantHeader),
  reserve: () => undefined,
  settle: () => Promise.resolve(),
};

export function authError(err: AuthError): ReceiveError {
  return err.kind === 'unauthenticated'
    ? new ReceiveError(401, GrpcStatus.UNAUTHENTICATED, err.publicMessage)
    : new ReceiveError(403, GrpcStatus.PERMISSION_DENIED, err.publicMessage);
}

/**
 * Bytes per item assumed before a tenant's first decoded request: below what real items take (a
 * bare span is ~60 bytes of protobuf, ~200 of JSON), so the first estimate is high rather than low.
 * Without it, a tenant's first burst of concurrent requests would all be decoded before any was
 * charged. The overestimate is given back once the request is decoded.
 */
const ASSUMED_BYTES_PER_ITEM: Record<OtlpFormat, number> = { protobuf: 40, json: 120 };

/**
 * What a charge of `cost` takes now: a request beyond a whole second's budget takes the budget, and
 * the rest is owed once the request is decoded and its real size known (`settle`).
 */
const capped = (limit: TenantRateLimit, cost: number) => (limit.perSecond > 0 ? Math.min(cost, limit.perSecond) : 0);

export function createReceiverGuard(opts: {
  authenticator: Authenticator;
  items: TenantRateLimit;
  bytes: TenantRateLimit;
  /** Absent: refusals are not counted (every refused body drained, none held). */
  penalty?: RefusalPenalty;
  /** limits.ingest.closeAfterRefusals (0 or absent: always drain). */
  closeAfterRefusals?: number;
  logger: Logger;
}): ReceiverGuard {
  const { authenticator, items, bytes, penalty } = opts;
  const limited = items.perSecond > 0 || bytes.perSecond > 0;
  // Bytes per item of the tenant's last decoded request: how many items a body of n bytes likely holds.
  const bytesPerItem = new LRUCache<string, number>({ max: REMEMBERED_TENANTS });
  const admitWithCredentials = async (headers: HeaderLookup, tenantHeader: string): Promise<string> => {
    try {
      return (await authenticator.admit(headers, tenantHeader, 'ingest')).tenant;
    } catch (err) {
      if (err instanceof AuthError) throw authError(err);
      if (err instanceof InvalidTenantError) return tenantOf(headers(tenantHeader.toLowerCase()), tenantHeader);
      throw err;
    }
  };
  const limitedError = (tenant: string, err: unknown): unknown => {
    if (!(err instanceof RateLimitedError)) return err;
    opts.logger.debug({ tenant, limit: err.limit }, 'ingest rate limited');
    return new ReceiveError(429, GrpcStatus.RESOURCE_EXHAUSTED, err.message, err.retryAfterSeconds);
  };
  const owing = async (tenant: string): Promise<void> => {
    try {
      await items.check(tenant);
      await bytes.check(tenant);
    } catch (err) {
      throw limitedError(tenant, err);
    }
  };
  const reserve = async (tenant: string, format: OtlpFormat, size: number | undefined): Promise<Reservation> => {
    await owing(tenant);
    try {
      const ratio = bytesPerItem.get(`${format}:${tenant}`) ?? ASSUMED_BYTES_PER_ITEM[format];
      const reserved = { items: capped(items, size !== undefined ? Math.ceil(size / ratio) : 0), bytes: capped(bytes, size ?? 0) };
      await items.charge(tenant, reserved.items);
      await bytes.charge(tenant, reserved.bytes);
      return reserved;
    } catch (err) {
      throw limitedError(tenant, err);
    }
  };
  return {
    admit(headers, tenantHeader) {
      if (authenticator.mode === 'none') return openGuard.admit(headers, tenantHeader);
      return admitWithCredentials(headers, tenantHeader);
    },
    ...(limited ? { owing } : {}),
    ...(limited && penalty
      ? {
          penalise(tenant: string, retryAfterSeconds: number) {
            const window = penalty.refused(tenant, retryAfterSeconds);
            return { window, close: passes(window, opts.closeAfterRefusals ?? 0) };
          },
        }
      : {}),
    reserve(tenant, format, size) {
      return limited ? reserve(tenant, format, size) : undefined;
    },
    async settle(tenant, format, reserved, itemCount, byteCount) {
      if (!limited) return;
      if (itemCount > 0) bytesPerItem.set(`${format}:${tenant}`, Math.max(1, byteCount / itemCount));
      const r = reserved ?? { items: 0, bytes: 0 };
      const itemCost = capped(items, itemCount);
      const byteCost = capped(bytes, byteCount);
      try {
        if (itemCost > r.items) await items.charge(tenant, itemCost - r.items);
        else await items.refund(tenant, r.items - itemCost);
        if (byteCost > r.bytes) await bytes.charge(tenant, byteCost - r.bytes);
      } catch (err) {
        throw limitedError(tenant, err);
      }
      // A request beyond a second's budget went through on that budget; the rest is owed.
      await items.owe(tenant, itemCount - items.perSecond);
      await bytes.owe(tenant, byteCount - bytes.perSecond);
    },
  };
}
