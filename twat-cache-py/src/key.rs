//! Call arguments → key bytes.
//!
//! Arguments are first bound to the function's signature ([`Signature::bind`]: defaults
//! applied, positional and keyword spellings of one parameter alike), then each bound value
//! is encoded with a type tag ([`encode`]), so `f(1)`, `f(1.0)` and `f(True)` are three keys
//! (`functools.lru_cache(typed=True)`). Lists, dicts and sets are encoded by value (dict
//! items and set elements sorted by their encoding, so insertion order does not matter);
//! other objects by `pickle` (protocol 5) behind their type's qualified name.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple,
};

/// Key bytes while they are built: on the stack up to 48 bytes (a hit allocates nothing).
pub(crate) type KeyBuf = smallvec::SmallVec<[u8; 48]>;

/// Deeper nesting than this is not keyed (the call runs uncached).
const MAX_DEPTH: usize = 256;

/// The parameter kinds of `inspect.Parameter`, in its order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    PositionalOnly,
    PositionalOrKeyword,
    VarPositional,
    KeywordOnly,
    VarKeyword,
}

impl Kind {
    fn from_code(code: u8) -> PyResult<Kind> {
        Ok(match code {
            0 => Kind::PositionalOnly,
            1 => Kind::PositionalOrKeyword,
            2 => Kind::VarPositional,
            3 => Kind::KeywordOnly,
            4 => Kind::VarKeyword,
            _ => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "parameter kind: {code} is not an inspect.Parameter kind (0..=4)"
                )));
            }
        })
    }
}

/// One parameter of the wrapped function.
pub(crate) struct Param {
    name: Py<PyString>,
    kind: Kind,
    default: Option<Py<PyAny>>,
    /// Left out of the key (`ignore=`).
    ignored: bool,
}

/// One parameter as the Python side describes it: `(name, inspect kind code, has_default,
/// default, ignored)`.
pub(crate) type ParamSpec = (Py<PyString>, u8, bool, Py<PyAny>, bool);

/// A function's signature, read once at decoration time.
pub(crate) struct Signature {
    params: Vec<Param>,
    /// Parameters that can be filled positionally (before any `*args`).
    positional: usize,
    /// Whether a call with only positional arguments, exactly `positional` of them and no
    /// ignored parameter, needs no binding work at all.
    simple: bool,
}

/// Why a call could not be keyed: it then runs uncached (a [`BindFailed`] lets Python raise
/// its own `TypeError`).
pub(crate) enum Unkeyed {
    /// The arguments do not fit the signature.
    BindFailed,
    /// An argument could not be encoded (unpicklable, or nested too deep); the text says
    /// which.
    Unencodable(String),
}

impl Signature {
    /// From `(name, kind code, has_default, default, ignored)` tuples, in order.
    pub(crate) fn new(spec: Vec<ParamSpec>) -> PyResult<Self> {
        let mut params = Vec::with_capacity(spec.len());
        for (name, code, has_default, default, ignored) in spec {
            params.push(Param {
                name,
                kind: Kind::from_code(code)?,
                default: has_default.then_some(default),
                ignored,
            });
        }
        let positional = params
            .iter()
            .take_while(|p| matches!(p.kind, Kind::PositionalOnly | Kind::PositionalOrKeyword))
            .count();
        let simple = params.iter().all(|p| !p.ignored);
        Ok(Signature {
            params,
            positional,
            simple,
        })
    }

