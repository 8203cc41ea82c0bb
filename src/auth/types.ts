// Who is calling: the identity every endpoint derives from its credentials, and the two ways of
// refusing (no valid credential / a valid one without the needed scope).

// `metrics` reads the gateway's own /metrics: figures summed over every tenant (items ingested,
// rules, firing alerts), so it is the operator's, not a tenant's, and `admin` does not include it.
export const SCOPES = ['ingest', 'query', 'admin', 'metrics'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  /** The tenant every read and write of this caller is bound to. */
  tenant: string;
  scopes: ReadonlySet<Scope>;
  /** Key name or JWT subject, for logs only (never the secret). */
  subject: string;
  method: 'none' | 'apiKey' | 'jwt';
  /** When the credential stops being valid (a JWT's exp plus the clock tolerance), ms since the epoch. */
  validUntilMs?: number;
  /** Aborted when the credential is withdrawn: an API key removed or changed by a reload, a JWT's signing key gone from the JWKS file. */
  revoked?: AbortSignal;
}

/**
 * `unauthenticated`: missing or invalid credentials (HTTP 401, gRPC UNAUTHENTICATED); the message
 * sent to the client is always the same, the reason is for the log. `forbidden`: a valid credential
 * without the scope or for another tenant (HTTP 403, gRPC PERMISSION_DENIED).
 */
export class AuthError extends Error {
  constructor(
    readonly kind: 'unauthenticated' | 'forbidden',
    /** What the client is told. */
    readonly publicMessage: string,
    /** Why, for the server's log. */
    readonly reason: string = publicMessage,
  ) {
    super(publicMessage);
    this.name = 'AuthError';
  }
}

export const UNAUTHENTICATED_MESSAGE = 'missing or invalid credentials';

export function unauthenticated(reason: string): AuthError {
  return new AuthError('unauthenticated', UNAUTHENTICATED_MESSAGE, reason);
}

/** `admin` includes every other scope of its tenant (not `metrics`, which is not a tenant's). */
export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes.has(scope) || (scope !== 'metrics' && p.scopes.has('admin'));
}

/** Reads one header by lower-case name, whatever the transport keeps them in. */
export type HeaderLookup = (name: string) => string | undefined;

export function nodeHeaders(headers: Record<string, string | string[] | undefined>): HeaderLookup {
  return (name) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
}

/** graphql-ws `connection_init` payloads: keys at the top level or under `headers`, any case. */
export function connectionParamHeaders(params: Readonly<Record<string, unknown>> | undefined, fallback: HeaderLookup): HeaderLookup {
  const flat = new Map<string, string>();
  const add = (obj: Readonly<Record<string, unknown>>) => {
    for (const [k, v] of Object.entries(obj)) if (typeof v === 'string') flat.set(k.toLowerCase(), v);
  };
  if (params) {
    const nested = Object.entries(params).find(([k, v]) => k.toLowerCase() === 'headers' && v && typeof v === 'object');
    if (nested) add(nested[1] as Record<string, unknown>);
    add(params);
  }
  return (name) => flat.get(name) ?? fallback(name);
}
