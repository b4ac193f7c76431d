"""twat_cache: memoizing decorators over a Rust engine.

``mcache`` (memory), ``bcache`` (LMDB on disk, shared by processes), ``fcache`` (one file per
entry), ``acache`` (``async def``; memory or Redis) and ``ucache`` (picks one), plus
``clear_cache()``, ``get_stats()`` and ``get_cache_path()``. See the README.
"""

from ._wrap import (
    CachedFunction,
    CacheInfo,
    acache,
    bcache,
    clear_cache,
    fcache,
    get_cache_path,
    get_stats,
    mcache,
    ucache,
)

__all__ = [
    "CacheInfo",
    "CachedFunction",
    "acache",
    "bcache",
    "clear_cache",
    "fcache",
    "get_cache_path",
    "get_stats",
    "mcache",
    "ucache",
]
