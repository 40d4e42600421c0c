"""Sequential submit -> result round trips of a trivial task."""
from common import check, emit, median, now, params, percentile, rounded, start


def inc(x):
    return x + 1


def main(trips, warmup):
    cluster, client = start()
    times = []
    with cluster, client:
        for i in range(warmup + trips):
            t0 = now()
            result = client.submit(inc, i, pure=False).result()
            dt = (now() - t0) * 1000
            check(result == i + 1, f"inc({i}) gave {result}")
            if i >= warmup:
                times.append(dt)
    emit({"median_ms": rounded(median(times)), "p99_ms": rounded(percentile(times, 99)), "min_ms": rounded(min(times)), "trips": trips})


if __name__ == "__main__":
    main(**params({"trips": 300, "warmup": 20}))
