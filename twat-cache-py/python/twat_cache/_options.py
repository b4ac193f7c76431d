"""Checking the decorators' keyword arguments: every mistake is a ``ValueError`` naming the
argument, raised when the function is decorated."""

from __future__ import annotations

import datetime
import math
from typing import Any, Callable, Iterable, Optional

from . import _engine

POLICIES = ("lru", "lfu", "fifo")
DISK_POLICIES = ("lru", "fifo")

#: ``preferred_engine`` values: the engines, and the names of the original ``twat_cache``'s
#: backends, mapped to the engine that plays their part here.
ENGINES = {
    "memory": "memory",
    "mcache": "memory",
    "functools": "memory",
    "cachetools": "memory",
    "cachebox": "memory",
    "lmdb": "lmdb",
    "bcache": "lmdb",
    "diskcache": "lmdb",
    "klepto": "lmdb",
    "sql": "lmdb",
    "files": "files",
    "fcache": "files",
    "joblib": "files",
    "redis": "redis",
    "aiocache": "memory",
}

#: ``backend`` values of ``acache``.
ASYNC_BACKENDS = ("memory", "redis", "lmdb", "files")

#: Freshness keywords that act on the call path, which an ``async def`` wrapper runs in
#: Python (lookup, await, store): there they are recorded in ``not_in_effect``.
NOT_IN_EFFECT_ASYNC = ("stale_while_revalidate", "stale_if_error", "early")

#: Freshness keywords that need an expiry to act on: a ``ttl`` or a ``ttl_of``.
NEED_TTL = ("stale_while_revalidate", "stale_if_error", "early")

#: Engines that take ``l1`` (a memory tier in front of the store); on a memory cache it
#: has nothing to sit in front of, and with freshness rules the engine keeps no tier: both
#: are recorded in ``not_in_effect``.
L1_KINDS = ("lmdb", "files", "redis")


def fail(argument: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"{argument}: {value!r} is not allowed; expected {allowed}")


def maxsize(value: Any, argument: str = "maxsize") -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(argument, value, "a positive int, or None for unbounded")
    if value < 1:
        raise fail(argument, value, "at least 1, or None for unbounded")
    return value


def duration(value: Any, argument: str) -> Optional[float]:
    """Seconds (int/float), a ``datetime.timedelta``, or a string such as ``"1h30m"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise fail(argument, value, 'seconds, a timedelta or a string such as "1h30m"')
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = _engine.parse_duration(value)
        except ValueError as e:
            raise ValueError(f"{argument}: {value!r} is not a duration ({e})") from None
    else:
        raise fail(argument, value, 'seconds, a timedelta or a string such as "1h30m"')
    if math.isnan(seconds) or math.isinf(seconds) or seconds <= 0:
        raise fail(argument, value, "a positive duration, or None")
    return seconds


def choice(value: Any, argument: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value.lower() not in allowed:
        raise fail(argument, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value.lower()


def flag(value: Any, argument: str) -> bool:
    if not isinstance(value, bool):
        raise fail(argument, value, "True or False")
    return value


def optional_str(value: Any, argument: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise fail(argument, value, "a non-empty str, or None")
    return value


def optional_callable(value: Any, argument: str) -> Optional[Callable[..., Any]]:
    if value is None:
        return None
    if not callable(value):
        raise fail(argument, value, "a callable, or None")
    return value


def version(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise fail("version", value, "an int from 0 to 2**32 - 1")
    return value


def early(value: Any) -> Optional[float]:
    if value is None or value is False:
        return None
    if value is True:
        return 1.0
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise fail("early", value, "True, False, or a float beta > 0")


def ignore(value: Any, names: Iterable[str]) -> frozenset:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = (value,)
    try:
        wanted = tuple(value)
    except TypeError:
        raise fail("ignore", value, "a tuple of parameter names") from None
    names = set(names)
    for name in wanted:
        if not isinstance(name, str) or name not in names:
            raise fail(
                "ignore", name, "names of the function's parameters: " + ", ".join(sorted(names))
            )
    return frozenset(wanted)
