// The cost of a GraphQL operation from list sizes and nesting: every field costs the product of
// the list sizes above it, a list size being the field's `first`/`limit` argument (a literal or a
// variable's value, sent or its default in the operation) or, for a list without one, `defaultListSize` (RECORD_PART_LIST_SIZE for a
// record's own parts). So `trace(traceId: …) { spans { links { traceId } } }` costs 1 + 100 +
// 100·100 + 100·100, and raising a limit raises the cost in proportion. A list directly under a
// field sized by an argument (a connection's `edges`/`nodes`) is that page, not another multiplication. A size counts as asked, up to MAX_LIST_SIZE, the largest any
// field takes: every resolver refuses a larger one, so counting it as more would only turn the
// resolver's precise error into a cost refusal. The bound is not one per field (most lists take up
// to 1,000, `alertHistory` 10,000): counting every size as at most 1,000 let `alertHistory` cost a
// tenth of what it reads (security QA). `Trace.spans` without `first` counts defaultListSize too:
// a trace's size is unknown before it is read, and a whole-trace view must fit maxCost; what one
// request's Trace.spans return is bounded when it runs instead (limits.graphql.maxTraceSpans, resolvers/traces.ts).
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
  type VariableDefinitionNode,
  Kind,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  isObjectType,
  isInterfaceType,
  valueFromASTUntyped,
} from 'graphql';

const SIZE_ARGS = ['first', 'limit', 'last'];

/**
 * The size a list of a record's own parts counts (a field with `extensions: { recordPart: true }`:
 * typed attributes, span events), at most defaultListSize. They come with the record, read no store
 * and hold no field that does, so counting each as a page of 100 priced a Jaeger-style whole-trace
 * view (spans with typed attributes and events with theirs) at 4 million, 20× maxCost, for one span.
 */
export const RECORD_PART_LIST_SIZE = 10;

/**
 * The largest list size any field takes (`alertHistory(limit)`, resolvers/alerts.ts). A unit test
 * (test/unit/server/query-cost.test.ts) checks it against the bounds the schema documents.
 */
export const MAX_LIST_SIZE = 10_000;

export function queryCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  defaultListSize: number,
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation;
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    else if (def.kind === Kind.OPERATION_DEFINITION && (!operationName || def.name?.value === operationName)) operation ??= def;
  }
  if (!operation) return 0;
  const root = operation.operation === 'query' ? schema.getQueryType() : operation.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  if (!root) return 0;
  const values = withVariableDefaults(operation.variableDefinitions ?? [], variables);

  /** The field's list size, and whether an argument set it. */
  const sizeOf = (field: GraphQLField<unknown, unknown>, node: { arguments?: readonly { name: { value: string }; value: ValueNode }[] }, inPage: boolean): [number, boolean] => {
    for (const arg of node.arguments ?? []) {
      if (!SIZE_ARGS.includes(arg.name.value)) continue;
      const v = valueFromASTUntyped(arg.value, values);
      if (typeof v === 'number' && Number.isFinite(v)) return [Math.min(MAX_LIST_SIZE, Math.max(1, v)), true];
    }
    const byDefault = field.args.find((a) => SIZE_ARGS.includes(a.name) && typeof a.defaultValue === 'number');
    if (byDefault) return [Math.min(MAX_LIST_SIZE, Math.max(1, byDefault.defaultValue as number)), true];
    if (!isListType(getNullableType(field.type)) || inPage) return [1, false];
    return [field.extensions['recordPart'] === true ? Math.min(RECORD_PART_LIST_SIZE, defaultListSize) : defaultListSize, false];
  };

  // The cost of a selection set for one item of its parent: a field costs its list size times
  // (1 + its selections' cost), so a cost under a list is this times the list sizes above it. A
  // fragment's is computed once and multiplied at each spread; walking each spread again was 2ⁿ
  // walks for n fragments that each spread the previous one twice (a 1.7 KB document hung the
  // gateway: fuzz QA). Past MAX_SAFE_INTEGER it stays there: each size is ≥ 1, so a set with a
  // capped part is at least that part and the result is min(cost, MAX_SAFE_INTEGER), exact below it.
  const fragmentCosts = new Map<string, number>();
  const inProgress = new Set<string>(); // cycles are a validation error anyway
  const costOf = (set: SelectionSetNode, parent: GraphQLOutputType, inPage: boolean): number => {
    const type = getNamedType(parent);
    if (!isCompositeType(type)) return 0;
    let cost = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value.startsWith('__')) continue;
        const field = isObjectType(type) || isInterfaceType(type) ? type.getFields()[sel.name.value] : undefined;
        if (!field) continue;
        const [size, sized] = sizeOf(field, sel, inPage);
        cost += size * (1 + (sel.selectionSet ? costOf(sel.selectionSet, field.type, sized) : 0));
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const cond = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
        cost += costOf(sel.selectionSet, (cond ?? type) as GraphQLOutputType, inPage);
      } else {
        const frag = fragments.get(sel.name.value);
        if (!frag) continue;
        const cond = (schema.getType(frag.typeCondition.name.value) ?? type) as GraphQLOutputType;
        const key = `${frag.name.value} ${getNamedType(cond).name} ${inPage}`;
        let fragmentCost = fragmentCosts.get(key);
        if (fragmentCost === undefined) {
          if (inProgress.has(key)) continue;
          inProgress.add(key);
          fragmentCost = costOf(frag.selectionSet, cond, inPage);
          inProgress.delete(key);
          fragmentCosts.set(key, fragmentCost);
        }
        cost += fragmentCost;
      }
      if (!(cost <= Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
    }
    return cost;
  };
  return costOf(operation.selectionSet, root, false);
}

/**
 * The variables as the executor sees them: a variable the request did not send takes its default
 * from the operation (`query($n: Int = 1000)`), as graphql-js' getVariableValues gives it. Reading
 * only the sent ones priced `spans(first: $n)` at the field's default of 50 while it ran with 1,000
 * (security QA). A variable sent as null stays null (the executor passes null, the resolver's default applies).
 */
function withVariableDefaults(definitions: readonly VariableDefinitionNode[], variables: Readonly<Record<string, unknown>> | null | undefined): Record<string, unknown> {
  const values: Record<string, unknown> = { ...variables };
  for (const def of definitions) {
    const name = def.variable.name.value;
    if (def.defaultValue && !Object.hasOwn(values, name)) values[name] = valueFromASTUntyped(def.defaultValue);
  }
  return values;
}
