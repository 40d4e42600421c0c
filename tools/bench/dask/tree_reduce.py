"""Leaves, then pairwise sums down to one: 2 * leaves - 1 dependent tasks submitted at once."""
from common import check, emit, now, params, rounded, start


def inc(x):
    return x + 1


def add(a, b):
    return a + b


def tree(client, leaves):
    level = client.map(inc, range(leaves), pure=False)
    tasks = len(level)
    while len(level) > 1:
        level = [client.submit(add, level[i], level[i + 1], pure=False) for i in range(0, len(level), 2)]
        tasks += len(level)
    return level[0], tasks


def main(leaves):
    cluster, client = start()
    with cluster, client:
        warm, _ = tree(client, 16)
        check(warm.result() == 16 * 17 // 2, "warm-up tree")
        t0 = now()
        root, tasks = tree(client, leaves)
        total = root.result()
        wall = now() - t0
        expected = leaves * (leaves + 1) // 2
        check(total == expected, f"tree sum {total}, expected {expected}")
        check(tasks == 2 * leaves - 1, f"{tasks} tasks")
    emit({"tasks_per_s": rounded(tasks / wall), "tasks": tasks, "wall_s": rounded(wall)})


if __name__ == "__main__":
    main(**params({"leaves": 4096}))
