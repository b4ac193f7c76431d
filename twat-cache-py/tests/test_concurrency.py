"""Threads, asyncio tasks and processes: single-flight, the GIL released while waiting, and
disk caches shared by multiprocessing workers."""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import os
import threading

import pytest

from twat_cache import acache, bcache, fcache, mcache, ucache

SYNC = {
    "mcache": lambda: mcache(),
    "bcache": lambda: bcache(folder_name="flight"),
    "fcache": lambda: fcache(folder_name="flight"),
}


@pytest.mark.parametrize("name", sorted(SYNC))
def test_single_flight_across_threads_with_the_gil_released(cache_root, name):
    # The first caller blocks in the body until every other thread is waiting for it. The
    # waiters wait inside the engine: if they held the GIL, the body (Python) could never
    # finish and the joins below would time out.
    started = threading.Event()
    release = threading.Event()
    runs = []

    @SYNC[name]()
    def slow(n):
        runs.append(n)
        started.set()
        release.wait(30)
        return [n, "done"]

    results = []
    leader = threading.Thread(target=lambda: results.append(slow(7)))
    leader.start()
    assert started.wait(30)
    waiters = [threading.Thread(target=lambda: results.append(slow(7))) for _ in range(7)]
    for t in waiters:
        t.start()
    # Python keeps running on this thread while seven threads wait in the engine.
    spin = sum(range(10_000))
    release.set()
    for t in [leader, *waiters]:
        t.join(60)
        assert not t.is_alive(), "a caller never returned"
    assert spin == 49_995_000
    assert runs == [7]
    assert results == [[7, "done"]] * 8


def test_recursion_does_not_deadlock():
    @mcache
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(80) == 23416728348467685


def test_a_body_that_raises_wakes_the_waiters(cache_root):
    started = threading.Event()
    release = threading.Event()
    runs = []

    @bcache
    def fails_once(n):
        runs.append(n)
        if len(runs) == 1:
            started.set()
            release.wait(30)
            raise RuntimeError("first run fails")
        return n

    errors, values = [], []

    def call():
        try:
            values.append(fails_once(1))
        except RuntimeError as e:
            errors.append(e)

    first = threading.Thread(target=call)
    first.start()
    assert started.wait(30)
    others = [threading.Thread(target=call) for _ in range(3)]
    for t in others:
        t.start()
    release.set()
    for t in [first, *others]:
        t.join(60)
        assert not t.is_alive()
    assert len(errors) >= 1
    assert errors[0].args == ("first run fails",)
    assert len(errors) + len(values) == 4
    assert fails_once(1) == 1


def test_acache_is_a_coroutine_function_with_plain_inspection_methods():
    @acache
    async def fetch(n):
        return n

    assert inspect.iscoroutinefunction(fetch)
    assert fetch.__name__ == "fetch"
    assert asyncio.run(fetch(1)) == 1
    info = fetch.cache_info()  # not a coroutine
    assert info.misses == 1
    assert isinstance(fetch.cache_stats(), dict)
    assert fetch.cache_backend in ("schnellru", "std")
    fetch.cache_clear()
    assert fetch.cache_info().currsize == 0


ASYNC = {
    "memory": lambda: acache(),
    "lmdb": lambda: acache(backend="lmdb", folder_name="async"),
    "files": lambda: acache(backend="files", folder_name="async"),
}


@pytest.mark.parametrize("backend", sorted(ASYNC))
def test_acache_single_flight_across_tasks(cache_root, backend):
    runs = []

    @ASYNC[backend]()
    async def fetch(n):
        runs.append(n)
        await asyncio.sleep(0.05)
        return {"n": n}

    async def main():
        return await asyncio.gather(*(fetch(1) for _ in range(20)), fetch(2))

    results = asyncio.run(main())
    assert runs.count(1) == 1 and runs.count(2) == 1
    assert results[:20] == [{"n": 1}] * 20
    if backend == "memory":
        assert all(r is results[0] for r in results[:20])  # the same object
    assert asyncio.run(fetch(1)) == {"n": 1}
    assert runs.count(1) == 1


def test_acache_exception_reaches_every_waiter_and_is_not_stored():
    runs = []

    @acache
    async def boom(n):
        runs.append(n)
        await asyncio.sleep(0.02)
        if len(runs) == 1:
            raise ValueError("boom")
        return n

    async def main():
        return await asyncio.gather(*(boom(1) for _ in range(5)), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, ValueError) for r in results)
    assert asyncio.run(boom(1)) == 1
    assert runs == [1, 1]


def test_acache_cancelled_leader_hands_over():
    runs = []

    @acache
    async def slow(n):
        runs.append(n)
        await asyncio.sleep(0.2 if len(runs) == 1 else 0)
        return n

    async def main():
        leader = asyncio.ensure_future(slow(1))
        await asyncio.sleep(0.01)
        waiter = asyncio.ensure_future(slow(1))
        await asyncio.sleep(0.01)
        leader.cancel()
        return await waiter

    assert asyncio.run(main()) == 1
    assert runs == [1, 1]


