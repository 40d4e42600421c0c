// 4096 leaves, then pairwise sums down to one: 8191 dependent tasks submitted at once.
import { check, now, round, withSkein } from "./common.mjs";

export const description = "leaves + pairwise sums to one (dependent tasks)";
export const figures = { tasks_per_s: { better: "higher", unit: "tasks/s" } };
export const params = { full: { leaves: 4096 }, quick: { leaves: 512 } };

const inc = (x) => x + 1;
const add = (a, b) => a + b;

function tree(client, leaves) {
  let level = client.map(inc, Array.from({ length: leaves }, (_, i) => i));
  let tasks = level.length;
  const all = [...level];
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(client.submit(add, level[i], level[i + 1]));
    tasks += next.length;
    all.push(...next);
    level = next;
  }
  return { root: level[0], tasks, all };
}

export async function run({ leaves }) {
  if (leaves & (leaves - 1)) throw new Error(`leaves must be a power of two, got ${leaves}`);
  return withSkein(async (client) => {
    const warm = tree(client, 16);
    check((await warm.root.result()) === (16 * 17) / 2, "warm-up tree");

    const t0 = now();
    const { root, tasks, all } = tree(client, leaves);
    const total = await root.result();
    const wall = (now() - t0) / 1000;

    const expected = (leaves * (leaves + 1)) / 2; // sum of inc(i) for i < leaves
    check(total === expected, `tree sum ${total}, expected ${expected}`);
    check(tasks === 2 * leaves - 1 && all.length === tasks, `${tasks} tasks`);
    return { tasks_per_s: round(tasks / wall), tasks, wall_s: round(wall) };
  });
}
