// Yoga caches parsed documents, parse errors and validation results, by default 1,024 of each for
// an hour. Those entries are far larger than the text a client sent: a 4 KB document with 600
// unknown fields kept 101 validation errors whose stack frames hold the validator and the whole
// AST, ~770 KB per entry, and 1,100 such requests held 790 MB of heap for the hour
// (bench/README.md, session 15). So here the caches are bounded by the bytes of query text they
// hold, and only documents that validated are remembered; a failed validation is run again the
// next time (it costs that client's request, not everyone's memory).
import type { DocumentNode, GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

/** An LRU of at most `maxBytes` of key text (an entry larger than that is not kept); 0 keeps nothing. */
function textBoundedCache<V extends object>(maxBytes: number): { get(key: string): V | undefined; set(key: string, value: V): void } {
  if (maxBytes <= 0) return { get: () => undefined, set: () => undefined };
  const lru = new LRUCache<string, V>({ maxSize: maxBytes, sizeCalculation: (_value, key) => Math.max(1, key.length), ttl: 3_600_000 });
  return { get: (key) => lru.get(key), set: (key, value) => void lru.set(key, value) };
}

/**
 * The `parserAndValidationCache` option for createYoga: parsed documents up to `documentBytes` of
 * query text (UTF-16 code units, as the keys are strings), parse errors up to an eighth of it,
 * yoga's own validation cache off.
 */
export function boundedParserCache(documentBytes: number) {
  return {
    documentCache: textBoundedCache<DocumentNode>(documentBytes),
    errorCache: textBoundedCache<object>(Math.floor(documentBytes / 8)),
    validationCache: false,
  };
}

/**
 * What graphql-jit compiled for a document, by the document's text, up to `maxChars` of text. A
 * compiled form (its generated functions and closures) is ~300 times its text: a 260-character
 * tailSpans document with 20 fields compiles to ~78 KB of heap, its parse ~18 KB (session 31).
 * Kept by the document object, as before, it lived as long as the parse cache kept the document,
 * and that counts text only: distinct tail documents took the heap 44 → 496 MB (soak QA, session
 * 30). Keyed by text, a document parsed again after the parse cache let it go finds its compiled
 * form. A document without its source text (not one Yoga parsed) is not kept.
 */
export function compiledDocumentCache<V extends object>(maxChars: number): { get(document: DocumentNode): V | undefined; set(document: DocumentNode, value: V): void } {
  const cache = textBoundedCache<V>(maxChars);
  return {
    get: (document) => (document.loc ? cache.get(document.loc.source.body) : undefined),
    set: (document, value) => document.loc && cache.set(document.loc.source.body, value),
  };
}

/** The text of documents whose compiled forms are kept: a tenth of limits.graphql.documentCacheBytes (~30 MB of heap at the 1 MiB default), for queries and for subscriptions each. */
export const compiledDocumentChars = (documentCacheBytes: number) => Math.floor(documentCacheBytes / 10);

/**
 * Remembers the documents that passed validation (per schema), so a repeated valid query skips
 * validating; documents that failed keep nothing. Keys are the parsed documents, so an entry goes
 * when the document cache lets its document go.
 */
export function validDocumentsPlugin(): Plugin {
  const validBySchema = new WeakMap<GraphQLSchema, WeakSet<DocumentNode>>();
  return {
    onValidate({ params: { schema, documentAST }, setResult }) {
      let valid = validBySchema.get(schema);
      if (!valid) validBySchema.set(schema, (valid = new WeakSet()));
      if (valid.has(documentAST)) {
        setResult([]);
        return;
      }
      return ({ result }) => {
        if (result.length === 0) valid.add(documentAST);
      };
    },
  };
}