def test_redis_backends(redis_url, cache_root):
    runs = []

    async def body(n):
        runs.append(n)
        return {"n": n, "text": "r" * 100}

    fetch = acache(backend="redis", url=redis_url, name="py-redis-async")(body)
    assert asyncio.run(fetch(1)) == {"n": 1, "text": "r" * 100}
    assert asyncio.run(fetch(1)) == {"n": 1, "text": "r" * 100}
    assert fetch.cache_backend == "redis"
    assert runs == [1]
    # Another wrapper of the same function (as another process would make) reads Redis.
    again = acache(backend="redis", url=redis_url, name="py-redis-async")(body)
    assert asyncio.run(again(1))["n"] == 1
    assert runs == [1]

    sync_runs = []

    @ucache(preferred_engine="redis", url=redis_url)
    def plain(n):
        sync_runs.append(n)
        return [n] * 3

    assert plain(2) == [2, 2, 2] and plain(2) == [2, 2, 2]
    assert plain.cache_backend == "redis"
    assert sync_runs == [2]
    plain.cache_clear()
    plain(2)
    assert sync_runs == [2, 2]


def _pool_run(method, func, tmp_path):
    runs = tmp_path / f"runs-{method}"
    runs.mkdir()
    os.environ["TWAT_TEST_RUNS"] = str(runs)
    ctx = multiprocessing.get_context(method)
    keys = list(range(20)) * 5
    with ctx.Pool(4) as pool:
        results = pool.map(func, keys, chunksize=3)
    assert results == [{"n": n, "square": n * n, "payload": results[n]["payload"]} for n in keys]
    return len(list(runs.iterdir()))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_disk_caches_are_shared_by_pool_workers(cache_root, tmp_path, monkeypatch, method):
    import _workers

    here = os.path.dirname(os.path.abspath(__file__))
    monkeypatch.setenv("PYTHONPATH", here + os.pathsep + os.environ.get("PYTHONPATH", ""))
    func = {"fork": _workers.lmdb_square, "spawn": _workers.files_square}[method]
    first = _pool_run(method, func, tmp_path)
    # Every key was computed, and at most once per worker (single-flight is per process;
    # lock=True makes it cross-process): 20 keys, 4 workers.
    assert 20 <= first <= 80
    # A second pool finds every entry on disk.
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    assert _pool_run(method, func, second_dir) == 0
    # And so does this process.
    assert func(3)["square"] == 9


def test_pool_forked_after_the_parent_used_the_cache(cache_root, tmp_path, monkeypatch):
    # The parent opens the LMDB folder before forking: children inherit the open database.
    # LMDB asks not to use an environment across fork(); what must hold regardless is that
    # every result is right (entries are checksummed: a bad read is a miss).
    import _workers

    runs = tmp_path / "runs-after-use"
    runs.mkdir()
    monkeypatch.setenv("TWAT_TEST_RUNS", str(runs))
    assert _workers.lmdb_after_fork(1000)["square"] == 1000 * 1000
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.map(_workers.lmdb_after_fork, list(range(10)) * 4, chunksize=2)
    assert [r["square"] for r in results] == [n * n for n in list(range(10)) * 4]
    assert _workers.lmdb_after_fork(3)["square"] == 9


def test_redis_plain_function_across_threads_and_bounds(redis_url, cache_root):
    # Plain functions reach Redis through the synchronous RedisCache: concurrent callers
    # missing one key wait for one computation (the GIL released while they wait), and
    # max_bytes bounds what the cache keeps in Redis.
    started = threading.Event()
    release = threading.Event()
    runs = []

    @ucache(preferred_engine="redis", url=redis_url, name="py-redis-threads")
    def slow(n):
        runs.append(n)
        started.set()
        release.wait(30)
        return {"n": n}

    slow.cache_clear()
    results = []
    leader = threading.Thread(target=lambda: results.append(slow(3)))
    leader.start()
    assert started.wait(30)
    waiters = [threading.Thread(target=lambda: results.append(slow(3))) for _ in range(5)]
    for t in waiters:
        t.start()
    release.set()
    for t in [leader, *waiters]:
        t.join(60)
        assert not t.is_alive(), "a caller never returned"
    assert runs == [3]
    assert results == [{"n": 3}] * 6

    @ucache(preferred_engine="redis", url=redis_url, name="py-redis-bytes", max_bytes=4096)
    def big(n):
        return "z" * 1000

    big.cache_clear()
    for n in range(20):
        big(n)
    stats = big.cache_stats()
    assert stats["backend"] == "redis"
    assert stats["evictions"] > 0
    assert stats["bytes"] <= 4096


def test_redis_unreachable_serves_from_memory(cache_root):
    # Port 1 on loopback refuses connections: the calls still return their values.
    runs = []

    @ucache(preferred_engine="redis", url="redis://127.0.0.1:1", name="py-redis-down")
    def f(n):
        runs.append(n)
        return n * 2

    assert f(4) == 8 and f(4) == 8
    assert runs == [4]  # the fallback memory cache served the second call
    assert f.cache_backend == "schnellru"
    assert "redis://127.0.0.1:1" in f.cache_stats()["fallback_reason"]


def test_async_redis_with_l1(redis_url, cache_root):
    async def body(n):
        return [n]

    fetch = acache(backend="redis", url=redis_url, name="py-redis-async-l1", l1=10)(body)
    fetch.cache_clear()
    assert asyncio.run(fetch(5)) == [5]
    assert asyncio.run(fetch(5)) == [5]
    stats = fetch.cache_stats()
    assert stats["l1_hits"] == 1
    assert stats["not_in_effect"] == []
