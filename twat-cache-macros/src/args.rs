//! Parsing and checking the attribute arguments: `maxsize = 10, ttl = "1h", key: u64 = x`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Error, Expr, ExprLit, ExprUnary, Ident, Lit, Token, Type, UnOp};

use crate::Kind;

/// One `name = value`, `name: Type = value` or bare `name` argument.
pub(crate) struct Arg {
    pub name: Ident,
    pub ty: Option<Type>,
    pub value: Option<Expr>,
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        let ty = if input.peek(Token![:]) {
            input.parse::<Token![:]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Arg { name, ty, value })
    }
}

/// The checked settings of one decorator.
#[derive(Default)]
pub(crate) struct Settings {
    pub maxsize: Option<u64>,
    pub ttl_nanos: Option<u128>,
    pub policy: Option<String>,
    /// Where `policy` was written (persistent engines refuse `"lfu"` there).
    pub policy_span: Option<Span>,
    pub key: Option<(Option<Type>, Expr)>,
    pub ignore: Vec<Ident>,
    pub name: Option<String>,
    pub version: u32,
    pub cache_errors: bool,
    pub cache_none: bool,
    pub folder_name: Option<String>,
    pub max_bytes: Option<u64>,
    pub durable: Option<bool>,
    pub map_size: Option<u64>,
    pub compress: Option<bool>,
    pub compression_level: Option<i64>,
    pub lock: Option<bool>,
    pub l1: Option<u64>,
    pub backend: Option<(String, Span)>,
    pub url: Option<String>,
    pub preferred_engine: Option<(String, Span)>,
    pub persist: Option<bool>,
    pub use_async: Option<bool>,
    /// The freshness attributes (see `fresh.rs`).
    pub fresh: crate::fresh::FreshArgs,
}

const SHARED: &[&str] = &[
    "maxsize",
    "ttl",
    "key",
    "ignore",
    "name",
    "version",
    "cache_errors",
    "cache_none",
    "stale_while_revalidate",
    "stale_if_error",
    "early",
    "tti",
    "ttl_of",
    "force_refresh",
];

/// The attributes each decorator accepts, besides [`SHARED`].
fn own(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Memory => &["policy"],
        Kind::Lmdb => &[
            "policy",
            "folder_name",
            "max_bytes",
            "durable",
            "map_size",
            "lock",
            "l1",
        ],
        Kind::Files => &[
            "policy",
            "folder_name",
            "max_bytes",
            "compress",
            "compression_level",
            "lock",
            "l1",
        ],
        Kind::Async => &["policy", "backend", "url", "folder_name", "compress", "l1"],
        Kind::Redis => &["policy", "url", "max_bytes", "l1"],
        Kind::Umbrella => &[
            "policy",
            "preferred_engine",
            "persist",
            "use_async",
            "folder_name",
            "max_bytes",
            "durable",
            "map_size",
            "compress",
            "compression_level",
            "url",
            "l1",
        ],
    }
}

/// Disk and Redis caches do not count uses: `"lfu"` is refused where it is written.
pub(crate) fn persistent_policy(s: &Settings) -> syn::Result<()> {
    match (&s.policy, s.policy_span) {
        (Some(p), Some(span)) if p == "lfu" => Err(Error::new(
            span,
            "policy \"lfu\" is not available on a persistent cache (it does not count uses); \
             expected \"lru\" (the default) or \"fifo\"",
        )),
        _ => Ok(()),
    }
}

fn allowed_list(kind: Kind) -> String {
    SHARED
        .iter()
        .chain(own(kind))
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn lit(arg: &Arg) -> syn::Result<&Lit> {
    match &arg.value {
        Some(Expr::Lit(ExprLit { lit, .. })) => Ok(lit),
        Some(Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        })) => Err(Error::new(
            arg.value.span(),
            format!("`{}` cannot be negative", arg.name),
        )),
        Some(other) => Err(Error::new(
            other.span(),
            format!("`{}` takes a literal value here", arg.name),
        )),
        None => Err(Error::new(
            arg.name.span(),
            format!("`{}` needs a value: `{} = ...`", arg.name, arg.name),
        )),
    }
}