    /// Binds `args`/`kwargs` and appends the encoded key to `out`.
    pub(crate) fn bind_into(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        out: &mut KeyBuf,
        pins: &mut Pins,
    ) -> Result<(), Unkeyed> {
        let kwargs = kwargs.filter(|k| !k.is_empty());
        let n = args.len();
        if self.simple && kwargs.is_none() && n == self.positional && n == self.params.len() {
            // The common case: every parameter given positionally, nothing to look up.
            for a in args.iter() {
                encode(py, &a, out, 0, pins)?;
            }
            return Ok(());
        }
        let mut used_kwargs = 0usize;
        let mut next_arg = 0usize;
        for p in &self.params {
            match p.kind {
                Kind::PositionalOnly | Kind::PositionalOrKeyword => {
                    let by_name = if p.kind == Kind::PositionalOrKeyword {
                        kwargs.and_then(|k| k.get_item(p.name.bind(py)).ok().flatten())
                    } else {
                        None
                    };
                    let value = if next_arg < n {
                        if by_name.is_some() {
                            return Err(Unkeyed::BindFailed); // given twice
                        }
                        next_arg += 1;
                        args.get_item(next_arg - 1)
                            .map_err(|_| Unkeyed::BindFailed)?
                    } else if let Some(v) = by_name {
                        used_kwargs += 1;
                        v
                    } else if let Some(d) = &p.default {
                        d.bind(py).clone()
                    } else {
                        return Err(Unkeyed::BindFailed);
                    };
                    if !p.ignored {
                        encode(py, &value, out, 0, pins)?;
                    }
                }
                Kind::VarPositional => {
                    let rest = args.get_slice(next_arg, n);
                    next_arg = n;
                    if !p.ignored {
                        encode(py, rest.as_any(), out, 0, pins)?;
                    }
                }
                Kind::KeywordOnly => {
                    let value =
                        match kwargs.and_then(|k| k.get_item(p.name.bind(py)).ok().flatten()) {
                            Some(v) => {
                                used_kwargs += 1;
                                v
                            }
                            None => match &p.default {
                                Some(d) => d.bind(py).clone(),
                                None => return Err(Unkeyed::BindFailed),
                            },
                        };
                    if !p.ignored {
                        encode(py, &value, out, 0, pins)?;
                    }
                }
                Kind::VarKeyword => {
                    // Every keyword not bound to a named parameter, sorted by name.
                    let mut rest: Vec<(String, Bound<'_, PyAny>)> = Vec::new();
                    if let Some(k) = kwargs {
                        for (name, value) in k.iter() {
                            let name: String = name.extract().map_err(|_| Unkeyed::BindFailed)?;
                            if self.params.iter().any(|q| {
                                matches!(q.kind, Kind::PositionalOrKeyword | Kind::KeywordOnly)
                                    && q.name.bind(py).to_cow().is_ok_and(|s| s == name)
                            }) {
                                continue;
                            }
                            rest.push((name, value));
                        }
                    }
                    used_kwargs += rest.len();
                    if !p.ignored {
                        rest.sort_by(|a, b| a.0.cmp(&b.0));
                        out.push(b'K');
                        push_len(out, rest.len());
                        for (name, value) in &rest {
                            push_len(out, name.len());
                            out.extend_from_slice(name.as_bytes());
                            encode(py, value, out, 0, pins)?;
                        }
                    }
                }
            }
        }
        let given_kwargs = kwargs.map_or(0, |k| k.len());
        if next_arg != n || used_kwargs != given_kwargs {
            return Err(Unkeyed::BindFailed); // too many positionals, or unknown keywords
        }
        Ok(())
    }
}

fn push_len(out: &mut KeyBuf, len: usize) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

fn push_bytes(out: &mut KeyBuf, tag: u8, bytes: &[u8]) {
    out.push(tag);
    push_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Appends the typed encoding of `obj` to `out`.
pub(crate) fn encode(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    out: &mut KeyBuf,
    depth: usize,
    pins: &mut Pins,
) -> Result<(), Unkeyed> {
    if depth > MAX_DEPTH {
        return Err(Unkeyed::Unencodable(format!(
            "arguments nested deeper than {MAX_DEPTH} levels"
        )));
    }
    if obj.is_none() {
        out.push(b'N');
    } else if obj.is_exact_instance_of::<PyBool>() {
        out.push(if obj.is_truthy().unwrap_or(false) {
            b'T'
        } else {
            b'F'
        });
    } else if obj.is_exact_instance_of::<PyInt>() {
        match obj.extract::<i64>() {
            Ok(i) => {
                out.push(b'i');
                out.extend_from_slice(&i.to_le_bytes());
            }
            Err(_) => {
                let text = obj.str().map_err(|e| unencodable(py, obj, e))?;
                let text = text.to_cow().map_err(|e| unencodable(py, obj, e))?;
                push_bytes(out, b'I', text.as_bytes());
            }
        }
    } else if let Ok(s) = obj.cast_exact::<PyString>() {
        match s.to_cow() {
            Ok(text) => push_bytes(out, b's', text.as_bytes()),
            Err(_) => return pickled(py, obj, out), // lone surrogates
        }
    } else if let Ok(b) = obj.cast_exact::<PyBytes>() {
        push_bytes(out, b'b', b.as_bytes());
    } else if obj.is_exact_instance_of::<PyFloat>() {
        let f: f64 = obj.extract().map_err(|e| unencodable(py, obj, e))?;
        // 0.0 == -0.0 in Python: one key for both.
        let f = if f == 0.0 { 0.0 } else { f };
        out.push(b'f');
        out.extend_from_slice(&f.to_bits().to_le_bytes());
    } else if let Ok(t) = obj.cast_exact::<PyTuple>() {
        out.push(b'(');
        push_len(out, t.len());
        for item in t.iter() {
            encode(py, &item, out, depth + 1, pins)?;
        }
    } else if let Ok(l) = obj.cast_exact::<PyList>() {
        out.push(b'[');
        push_len(out, l.len());
        for item in l.iter() {
            encode(py, &item, out, depth + 1, pins)?;
        }
    } else if let Ok(d) = obj.cast_exact::<PyDict>() {
        let mut items = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let mut kb = KeyBuf::new();
            encode(py, &k, &mut kb, depth + 1, pins)?;
            let mut vb = KeyBuf::new();
            encode(py, &v, &mut vb, depth + 1, pins)?;
            items.push((kb, vb));
        }
        items.sort();
        out.push(b'{');
        push_len(out, items.len());
        for (k, v) in items {
            out.extend_from_slice(&k);
            out.extend_from_slice(&v);
        }
    } else if obj.is_exact_instance_of::<PySet>() || obj.is_exact_instance_of::<PyFrozenSet>() {
        let tag = if obj.is_exact_instance_of::<PySet>() {
            b'S'
        } else {
            b'Z'
        };
        let mut items = Vec::new();
        for item in obj.try_iter().map_err(|e| unencodable(py, obj, e))? {
            let item = item.map_err(|e| unencodable(py, obj, e))?;
            let mut b = KeyBuf::new();
            encode(py, &item, &mut b, depth + 1, pins)?;
            items.push(b);
        }
        items.sort();
        out.push(tag);
        push_len(out, items.len());
        for b in items {
            out.extend_from_slice(&b);
        }
    } else if let Some(pinned) = pins.as_mut()
        && has_identity_equality(py, obj)
    {
        // Memory caches: an object compared by identity (a plain class instance, `self`)
        // is keyed by its address, as `lru_cache` keys it, and the entry keeps it alive,
        // so the address cannot be reused by another object while the entry exists.
        out.push(b'O');
        out.extend_from_slice(&(obj.as_ptr() as usize as u64).to_le_bytes());
        pinned.push(obj.clone().unbind());
    } else {
        return pickled(py, obj, out);
    }
    Ok(())
}

/// Objects an entry's key refers to by address (memory caches only; `None`: a persistent
/// cache, where every other object is keyed by its pickle).
pub(crate) type Pins = Option<Vec<Py<PyAny>>>;

static OBJECT_HASH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static OBJECT_EQ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Whether `obj`'s type keeps `object`'s `__hash__` and `__eq__` (equality is identity).
fn has_identity_equality(py: Python<'_>, obj: &Bound<'_, PyAny>) -> bool {
    let hash = OBJECT_HASH.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py
            .import("builtins")?
            .getattr("object")?
            .getattr("__hash__")?
            .unbind())
    });
    let eq = OBJECT_EQ.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py
            .import("builtins")?
            .getattr("object")?
            .getattr("__eq__")?
            .unbind())
    });
    let (Ok(hash), Ok(eq)) = (hash, eq) else {
        return false;
    };
    let ty = obj.get_type();
    ty.getattr("__hash__").is_ok_and(|h| h.is(hash.bind(py)))
        && ty.getattr("__eq__").is_ok_and(|e| e.is(eq.bind(py)))
}

