//! `Engine`: the callable at the heart of every decorated function.
//!
//! The Python package subclasses it (`twat_cache._wrap.CachedFunction`) to add
//! `functools.wraps` metadata, method binding and `cache_info`; everything on the call path
//! is here, so a memory hit costs one Rust call.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use twat_cache_common::{CacheStats, Namespace, Policy};
use twat_ucache::MemoryCache;

use crate::engine::{Freshness, Key, Persistent, Settings, Shared};
use crate::key::{KeyBuf, ParamSpec, Pins, Signature, Unkeyed, encode_custom};
use crate::value;

/// The cache behind one decorated function.
enum Cache {
    Memory(MemoryCache<Key, Shared>),
    /// Opened on first use in each process, so a process that forks workers before calling
    /// the function hands them no open database.
    Persistent(OnceLock<Result<Persistent, String>>),
}

/// Why a computed value is returned without being stored.
enum Outcome {
    Raised(PyErr),
    Unpicklable(Py<PyAny>, String),
}

/// What `_key` returns: the key bytes, and the objects the entry must keep alive.
type KeyAndPins<'py> = (Bound<'py, PyBytes>, Vec<Py<PyAny>>);

/// The callable wrapping one function and its cache.
#[pyclass(subclass, frozen, module = "twat_cache._engine")]
pub(crate) struct Engine {
    func: Py<PyAny>,
    signature: Signature,
    key_fn: Option<Py<PyAny>>,
    settings: Settings,
    cache: Cache,
    /// Calls that ran uncached (an argument or a result that could not be pickled).
    uncached: AtomicU64,
    warned: AtomicBool,
}

static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

impl Engine {
    fn persistent(&self, py: Python<'_>) -> Option<&Persistent> {
        let Cache::Persistent(cell) = &self.cache else {
            return None;
        };
        let built = match cell.get() {
            Some(b) => b,
            None => py.detach(|| {
                cell.get_or_init(|| self.settings.build_persistent().map_err(|e| e.to_string()))
            }),
        };
        match built {
            Ok(p) => Some(p),
            Err(why) => {
                self.ran_uncached(py, &format!("the cache could not be built: {why}"));
                None
            }
        }
    }

