"""The freshness keywords on the engine's rules (docs/freshness.md): stale_if_error, tti,
stale_while_revalidate and early, on memory, disk and Redis caches. Waits are lower bounds
(an entry is surely expired after them); background work is polled for, never timed."""

from __future__ import annotations

import asyncio
import time

import pytest

from twat_cache import acache, bcache, fcache, mcache, ucache

SYNC = {
    "mcache": lambda **kw: mcache(**kw),
    "bcache": lambda **kw: bcache(folder_name="fresh", **kw),
    "fcache": lambda **kw: fcache(folder_name="fresh", **kw),
}


def _flush(url):
    """Empties the session's Redis server: the tests' functions share qualnames."""
    import socket
    from urllib.parse import urlparse

    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=5) as conn:
        conn.sendall(b"FLUSHALL\r\n")
        assert conn.recv(16).startswith(b"+OK")


@pytest.fixture(params=sorted(SYNC) + ["redis"])
def decorate(request, cache_root):
    """Each engine's decorator (Redis: ucache(preferred_engine="redis") on a real server)."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        _flush(url)
        return lambda **kw: ucache(preferred_engine="redis", url=url, **kw)
    return SYNC[request.param]


def _poll(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


class Upstream:
    """A body's state: it counts its runs and fails while `down` is set."""

    def __init__(self):
        self.runs = 0
        self.down = False

    def __call__(self, n):
        self.runs += 1
        if self.down:
            raise ConnectionError(f"upstream down (run {self.runs})")
        return {"n": n, "run": self.runs}


def body_of(up):
    """A real function over `up` (its namespace: this module and qualname; give caches
    that must not share entries distinct `version=`s)."""

    def body(n):
        return up(n)

    return body


def _stale_if_error(decorate):
    up = Upstream()
    f = decorate(ttl=0.05, stale_if_error=3600)(body_of(up))
    f.cache_clear()
    assert f(1) == {"n": 1, "run": 1}
    time.sleep(0.3)  # expired, within the stale window
    up.down = True
    assert f(1) == {"n": 1, "run": 1}, "the expired value, not the error"
    assert up.runs == 2
    stats = f.cache_stats()
    assert stats["stale_served"] == 1
    assert stats["refresh_errors"] == 1
    assert "stale_if_error" not in stats["not_in_effect"]
    # Back up: the next call recomputes and stores the new value.
    up.down = False
    assert f(1) == {"n": 1, "run": 3}
    assert f(1) == {"n": 1, "run": 3}
    assert up.runs == 3


def test_stale_if_error_returns_the_expired_value_when_the_body_raises(decorate):
    _stale_if_error(decorate)


def test_without_stale_if_error_the_error_propagates(decorate):
    up = Upstream()
    f = decorate(ttl=0.05)(body_of(up))
    f(1)
    time.sleep(0.3)
    up.down = True
    with pytest.raises(ConnectionError, match="upstream down"):
        f(1)


def test_a_miss_with_stale_if_error_still_raises(decorate):
    up = Upstream()
    up.down = True
    f = decorate(ttl=60, stale_if_error=60)(body_of(up))
    with pytest.raises(ConnectionError):
        f(1)  # nothing stored yet: nothing stale to serve


def test_tti_keeps_read_entries_and_drops_idle_ones(decorate):
    idle = decorate(tti=0.1, version=1)(body_of(Upstream()))
    kept = decorate(tti=3600, version=2)(body_of(Upstream()))
    assert idle(1)["run"] == 1
    assert kept(1)["run"] == 1
    assert kept(1)["run"] == 1  # read well within its tti: a hit
    assert "tti" not in idle.cache_stats()["not_in_effect"]
    time.sleep(1.5)  # > tti + the engine's 1 s grace for recording reads
    assert idle(1)["run"] == 2, "an entry idle past its tti is gone"
    assert kept(1)["run"] == 1


def test_stale_while_revalidate_serves_the_old_value_and_refreshes_in_background(decorate):
    up = Upstream()
    f = decorate(ttl=0.05, stale_while_revalidate=3600)(body_of(up))
    assert f(1)["run"] == 1
    time.sleep(0.3)
    assert f(1)["run"] == 1, "the stale value, at once"
    assert _poll(lambda: f(1)["run"] == 2), "the background refresh stored the new value"
    stats = f.cache_stats()
    assert stats["stale_served"] >= 1
    assert stats["refreshes"] >= 1
    assert up.runs == 2


def test_early_recomputes_before_expiry(decorate):
    # With a huge beta the XFetch draw always says "recompute now" once the body's run
    # time is known: the second call gets the stored value and a refresh runs behind it.
    def body(n):
        time.sleep(0.005)
        return up(n)

    up = Upstream()
    f = decorate(ttl=3600, early=1e9)(body)
    assert f(1)["run"] == 1
    assert f(1)["run"] == 1
    assert _poll(lambda: up.runs >= 2), "an early recomputation ran"
    assert _poll(lambda: f.cache_stats()["refreshes"] >= 1)


