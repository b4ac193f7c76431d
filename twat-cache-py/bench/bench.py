"""Hit-path benchmark of twat_cache against what Python users would otherwise pick.

One process, one run, plain ``timeit`` (best of 5 repeats). Not run in CI. Needs
``pip install cachebox diskcache joblib`` next to twat_cache. Run:

    TWAT_BENCH_DIR=/tmp/twat-bench python twat-cache-py/bench/bench.py

Prints one table: ns per hit, and the ratio of the competitor's time to ours (> 1: we are
faster).
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import timeit

root = os.environ.get("TWAT_BENCH_DIR") or tempfile.mkdtemp(prefix="twat-bench-")
os.environ["TWAT_CACHE_DIR"] = os.path.join(root, "twat")

import cachebox  # noqa: E402
import diskcache  # noqa: E402
import joblib  # noqa: E402

import twat_cache  # noqa: E402

NUMBER = {"memory": 1_000_000, "disk": 50_000, "joblib": 5_000}


def per_call_ns(fn, arg, number):
    fn(arg)  # fill
    # A statement string, not a lambda: no extra Python call diluting the ratios.
    t = min(timeit.repeat("f(a)", globals={"f": fn, "a": arg}, number=number, repeat=5))
    return t / number * 1e9


def bench_memory():
    @functools.lru_cache(maxsize=None)
    def lru(n):
        return n * 2

    @cachebox.cached(cachebox.LRUCache(0))
    def cbox(n):
        return n * 2

    @twat_cache.mcache
    def ours(n):
        return n * 2

    n = NUMBER["memory"]
    return per_call_ns(ours, 12345, n), per_call_ns(lru, 12345, n), per_call_ns(cbox, 12345, n)


def bench_lmdb(text):
    dc = diskcache.Cache(os.path.join(root, "diskcache"))

    @dc.memoize()
    def disk(s):
        return s.upper()

    @twat_cache.bcache(folder_name="bench-lmdb")
    def ours(s):
        return s.upper()

    n = NUMBER["disk"]
    return per_call_ns(ours, text, n), per_call_ns(disk, text, n)


def bench_files(text):
    memory = joblib.Memory(os.path.join(root, "joblib"), verbose=0)

    @memory.cache
    def jl(s):
        return s.upper()

    @twat_cache.fcache(folder_name="bench-files")
    def ours(s):
        return s.upper()

    return per_call_ns(ours, text, NUMBER["disk"]), per_call_ns(jl, text, NUMBER["joblib"])


def main():
    text = "x" * 100  # a 100-byte str argument and result
    mem, lru, cbox = bench_memory()
    lmdb, dc = bench_lmdb(text)
    files, jl = bench_files(text)
    # (case, competitor, ours, theirs, target, met?)
    rows = [
        ("memory hit, int arg", "functools.lru_cache", mem, lru,
         "ours <= 2x theirs", mem <= 2 * lru),
        ("memory hit, int arg", "cachebox.cached(LRUCache)", mem, cbox,
         "theirs >= 3x ours", cbox >= 3 * mem),
        ("LMDB hit, 100-byte str", "diskcache memoize", lmdb, dc,
         "theirs >= 10x ours", dc >= 10 * lmdb),
        ("file hit, 100-byte str", "joblib.Memory", files, jl,
         "theirs >= 20x ours", jl >= 20 * files),
    ]
    print(f"python {sys.version.split()[0]}; cache root {root}")
    print(f"{'case':24} {'twat_cache':>10} {'theirs':>10} {'theirs/ours':>11}  {'competitor':26} {'target':18} met")
    for case, them, ours, theirs, target, met in rows:
        print(f"{case:24} {ours:8.0f}ns {theirs:8.0f}ns {theirs / ours:10.2f}x  {them:26} {target:18} "
              f"{'yes' if met else 'NO'}")


if __name__ == "__main__":
    main()
