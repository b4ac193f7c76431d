"""The decorators: keyword checks, the signature read once per function, and the wrappers.

A sync wrapper is a ``CachedFunction``: a subclass of the native ``Engine``, whose
``__call__`` (binding, keying, lookup, single-flight, pickling) is Rust. An ``async def``
wrapper is a real coroutine function (``inspect.iscoroutinefunction`` is true) that keys and
looks up through the same engine and runs single-flight across asyncio tasks itself.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import inspect
import json
import os
import types
import weakref
from typing import Any, Callable, Dict, Optional

from . import _engine
from . import _options as check

CacheInfo = collections.namedtuple("CacheInfo", ["hits", "misses", "maxsize", "currsize"])
CacheInfo.__doc__ = "functools' cache_info(): hits, misses, maxsize and current size."

_KIND_CODES = {
    inspect.Parameter.POSITIONAL_ONLY: 0,
    inspect.Parameter.POSITIONAL_OR_KEYWORD: 1,
    inspect.Parameter.VAR_POSITIONAL: 2,
    inspect.Parameter.KEYWORD_ONLY: 3,
    inspect.Parameter.VAR_KEYWORD: 4,
}


def _signature(func: Callable[..., Any]) -> Optional[inspect.Signature]:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):  # some builtins have none
        return None


def _params(sig: Optional[inspect.Signature], ignored: frozenset) -> list:
    if sig is None:
        # No signature: one *args and one **kwargs parameter.
        return [("args", 2, False, None, False), ("kwargs", 4, False, None, False)]
    out = []
    for p in sig.parameters.values():
        has_default = p.default is not inspect.Parameter.empty
        out.append(
            (p.name, _KIND_CODES[p.kind], has_default, p.default if has_default else None, p.name in ignored)
        )
    return out


def _feed_code(h: Any, code: types.CodeType) -> None:
    h.update(code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_argcount)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed_code(h, const)
        elif isinstance(const, frozenset):
            h.update(repr(sorted(repr(c) for c in const)).encode())
        else:
            h.update(repr(const).encode())


def _code_hash(func: Callable[..., Any]) -> int:
    """A hash of the function's code (not its file or line): editing the body changes it,
    so a persistent cache does not serve results of the old body."""
    code = getattr(inspect.unwrap(func), "__code__", None)
    if code is None:
        return 0
    h = hashlib.blake2b(digest_size=8)
    _feed_code(h, code)
    return int.from_bytes(h.digest(), "little")


class CachedFunction(_engine.Engine):
    """A function wrapped by one of the decorators (sync).

    Call it like the function. ``cache_info()``, ``cache_clear()``, ``cache_stats()`` and
    ``cache_backend`` inspect and manage its cache.
    """

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return types.MethodType(self, obj)

    def __reduce__(self) -> str:
        # Pickled by reference, like the function it replaces (multiprocessing needs this).
        return self.__qualname__

    def __repr__(self) -> str:
        return f"<cached function {self.__module__}.{self.__qualname__} ({self.cache_backend})>"

    def cache_stats(self) -> Dict[str, Any]:
        """This cache's counters and settings, with the Rust ``CacheStats`` field names."""
        stats = json.loads(self._stats_json())
        stats["not_in_effect"] = list(getattr(self, "_twat_not_in_effect", ()))
        return stats

    def cache_info(self) -> CacheInfo:
        """``functools``-style ``(hits, misses, maxsize, currsize)``."""
        s = self.cache_stats()
        return CacheInfo(s.get("hits", 0), s.get("misses", 0), self._maxsize, s.get("entries", 0))