    /// Counts a call that ran uncached, and says why once per function (Python logging,
    /// logger `twat_cache`).
    fn ran_uncached(&self, py: Python<'_>, why: &str) {
        self.uncached.fetch_add(1, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            let msg = format!(
                "twat_cache: `{}` ran uncached: {why} (logged once per function; \
                 cache_stats()['uncached_calls'] counts them)",
                self.settings.name
            );
            let logger = LOGGER.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
                Ok(py
                    .import("logging")?
                    .call_method1("getLogger", ("twat_cache",))?
                    .unbind())
            });
            if let Ok(logger) = logger {
                let _ = logger.bind(py).call_method1("warning", (msg,));
            }
        }
    }

    /// The key of a call; `None`: run it uncached.
    fn key_of(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Option<(KeyBuf, Pins)>> {
        let mut key = KeyBuf::new();
        // Memory caches may key plain objects by address (and pin them); persistent ones
        // pickle them.
        let mut pins: Pins = matches!(self.cache, Cache::Memory(_)).then(Vec::new);
        let result = match &self.key_fn {
            Some(f) => {
                let custom = f.bind(py).call(args, kwargs)?;
                encode_custom(py, &custom, &mut key, &mut pins)
            }
            None => self
                .signature
                .bind_into(py, args, kwargs, &mut key, &mut pins),
        };
        match result {
            Ok(()) => Ok(Some((key, pins))),
            Err(Unkeyed::BindFailed) => Ok(None), // the call raises its own TypeError
            Err(Unkeyed::Unencodable(why)) => {
                self.ran_uncached(py, &why);
                Ok(None)
            }
        }
    }

    fn call_memory(
        &self,
        py: Python<'_>,
        cache: &MemoryCache<Key, Shared>,
        key: KeyBuf,
        pins: Pins,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        if let Some(v) = cache.get(&key[..]) {
            return Ok(v.0.value.clone_ref(py));
        }
        let key = key.into_vec();
        let func = &self.func;
        let args = args.clone().unbind();
        let kwargs = kwargs.map(|k| k.clone().unbind());
        let got = py.detach(|| {
            cache.compute_after_miss(key, || {
                Python::attach(|py| {
                    func.bind(py)
                        .call(args.bind(py), kwargs.as_ref().map(|k| k.bind(py)))
                        .map(|v| Shared::new(v.unbind(), pins))
                })
            })
        });
        got.map(|v| v.0.value.clone_ref(py))
    }

    /// The function, its arguments and what it returned, owned (`Send + 'static`), for a
    /// body the engine may run later on its background worker.
    fn owned_call(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> OwnedCall {
        OwnedCall {
            func: self.func.clone_ref(py),
            args: args.clone().unbind(),
            kwargs: kwargs.map(|k| k.clone().unbind()),
        }
    }

    /// A memory cache with freshness rules: every call takes the engine's freshness path
    /// (with the GIL released), which decides between the stored value, a stale one, and
    /// running the function (now, or later in the background).
    fn call_memory_fresh(
        &self,
        py: Python<'_>,
        cache: &MemoryCache<Key, Shared>,
        key: Key,
        pins: Pins,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let call = self.owned_call(py, args, kwargs);
        let compute = move || {
            Python::try_attach(|py| call.run(py).map(|v| Shared::new(v.unbind(), pins)))
                .unwrap_or_else(|| Err(interpreter_gone()))
        };
        let got = if self.settings.fresh.refreshes_later() {
            py.detach(|| cache.try_get_or_refresh_with(key, compute))
        } else {
            py.detach(|| cache.try_get_or_insert_with(key, compute))
        };
        got.map(|v| v.0.value.clone_ref(py))
    }

    /// A persistent cache with freshness rules (see `call_memory_fresh`). The result is
    /// always read back from its pickle.
    fn call_persistent_fresh(
        &self,
        py: Python<'_>,
        cache: &Persistent,
        key: Key,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let call = self.owned_call(py, args, kwargs);
        let compute = move || {
            Python::try_attach(|py| {
                let v = call.run(py).map_err(Outcome::Raised)?;
                value::dumps(py, &v).map_err(|e| {
                    Outcome::Unpicklable(v.unbind(), format!("its result cannot be pickled: {e}"))
                })
            })
            .unwrap_or_else(|| Err(Outcome::Raised(interpreter_gone())))
        };
        let got = if self.settings.fresh.refreshes_later() {
            py.detach(|| cache.get_or_refresh(key, compute))
        } else {
            py.detach(|| cache.get_or_compute(key, compute))
        };
        self.finish_persistent(py, got, None, args, kwargs)
    }

    fn call_persistent(
        &self,
        py: Python<'_>,
        cache: &Persistent,
        key: Key,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let func = &self.func;
        let args_owned = args.clone().unbind();
        let kwargs_owned = kwargs.map(|k| k.clone().unbind());
        // The object this call computed, if it was the one to compute: returned as is.
        let mut fresh: Option<Py<PyAny>> = None;
        let got = py.detach(|| {
            cache.get_or_compute(key, || {
                Python::attach(|py| {
                    let v = func
                        .bind(py)
                        .call(
                            args_owned.bind(py),
                            kwargs_owned.as_ref().map(|k| k.bind(py)),
                        )
                        .map_err(Outcome::Raised)?;
                    match value::dumps(py, &v) {
                        Ok(bytes) => {
                            fresh = Some(v.unbind());
                            Ok(bytes)
                        }
                        Err(e) => Err(Outcome::Unpicklable(
                            v.unbind(),
                            format!("its result cannot be pickled: {e}"),
                        )),
                    }
                })
            })
        });
        self.finish_persistent(py, got, fresh, args, kwargs)
    }

    /// What a persistent lookup gave: the object computed in this call (`fresh`), else the
    /// stored pickle read back; a raised exception; or a result that could not be pickled.
    fn finish_persistent(
        &self,
        py: Python<'_>,
        got: Result<Vec<u8>, Outcome>,
        fresh: Option<Py<PyAny>>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        match got {
            Ok(bytes) => match fresh {
                Some(v) => Ok(v),
                None => match value::loads(py, &bytes) {
                    Ok(v) => Ok(v.unbind()),
                    Err(e) => {
                        self.ran_uncached(py, &format!("a stored result cannot be unpickled: {e}"));
                        self.func.call(py, args, kwargs)
                    }
                },
            },
            Err(Outcome::Raised(e)) => Err(e),
            Err(Outcome::Unpicklable(v, why)) => {
                self.ran_uncached(py, &why);
                Ok(v)
            }
        }
    }

    fn stats_snapshot(&self, py: Python<'_>) -> Option<CacheStats> {
        match &self.cache {
            Cache::Memory(c) => Some(c.stats()),
            Cache::Persistent(_) => self.persistent(py).map(|p| py.detach(|| p.stats())),
        }
    }
}

/// What a background refresh gets when it starts after the interpreter began shutting
/// down (the body cannot run; the engine counts a failed refresh).
fn interpreter_gone() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(
        "twat_cache: the Python interpreter is shutting down; the refresh did not run",
    )
}

