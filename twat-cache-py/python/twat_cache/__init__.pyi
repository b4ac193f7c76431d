"""Type stubs for twat_cache: decorated functions keep their parameters and return type."""

import datetime
import os
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Generic,
    Iterable,
    List,
    NamedTuple,
    Optional,
    TypeVar,
    Union,
    overload,
)

from typing_extensions import Literal, ParamSpec

P = ParamSpec("P")
R = TypeVar("R")

Duration = Union[int, float, str, datetime.timedelta]
Policy = Literal["lru", "lfu", "fifo"]

class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: Optional[int]
    currsize: int

class CachedFunction(Generic[P, R]):
    """A decorated function: call it like the original."""

    __wrapped__: Callable[P, R]
    __name__: str
    __qualname__: str
    cache_backend: str
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...
    def __get__(self, obj: Any, objtype: Any = ...) -> Any: ...
    def cache_clear(self) -> None: ...
    def cache_info(self) -> CacheInfo: ...
    def cache_stats(self) -> Dict[str, Any]: ...

class _Decorator:
    @overload
    def __call__(self, func: Callable[P, Awaitable[R]]) -> Any: ...
    @overload
    def __call__(self, func: Callable[P, R]) -> CachedFunction[P, R]: ...


@overload
def mcache(maxsize: Callable[P, R]) -> CachedFunction[P, R]: ...
@overload
def mcache(
    maxsize: Optional[int] = ...,
    ttl: Optional[Duration] = ...,
    policy: Policy = ...,
    *,
    name: Optional[str] = ...,
    version: int = ...,
    ignore: Optional[Iterable[str]] = ...,
    key: Optional[Callable[..., Any]] = ...,
    force_refresh: Optional[Callable[..., bool]] = ...,
    stale_while_revalidate: Optional[Duration] = ...,
    stale_if_error: Optional[Duration] = ...,
    tti: Optional[Duration] = ...,
    early: Union[bool, float, None] = ...,
    ttl_of: Optional[Callable[[Any], Union[float, datetime.timedelta, None]]] = ...,
    l1: Optional[int] = ...,
    secure: bool = ...,
) -> _Decorator: ...
@overload
def bcache(folder_name: Callable[P, R]) -> CachedFunction[P, R]: ...
@overload
def bcache(
    folder_name: Optional[str] = ...,
    maxsize: Optional[int] = ...,
    ttl: Optional[Duration] = ...,
    *,
    policy: Literal["lru", "fifo"] = ...,
    name: Optional[str] = ...,
    version: int = ...,
    ignore: Optional[Iterable[str]] = ...,
    key: Optional[Callable[..., Any]] = ...,
    force_refresh: Optional[Callable[..., bool]] = ...,
    lock: bool = ...,
    max_bytes: Optional[int] = ...,
    stale_while_revalidate: Optional[Duration] = ...,
    stale_if_error: Optional[Duration] = ...,
    tti: Optional[Duration] = ...,
    early: Union[bool, float, None] = ...,
    ttl_of: Optional[Callable[[Any], Union[float, datetime.timedelta, None]]] = ...,
    l1: Optional[int] = ...,
    secure: bool = ...,
    use_sql: bool = ...,
    encryption_key: Optional[bytes] = ...,
    passphrase: Optional[str] = ...,
) -> _Decorator: ...
@overload
def fcache(folder_name: Callable[P, R]) -> CachedFunction[P, R]: ...
@overload
def fcache(
    folder_name: Optional[str] = ...,
    maxsize: Optional[int] = ...,
    ttl: Optional[Duration] = ...,
    compress: bool = ...,
    *,
    policy: Literal["lru", "fifo"] = ...,
    name: Optional[str] = ...,
    version: int = ...,
    ignore: Optional[Iterable[str]] = ...,
    key: Optional[Callable[..., Any]] = ...,
    force_refresh: Optional[Callable[..., bool]] = ...,
    lock: bool = ...,
    max_bytes: Optional[int] = ...,
    stale_while_revalidate: Optional[Duration] = ...,
    stale_if_error: Optional[Duration] = ...,
    tti: Optional[Duration] = ...,
    early: Union[bool, float, None] = ...,
    ttl_of: Optional[Callable[[Any], Union[float, datetime.timedelta, None]]] = ...,
    l1: Optional[int] = ...,
    secure: bool = ...,
    encryption_key: Optional[bytes] = ...,
    passphrase: Optional[str] = ...,
) -> _Decorator: ...
@overload
def acache(maxsize: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
@overload
def acache(
    maxsize: Optional[int] = ...,
    ttl: Optional[Duration] = ...,
    backend: Literal["memory", "redis", "lmdb", "files"] = ...,
    *,
    url: Optional[str] = ...,
    folder_name: Optional[str] = ...,
    policy: Policy = ...,
    name: Optional[str] = ...,
    version: int = ...,
    ignore: Optional[Iterable[str]] = ...,
    key: Optional[Callable[..., Any]] = ...,
    force_refresh: Optional[Callable[..., bool]] = ...,
    stale_while_revalidate: Optional[Duration] = ...,
    stale_if_error: Optional[Duration] = ...,
    tti: Optional[Duration] = ...,
    early: Union[bool, float, None] = ...,
    ttl_of: Optional[Callable[[Any], Union[float, datetime.timedelta, None]]] = ...,
    l1: Optional[int] = ...,
    encryption_key: Optional[bytes] = ...,
    passphrase: Optional[str] = ...,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]: ...
@overload
def ucache(folder_name: Callable[P, R]) -> CachedFunction[P, R]: ...
@overload
def ucache(
    folder_name: Optional[str] = ...,
    maxsize: Optional[int] = ...,
    ttl: Optional[Duration] = ...,
    preferred_engine: Optional[str] = ...,
    use_async: bool = ...,
    *,
    persist: bool = ...,
    compress: bool = ...,
    url: Optional[str] = ...,
    policy: Policy = ...,
    name: Optional[str] = ...,
    version: int = ...,
    ignore: Optional[Iterable[str]] = ...,
    key: Optional[Callable[..., Any]] = ...,
    force_refresh: Optional[Callable[..., bool]] = ...,
    lock: bool = ...,
    max_bytes: Optional[int] = ...,
    stale_while_revalidate: Optional[Duration] = ...,
    stale_if_error: Optional[Duration] = ...,
    tti: Optional[Duration] = ...,
    early: Union[bool, float, None] = ...,
    ttl_of: Optional[Callable[[Any], Union[float, datetime.timedelta, None]]] = ...,
    l1: Optional[int] = ...,
    secure: bool = ...,
    use_sql: bool = ...,
    encryption_key: Optional[bytes] = ...,
    passphrase: Optional[str] = ...,
) -> _Decorator: ...
def clear_cache() -> None: ...
def get_stats() -> List[Dict[str, Any]]: ...
def get_cache_path(folder_name: str) -> "os.PathLike[str]": ...

__all__: List[str]
