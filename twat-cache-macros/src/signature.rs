//! Reading the decorated function: which arguments form the key (and their owned types),
//! and what the cache stores (the return type, or the `T` of `Result<T, E>`/`Option<T>`).

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Error, FnArg, GenericArgument, Ident, Pat, PathArguments, ReturnType, Signature, Type};

use crate::args::Settings;

/// How the return value is stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returns {
    /// Store every value.
    Plain,
    /// `Result<T, E>`: store `Ok(T)` only.
    Result,
    /// `Option<T>`: store `Some(T)` only.
    Option,
}

/// The cache's key type: written out, or left to the compiler (`key = <expr>`).
pub(crate) enum KeyType {
    /// A type the expansion can write, so `f_cache()`'s key type is nameable.
    Named(TokenStream),
    /// `key = <expr>` without a type: inferred from the expression.
    Inferred {
        /// The body of a closure, never called, that evaluates the key expression over
        /// bindings of the function's arguments (and `self`, renamed): its return type is
        /// the key's type, for `f_cache()`, which has no arguments to compute a key from.
        witness: TokenStream,
    },
}

/// What the expansion needs to know about the function.
pub(crate) struct Analysis {
    /// The cache's key type.
    pub key_ty: KeyType,
    /// Builds the key from the arguments (evaluated before the body takes them).
    pub key_expr: TokenStream,
    /// The cache's value type.
    pub value_ty: TokenStream,
    /// The function's full return type.
    pub ret_ty: TokenStream,
    pub returns: Returns,
}

/// Finds generic type parameters, `Self`, `impl Trait` and non-`'static` lifetimes in a type:
/// things a `static` cannot name.
struct Unnameable<'a> {
    params: &'a [Ident],
    found: Option<(proc_macro2::Span, String)>,
}

impl<'ast> Visit<'ast> for Unnameable<'_> {
    fn visit_type_path(&mut self, p: &'ast syn::TypePath) {
        if p.qself.is_none()
            && let Some(first) = p.path.segments.first()
        {
            if first.ident == "Self" {
                self.found.get_or_insert((
                    first.ident.span(),
                    "`Self` (write the type's own name)".into(),
                ));
            } else if p.path.segments.len() == 1 && self.params.contains(&first.ident) {
                self.found.get_or_insert((
                    first.ident.span(),
                    format!("the type parameter `{}`", first.ident),
                ));
            }
        }
        syn::visit::visit_type_path(self, p);
    }
    fn visit_type_impl_trait(&mut self, t: &'ast syn::TypeImplTrait) {
        self.found
            .get_or_insert((t.span(), "an `impl Trait` type".into()));
    }
    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        match &r.lifetime {
            Some(l) if l.ident == "static" => {}
            _ => {
                self.found.get_or_insert((
                    r.span(),
                    "a borrowed type (a cache must own what it keeps)".into(),
                ));
            }
        }
        syn::visit::visit_type_reference(self, r);
    }
    fn visit_lifetime(&mut self, l: &'ast syn::Lifetime) {
        if l.ident != "static" {
            self.found
                .get_or_insert((l.span(), format!("the lifetime `{l}`")));
        }
    }
}

fn check_nameable(ty: &Type, params: &[Ident], role: &str) -> syn::Result<()> {
    let mut v = Unnameable {
        params,
        found: None,
    };
    v.visit_type(ty);
    match v.found {
        None => Ok(()),
        Some((span, what)) => Err(Error::new(
            span,
            format!(
                "the cache's {role} type cannot contain {what}: the cache is a `static`, and a \
                 `static` cannot depend on the function's generics or borrows. Use concrete, owned \
                 types (for the key: `key: Type = expr`)"
            ),
        )),
    }
}

