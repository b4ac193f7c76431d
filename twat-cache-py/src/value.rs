//! Values of persistent caches: `pickle` protocol 5, imported once per process.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyBytes;

static DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `pickle.dumps(obj, protocol=5)`.
pub(crate) fn dumps(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let dumps = DUMPS.import(py, "pickle", "dumps")?;
    let out = dumps.call1((obj, 5))?;
    Ok(out.cast::<PyBytes>()?.as_bytes().to_vec())
}

/// `pickle.loads(bytes)`.
pub(crate) fn loads<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let loads = LOADS.import(py, "pickle", "loads")?;
    loads.call1((PyBytes::new(py, bytes),))
}
