/** A node of the plugin graph: its name and the names it must come after. */
export interface GraphNode {
  readonly name: string;
  readonly after: readonly string[];
}

/** Topological order (stable: ties keep input order), or every cycle found as a path `a → b → a`. */
export function topoSort(nodes: readonly GraphNode[]): { order: string[]; cycles: string[][] } {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const state = new Map<string, 'visiting' | 'done'>();
  const order: string[] = [];
  const cycles: string[][] = [];
  const stack: string[] = [];
  const seenCycles = new Set<string>();

  const visit = (name: string): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      const key = [...cycle.slice(0, -1)].sort().join('|');
      if (!seenCycles.has(key)) {
        seenCycles.add(key);
        cycles.push(cycle);
      }
      return;
    }
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of byName.get(name)?.after ?? []) if (byName.has(dep)) visit(dep);
    stack.pop();
    state.set(name, 'done');
    order.push(name);
  };
  for (const n of nodes) visit(n.name);
  return { order, cycles };
}
