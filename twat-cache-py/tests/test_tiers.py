"""`l1=N`: a memory tier in front of a disk or Redis cache. Hits in it are counted in
`cache_stats()["l1_hits"]`; another process's writes reach it (within about a second)."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

import _workers
from twat_cache import bcache, fcache, mcache

DISK = {
    "lmdb": lambda **kw: bcache(folder_name="l1", **kw),
    "files": lambda **kw: fcache(folder_name="l1", **kw),
}


@pytest.mark.parametrize("kind", sorted(DISK))
def test_second_call_is_an_l1_hit(cache_root, kind):
    runs = []

    @DISK[kind](l1=10)
    def f(n):
        runs.append(n)
        return {"n": n}

    assert f(1) == {"n": 1}
    assert f.cache_stats()["l1_hits"] == 0
    assert f(1) == {"n": 1}
    stats = f.cache_stats()
    assert stats["l1_hits"] == 1
    assert stats["hits"] == 1  # tier hits count as hits too
    assert "l1" not in stats["not_in_effect"]
    assert runs == [1]


@pytest.mark.parametrize("kind", sorted(DISK))
def test_without_l1_hits_are_read_from_the_store(cache_root, kind):
    @DISK[kind]()
    def f(n):
        return n

    f(1)
    f(1)
    stats = f.cache_stats()
    assert stats["hits"] == 1
    assert stats["l1_hits"] == 0


def test_l1_on_a_memory_cache_is_reported_not_in_effect():
    @mcache(l1=10)
    def f(n):
        return n

    assert f(1) == 1 and f(1) == 1
    assert f.cache_stats()["not_in_effect"] == ["l1"]
    assert f.cache_stats()["l1_hits"] == 0


def test_bad_l1_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="^l1: 0 "):
        bcache(l1=0)
    with pytest.raises(ValueError, match="^l1: 'many' "):
        fcache(l1="many")


def _seen_from_other_process(kind: str) -> None:
    cached = _workers.TIERED[kind]
    cached.cache_clear()
    mine = cached(1)
    assert mine == (1, os.getpid())
    assert cached(1) == mine
    assert cached.cache_stats()["l1_hits"] >= 1  # the tier holds the parent's value
    # A separate interpreter (spawn: no LMDB handle or tier inherited) stores its own value.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        theirs = pool.apply(_workers.store_from_this_process, (kind, 1))
    assert theirs[0] == 1 and theirs[1] != os.getpid()
    # The tier learns of the change from the store's change count (read ten times a
    # second); poll generously rather than time it.
    deadline = time.monotonic() + 10
    seen = cached(1)
    while seen != theirs and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = cached(1)
    assert seen == theirs, f"{kind}: the tier still serves {seen}, not the other process's {theirs}"


@pytest.mark.parametrize("kind", ["files", "lmdb"])
def test_another_process_write_reaches_the_tier(cache_root, kind):
    _seen_from_other_process(kind)


def test_redis_l1_hits_and_another_process_write(redis_url, cache_root, monkeypatch):
    monkeypatch.setenv("TWAT_CACHE_REDIS_URL", redis_url)  # the worker reads it too
    cached = _workers.TIERED["redis"]
    assert cached.cache_backend == "redis"
    _seen_from_other_process("redis")


def test_l1_beside_freshness_rules_is_reported_not_in_effect(cache_root):
    @bcache(folder_name="l1-fresh", l1=10, ttl=60, tti=60)
    def f(n):
        return n

    assert f(1) == 1 and f(1) == 1
    stats = f.cache_stats()
    assert stats["not_in_effect"] == ["l1"]
    assert stats["l1_hits"] == 0
    assert stats["hits"] == 1
