/** Cycles in a new graph: Tarjan's strongly connected components, iterative (deep chains must not overflow the stack). */

/**
 * The groups of nodes that depend on each other in a cycle (components of two or more nodes;
 * a node depending on itself is left to the caller). Linear in nodes plus edges.
 */
export function cyclesAmong<T>(nodes: Iterable<T>, next: (node: T) => readonly T[]): T[][] {
  const index = new Map<T, number>();
  const low = new Map<T, number>();
  const onStack = new Set<T>();
  const stack: T[] = [];
  const cycles: T[][] = [];
  let counter = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: T; edges: readonly T[]; i: number }[] = [];
    const open = (node: T) => {
      index.set(node, counter);
      low.set(node, counter);
      counter++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, edges: next(node), i: 0 });
    };
    open(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as (typeof work)[number];
      if (frame.i < frame.edges.length) {
        const w = frame.edges[frame.i++] as T;
        if (!index.has(w)) open(w);
        else if (onStack.has(w)) low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(w) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: T[] = [];
      let w: T;
      do {
        w = stack.pop() as T;
        onStack.delete(w);
        component.push(w);
      } while (w !== frame.node);
      if (component.length > 1) cycles.push(component.reverse());
    }
  }
  return cycles;
}
