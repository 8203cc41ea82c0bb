// Who may send, as which tenant, and how much: the receiver asks its guard before reading a body
// (credentials, tenant, `ingest` scope) and before handing decoded items on (per-tenant rate limits).
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { AuthError, type Authenticator } from '../../../src/auth/authenticator.ts';
import type { HeaderLookup } from '../../../src/auth/types.ts';
import { InvalidTenantError } from '../../../src/tenant.ts';
import { RateLimitedError, type TenantRateLimit } from '../../../src/limits/tenant-rate-limit.ts';
import { ReceiveError, tenantOf } from './receive.ts';

export interface ReceiverGuard {
  /**
   * The tenant of a request, or a ReceiveError (401/UNAUTHENTICATED, 403/PERMISSION_DENIED, 400).
   * Synchronous when no credential needs checking, so an open receiver handles a request in the
   * same turn it arrives, exactly as before auth existed.
   */
  admit(headers: HeaderLookup, tenantHeader: string): string | Promise<string>;
  /** Counts a decoded request against the tenant's limits, or a ReceiveError (429/RESOURCE_EXHAUSTED). */
  charge(tenant: string, items: number, bytes: number): Promise<void>;
}

/** No credentials, no limits: the tenant header alone (what a receiver built without a guard does). */
export const openGuard: ReceiverGuard = {
  admit: (headers, tenantHeader) => tenantOf(headers(tenantHeader.toLowerCase()), tenantHeader),
  charge: () => Promise.resolve(),
};

export function authError(err: AuthError): ReceiveError {
  return err.kind === 'unauthenticated'
    ? new ReceiveError(401, GrpcStatus.UNAUTHENTICATED, err.publicMessage)
    : new ReceiveError(403, GrpcStatus.PERMISSION_DENIED, err.publicMessage);
}

export function createReceiverGuard(opts: {
  authenticator: Authenticator;
  items: TenantRateLimit;
  bytes: TenantRateLimit;
  logger: Logger;
}): ReceiverGuard {
  const { authenticator, items, bytes } = opts;
  const admitWithCredentials = async (headers: HeaderLookup, tenantHeader: string): Promise<string> => {
    try {
      return (await authenticator.admit(headers, tenantHeader, 'ingest')).tenant;
    } catch (err) {
      if (err instanceof AuthError) throw authError(err);
      if (err instanceof InvalidTenantError) return tenantOf(headers(tenantHeader.toLowerCase()), tenantHeader);
      throw err;
    }
  };
  return {
    admit(headers, tenantHeader) {
      if (authenticator.mode === 'none') return openGuard.admit(headers, tenantHeader);
      return admitWithCredentials(headers, tenantHeader);
    },
    async charge(tenant, itemCount, byteCount) {
      try {
        await items.charge(tenant, itemCount);
        await bytes.charge(tenant, byteCount);
      } catch (err) {
        if (!(err instanceof RateLimitedError)) throw err;
        opts.logger.debug({ tenant, limit: err.limit }, 'ingest rate limited');
        throw new ReceiveError(429, GrpcStatus.RESOURCE_EXHAUSTED, err.message, err.retryAfterSeconds);
      }
    },
  };
}
