"""The reference scenario (map 48, map 48, sum): cold start, warm runs, shutdown."""
from common import check, emit, median, now, params, rounded, start


def multiply(x):
    return x * 2


def neg(x):
    return -x


def total(xs):
    return sum(xs)


def chain(client, n):
    a = client.map(multiply, [1] * n, pure=False)
    b = client.map(neg, a, pure=False)
    result = client.submit(total, b, pure=False).result()
    check(result == -2 * n, f"seed chain gave {result}, expected {-2 * n}")


def main(n, warm):
    t0 = now()
    cluster, client = start()  # returns once both workers are up
    try:
        chain(client, n)
        cold = now() - t0
        warm_times = []
        for _ in range(warm):
            t = now()
            chain(client, n)
            warm_times.append(now() - t)
    finally:
        t1 = now()
        client.close()
        cluster.close()
        shutdown = now() - t1
    emit({"cold_s": rounded(cold), "warm_s": rounded(median(warm_times)), "shutdown_s": rounded(shutdown), "warm_runs": warm})


if __name__ == "__main__":
    main(**params({"n": 48, "warm": 20}))