/// Any other object: its type's qualified name and its pickle.
fn pickled(py: Python<'_>, obj: &Bound<'_, PyAny>, out: &mut KeyBuf) -> Result<(), Unkeyed> {
    let ty = obj.get_type();
    let module = ty
        .module()
        .and_then(|m| m.to_cow().map(|c| c.into_owned()))
        .unwrap_or_default();
    let qualname = ty
        .qualname()
        .and_then(|m| m.to_cow().map(|c| c.into_owned()))
        .unwrap_or_default();
    let pickle = crate::value::dumps(py, obj).map_err(|e| unencodable(py, obj, e))?;
    out.push(b'P');
    push_len(out, module.len() + 1 + qualname.len());
    out.extend_from_slice(module.as_bytes());
    out.push(b'.');
    out.extend_from_slice(qualname.as_bytes());
    push_bytes(out, b'p', &pickle);
    Ok(())
}

fn unencodable(_py: Python<'_>, obj: &Bound<'_, PyAny>, e: PyErr) -> Unkeyed {
    let ty = obj
        .get_type()
        .qualname()
        .map(|q| q.to_string())
        .unwrap_or_else(|_| "?".into());
    Unkeyed::Unencodable(format!("an argument of type {ty} cannot be keyed: {e}"))
}

/// The `key=` callable's result, encoded like an argument.
pub(crate) fn encode_custom(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    out: &mut KeyBuf,
    pins: &mut Pins,
) -> Result<(), Unkeyed> {
    out.push(b'k');
    encode(py, value, out, 0, pins)
}
