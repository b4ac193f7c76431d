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


@pytest.mark.parametrize("name", sorted(SYNC))
def test_stale_if_error_returns_the_expired_value_when_the_body_raises(cache_root, name):
    _stale_if_error(SYNC[name])


def test_stale_if_error_on_redis(redis_url, cache_root):
    _stale_if_error(lambda **kw: ucache(preferred_engine="redis", url=redis_url, **kw))


@pytest.mark.parametrize("name", sorted(SYNC))
def test_without_stale_if_error_the_error_propagates(cache_root, name):
    up = Upstream()
    f = SYNC[name](ttl=0.05)(body_of(up))
    f(1)
    time.sleep(0.3)
    up.down = True
    with pytest.raises(ConnectionError, match="upstream down"):
        f(1)


@pytest.mark.parametrize("name", sorted(SYNC))
def test_a_miss_with_stale_if_error_still_raises(cache_root, name):
    up = Upstream()
    up.down = True
    f = SYNC[name](ttl=60, stale_if_error=60)(body_of(up))
    with pytest.raises(ConnectionError):
        f(1)  # nothing stored yet: nothing stale to serve


def test_tti_keeps_read_entries_and_drops_idle_ones(cache_root):
    idle, kept = {}, {}
    for name, decorate in SYNC.items():
        idle[name] = decorate(tti=0.1, version=1)(body_of(Upstream()))
        kept[name] = decorate(tti=3600, version=2)(body_of(Upstream()))
        assert idle[name](1)["run"] == 1
        assert kept[name](1)["run"] == 1
        assert kept[name](1)["run"] == 1, name  # read well within its tti: a hit
        assert "tti" not in idle[name].cache_stats()["not_in_effect"]
    time.sleep(1.5)  # > tti + the engine's 1 s grace for recording reads
    for name in SYNC:
        assert idle[name](1)["run"] == 2, f"{name}: an entry idle past its tti is gone"
        assert kept[name](1)["run"] == 1, name


@pytest.mark.parametrize("name", sorted(SYNC))
def test_stale_while_revalidate_serves_the_old_value_and_refreshes_in_background(cache_root, name):
    up = Upstream()
    f = SYNC[name](ttl=0.05, stale_while_revalidate=3600)(body_of(up))
    assert f(1)["run"] == 1
    time.sleep(0.3)
    assert f(1)["run"] == 1, "the stale value, at once"
    assert _poll(lambda: f(1)["run"] == 2), "the background refresh stored the new value"
    stats = f.cache_stats()
    assert stats["stale_served"] >= 1
    assert stats["refreshes"] >= 1
    assert up.runs == 2


@pytest.mark.parametrize("name", sorted(SYNC))
def test_early_recomputes_before_expiry(cache_root, name):
    # With a huge beta the XFetch draw always says "recompute now" once the body's run
    # time is known: the second call gets the stored value and a refresh runs behind it.
    def body(n):
        time.sleep(0.005)
        return up(n)

    up = Upstream()
    f = SYNC[name](ttl=3600, early=1e9)(body)
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


def test_ttl_of_sets_each_entrys_ttl_from_its_value(cache_root):
    import datetime

    def max_age(value):
        # Short-lived answers for odd n (seconds, or a timedelta); the cache's ttl for the rest.
        if value["n"] % 2 == 0:
            return None
        return 0.05 if value["n"] == 1 else datetime.timedelta(milliseconds=50)

    fns = {}
    for name, decorate in SYNC.items():
        up = Upstream()
        fns[name] = (decorate(ttl=3600, ttl_of=max_age)(body_of(up)), up)
        f = fns[name][0]
        assert [f(1)["run"], f(2)["run"], f(3)["run"]] == [1, 2, 3]
        assert "ttl_of" not in f.cache_stats()["not_in_effect"]
    time.sleep(0.3)
    for name, (f, up) in fns.items():
        assert f(2)["run"] == 2, f"{name}: kept for the cache's ttl"
        assert f(1)["run"] == 4, f"{name}: expired by its own ttl"
        assert f(3)["run"] == 5, f"{name}: expired by its own ttl (a timedelta)"


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