fn positive_int(arg: &Arg, what: &str) -> syn::Result<u64> {
    match lit(arg)? {
        Lit::Int(i) => {
            let v: u64 = i.base10_parse()?;
            if v == 0 {
                Err(Error::new(
                    i.span(),
                    format!(
                        "`{}` must be at least 1 ({what}); leave it out for no bound",
                        arg.name
                    ),
                ))
            } else {
                Ok(v)
            }
        }
        other => Err(Error::new(
            other.span(),
            format!("`{}` takes a positive integer ({what})", arg.name),
        )),
    }
}

fn boolean(arg: &Arg) -> syn::Result<bool> {
    if arg.value.is_none() {
        return Ok(true); // a bare flag: `cache_errors`
    }
    match lit(arg)? {
        Lit::Bool(b) => Ok(b.value),
        other => Err(Error::new(
            other.span(),
            format!("`{}` takes `true` or `false`", arg.name),
        )),
    }
}

fn string(arg: &Arg) -> syn::Result<(String, Span)> {
    match lit(arg)? {
        Lit::Str(s) => Ok((s.value(), s.span())),
        other => Err(Error::new(
            other.span(),
            format!("`{}` takes a string literal", arg.name),
        )),
    }
}

pub(crate) fn ttl(arg: &Arg) -> syn::Result<u128> {
    let name = arg.name.to_string();
    let l = lit(arg)?;
    let parsed = match l {
        Lit::Int(i) => i
            .base10_parse::<u64>()
            .map_err(|e| Error::new(i.span(), e))
            .map(std::time::Duration::from_secs),
        Lit::Float(f) => {
            let secs: f64 = f.base10_parse()?;
            twat_cache_common::ttl::ttl_from_secs_f64(secs)
                .map_err(|e| Error::new(f.span(), renamed(e, &name)))
        }
        Lit::Str(s) => twat_cache_common::parse_ttl(&s.value())
            .map_err(|e| Error::new(s.span(), renamed(e, &name))),
        other => Err(Error::new(
            other.span(),
            format!("`{name}` takes seconds (60, 1.5) or a duration string (\"90s\", \"1h30m\")"),
        )),
    }?;
    if parsed.is_zero() {
        return Err(Error::new(
            l.span(),
            if name == "ttl" {
                "`ttl` must be positive; leave it out for entries that never expire".to_owned()
            } else {
                format!("`{name}` must be a positive duration; leave it out to turn it off")
            },
        ));
    }
    Ok(parsed.as_nanos())
}

/// A duration error of `parse_ttl`, about attribute `name` instead of `ttl`.
fn renamed(e: twat_cache_common::ConfigError, name: &str) -> String {
    e.to_string().replace("`ttl`", &format!("`{name}`"))
}