@pytest.mark.parametrize("argument", ["stale_if_error", "stale_while_revalidate", "early"])
def test_windows_without_a_ttl_are_value_errors(argument):
    value = True if argument == "early" else 60
    with pytest.raises(ValueError, match=f"^{argument}: .* without a ttl"):
        mcache(**{argument: value})
    with pytest.raises(ValueError, match=f"^{argument}: "):
        bcache(**{argument: value})


def test_async_wrappers_report_what_is_not_in_effect(cache_root):
    async def body(n):
        return n

    f = acache(ttl=60, stale_if_error=60, stale_while_revalidate=60, early=True, tti=60)(body)
    assert asyncio.run(f(1)) == 1
    assert f.cache_stats()["not_in_effect"] == ["early", "stale_if_error", "stale_while_revalidate"]


def test_ttl_of_sets_each_entrys_ttl_from_its_value(decorate):
    import datetime

    def max_age(value):
        # Short-lived answers for odd n (seconds, or a timedelta); the cache's ttl for the rest.
        if value["n"] % 2 == 0:
            return None
        return 0.05 if value["n"] == 1 else datetime.timedelta(milliseconds=50)

    up = Upstream()
    f = decorate(ttl=3600, ttl_of=max_age)(body_of(up))
    assert [f(1)["run"], f(2)["run"], f(3)["run"]] == [1, 2, 3]
    assert "ttl_of" not in f.cache_stats()["not_in_effect"]
    time.sleep(0.3)
    assert f(2)["run"] == 2, "kept for the cache's ttl"
    assert f(1)["run"] == 4, "expired by its own ttl"
    assert f(3)["run"] == 5, "expired by its own ttl (a timedelta)"


def test_ttl_of_raising_falls_back_to_the_ttl(cache_root, monkeypatch):
    import sys

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def broken(value):
        raise RuntimeError("no max-age")

    up = Upstream()
    f = mcache(ttl=3600, ttl_of=broken)(body_of(up))
    assert f(1)["run"] == 1
    assert f(1)["run"] == 1, "stored for the cache's ttl"
    assert [type(r.exc_value) for r in reported] == [RuntimeError]


def test_a_background_refresh_at_interpreter_exit_is_quiet(tmp_path):
    # The refresh worker may pick the job up after the interpreter began shutting down:
    # it must skip the body, not panic on stderr or change the exit status.
    import subprocess
    import sys

    script = tmp_path / "exit.py"
    script.write_text(
        "import time\n"
        "from twat_cache import mcache\n"
        "@mcache(ttl=0.01, stale_while_revalidate=60)\n"
        "def f(n):\n"
        "    time.sleep(0.2)\n"
        "    return n\n"
        "f(1)\n"
        "time.sleep(0.05)\n"
        "print(f(1))\n"
    )
    for _ in range(3):
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert run.stdout == "1\n"
        assert "panicked" not in run.stderr, run.stderr


def test_force_refresh_replaces_the_stored_value(decorate):
    up = Upstream()

    def body(n, fresh=False):
        return up(n)

    f = decorate(ttl=60, ignore=("fresh",), force_refresh=lambda n, fresh=False: fresh)(body)
    g = decorate(ttl=60, stale_if_error=60, ignore=("fresh",), version=1,
                 force_refresh=lambda n, fresh=False: fresh)(body)
    assert g(1)["run"] == 1
    assert g(1, fresh=True)["run"] == 2
    assert g(1)["run"] == 2
    # Counted by the engine's freshness path, which a cache with a rule takes.
    assert g.cache_stats()["refreshes"] == 1
    assert f(1)["run"] == 3
    assert f(1, fresh=True)["run"] == 4
    assert f(1)["run"] == 4


def test_force_refresh_that_raises_keeps_the_stored_value_with_stale_if_error(decorate):
    up = Upstream()

    def body(n, fresh=False):
        return up(n)

    f = decorate(ttl=0.05, stale_if_error=3600, ignore=("fresh",),
                 force_refresh=lambda n, fresh=False: fresh)(body)
    assert f(1)["run"] == 1
    time.sleep(0.3)
    up.down = True
    assert f(1, fresh=True)["run"] == 1, "the stored value, not the error"
    assert f.cache_stats()["refresh_errors"] == 1


@pytest.mark.parametrize("backend", ["memory", "lmdb"])
def test_async_wrappers_honour_tti_and_ttl_of(cache_root, backend):
    runs = []

    async def body(n):
        runs.append(n)
        return {"n": n}

    idle = acache(backend=backend, tti=0.1, folder_name="async-fresh")(body)
    short = acache(backend=backend, ttl=3600, ttl_of=lambda v: 0.05, version=1,
                   folder_name="async-fresh")(body)

    async def calls():
        return [await idle(1), await idle(1), await short(2), await short(2)]

    assert asyncio.run(calls()) == [{"n": 1}, {"n": 1}, {"n": 2}, {"n": 2}]
    assert runs == [1, 2]
    assert idle.cache_stats()["not_in_effect"] == []
    time.sleep(1.5)
    assert asyncio.run(calls()) == [{"n": 1}, {"n": 1}, {"n": 2}, {"n": 2}]
    assert runs == [1, 2, 1, 2], "both expired: the idle one by tti, the other by ttl_of"
