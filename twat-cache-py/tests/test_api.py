"""The public API of twat_cache: decorators, keys, values, inspection, bad arguments."""

from __future__ import annotations

import datetime
import functools
import inspect
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import twat_cache
from twat_cache import acache, bcache, clear_cache, fcache, get_cache_path, get_stats, mcache, ucache

# One decorator factory per engine, each called with parentheses and the caller's keywords.
DISK = {
    "bcache": lambda **kw: bcache(folder_name="t", **kw),
    "fcache": lambda **kw: fcache(folder_name="t", **kw),
}
ALL = {"mcache": lambda **kw: mcache(**kw), **DISK, "ucache": lambda **kw: ucache(**kw)}


def counted(decorator, body=lambda *a, **k: (a, sorted(k.items()))):
    """A decorated function that records its calls in `f.calls`."""
    calls = []

    def f(a, b=2, *rest, c=3, **extra):
        calls.append((a, b, rest, c, extra))
        return body(a, b, rest, c, extra)

    wrapped = decorator(f)
    wrapped.calls = calls
    return wrapped


@pytest.mark.parametrize("name", sorted(ALL))
def test_keys_are_bound_to_the_signature(cache_root, name):
    f = counted(ALL[name]())
    first = f(1, 2)
    assert f(1) == first
    assert f(1, b=2) == first
    assert f(a=1, b=2) == first
    assert f(1, 2, c=3) == first
    assert len(f.calls) == 1
    f(1, 2, 9)  # *rest is part of the key
    f(1, 2, c=4)
    f(1, 2, zzz=1)  # **extra too
    assert len(f.calls) == 4
    f(1, 2, zzz=1)
    assert len(f.calls) == 4


@pytest.mark.parametrize("name", sorted(ALL))
def test_keys_are_typed(cache_root, name):
    f = counted(ALL[name]())
    f(1)
    f(1.0)
    f(True)
    assert [c[0] for c in f.calls] == [1, 1.0, True]
    assert type(f(1.0)[0][0]) is float


@pytest.mark.parametrize("name", sorted(ALL))
def test_unhashable_arguments_are_keyed_by_value(cache_root, name):
    f = counted(ALL[name]())
    f([1, 2], {"x": [1], "y": {2}})
    f([1, 2], {"y": {2}, "x": [1]})  # same dict, other order
    assert len(f.calls) == 1
    f([2, 1], {"x": [1], "y": {2}})
    f((1, 2), {"x": [1], "y": {2}})  # a tuple is not a list
    assert len(f.calls) == 3


def test_memory_returns_the_same_object():
    @mcache
    def make(n):
        return [n]

    assert make(1) is make(1)


@pytest.mark.parametrize("name", sorted(DISK))
def test_disk_returns_an_equal_copy_and_keeps_it_across_wrappers(cache_root, name):
    runs = []

    def body(n):
        runs.append(n)
        return {"n": n, "data": bytes(range(256)) * 10}

    first = DISK[name]()(body)
    value = first(3)
    # A second wrapper of the same function (as a new process would make) reads the entry.
    second = DISK[name]()(body)
    again = second(3)
    assert again == value and again is not value
    assert runs == [3]


@pytest.mark.parametrize("name", sorted(ALL))
def test_exceptions_are_not_stored_and_none_is(cache_root, name):
    runs = []

    @ALL[name]()
    def flaky(n):
        runs.append(n)
        if len(runs) == 1:
            raise KeyError("first call fails")
        return None

    with pytest.raises(KeyError):
        flaky(1)
    assert flaky(1) is None
    assert flaky(1) is None
    assert runs == [1, 1]


@pytest.mark.parametrize("name", ["mcache", "bcache", "fcache", "acache", "ucache"])
def test_every_decorator_works_bare_and_with_parentheses(cache_root, name):
    decorator = getattr(twat_cache, name)

    def double(x):
        return 2 * x

    for wrapped in (decorator(double), decorator()(double)):
        wrapped.cache_clear()  # the disk caches share one namespace: start empty
        assert wrapped(21) == 42 and wrapped(21) == 42
        assert wrapped.cache_info().hits == 1


def test_seed_positional_arguments(cache_root):
    @mcache(1)
    def one(n):
        return n

    one(1), one(2), one(1)
    assert one.cache_info() == (0, 3, 1, 1)

    @bcache("seed-folder")
    def stored(n):
        return n

    stored(1)
    assert stored.cache_stats()["folder"] == str(cache_root / "seed-folder")
    assert (cache_root / "seed-folder").is_dir()