/// A call of the wrapped function, owned: what a body that may run later captures.
struct OwnedCall {
    func: Py<PyAny>,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
}

impl OwnedCall {
    fn run<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.func
            .bind(py)
            .call(self.args.bind(py), self.kwargs.as_ref().map(|k| k.bind(py)))
    }
}

/// Reads an optional duration in seconds (already checked in Python).
fn seconds(value: Option<f64>, field: &str) -> PyResult<Option<Duration>> {
    value
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .map_err(|e| value_error(format!("{field}: {s} is not a duration: {e}")))
        })
        .transpose()
}

#[pymethods]
impl Engine {
    /// Not for direct use: the decorators build it.
    #[new]
    #[pyo3(signature = (
        func, params, kind, name, namespace, *, maxsize = None, ttl = None, policy = None,
        folder_name = None, compress = false, lock = false, max_bytes = None, url = None,
        key = None, selection = None, encryption_key = None, passphrase = None, l1 = None,
        stale_while_revalidate = None, stale_if_error = None, tti = None, early = None,
        ttl_of = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        func: Py<PyAny>,
        params: Vec<ParamSpec>,
        kind: String,
        name: String,
        namespace: (String, String, u32, u64),
        maxsize: Option<usize>,
        ttl: Option<f64>,
        policy: Option<String>,
        folder_name: Option<String>,
        compress: bool,
        lock: bool,
        max_bytes: Option<u64>,
        url: Option<String>,
        key: Option<Py<PyAny>>,
        selection: Option<String>,
        encryption_key: Option<Vec<u8>>,
        passphrase: Option<String>,
        l1: Option<usize>,
        stale_while_revalidate: Option<f64>,
        stale_if_error: Option<f64>,
        tti: Option<f64>,
        early: Option<f64>,
        ttl_of: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let encryption_key = encryption_key
            .map(|k| {
                <[u8; 32]>::try_from(k.as_slice()).map_err(|_| {
                    value_error(format!(
                        "encryption_key: {} bytes given; expected exactly 32",
                        k.len()
                    ))
                })
            })
            .transpose()?;
        if passphrase.as_deref() == Some("") {
            return Err(value_error("passphrase: empty; expected a non-empty str"));
        }
        if (encryption_key.is_some() || passphrase.is_some()) && !cfg!(feature = "encrypt") {
            return Err(value_error(
                "encryption_key/passphrase: this build has no encryption (feature `encrypt`)",
            ));
        }
        let policy = policy
            .map(|p| p.parse::<Policy>().map_err(value_error))
            .transpose()?;
        if let Some(f) = &folder_name {
            twat_cache_common::paths::validate_folder_name(f).map_err(value_error)?;
        }
        let (module, qualname, version, code_hash) = namespace;
        let settings = Settings {
            kind,
            namespace: Namespace::function("python", &module, &qualname, version, code_hash),
            name,
            maxsize,
            ttl: seconds(ttl, "ttl")?,
            policy,
            folder_name,
            compress,
            lock,
            max_bytes,
            url,
            selection,
            encryption_key,
            passphrase,
            l1,
            fresh: Freshness {
                stale_while_revalidate: seconds(stale_while_revalidate, "stale_while_revalidate")?,
                stale_if_error: seconds(stale_if_error, "stale_if_error")?,
                tti: seconds(tti, "tti")?,
                early,
                ttl_of: ttl_of.map(std::sync::Arc::new),
            },
        };
        let cache = match settings.kind.as_str() {
            "memory" => Cache::Memory(settings.build_memory().map_err(value_error)?),
            "lmdb" | "files" | "redis" => Cache::Persistent(OnceLock::new()),
            other => {
                return Err(value_error(format!(
                    "kind: {other:?} is not one of memory, lmdb, files, redis"
                )));
            }
        };
        debug_assert_eq!(settings.is_memory(), matches!(cache, Cache::Memory(_)));
        Ok(Engine {
            func,
            signature: Signature::new(params)?,
            key_fn: key,
            settings,
            cache,
            uncached: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        })
    }

    /// Calls the function through its cache.
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        if twat_cache_common::env::caching_disabled() {
            return self.func.call(py, args, kwargs);
        }
        let Some((key, pins)) = self.key_of(py, args, kwargs)? else {
            return self.func.call(py, args, kwargs);
        };
        let fresh = self.settings.fresh.any();
        match &self.cache {
            Cache::Memory(c) if fresh => {
                self.call_memory_fresh(py, c, key.into_vec(), pins, args, kwargs)
            }
            Cache::Memory(c) => self.call_memory(py, c, key, pins, args, kwargs),
            Cache::Persistent(_) => match self.persistent(py) {
                Some(p) if fresh => self.call_persistent_fresh(py, p, key.into_vec(), args, kwargs),
                Some(p) => self.call_persistent(py, p, key.into_vec(), args, kwargs),
                None => self.func.call(py, args, kwargs),
            },
        }
    }

    /// Runs the function now and stores its result over the stored one (`force_refresh`);
    /// counted in `refreshes`. With `stale_if_error`, an exception returns the stored
    /// value while it is within that window.
    #[pyo3(signature = (*args, **kwargs))]
    fn _refresh(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        if twat_cache_common::env::caching_disabled() {
            return self.func.call(py, args, kwargs);
        }
        let Some((key, pins)) = self.key_of(py, args, kwargs)? else {
            return self.func.call(py, args, kwargs);
        };
        let call = self.owned_call(py, args, kwargs);
        match &self.cache {
            Cache::Memory(c) => {
                let compute =
                    || Python::attach(|py| call.run(py).map(|v| Shared::new(v.unbind(), pins)));
                let got = py.detach(|| c.try_refresh_with(key.into_vec(), compute));
                got.map(|v| v.0.value.clone_ref(py))
            }
            Cache::Persistent(_) => {
                let Some(p) = self.persistent(py) else {
                    return self.func.call(py, args, kwargs);
                };
                let mut computed: Option<Py<PyAny>> = None;
                let compute = || {
                    Python::attach(|py| {
                        let v = call.run(py).map_err(Outcome::Raised)?;
                        match value::dumps(py, &v) {
                            Ok(bytes) => {
                                computed = Some(v.unbind());
                                Ok(bytes)
                            }
                            Err(e) => Err(Outcome::Unpicklable(
                                v.unbind(),
                                format!("its result cannot be pickled: {e}"),
                            )),
                        }
                    })
                };
                let got = py.detach(|| p.refresh(key.into_vec(), compute));
                self.finish_persistent(py, got, computed, args, kwargs)
            }
        }
    }

    /// The key of a call, `(key bytes, objects the entry must keep alive)`, or `None` when
    /// it is not cacheable (acache's wrapper, `force_refresh`).
    #[pyo3(signature = (args, kwargs = None))]
    fn _key<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Option<KeyAndPins<'py>>> {
        if twat_cache_common::env::caching_disabled() {
            return Ok(None);
        }
        Ok(self
            .key_of(py, args, kwargs)?
            .map(|(k, pins)| (PyBytes::new(py, &k), pins.unwrap_or_default())))
    }

    /// `(True, value)` for a stored key, else `(False, None)`; counts a hit or a miss.
    /// Disk and network lookups release the GIL.
    fn _lookup(&self, py: Python<'_>, key: &[u8]) -> PyResult<(bool, Py<PyAny>)> {
        match &self.cache {
            Cache::Memory(c) => Ok(match c.get(key) {
                Some(v) => (true, v.0.value.clone_ref(py)),
                None => (false, py.None()),
            }),
            Cache::Persistent(_) => {
                let Some(p) = self.persistent(py) else {
                    return Ok((false, py.None()));
                };
                let key = key.to_vec();
                match py.detach(|| p.get(&key)) {
                    Some(bytes) => match value::loads(py, &bytes) {
                        Ok(v) => Ok((true, v.unbind())),
                        Err(_) => Ok((false, py.None())),
                    },
                    None => Ok((false, py.None())),
                }
            }
        }
    }

    /// Stores `value` under `key` (a result that cannot be pickled is not stored, and
    /// counted).
    #[pyo3(signature = (key, value, pins = Vec::new()))]
    fn _store(
        &self,
        py: Python<'_>,
        key: &[u8],
        value: Bound<'_, PyAny>,
        pins: Vec<Py<PyAny>>,
    ) -> PyResult<()> {
        match &self.cache {
            Cache::Memory(c) => {
                let v = Shared::new(value.unbind(), Some(pins));
                let key = key.to_vec();
                py.detach(|| c.insert(key, v));
            }
            Cache::Persistent(_) => {
                let Some(p) = self.persistent(py) else {
                    return Ok(());
                };
                match value::dumps(py, &value) {
                    Ok(bytes) => {
                        let key = key.to_vec();
                        py.detach(|| p.insert(key, bytes));
                    }
                    Err(e) => self.ran_uncached(py, &format!("its result cannot be pickled: {e}")),
                }
            }
        }
        Ok(())
    }

    /// Drops every entry of this function's cache (on disk too, its own namespace only).
    fn cache_clear(&self, py: Python<'_>) {
        match &self.cache {
            Cache::Memory(c) => py.detach(|| c.clear()),
            Cache::Persistent(_) => {
                if let Some(p) = self.persistent(py) {
                    py.detach(|| p.clear());
                }
            }
        }
    }

    /// The Rust `CacheStats` as JSON, plus `uncached_calls` (the decorators' `cache_stats()`
    /// parses it).
    fn _stats_json(&self, py: Python<'_>) -> PyResult<String> {
        let mut json = match self.stats_snapshot(py) {
            Some(s) => serde_json::to_value(&s).map_err(value_error)?,
            None => serde_json::json!({ "name": self.settings.name, "kind": self.settings.kind }),
        };
        json["uncached_calls"] = self.uncached.load(Ordering::Relaxed).into();
        if let Cache::Persistent(cell) = &self.cache
            && let Some(Ok(p)) = cell.get()
        {
            json["encrypted"] = p.encrypted().into();
        }
        Ok(json.to_string())
    }

    /// The backend serving, e.g. `schnellru`, `lmdb`, `files`, `redis`.
    #[getter]
    fn cache_backend(&self, py: Python<'_>) -> String {
        self.stats_snapshot(py)
            .map_or_else(|| "none".to_owned(), |s| s.backend.to_string())
    }

    /// `maxsize` as configured (for `cache_info`).
    #[getter]
    fn _maxsize(&self) -> Option<usize> {
        self.settings.maxsize
    }
}
