//! The freshness attributes (`stale_while_revalidate`, `stale_if_error`, `early`, `tti`,
//! `ttl_of`, `force_refresh`): parsing and checking them, the builder calls they become,
//! and the `Send + 'static` body a background refresh needs.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Error, Expr, ExprLit, FnArg, Lit, Pat, Signature, Type};

use crate::args::{Arg, ttl};
use crate::signature::Returns;

/// The freshness attributes, shared by every decorator.
pub(crate) const FRESH: &[&str] = &[
    "stale_while_revalidate",
    "stale_if_error",
    "early",
    "tti",
    "ttl_of",
    "force_refresh",
];

/// The checked freshness attributes, with where each was written.
#[derive(Default)]
pub(crate) struct FreshArgs {
    pub swr: Option<(u128, Span)>,
    pub sie: Option<(u128, Span)>,
    pub tti: Option<u128>,
    pub early: Option<(f64, Span)>,
    pub ttl_of: Option<Expr>,
    pub force_refresh: Option<Expr>,
}

impl FreshArgs {
    pub(crate) fn parse(&mut self, arg: &Arg) -> syn::Result<()> {
        let span = arg.name.span();
        match arg.name.to_string().as_str() {
            "stale_while_revalidate" => self.swr = Some((ttl(arg)?, span)),
            "stale_if_error" => self.sie = Some((ttl(arg)?, span)),
            "tti" => self.tti = Some(ttl(arg)?),
            "early" => self.early = early(arg)?.map(|b| (b, span)),
            "ttl_of" => self.ttl_of = Some(expr(arg, "a path to `fn(&V) -> Option<Duration>`")?),
            "force_refresh" => {
                self.force_refresh = Some(expr(arg, "a `bool` expression over the arguments")?)
            }
            _ => unreachable!("one of FRESH"),
        }
        Ok(())
    }

    /// The rules that act "after expiry" or "as expiry nears" need something that expires.
    pub(crate) fn check(&self, has_ttl: bool) -> syn::Result<()> {
        if has_ttl || self.ttl_of.is_some() {
            return Ok(());
        }
        for (name, at) in [
            ("stale_while_revalidate", self.swr.map(|s| s.1)),
            ("stale_if_error", self.sie.map(|s| s.1)),
            ("early", self.early.map(|e| e.1)),
        ] {
            if let Some(span) = at {
                return Err(Error::new(
                    span,
                    format!("`{name}` needs entries that expire: set `ttl` (or `ttl_of`) too"),
                ));
            }
        }
        Ok(())
    }

    /// Whether the body may run in the background (`stale_while_revalidate`, `early`):
    /// it is then built from owned copies of the arguments.
    pub(crate) fn background(&self) -> bool {
        self.swr.is_some() || self.early.is_some()
    }

    /// Whether any freshness attribute is set.
    pub(crate) fn any(&self) -> bool {
        self.swr.is_some()
            || self.sie.is_some()
            || self.tti.is_some()
            || self.early.is_some()
            || self.ttl_of.is_some()
            || self.force_refresh.is_some()
    }

    /// The Redis backend of `#[acache]` does not take them yet (it gets them when it
    /// moves onto the shared persistent cache).
    pub(crate) fn check_backend(&self, backend: Option<&(String, Span)>) -> syn::Result<()> {
        match backend {
            Some((b, span)) if b == "redis" && self.any() => Err(Error::new(
                *span,
                "the freshness attributes (stale_while_revalidate, stale_if_error, early, tti, \
                 ttl_of, force_refresh) are not available with backend = \"redis\" yet; use \
                 \"memory\", \"lmdb\" or \"files\"",
            )),
            _ => Ok(()),
        }
    }

    /// `stale_if_error` needs a body that can fail.
    pub(crate) fn check_returns(&self, returns: Returns) -> syn::Result<()> {
        match (self.sie, returns) {
            (Some((_, span)), Returns::Plain) => Err(Error::new(
                span,
                "`stale_if_error` needs a function that can fail: it returns neither `Result` \
                 nor `Option`",
            )),
            _ => Ok(()),
        }
    }