class _RefreshingFunction(CachedFunction):
    """A ``CachedFunction`` with ``force_refresh``: when it says so, the function runs and
    its result replaces the stored one."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._twat_force_refresh(*args, **kwargs):
            return self._refresh(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class _Spec:
    """The checked settings of one decorator application."""

    def __init__(
        self,
        decorator: str,
        kind: str,
        *,
        maxsize: Any = None,
        ttl: Any = None,
        policy: Any = None,
        folder_name: Any = None,
        compress: Any = False,
        selection: Optional[str] = None,
        url: Any = None,
        name: Any = None,
        version: Any = 0,
        ignore: Any = None,
        key: Any = None,
        force_refresh: Any = None,
        lock: Any = False,
        max_bytes: Any = None,
        secure: Any = True,
        use_sql: Any = False,
        encryption_key: Any = None,
        passphrase: Any = None,
        stale_while_revalidate: Any = None,
        stale_if_error: Any = None,
        tti: Any = None,
        early: Any = None,
        ttl_of: Any = None,
        l1: Any = None,
    ) -> None:
        self.decorator = decorator
        self.kind = kind
        self.maxsize = check.maxsize(maxsize)
        self.ttl = check.duration(ttl, "ttl")
        allowed = check.POLICIES if kind == "memory" else check.DISK_POLICIES
        self.policy = None if policy is None else check.choice(policy, "policy", allowed)
        self.folder_name = check.optional_str(folder_name, "folder_name")
        if self.folder_name is not None:
            try:
                _engine.check_folder_name(self.folder_name)
            except ValueError as e:
                raise ValueError(f"folder_name: {folder_name!r} is not allowed: {e}") from None
        self.compress = check.flag(compress, "compress")
        self.selection = selection
        self.url = check.optional_str(url, "url")
        self.name = check.optional_str(name, "name")
        self.version = check.version(version)
        self.ignore_arg = ignore
        if ignore is not None and not isinstance(ignore, (str, tuple, list, set, frozenset)):
            raise check.fail("ignore", ignore, "a tuple of parameter names")
        self.key = check.optional_callable(key, "key")
        self.force_refresh = check.optional_callable(force_refresh, "force_refresh")
        self.lock = check.flag(lock, "lock")
        self.max_bytes = check.maxsize(max_bytes, "max_bytes")
        check.flag(secure, "secure")  # always on: folders 0700, files 0600
        check.flag(use_sql, "use_sql")  # LMDB plays SQLite's part
        if encryption_key is not None and (
            not isinstance(encryption_key, (bytes, bytearray)) or len(encryption_key) != 32
        ):
            raise check.fail("encryption_key", encryption_key, "32 bytes")
        self.encryption_key = None if encryption_key is None else bytes(encryption_key)
        self.passphrase = check.optional_str(passphrase, "passphrase")
        self.stale_while_revalidate = check.duration(stale_while_revalidate, "stale_while_revalidate")
        self.stale_if_error = check.duration(stale_if_error, "stale_if_error")
        self.tti = check.duration(tti, "tti")
        self.early = check.early(early)
        self.ttl_of = check.optional_callable(ttl_of, "ttl_of")
        for arg in check.NEED_TTL:
            value = getattr(self, arg)
            if value is not None and self.ttl is None and self.ttl_of is None:
                raise ValueError(
                    f"{arg}: {value!r} without a ttl is not allowed; expected a ttl (or "
                    "ttl_of) as well: it acts around expiry"
                )
        given = {}
        self.l1 = check.maxsize(l1, "l1")
        fresh_rules = any(
            v is not None for v in (self.stale_while_revalidate, self.stale_if_error, self.tti,
                                    self.early, self.ttl_of)
        )
        # The engine keeps no tier in front of a cache with freshness rules (they decide per
        # read, which a tier hit would skip), nor in front of memory.
        if self.l1 is not None and (kind not in check.L1_KINDS or fresh_rules):
            given["l1"] = self.l1
            self.l1 = None
        self.not_in_effect = tuple(sorted(given))

    def engine(self, func: Callable[..., Any]) -> Any:
        sig = _signature(func)
        names = () if sig is None else tuple(sig.parameters)
        ignored = check.ignore(self.ignore_arg, names)
        module = getattr(func, "__module__", None) or "__main__"
        qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", "function")
        folder_name = self.folder_name
        if folder_name is None and self.kind in ("lmdb", "files"):
            # As the Rust decorators default to the calling crate: the top-level package.
            folder_name = module.split(".")[0].strip("_") or "main"
        cls = _RefreshingFunction if self.force_refresh is not None else CachedFunction
        engine = cls(
            func,
            _params(sig, ignored),
            self.kind,
            self.name or f"{module}.{qualname}",
            (module, qualname, self.version, _code_hash(func)),
            maxsize=self.maxsize,
            ttl=self.ttl,
            policy=self.policy,
            folder_name=folder_name,
            compress=self.compress,
            lock=self.lock,
            max_bytes=self.max_bytes,
            url=self.url,
            key=self.key,
            selection=self.selection,
            encryption_key=self.encryption_key,
            passphrase=self.passphrase,
            l1=self.l1,
            stale_while_revalidate=self.stale_while_revalidate,
            stale_if_error=self.stale_if_error,
            tti=self.tti,
            early=self.early,
            ttl_of=self.ttl_of,
        )
        engine._twat_not_in_effect = self.not_in_effect
        engine._twat_kind = self.kind
        engine._twat_force_refresh = self.force_refresh
        return engine

    def __call__(self, func: Callable[..., Any]) -> Any:
        if not callable(func):
            raise TypeError(f"{self.decorator} decorates a function, not {func!r}")
        engine = self.engine(func)
        if inspect.iscoroutinefunction(func):
            engine._twat_not_in_effect = tuple(sorted(set(self.not_in_effect) | {
                arg for arg in check.NOT_IN_EFFECT_ASYNC if getattr(self, arg) is not None
            }))
            return _async_wrapper(engine, func, self.force_refresh)
        functools.update_wrapper(engine, func)
        return engine


def _async_wrapper(engine: CachedFunction, func: Callable[..., Any], force_refresh: Any) -> Any:
    """A coroutine function over ``engine``: lookups in memory run inline, lookups on disk or
    Redis in the loop's default executor (off the event loop, without the GIL); concurrent
    tasks missing on one key await one computation."""
    persistent = engine._twat_kind != "memory"
    flights: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Dict[bytes, asyncio.Future]]" = (
        weakref.WeakKeyDictionary()
    )

    async def _lookup(loop: asyncio.AbstractEventLoop, key: bytes) -> Any:
        if persistent:
            return await loop.run_in_executor(None, engine._lookup, key)
        return engine._lookup(key)

    async def _store(loop: asyncio.AbstractEventLoop, key: bytes, value: Any, pins: list) -> None:
        if persistent:
            await loop.run_in_executor(None, engine._store, key, value)
        else:
            engine._store(key, value, pins)

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        keyed = engine._key(args, kwargs)
        if keyed is None:
            return await func(*args, **kwargs)
        key, pins = keyed
        loop = asyncio.get_running_loop()
        if force_refresh is not None and force_refresh(*args, **kwargs):
            value = await func(*args, **kwargs)
            await _store(loop, key, value, pins)
            return value
        found, value = await _lookup(loop, key)
        if found:
            return value
        pending = flights.setdefault(loop, {})
        while key in pending:
            flight = pending[key]
            try:
                return await asyncio.shield(flight)
            except asyncio.CancelledError:
                if flight.cancelled():
                    continue  # the computing task was cancelled: one waiter takes over
                raise
        flight = loop.create_future()
        pending[key] = flight
        try:
            value = await func(*args, **kwargs)
        except asyncio.CancelledError:
            pending.pop(key, None)
            flight.cancel()
            raise
        except BaseException as e:
            pending.pop(key, None)
            flight.set_exception(e)
            flight.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        await _store(loop, key, value, pins)
        pending.pop(key, None)
        flight.set_result(value)
        return value

    wrapper.cache_clear = engine.cache_clear  # type: ignore[attr-defined]
    wrapper.cache_info = engine.cache_info  # type: ignore[attr-defined]
    wrapper.cache_stats = engine.cache_stats  # type: ignore[attr-defined]
    wrapper.cache_backend = engine.cache_backend  # type: ignore[attr-defined]
    wrapper.__twat_engine__ = engine  # type: ignore[attr-defined]
    return wrapper


# ---------------------------------------------------------------------------------------
# The five decorators. Each takes its seed positional arguments (`mcache(100)`,
# `bcache("folder")`), works bare (`@mcache`) and with parentheses, and checks every
# keyword when it is called, before any function is decorated.


def _bare(first: Any) -> bool:
    return callable(first) and not isinstance(first, (str, bytes, int, float))


def mcache(maxsize: Any = None, ttl: Any = None, policy: Any = "lru", **options: Any) -> Any:
    """Memoize in process memory (the object itself is returned on a hit)."""
    if _bare(maxsize):
        return mcache()(maxsize)
    options.pop("folder_name", None)  # the seed accepted it; memory has no folder
    options.pop("compress", None)
    return _Spec("mcache", "memory", maxsize=maxsize, ttl=ttl, policy=policy, **options)


def bcache(folder_name: Any = None, maxsize: Any = None, ttl: Any = None, **options: Any) -> Any:
    """Memoize in an LMDB database on disk, shared by processes (values pickled)."""
    if _bare(folder_name):
        return bcache()(folder_name)
    options.pop("compress", None)
    return _Spec("bcache", "lmdb", folder_name=folder_name, maxsize=maxsize, ttl=ttl, **options)


def fcache(
    folder_name: Any = None, maxsize: Any = None, ttl: Any = None, compress: Any = False, **options: Any
) -> Any:
    """Memoize in one file per entry (values pickled, optionally compressed)."""
    if _bare(folder_name):
        return fcache()(folder_name)
    return _Spec(
        "fcache", "files", folder_name=folder_name, maxsize=maxsize, ttl=ttl, compress=compress, **options
    )


def acache(maxsize: Any = None, ttl: Any = None, backend: Any = "memory", **options: Any) -> Any:
    """Memoize an ``async def`` (or a plain function): in memory, or in Redis with
    ``backend="redis"`` (``url=`` or ``$TWAT_CACHE_REDIS_URL``); ``"lmdb"``/``"files"`` too."""
    if _bare(maxsize):
        return acache()(maxsize)
    options.pop("use_async", None)
    backend = check.choice(backend, "backend", check.ASYNC_BACKENDS)
    return _Spec("acache", backend, maxsize=maxsize, ttl=ttl, **options)


def ucache(
    folder_name: Any = None,
    maxsize: Any = None,
    ttl: Any = None,
    preferred_engine: Any = None,
    use_async: Any = False,
    **options: Any,
) -> Any:
    """Pick the cache that fits: ``async def`` or ``use_async`` → acache; else
    ``preferred_engine`` if given; else ``compress`` → files; ``folder_name`` or
    ``persist=True`` → LMDB; else memory."""
    if _bare(folder_name):
        return ucache()(folder_name)
    check.flag(use_async, "use_async")
    persist = check.flag(options.pop("persist", False), "persist")
    engine = None
    if preferred_engine is not None:
        engine = check.ENGINES.get(str(preferred_engine).lower()) if isinstance(preferred_engine, str) else None
        if engine is None:
            raise check.fail(
                "preferred_engine", preferred_engine, "one of " + ", ".join(repr(e) for e in check.ENGINES)
            )
    compress = check.flag(options.get("compress", False), "compress")

    def choose(func: Callable[..., Any]) -> Any:
        is_async = use_async or inspect.iscoroutinefunction(func)
        if engine is not None:
            kind, why = engine, f"preferred_engine={preferred_engine!r}"
        elif compress:
            kind, why = "files", "compress=True"
        elif folder_name is not None or persist:
            kind, why = "lmdb", "folder_name" if folder_name is not None else "persist=True"
        else:
            kind, why = "memory", "default"
        if is_async:
            why = f"async def; {why}"
        opts = dict(options)
        if kind not in ("lmdb", "files"):
            opts.pop("compress", None)
        spec = _Spec(
            "ucache", kind, folder_name=folder_name, maxsize=maxsize, ttl=ttl, selection=why, **opts
        )
        return spec(func)

    # Check every keyword now (ValueError at decoration time), with the engine they will get.
    probe_kind = engine or ("files" if compress else "lmdb" if (folder_name is not None or persist) else "memory")
    probe_opts = dict(options)
    if probe_kind not in ("lmdb", "files"):
        probe_opts.pop("compress", None)
    _Spec("ucache", probe_kind, folder_name=folder_name, maxsize=maxsize, ttl=ttl, **probe_opts)
    return choose


def clear_cache() -> None:
    """Drops every entry of every cache of this process (on disk: each cache's own entries)."""
    _engine.clear_all()


def get_stats() -> list:
    """Every cache of this process: a list of dicts with the Rust ``CacheStats`` field names."""
    return json.loads(_engine.stats_all_json())


def get_cache_path(folder_name: str) -> "os.PathLike[str]":
    """The folder ``folder_name`` under the cache root (``$TWAT_CACHE_DIR``, else
    ``~/.cache/twat_cache``), created 0700. A bad name is a ``ValueError``."""
    if not isinstance(folder_name, str):
        raise check.fail("folder_name", folder_name, "a str")
    try:
        return _engine.get_cache_path(folder_name)
    except ValueError as e:
        raise ValueError(f"folder_name: {e}") from None
