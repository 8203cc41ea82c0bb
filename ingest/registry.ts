// Factories keyed by component type. Built-in components are registered the same way a new one
// would be, so nothing in the pipeline special-cases them.
import type { AnyFactory } from './component.ts';

export interface Registry {
  receivers: ReadonlyMap<string, Extract<AnyFactory, { kind: 'receiver' }>>;
  processors: ReadonlyMap<string, Extract<AnyFactory, { kind: 'processor' }>>;
  exporters: ReadonlyMap<string, Extract<AnyFactory, { kind: 'exporter' }>>;
}

export function createRegistry(factories: readonly AnyFactory[]): Registry {
  const receivers = new Map<string, Extract<AnyFactory, { kind: 'receiver' }>>();
  const processors = new Map<string, Extract<AnyFactory, { kind: 'processor' }>>();
  const exporters = new Map<string, Extract<AnyFactory, { kind: 'exporter' }>>();
  for (const f of factories) {
    const byKind: Map<string, AnyFactory> = f.kind === 'receiver' ? receivers : f.kind === 'processor' ? processors : exporters;
    if (byKind.has(f.type)) throw new Error(`duplicate ${f.kind} factory for type "${f.type}"`);
    byKind.set(f.type, f);
  }
  return { receivers, processors, exporters };
}

/** `type/name` → `type` (component/identifiable.go in the Collector). */
export function componentType(id: string): string {
  const slash = id.indexOf('/');
  return slash === -1 ? id : id.slice(0, slash);
}
