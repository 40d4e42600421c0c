"""Latency and throughput with 2 workers, then with 64 worker processes connected (same cluster, same run)."""
from common import check, emit, median, now, params, rounded, start


def inc(x):
    return x + 1


def measure(client, trips, tasks):
    times = []
    for i in range(20 + trips):
        t0 = now()
        result = client.submit(inc, i, pure=False).result()
        dt = (now() - t0) * 1000
        check(result == i + 1, f"inc({i}) gave {result}")
        if i >= 20:
            times.append(dt)
    t0 = now()
    results = client.gather(client.map(inc, range(tasks), pure=False))
    wall = now() - t0
    check(results == [i + 1 for i in range(tasks)], "inc results")
    return median(times), tasks / wall


def main(workers, trips, tasks, startTimeoutS):
    cluster, client = start()
    with cluster, client:
        few_ms, few_rate = measure(client, trips, tasks)
        t0 = now()
        cluster.scale(workers)
        client.wait_for_workers(workers, timeout=startTimeoutS)
        start_s = now() - t0
        connected = len(client.scheduler_info()["workers"])
        check(connected == workers, f"{connected} workers connected, expected {workers}")
        many_ms, many_rate = measure(client, trips, tasks)
    emit(
        {
            "latency_ratio": rounded(many_ms / few_ms),
            "median_ms": rounded(many_ms),
            "tasks_per_s": rounded(many_rate),
            "median_ms_2": rounded(few_ms),
            "tasks_per_s_2": rounded(few_rate),
            "throughput_ratio": rounded(many_rate / few_rate),
            "workers": workers,
            "start_s": rounded(start_s),
        }
    )


if __name__ == "__main__":
    main(**params({"workers": 64, "trips": 300, "tasks": 10_000, "startTimeoutS": 300}))
