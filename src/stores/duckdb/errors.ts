// Turns DuckDB's errors into StoreError codes, so no driver error reaches a resolver.
import { StoreError } from '../types.ts';

export const BACKEND = 'duckdb';

export function badQuery(message: string): StoreError {
  return new StoreError('BAD_QUERY', BACKEND, message);
}

export function unavailable(message: string, cause?: unknown): StoreError {
  return new StoreError('UNAVAILABLE', BACKEND, message, cause);
}

// User values only ever reach DuckDB as bound parameters, so a parser/binder/catalog error is our
// bug (INTERNAL), while a conversion or invalid-input error comes from a value the caller sent.
const BAD_INPUT = /^(Conversion|Invalid Input|Out of Range) Error/;
// Transient: the same statement may succeed later. DuckDB wraps some of these ("Failed to append:
// could not allocate block…" when the buffer pool is full, "TransactionContext Error: Failed to
// commit: …"), so out-of-memory is matched anywhere in the text; write-write conflicts are
// TransactionContext errors.
const TRANSIENT =
  /^(IO|Interrupt|Connection|TransactionContext) Error|Out of Memory|could not allocate|disconnected|instance closed|database has been closed|Could not set lock/i;

const OUT_OF_MEMORY = /^Out of Memory Error/;
const COULD_NOT_ALLOCATE = /could not allocate block/i;
// Any of these, wherever DuckDB put it in its message (a commit wraps it; a commit that found no
// room to load a block says "failed to pin block").
const MEMORY = /Out of Memory|could not allocate|failed to pin block/i;
// What a client can do about it. DuckDB copies each long string a statement scans into the
// 2,048-row vector being read, so a condition over attribute values or log bodies of ~12 KB and more
// needs ~100 MB on its own (docs/known-gaps.md); at the 64 MB default, reads and writes at once can
// also run out with short values (soak QA, session 30: ~600 items/s with search on).
const MEMORY_ADVICE =
  'The embedded store\'s memory limit (storage.duckdb.memoryLimit, TELEQL_DUCKDB_MEMORY_LIMIT) was reached by this statement and the others running with it ' +
  '(conditions over attribute values or log bodies of more than ~10 KB need ~100 MB on their own): raise it (e.g. 256MB) or narrow the query';

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// DuckDB's words when a failed checkpoint (e.g. out of memory) has invalidated an attached
// database: every later statement fails until the instance is closed and the file attached again.
// The first is a COMMIT's: its transaction is durable all the same.
const DURABLE_COMMIT = /COMMIT succeeded and is durable/i;
const INVALIDATED = /has been invalidated|autocheckpoint failed|Reopen the database instance to recover|Detach and reattach/i;

/** Whether `err` is DuckDB's "Out of Memory Error" (memoryLimit reached). */
export function outOfMemory(err: unknown): boolean {
  return OUT_OF_MEMORY.test(messageOf(err));
}

/**
 * Whether `err` (DuckDB's, or the StoreError made of it) says a statement needed more memory than
 * the store had free: "Out of Memory Error", or "could not allocate block" inside a failed append or
 * commit. Such a write may fit once queries free memory, or only in smaller parts: one metric point
 * of 400,000 buckets could not be committed at the 64 MB default however long it waited (QA
 * session 33). The DuckDB exporter splits such a batch rather than retrying it whole.
 */
export function memoryExhausted(err: unknown): boolean {
  if (MEMORY.test(messageOf(err))) return true;
  return err instanceof Error && err.cause !== undefined && err.cause !== err && memoryExhausted(err.cause);
}

/** Whether `err` says the database needs a reopen before anything else can run on it. */
export function invalidatesDatabase(err: unknown): boolean {
  return INVALIDATED.test(messageOf(err));
}

/** Whether `err`, thrown by a COMMIT, says the transaction is durable though the checkpoint after it failed. */
export function committedDespiteCheckpoint(err: unknown): boolean {
  return DURABLE_COMMIT.test(messageOf(err));
}

export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const message = messageOf(err);
  const firstLine = message.split('\n', 1)[0] ?? message;
  if (BAD_INPUT.test(message)) return new StoreError('BAD_QUERY', BACKEND, firstLine, err);
  if (OUT_OF_MEMORY.test(message)) return new StoreError('UNAVAILABLE', BACKEND, `${firstLine}. ${MEMORY_ADVICE}`, err);
  // A write that found no free block: retried, but an operator should know which setting it was.
  if (COULD_NOT_ALLOCATE.test(message)) return new StoreError('UNAVAILABLE', BACKEND, `${firstLine} (the store's memory, storage.duckdb.memoryLimit, was full; raise it if this goes on)`, err);
  if (TRANSIENT.test(message)) return new StoreError('UNAVAILABLE', BACKEND, firstLine, err);
  return new StoreError('INTERNAL', BACKEND, firstLine, err);
}
