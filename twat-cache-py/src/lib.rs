//! The native half of the Python package `twat_cache` (PyO3): the callable that every
//! decorator returns ([`function::Engine`]), call-argument keys, pickled values, and the
//! process-wide `clear_cache` / `get_stats` / `get_cache_path`. The decorators themselves,
//! their keyword checks and the asyncio wrapper are Python (`python/twat_cache/`).

mod engine;
mod function;
mod key;
mod value;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Drops every entry of every cache of this process (`twat_cache.clear_cache()`).
#[pyfunction]
fn clear_all(py: Python<'_>) {
    py.detach(twat_ucache::clear_all);
}

/// Every registered cache's stats as JSON (a list of `CacheStats` objects).
#[pyfunction]
fn stats_all_json(py: Python<'_>) -> PyResult<String> {
    let all = py.detach(twat_ucache::stats_all);
    serde_json::to_string(&all).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// `root/folder_name`, created 0700 (`twat_cache.get_cache_path()`); a bad name is a
/// `ValueError` naming `folder_name`.
#[pyfunction]
fn get_cache_path(py: Python<'_>, folder_name: String) -> PyResult<std::path::PathBuf> {
    py.detach(|| twat_ucache::get_cache_path(&folder_name))
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Seconds in a duration string such as `"90s"` or `"1h30m"` (the same parser as the
/// Rust attributes' `ttl`); a `ValueError` for anything else.
#[pyfunction]
fn parse_duration(text: &str) -> PyResult<f64> {
    twat_cache_common::parse_ttl(text)
        .map(|d| d.as_secs_f64())
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// A `ValueError` unless `name` is a valid cache folder name (no separator, no `..`, not
/// empty, at most 255 bytes).
#[pyfunction]
fn check_folder_name(name: &str) -> PyResult<()> {
    twat_cache_common::paths::validate_folder_name(name)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Whether the Redis backend was compiled in.
#[pyfunction]
fn has_redis() -> bool {
    cfg!(feature = "redis")
}

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<function::Engine>()?;
    m.add_function(wrap_pyfunction!(clear_all, m)?)?;
    m.add_function(wrap_pyfunction!(stats_all_json, m)?)?;
    m.add_function(wrap_pyfunction!(get_cache_path, m)?)?;
    m.add_function(wrap_pyfunction!(has_redis, m)?)?;
    m.add_function(wrap_pyfunction!(parse_duration, m)?)?;
    m.add_function(wrap_pyfunction!(check_folder_name, m)?)?;
    Ok(())
}