    /// The builder calls.
    pub(crate) fn builder_calls(&self, root: &TokenStream) -> TokenStream {
        let dur = |n: u128| {
            let n = n.min(u64::MAX as u128) as u64;
            quote!(#root::__private::Duration::from_nanos(#n))
        };
        let mut calls = Vec::new();
        if let Some((n, _)) = self.swr {
            let d = dur(n);
            calls.push(quote!(.stale_while_revalidate(#d)));
        }
        if let Some((n, _)) = self.sie {
            let d = dur(n);
            calls.push(quote!(.stale_if_error(#d)));
        }
        if let Some(n) = self.tti {
            let d = dur(n);
            calls.push(quote!(.tti(#d)));
        }
        if let Some((beta, _)) = self.early {
            calls.push(quote!(.early(#beta)));
        }
        if let Some(f) = &self.ttl_of {
            calls.push(quote!(.ttl_of(#f)));
        }
        quote!(#(#calls)*)
    }
}

fn expr(arg: &Arg, what: &str) -> syn::Result<Expr> {
    arg.value.clone().ok_or_else(|| {
        Error::new(
            arg.name.span(),
            format!("`{}` needs a value: {what}", arg.name),
        )
    })
}

/// `early`, `early = true`, `early = β` (> 0); `early = false` turns it off.
fn early(arg: &Arg) -> syn::Result<Option<f64>> {
    let bad = |span: Span| {
        Error::new(
            span,
            "`early` takes `true` (β = 1) or a β > 0 such as `early = 2.0` (larger recomputes \
             earlier)",
        )
    };
    let lit = match &arg.value {
        None => return Ok(Some(1.0)),
        Some(Expr::Lit(ExprLit { lit, .. })) => lit,
        Some(other) => return Err(bad(other.span())),
    };
    let beta = match lit {
        Lit::Bool(b) => return Ok(b.value.then_some(1.0)),
        Lit::Float(f) => f.base10_parse::<f64>()?,
        Lit::Int(i) => i.base10_parse::<u64>()? as f64,
        other => return Err(bad(other.span())),
    };
    if beta.is_finite() && beta > 0.0 {
        Ok(Some(beta))
    } else {
        Err(bad(lit.span()))
    }
}

/// For a background body: statements that make owned copies of the arguments (before
/// the key takes them), and the statements, inside the body, that bind each argument's
/// name to its declared type again (a borrow of the copy, or the copy itself).
pub(crate) fn owned_arguments(sig: &Signature) -> syn::Result<(TokenStream, TokenStream)> {
    let mut copies = Vec::new();
    let mut rebinds = Vec::new();
    for (i, input) in sig.inputs.iter().enumerate() {
        let typed = match input {
            FnArg::Receiver(r) => {
                return Err(Error::new(
                    r.span(),
                    "`stale_while_revalidate` and `early` recompute in the background, which \
                     cannot borrow `self`: use them on free functions",
                ));
            }
            FnArg::Typed(t) => t,
        };
        let Pat::Ident(p) = &*typed.pat else {
            return Err(Error::new(
                typed.pat.span(),
                "`stale_while_revalidate` and `early` need plain argument names (the background \
                 body owns a copy of each)",
            ));
        };
        let name = &p.ident;
        let copy = format_ident!("__twat_owned_{}", i);
        let ty = &typed.ty;
        match &**ty {
            Type::Reference(r) => {
                if r.mutability.is_some() {
                    return Err(Error::new(
                        ty.span(),
                        "`stale_while_revalidate` and `early` cannot recompute with a `&mut` \
                         argument in the background",
                    ));
                }
                copies.push(quote!(let #copy = ::std::borrow::ToOwned::to_owned(#name);));
                rebinds.push(quote!(
                    #[allow(unused_variables)]
                    let #name: #ty = ::core::borrow::Borrow::borrow(&#copy);
                ));
            }
            _ => {
                copies.push(quote!(let #copy = ::core::clone::Clone::clone(&#name);));
                let mutability = &p.mutability;
                rebinds.push(quote!(
                    #[allow(unused_variables)]
                    let #mutability #name: #ty = #copy;
                ));
            }
        }
    }
    Ok((quote!(#(#copies)*), quote!(#(#rebinds)*)))
}
