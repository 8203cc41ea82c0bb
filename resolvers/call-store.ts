import { fromStoreError } from '../src/errors.ts';

/** Runs a store call and turns a StoreError into the client-facing GatewayError. */
export async function callStore<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw fromStoreError(err);
  }
}
