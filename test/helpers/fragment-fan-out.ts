// The fuzz QA report's document whose fragments fan out (gcases/fragment-fanout-<n>.json).

/** `fragment F0 on Query { services }`, then n fragments each spreading the previous one twice, and `{ ...Fn }`. */
export function fanOut(n: number): string {
  const fragments = ['fragment F0 on Query { services }'];
  for (let i = 1; i <= n; i++) fragments.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
  return `${fragments.join('\n')}\n{ ...F${n} }`;
}
