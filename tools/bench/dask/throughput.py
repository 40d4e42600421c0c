"""Independent trivial tasks: map + gather on a running cluster."""
from common import check, emit, now, params, rounded, start


def inc(x):
    return x + 1


def main(tasks, warmup):
    cluster, client = start()
    with cluster, client:
        check(len(client.gather(client.map(inc, range(warmup), pure=False))) == warmup, "warm-up")
        t0 = now()
        futures = client.map(inc, range(tasks), pure=False)
        results = client.gather(futures)
        wall = now() - t0
        check(results == [i + 1 for i in range(tasks)], "inc results")
    emit({"tasks_per_s": rounded(tasks / wall), "tasks": tasks, "wall_s": rounded(wall)})


if __name__ == "__main__":
    main(**params({"tasks": 20_000, "warmup": 200}))