/// The owned key type and expression for one argument.
fn owned_part(name: &Ident, ty: &Type) -> (TokenStream, TokenStream) {
    match ty {
        Type::Reference(r) => {
            let inner = &r.elem;
            match &**inner {
                Type::Path(p) if p.path.is_ident("str") => (
                    quote!(::std::string::String),
                    quote!(::std::borrow::ToOwned::to_owned(&*#name)),
                ),
                Type::Slice(s) => {
                    let t = &s.elem;
                    (
                        quote!(::std::vec::Vec<#t>),
                        quote!(::std::borrow::ToOwned::to_owned(&*#name)),
                    )
                }
                _ => (
                    quote!(<#inner as ::std::borrow::ToOwned>::Owned),
                    quote!(::std::borrow::ToOwned::to_owned(&*#name)),
                ),
            }
        }
        Type::Path(p) if is_option_of_ref(p).is_some() => {
            let inner = is_option_of_ref(p).expect("checked");
            let (owned_ty, _) = owned_part(name, inner);
            (
                quote!(::std::option::Option<#owned_ty>),
                quote!(#name.map(::std::borrow::ToOwned::to_owned)),
            )
        }
        _ => (quote!(#ty), quote!(::std::clone::Clone::clone(&#name))),
    }
}

fn is_option_of_ref(p: &syn::TypePath) -> Option<&Type> {
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(a) if a.args.len() == 1 => match a.args.first()? {
            GenericArgument::Type(t @ Type::Reference(_)) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

/// `Result`/`Option` detection by the last path segment, so `io::Result<T>` counts.
fn classify(ty: &Type) -> Option<(Returns, Type)> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    let returns = match last.ident.to_string().as_str() {
        "Result" => Returns::Result,
        "Option" => Returns::Option,
        _ => return None,
    };
    match &last.arguments {
        PathArguments::AngleBracketed(a) => match a.args.first()? {
            GenericArgument::Type(t) => Some((returns, t.clone())),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn analyze(
    sig: &Signature,
    settings: &Settings,
    macro_name: &str,
) -> syn::Result<Analysis> {
    let type_params: Vec<Ident> = sig
        .generics
        .type_params()
        .map(|t| t.ident.clone())
        .collect();
    let is_generic = !type_params.is_empty()
        || sig.generics.const_params().next().is_some()
        || sig
            .inputs
            .iter()
            .any(|a| matches!(a, FnArg::Typed(t) if matches!(&*t.ty, Type::ImplTrait(_))));

    // Arguments.
    let mut names = Vec::new();
    let mut parts = Vec::new();
    let mut receiver = None;
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => receiver = Some(r),
            FnArg::Typed(t) => {
                let Pat::Ident(pi) = &*t.pat else {
                    return Err(Error::new(
                        t.pat.span(),
                        format!(
                            "#[{macro_name}] needs a plain name for each argument (destructure inside the body)"
                        ),
                    ));
                };
                if pi.subpat.is_some() {
                    return Err(Error::new(
                        t.pat.span(),
                        "bind the argument to a plain name",
                    ));
                }
                names.push(pi.ident.clone());
                parts.push((pi.ident.clone(), (*t.ty).clone()));
            }
        }
    }
    for ig in &settings.ignore {
        let known = (ig == "self" && receiver.is_some()) || names.contains(ig);
        if !known {
            return Err(Error::new(
                ig.span(),
                format!(
                    "`ignore` names `{ig}`, which is not an argument of `{}`",
                    sig.ident
                ),
            ));
        }
    }
    if let Some(r) = receiver {
        let ignored = settings.ignore.iter().any(|i| i == "self");
        if !ignored && settings.key.is_none() {
            return Err(Error::new(
                r.span(),
                format!(
                    "#[{macro_name}] on a method: `self` would be silently left out of the key. Add \
                     `ignore = [self]` to share one cache across all instances, or \
                     `key = (self.id, arg)` to name what identifies the instance"
                ),
            ));
        }
    }

    let (key_ty, key_expr) = match &settings.key {
        Some((ty, expr)) => {
            let ty = match ty {
                Some(t) => t.clone(),
                // A `format!(..)` key is a `String`: written out, so its accessor stays nameable.
                None if is_format_macro(expr) => syn::parse_quote!(::std::string::String),
                None if is_generic => {
                    return Err(Error::new(
                        expr.span(),
                        format!(
                            "#[{macro_name}] on a generic function: `key` needs its type written \
                             out (`key: Type = expr`), because the cache is one `static` for every \
                             instantiation, and its key type must not depend on a type parameter"
                        ),
                    ));
                }
                None => {
                    let witness = witness(sig, expr);
                    return finish(
                        sig,
                        settings,
                        &type_params,
                        KeyType::Inferred { witness },
                        quote!(#expr),
                    );
                }
            };
            check_nameable(&ty, &type_params, "key")?;
            (quote!(#ty), quote!(#expr))
        }
        None => {
            if is_generic {
                return Err(Error::new(
                    sig.generics
                        .span()
                        .join(sig.ident.span())
                        .unwrap_or(sig.ident.span()),
                    format!(
                        "#[{macro_name}] on a generic function: its cache is one `static`, and a \
                         `static` cannot depend on a type parameter. Give `key: Type = expr` with a \
                         concrete key type and return a concrete type, or memoize a non-generic wrapper"
                    ),
                ));
            }
            let kept: Vec<_> = parts
                .iter()
                .filter(|(n, _)| !settings.ignore.contains(n))
                .collect();
            let mut tys = Vec::new();
            let mut exprs = Vec::new();
            for (n, ty) in &kept {
                let (t, e) = owned_part(n, ty);
                let t_ty: Type = syn::parse2(t.clone())?;
                check_nameable(&t_ty, &type_params, "key").map_err(|e| {
                    Error::new(
                        ty.span(),
                        format!("argument `{n}`: {e}; or leave it out with `ignore = [{n}]`"),
                    )
                })?;
                tys.push(t);
                exprs.push(e);
            }
            match kept.len() {
                0 => (quote!(()), quote!(())),
                1 => (tys.remove(0), exprs.remove(0)),
                _ => (quote!((#(#tys,)*)), quote!((#(#exprs,)*))),
            }
        }
    };

    finish(
        sig,
        settings,
        &type_params,
        KeyType::Named(key_ty),
        key_expr,
    )
}

/// The return-type half of [`analyze`].
fn finish(
    sig: &Signature,
    settings: &Settings,
    type_params: &[Ident],
    key_ty: KeyType,
    key_expr: TokenStream,
) -> syn::Result<Analysis> {
    let ret: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, t) => (**t).clone(),
    };
    check_nameable(&ret, type_params, "value")?;
    let (returns, value) = match classify(&ret) {
        Some((Returns::Result, t)) if !settings.cache_errors => (Returns::Result, t),
        Some((Returns::Option, t)) if !settings.cache_none => (Returns::Option, t),
        _ => (Returns::Plain, ret.clone()),
    };
    Ok(Analysis {
        key_ty,
        key_expr,
        value_ty: value.to_token_stream(),
        ret_ty: ret.to_token_stream(),
        returns,
    })
}

/// The name `self` takes inside the witness closure, where `self` cannot be bound.
const SELF_BINDING: &str = "__twat_self";

/// The witness of an untyped key: bindings with the arguments' names and types (never given
/// a value: the closure is never called) and the key expression over them. The function's
/// own lifetime parameters are not in scope where the witness lives, so they become `'_`.
fn witness(sig: &Signature, expr: &syn::Expr) -> TokenStream {
    let lifetimes: Vec<Ident> = sig
        .generics
        .lifetimes()
        .map(|l| l.lifetime.ident.clone())
        .collect();
    let mut lets = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                let this = Ident::new(SELF_BINDING, r.self_token.span);
                let ty = elide(r.ty.to_token_stream(), &lifetimes);
                lets.push(quote!(let #this: #ty = ::core::unreachable!();));
            }
            FnArg::Typed(t) => {
                if let Pat::Ident(pi) = &*t.pat {
                    let (by_ref, name) = (&pi.by_ref, &pi.ident);
                    let ty = elide(t.ty.to_token_stream(), &lifetimes);
                    lets.push(quote!(let #by_ref #name: #ty = ::core::unreachable!();));
                }
            }
        }
    }
    let key = rename_self(expr.to_token_stream());
    quote!(#(#lets)* #key)
}

/// `ty` with the lifetimes named in `params` replaced by `'_`.
fn elide(ty: TokenStream, params: &[Ident]) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    let mut out: Vec<TokenTree> = Vec::new();
    let mut lifetime_next = false;
    for tree in ty {
        let tree = match tree {
            TokenTree::Ident(id) if lifetime_next && params.contains(&id) => {
                out.pop(); // the lifetime's `'`
                out.extend(syn::Lifetime::new("'_", id.span()).to_token_stream());
                lifetime_next = false;
                continue;
            }
            TokenTree::Group(g) => {
                let mut new = Group::new(g.delimiter(), elide(g.stream(), params));
                new.set_span(g.span());
                TokenTree::Group(new)
            }
            other => other,
        };
        lifetime_next = matches!(&tree, TokenTree::Punct(p) if p.as_char() == '\'');
        out.push(tree);
    }
    out.into_iter().collect()
}

/// The key expression with every `self` value (not a `self::` path) renamed to the
/// witness's binding, inside macro calls and nested groups too.
fn rename_self(tokens: TokenStream) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(id) if id == "self" => {
                let path = matches!(
                    (trees.get(i + 1), trees.get(i + 2)),
                    (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                        if a.as_char() == ':' && b.as_char() == ':'
                );
                if path {
                    out.push(tree.clone());
                } else {
                    out.push(TokenTree::Ident(Ident::new(SELF_BINDING, id.span())));
                }
            }
            TokenTree::Group(g) => {
                let mut new = Group::new(g.delimiter(), rename_self(g.stream()));
                new.set_span(g.span());
                out.push(TokenTree::Group(new));
            }
            other => out.push(other.clone()),
        }
    }
    out.into_iter().collect()
}

fn is_format_macro(e: &syn::Expr) -> bool {
    matches!(e, syn::Expr::Macro(m) if m.mac.path.is_ident("format"))
}
