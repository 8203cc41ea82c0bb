import { fromStoreError } from '../src/errors.ts';

/** Runs a store call and turns a StoreError into the client-facing GatewayError. */
export async function callStore<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw fromStoreError(err);
  }
}

/** A line in `extensions.notes` naming the backend a correlated field read. */
export function noteSource(ctx: { notes: string[] }, field: string, backend: string): void {
  ctx.notes.push(`${field}: from ${backend}`);
}

/** callStore for reads whose answer may carry remarks for the client (`notes`): they go to `extensions.notes`. */
export async function callStoreNoting<T extends { notes?: readonly string[] }>(ctx: { notes: string[] }, call: () => Promise<T>): Promise<T> {
  const result = await callStore(call);
  if (result.notes) ctx.notes.push(...result.notes);
  return result;
}