def test_wrappers_keep_function_metadata_and_signature():
    def documented(a: int, b: str = "x") -> str:
        """Docs."""
        return b * a

    for decorator in (mcache, bcache, fcache, ucache):
        w = decorator(documented)
        assert w.__name__ == "documented"
        assert w.__doc__ == "Docs."
        assert w.__wrapped__ is documented
        assert w.__module__ == documented.__module__
        assert inspect.signature(w) == inspect.signature(documented)


def test_cache_info_clear_stats_and_backend(cache_root):
    @mcache(maxsize=10)
    def f(n):
        return n

    f(1), f(1), f(2)
    assert f.cache_info() == twat_cache.CacheInfo(hits=1, misses=2, maxsize=10, currsize=2)
    stats = f.cache_stats()
    for field in ("name", "backend", "hits", "misses", "inserts", "evictions", "expired", "entries",
                  "fallback_reason", "kind"):
        assert field in stats
    assert stats["kind"] == "memory" and stats["inserts"] == 2
    assert f.cache_backend in ("schnellru", "std")
    f.cache_clear()
    assert f.cache_info().currsize == 0

    @bcache
    def g(n):
        return n

    g(1)
    assert g.cache_backend == "lmdb"
    assert g.cache_stats()["kind"] == "lmdb"

    @fcache
    def h(n):
        return n

    h(1)
    assert h.cache_backend == "files"


def test_clear_cache_and_get_stats_reach_every_cache(cache_root):
    @mcache(name="py-test-memory")
    def a(n):
        return n

    @bcache(name="py-test-lmdb")
    def b(n):
        return n

    a(1), b(1)
    names = {s["name"] for s in get_stats()}
    assert {"py-test-memory", "py-test-lmdb"} <= names
    clear_cache()
    assert a.cache_info().currsize == 0
    assert b.cache_info().currsize == 0