/// Parses and checks `attr` for a decorator of `kind`.
pub(crate) fn parse(kind: Kind, attr: proc_macro2::TokenStream) -> syn::Result<Settings> {
    let args = syn::parse::Parser::parse2(Punctuated::<Arg, Token![,]>::parse_terminated, attr)?;
    let mut s = Settings::default();
    let mut seen: Vec<String> = Vec::new();
    for arg in &args {
        let name = arg.name.to_string();
        if !SHARED.contains(&name.as_str()) && !own(kind).contains(&name.as_str()) {
            return Err(Error::new(
                arg.name.span(),
                format!(
                    "unknown attribute `{name}` for #[{}]; allowed: {}",
                    kind.macro_name(),
                    allowed_list(kind)
                ),
            ));
        }
        if seen.contains(&name) {
            return Err(Error::new(
                arg.name.span(),
                format!("`{name}` is given twice"),
            ));
        }
        seen.push(name.clone());
        if arg.ty.is_some() && name != "key" {
            return Err(Error::new(
                arg.name.span(),
                "only `key` takes a type (`key: Type = expr`)",
            ));
        }
        match name.as_str() {
            "maxsize" => s.maxsize = Some(positive_int(arg, "a number of entries")?),
            "max_bytes" => s.max_bytes = Some(positive_int(arg, "a number of bytes")?),
            "l1" => s.l1 = Some(positive_int(arg, "a number of entries kept in memory")?),
            "map_size" => {
                s.map_size = Some(positive_int(arg, "the initial LMDB map size in bytes")?)
            }
            "ttl" => s.ttl_nanos = Some(ttl(arg)?),
            "policy" => {
                let (p, span) = string(arg)?;
                p.parse::<twat_cache_common::Policy>().map_err(|_| {
                    Error::new(
                        span,
                        format!("unknown policy {p:?}; expected \"lru\", \"lfu\" or \"fifo\""),
                    )
                })?;
                s.policy = Some(p.to_ascii_lowercase());
                s.policy_span = Some(span);
                if matches!(kind, Kind::Lmdb | Kind::Files) {
                    persistent_policy(&s)?;
                }
            }
            "key" => {
                let expr = arg.value.clone().ok_or_else(|| {
                    Error::new(
                        arg.name.span(),
                        "`key` needs an expression: `key = expr` (or `key: Type = expr`)",
                    )
                })?;
                s.key = Some((arg.ty.clone(), expr));
            }
            "ignore" => {
                let list = match &arg.value {
                    Some(Expr::Array(a)) => a.elems.iter().collect::<Vec<_>>(),
                    Some(e @ Expr::Path(_)) => vec![e],
                    _ => {
                        return Err(Error::new(
                            arg.name.span(),
                            "`ignore` takes a list of argument names: `ignore = [self, client]`",
                        ));
                    }
                };
                for e in list {
                    match e {
                        Expr::Path(p) if p.path.get_ident().is_some() => {
                            s.ignore.push(p.path.get_ident().cloned().expect("checked"))
                        }
                        other => {
                            return Err(Error::new(other.span(), "`ignore` lists argument names"));
                        }
                    }
                }
            }
            "name" => s.name = Some(string(arg)?.0),
            "version" => match lit(arg)? {
                Lit::Int(i) => s.version = i.base10_parse()?,
                other => return Err(Error::new(other.span(), "`version` takes an integer")),
            },
            "cache_errors" => s.cache_errors = boolean(arg)?,
            "cache_none" => s.cache_none = boolean(arg)?,
            "durable" => s.durable = Some(boolean(arg)?),
            "compress" => s.compress = Some(boolean(arg)?),
            "lock" => s.lock = Some(boolean(arg)?),
            "persist" => s.persist = Some(boolean(arg)?),
            "use_async" => s.use_async = Some(boolean(arg)?),
            "compression_level" => match lit(arg)? {
                Lit::Int(i) => s.compression_level = Some(i.base10_parse()?),
                other => {
                    return Err(Error::new(
                        other.span(),
                        "`compression_level` takes an integer",
                    ));
                }
            },
            "folder_name" => {
                let (f, span) = string(arg)?;
                twat_cache_common::paths::validate_folder_name(&f)
                    .map_err(|e| Error::new(span, e))?;
                s.folder_name = Some(f);
            }
            "url" => s.url = Some(string(arg)?.0),
            "backend" => {
                let (b, span) = string(arg)?;
                if !["memory", "redis", "lmdb", "files"].contains(&b.as_str()) {
                    return Err(Error::new(
                        span,
                        format!(
                            "unknown backend {b:?}; expected \"memory\", \"redis\", \"lmdb\" or \"files\""
                        ),
                    ));
                }
                s.backend = Some((b, span));
            }
            "preferred_engine" => {
                let (b, span) = string(arg)?;
                if !["memory", "redis", "lmdb", "files"].contains(&b.as_str()) {
                    return Err(Error::new(
                        span,
                        format!(
                            "unknown engine {b:?}; expected \"memory\", \"lmdb\", \"files\" or \"redis\""
                        ),
                    ));
                }
                s.preferred_engine = Some((b, span));
            }
            fresh if crate::fresh::FRESH.contains(&fresh) => s.fresh.parse(arg)?,
            _ => unreachable!("checked against the allowed list"),
        }
    }
    s.fresh.check(s.ttl_nanos.is_some())?;
    Ok(s)
}
