"""Functions the multiprocessing tests run in worker processes (importable by reference)."""

import os

from twat_cache import bcache, fcache, ucache


def _note_run(kind: str, n: int) -> None:
    # One file per body run: the parent counts them afterwards.
    runs = os.path.join(os.environ["TWAT_TEST_RUNS"], f"{kind}-{n}-{os.getpid()}-{os.urandom(4).hex()}")
    open(runs, "w").close()


@bcache(folder_name="pool")
def lmdb_square(n):
    _note_run("lmdb", n)
    return {"n": n, "square": n * n, "payload": "x" * 100}


@fcache(folder_name="pool-files")
def files_square(n):
    _note_run("files", n)
    return {"n": n, "square": n * n, "payload": "y" * 100}


@bcache(folder_name="pool-after-fork")
def lmdb_after_fork(n):
    _note_run("after", n)
    return {"n": n, "square": n * n}


# The l1 tests: the body returns who computed it; a worker process stores its own value
# (force_refresh) and the parent, whose memory tier holds the old one, must come to see it.
def _refresh_requested(n):
    return os.environ.get("TWAT_TEST_REFRESH") == "1"


@bcache(folder_name="tier", l1=100, force_refresh=_refresh_requested)
def lmdb_tiered(n):
    return (n, os.getpid())


@fcache(folder_name="tier-files", l1=100, force_refresh=_refresh_requested)
def files_tiered(n):
    return (n, os.getpid())


@ucache(preferred_engine="redis", l1=100, force_refresh=_refresh_requested)
def redis_tiered(n):
    return (n, os.getpid())


TIERED = {"lmdb": lmdb_tiered, "files": files_tiered, "redis": redis_tiered}


def store_from_this_process(kind, n):
    """Runs in a worker: computes `n` anew and stores it; returns the value stored."""
    os.environ["TWAT_TEST_REFRESH"] = "1"
    return TIERED[kind](n)