def test_get_cache_path(cache_root):
    p = get_cache_path("mine")
    assert str(p) == str(cache_root / "mine")
    assert os.path.isdir(p)
    assert oct(os.stat(p).st_mode & 0o777) == oct(0o700)
    with pytest.raises(ValueError, match="folder_name"):
        get_cache_path("../escape")


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: mcache(maxsize=0), "maxsize"),
        (lambda: mcache(maxsize=-1), "maxsize"),
        (lambda: mcache(maxsize="big"), "maxsize"),
        (lambda: mcache(ttl=-1), "ttl"),
        (lambda: mcache(ttl="soon"), "ttl"),
        (lambda: mcache(policy="random"), "policy"),
        (lambda: bcache(policy="lfu"), "policy"),
        (lambda: bcache(folder_name="../up"), "folder_name"),
        (lambda: fcache(folder_name="a/b"), "folder_name"),
        (lambda: fcache(compress="yes"), "compress"),
        (lambda: ucache(preferred_engine="mongo"), "preferred_engine"),
        (lambda: acache(backend="memcached"), "backend"),
        (lambda: mcache(stale_while_revalidate=-5), "stale_while_revalidate"),
        (lambda: mcache(stale_if_error="x"), "stale_if_error"),
        (lambda: mcache(tti=0), "tti"),
        (lambda: mcache(early=-1.0), "early"),
        (lambda: bcache(l1=0), "l1"),
        (lambda: mcache(ttl_of=5), "ttl_of"),
        (lambda: mcache(key="not callable"), "key"),
        (lambda: mcache(version=-1), "version"),
        (lambda: bcache(lock="on"), "lock"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_ignore_must_name_parameters():
    with pytest.raises(ValueError, match="ignore"):
        mcache(ignore=("nope",))(lambda a: a)


def test_durations_take_seconds_timedeltas_and_strings(cache_root):
    for ttl in (90, 1.5, datetime.timedelta(minutes=2), "1h30m"):
        f = mcache(ttl=ttl)(lambda n: n)
        f(1)
        assert f.cache_stats()["ttl_secs"] > 0
    assert mcache(ttl="1h30m")(lambda n: n).cache_stats()["ttl_secs"] == 5400.0


def test_ttl_expires_entries(cache_root):
    for decorator in (mcache, bcache, fcache):
        f = counted(decorator(ttl=0.05))
        f(1)
        time.sleep(0.3)
        f(1)
        assert len(f.calls) == 2, decorator


def test_maxsize_bounds_every_engine(cache_root):
    for decorator in (mcache, bcache, fcache):
        f = decorator(maxsize=3)(lambda n: n)
        for n in range(10):
            f(n)
        assert f.cache_info().currsize <= 3, decorator


def test_ignore_and_key(cache_root):
    runs = []

    @bcache(ignore=("client",))
    def fetch(url, client):
        runs.append(url)
        return url.upper()

    assert fetch("a", object()) == "A"
    assert fetch("a", threading.Lock()) == "A"  # an unpicklable ignored argument is fine
    assert runs == ["a"]

    @mcache(key=lambda user, verbose=False: user["id"])
    def profile(user, verbose=False):
        runs.append(user["id"])
        return user["name"]

    profile({"id": 7, "name": "x"})
    assert profile({"id": 7, "name": "other"}, verbose=True) == "x"
    assert runs == ["a", 7]


def test_methods_bind_self(cache_root):
    class Shape:
        def __init__(self, side):
            self.side = side

        @mcache(key=lambda self, scale: (self.side, scale))
        def area(self, scale):
            return self.side * self.side * scale

    assert Shape(2).area(3) == 12
    assert Shape(3).area(3) == 27
    assert Shape(2).area(3) == 12
    assert Shape.area.cache_info().hits == 1


def test_version_and_name(cache_root):
    runs = []

    def body(n):
        runs.append(n)
        return n

    bcache(version=1)(body)(1)
    bcache(version=1)(body)(1)
    bcache(version=2)(body)(1)  # a new version does not read the old entries
    assert runs == [1, 1]
    assert bcache(name="geo")(body).cache_stats()["name"] == "geo"


def test_unpicklable_result_runs_uncached_and_is_counted(cache_root, caplog):
    for decorator in (bcache, fcache):
        made = []

        @decorator
        def make_lock(n):
            lock = threading.Lock()
            made.append(lock)
            return lock

        first = make_lock(1)
        assert first is made[0]
        assert make_lock(1) is made[1]  # not stored: computed again
        stats = make_lock.cache_stats()
        assert stats["uncached_calls"] == 2
        assert stats["entries"] == 0
    assert sum("ran uncached" in r.getMessage() for r in caplog.records) == 2  # once per function


def test_unpicklable_argument_runs_uncached(cache_root):
    runs = []

    @bcache
    def use(lock):
        runs.append(lock)
        return 1

    lock = threading.Lock()
    assert use(lock) == 1 and use(lock) == 1
    assert len(runs) == 2
    assert use.cache_stats()["uncached_calls"] == 2


def test_memory_keys_other_objects_like_lru_cache(cache_root):
    class Point:  # identity equality, and unpicklable (a local class)
        def __init__(self, x):
            self.x = x

    f = counted(mcache())
    f(datetime.date(2024, 1, 1))
    f(datetime.date(2024, 1, 1))  # equal by value: one entry (keyed by its pickle)
    assert len(f.calls) == 1
    p = Point(1)
    f(p)
    f(p)  # the same object: one entry (keyed by identity, as lru_cache keys it)
    assert len(f.calls) == 2
    f(Point(1))  # another object: another entry
    assert len(f.calls) == 3
    assert f.cache_stats()["uncached_calls"] == 0


def test_memory_methods_cache_per_instance_and_keep_it_alive():
    import gc
    import weakref

    class Counter:
        def __init__(self):
            self.runs = 0

        @mcache
        def double(self, n):
            self.runs += 1
            return 2 * n

    a, b = Counter(), Counter()
    assert a.double(2) == 4 and a.double(2) == 4 and b.double(2) == 4
    assert (a.runs, b.runs) == (1, 1)
    ref = weakref.ref(a)
    del a
    gc.collect()
    assert ref() is not None  # the entry pins the instance its key names by address
    Counter.double.cache_clear()
    gc.collect()
    assert ref() is None


def test_force_refresh(cache_root):
    runs = []

    @bcache(force_refresh=lambda n, fresh=False: fresh, ignore=("fresh",))
    def f(n, fresh=False):
        runs.append(n)
        return len(runs)

    assert f(1) == 1
    assert f(1) == 1
    assert f(1, fresh=True) == 2
    assert f(1) == 2


def test_freshness_and_tier_keywords_are_accepted_and_reported(cache_root):
    @bcache(stale_while_revalidate="1m", stale_if_error=30, tti=60, early=True, l1=100,
            ttl_of=lambda v: None, ttl=60)
    def f(n):
        return n

    assert f(1) == 1
    # Every freshness rule is in effect; the engine keeps no memory tier beside them.
    assert f.cache_stats()["not_in_effect"] == ["l1"]


def test_seed_keywords_are_accepted(cache_root):
    @bcache(folder_name="seed", use_sql=True, secure=True)
    def f(n):
        return n

    @ucache(folder_name="seed2", use_async=False, preferred_engine="diskcache")
    def g(n):
        return n

    assert f(1) == 1 and g(1) == 1
    assert g.cache_backend == "lmdb"


def test_ucache_selection(cache_root):
    assert ucache(lambda n: n).cache_stats()["kind"] == "memory"
    f = ucache(folder_name="sel")(lambda n: n)
    f(1)
    assert f.cache_backend == "lmdb"
    g = ucache(compress=True)(lambda n: n)
    g(1)
    assert g.cache_backend == "files"
    h = ucache(preferred_engine="files")(lambda n: n)
    h(1)
    assert h.cache_stats()["selection"] == "preferred_engine='files'"

    async def co(n):
        return n

    assert inspect.iscoroutinefunction(ucache(co))


def test_compressed_files_round_trip(cache_root):
    f = fcache(compress=True)(lambda n: "z" * n)
    assert f(10_000) == "z" * 10_000
    assert f(10_000) == "z" * 10_000
    assert f.cache_info().hits == 1


def test_wrapped_functions_pickle_by_reference():
    from _workers import lmdb_square

    assert pickle.loads(pickle.dumps(lmdb_square)) is lmdb_square


def test_disabled_by_environment(tmp_path):
    script = textwrap.dedent(
        """
        from twat_cache import mcache
        runs = []
        @mcache
        def f(n):
            runs.append(n)
            return n
        f(1); f(1)
        print(len(runs))
        """
    )
    env = dict(os.environ, TWAT_CACHE_DISABLE="1", TWAT_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2"


def test_entries_persist_across_processes(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        from twat_cache import bcache, fcache
        def body(n):
            print("ran")
            return n * 2
        for deco in (bcache(folder_name="xproc"), fcache(folder_name="xproc-files")):
            assert deco(body)(21) == 42
        """
    )
    env = dict(os.environ, TWAT_CACHE_DIR=str(tmp_path))
    runs = [
        subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout.count("ran") == 2
    assert runs[1].stdout.count("ran") == 0


def test_typing_files_ship():
    package = os.path.dirname(twat_cache.__file__)
    assert os.path.exists(os.path.join(package, "py.typed"))
    assert os.path.exists(os.path.join(package, "__init__.pyi"))


def test_lru_cache_drop_in(cache_root):
    @functools.lru_cache(maxsize=None)
    def reference(n):
        return n * 3

    ours = mcache(maxsize=None)(lambda n: n * 3)
    for n in (1, 2, 1, 3, 2):
        assert ours(n) == reference(n)
    assert tuple(ours.cache_info()) == tuple(reference.cache_info())


def _entry_files(folder):
    return [p for p in folder.rglob("*") if p.is_file() and "twat-cache" not in p.name and p.suffix != ".lock"]


def test_tampered_file_entries_read_as_misses_never_as_wrong_values(cache_root):
    runs = []

    @fcache(folder_name="tamper")
    def f(n):
        runs.append(n)
        return "value-%d" % n

    assert f(1) == "value-1"
    files = [p for p in _entry_files(cache_root / "tamper") if p.stat().st_size > 20]
    assert files, "the entry is a file"
    for p in files:
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0xFF
        p.write_bytes(bytes(data))
    assert f(1) == "value-1"
    assert runs == [1, 1]


@pytest.mark.parametrize("decorator", [bcache, fcache])
def test_encrypted_entries(cache_root, decorator):
    runs = []

    def secret(n):
        runs.append(n)
        return "PLAINTEXT-SECRET-%d" % n

    a = decorator(folder_name="enc", passphrase="correct horse")(secret)
    assert a(1) == "PLAINTEXT-SECRET-1" and a(1) == "PLAINTEXT-SECRET-1"
    assert a.cache_stats()["encrypted"] is True
    for p in (cache_root / "enc").rglob("*"):
        if p.is_file():
            assert b"PLAINTEXT-SECRET" not in p.read_bytes(), p
    # Another key reads nothing back (a miss, recomputed), never a wrong value.
    b = decorator(folder_name="enc", encryption_key=bytes(range(32)))(secret)
    assert b(1) == "PLAINTEXT-SECRET-1"
    assert runs == [1, 1]
    with pytest.raises(ValueError, match="encryption_key"):
        decorator(encryption_key=b"short")


def test_disk_folder_defaults_to_the_top_level_package(cache_root):
    f = bcache(lambda n: n)
    f(1)
    assert f.cache_stats()["folder"] == str(cache_root / "test_api")


def test_lock_and_max_bytes_pass_through(cache_root):
    runs = []

    @bcache(folder_name="locked", lock=True, max_bytes=10_000)
    def f(n):
        runs.append(n)
        return "v" * 1000

    for n in range(30):
        f(n)
    f(29)
    assert runs == list(range(30))
    stats = f.cache_stats()
    assert stats["bytes"] <= 10_000 and stats["entries"] < 30
