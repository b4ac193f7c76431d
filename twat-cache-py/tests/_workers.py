"""Functions the multiprocessing tests run in worker processes (importable by reference)."""

import os

from twat_cache import bcache, fcache


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
