//! The attribute macros of twat-cache: `#[mcache]`, `#[bcache]`, `#[fcache]`, `#[acache]`
//! and `#[ucache]`. Use them through their runtime crates (`twat-mcache`, ...), which
//! re-export them; the documentation with examples lives there.
//!
//! Every macro shares one expansion ([`expand`]): a `static` cache behind a generated
//! `f_cache()` accessor, and the function rewritten to look its key up before running the
//! body. The macros differ only in the cache type and the attributes they accept.

use proc_macro::TokenStream;

mod args;
mod expand;
mod fresh;
mod signature;

/// Which decorator is expanding.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Memory,
    Lmdb,
    Files,
    Async,
    /// Redis from a plain function (`#[ucache(preferred_engine = "redis")]`): acache's
    /// `RedisCache`.
    Redis,
    Umbrella,
}

impl Kind {
    pub(crate) fn macro_name(self) -> &'static str {
        match self {
            Kind::Memory => "mcache",
            Kind::Lmdb => "bcache",
            Kind::Files => "fcache",
            Kind::Async | Kind::Redis => "acache",
            Kind::Umbrella => "ucache",
        }
    }
}

fn run(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let result = args::parse(kind, attr.into()).and_then(|settings| {
        let f: syn::ItemFn = syn::parse(item.clone()).map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("#[{}] goes on a function", kind.macro_name()),
            )
        })?;
        expand::expand(kind, settings, f)
    });
    match result {
        Ok(ts) => ts.into(),
        Err(e) => {
            // Keep the function so that the only error shown is ours.
            let mut out: TokenStream = e.to_compile_error().into();
            out.extend(item);
            out
        }
    }
}

/// Memoizes a function in process memory. See `twat_mcache` for the attributes.
#[proc_macro_attribute]
pub fn mcache(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Memory, attr, item)
}

/// Memoizes a function in an LMDB database on disk. See `twat_bcache`.
#[proc_macro_attribute]
pub fn bcache(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Lmdb, attr, item)
}

/// Memoizes a function in one file per entry. See `twat_fcache`.
#[proc_macro_attribute]
pub fn fcache(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Files, attr, item)
}

/// Memoizes an `async fn`. See `twat_acache`.
#[proc_macro_attribute]
pub fn acache(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Async, attr, item)
}

/// Memoizes with whichever cache fits the function and the settings. See `twat_ucache`.
#[proc_macro_attribute]
pub fn ucache(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Umbrella, attr, item)
}
