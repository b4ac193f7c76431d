//! The one expansion every decorator shares: a `static` cache behind an `f_cache()`
//! accessor, and the function rewritten to look up its key before running its body.

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Error, ItemFn};

use crate::Kind;
use crate::args::Settings;
use crate::signature::{KeyType, Returns, analyze};

/// The path of the runtime crate (or module) that holds `kind`'s cache type, found the way a
/// renamed or re-exported dependency still works: the user's own Cargo.toml.
fn runtime_path(kind: Kind) -> syn::Result<TokenStream> {
    let (own, module) = match kind {
        Kind::Memory => ("twat-mcache", "mcache"),
        Kind::Lmdb => ("twat-bcache", "bcache"),
        Kind::Files => ("twat-fcache", "fcache"),
        Kind::Async | Kind::Redis => ("twat-acache", "acache"),
        Kind::Umbrella => ("twat-ucache", ""),
    };
    let found = |krate: &str| -> Option<TokenStream> {
        match crate_name(krate) {
            Ok(FoundCrate::Itself) => {
                let id = format_ident!("{}", krate.replace('-', "_"));
                Some(quote!(::#id))
            }
            Ok(FoundCrate::Name(n)) => {
                let id = format_ident!("{}", n);
                Some(quote!(::#id))
            }
            Err(_) => None,
        }
    };
    if let Some(p) = found(own) {
        return Ok(p);
    }
    if kind != Kind::Umbrella
        && let Some(p) = found("twat-ucache")
    {
        let m = format_ident!("{}", module);
        return Ok(quote!(#p::#m));
    }
    Err(Error::new(
        Span::call_site(),
        format!(
            "#[{}] needs the `{own}` crate (or `twat-ucache`) in this crate's [dependencies]",
            kind.macro_name()
        ),
    ))
}

/// The engine `#[ucache]` picks, and why (reported in the cache's stats).
fn select(settings: &Settings, is_async: bool) -> (Kind, String) {
    if is_async {
        return (Kind::Async, "async fn → acache".into());
    }
    // `use_async` is accepted for parity with the Python library; only `async fn`s can be
    // served by acache, so on a plain function it changes nothing (and the reason says so).
    let note = if settings.use_async == Some(true) {
        " (use_async applies to async fns only)"
    } else {
        ""
    };
    let (kind, why) = if let Some((engine, _)) = &settings.preferred_engine {
        let kind = match engine.as_str() {
            "lmdb" => Kind::Lmdb,
            "files" => Kind::Files,
            "redis" => Kind::Redis,
            _ => Kind::Memory,
        };
        (kind, format!("preferred_engine = \"{engine}\""))
    } else if settings.compress == Some(true) {
        (Kind::Files, "compress = true → files".into())
    } else if settings.folder_name.is_some() || settings.persist == Some(true) {
        (
            Kind::Lmdb,
            "persistence asked for (folder_name/persist) → lmdb".into(),
        )
    } else {
        (Kind::Memory, "no persistence asked for → memory".into())
    };
    (kind, format!("{why}{note}"))
}

fn cache_type(kind: Kind) -> proc_macro2::Ident {
    format_ident!(
        "{}",
        match kind {
            Kind::Memory => "MemoryCache",
            Kind::Lmdb => "LmdbCache",
            Kind::Files => "FileCache",
            Kind::Redis => "RedisCache",
            Kind::Async | Kind::Umbrella => "AsyncCache",
        }
    )
}

/// Builder calls for the settings that `kind`'s builder takes.
fn builder_calls(kind: Kind, s: &Settings, root: &TokenStream, f: &ItemFn) -> TokenStream {
    let mut calls = Vec::new();
    if let Some(m) = s.maxsize {
        let m = m as usize;
        calls.push(quote!(.maxsize(#m)));
    }
    if let Some(n) = s.ttl_nanos {
        let n = n.min(u64::MAX as u128) as u64;
        calls.push(quote!(.ttl(#root::__private::Duration::from_nanos(#n))));
    }
    if let Some(p) = &s.policy {
        let v = format_ident!("{}", capitalize(p));
        calls.push(quote!(.policy(#root::__private::Policy::#v)));
    }
    let fn_name = f.sig.ident.to_string();
    match &s.name {
        Some(n) => calls.push(quote!(.name(#n))),
        None => calls.push(quote!(.name(::std::concat!(::std::module_path!(), "::", #fn_name)))),
    }
    if matches!(kind, Kind::Lmdb | Kind::Files | Kind::Redis)
        || (kind == Kind::Async && s.backend.is_some())
    {
        let version = s.version;
        let code = twat_cache_common::key::code_hash(&quote!(#f).to_string());
        calls.push(quote!(.namespace(#root::__private::Namespace::function(
            ::std::env!("CARGO_PKG_NAME"), ::std::module_path!(), #fn_name, #version, #code))));
        match &s.folder_name {
            Some(folder) => calls.push(quote!(.folder_name(#folder))),
            None => calls.push(quote!(.folder_name(::std::env!("CARGO_PKG_NAME")))),
        }
        // The cache is built on the first call, where an `Err` would be a panic: a malformed
        // TWAT_CACHE_KEY makes it serve from memory (with a warning) instead.
        calls.push(quote!(.env_key_fallback(true)));
    }
    if let (Some(b), Kind::Lmdb | Kind::Files | Kind::Redis) = (s.max_bytes, kind) {
        calls.push(quote!(.max_bytes(#b)));
    }
    if let (Some(d), Kind::Lmdb) = (s.durable, kind) {
        calls.push(quote!(.durable(#d)));
    }
    if let (Some(m), Kind::Lmdb) = (s.map_size, kind) {
        let m = m as usize;
        calls.push(quote!(.map_size(#m)));
    }
    if let (Some(l), Kind::Lmdb | Kind::Files) = (s.lock, kind) {
        calls.push(quote!(.lock(#l)));
    }
    if let (Some(n), Kind::Lmdb | Kind::Files | Kind::Redis | Kind::Async) = (s.l1, kind) {
        let n = n as usize;
        calls.push(quote!(.l1(#n)));
    }
    if let (Some(c), Kind::Files) = (s.compress, kind) {
        calls.push(quote!(.compress(#c)));
    }
    if let (Some(l), Kind::Files) = (s.compression_level, kind) {
        let l = l as i32;
        calls.push(quote!(.compression_level(#l)));
    }
    if kind == Kind::Async
        && let Some((b, _)) = &s.backend
    {
        calls.push(quote!(.backend(#b)));
    }
    if let (Some(u), Kind::Async | Kind::Redis) = (&s.url, kind) {
        calls.push(quote!(.url(#u)));
    }
    calls.push(s.fresh.builder_calls(root));
    quote!(#(#calls)*)
}

/// `tokens`, every one of them (in groups too) at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(g) = &tree {
                let mut new = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                new.set_span(span);
                tree = new.into();
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

pub(crate) fn expand(kind: Kind, mut settings: Settings, f: ItemFn) -> syn::Result<TokenStream> {
    let macro_name = kind.macro_name();
    let is_async = f.sig.asyncness.is_some();
    if f.sig.constness.is_some() {
        return Err(Error::new_spanned(
            f.sig.constness,
            format!("#[{macro_name}] cannot wrap a `const fn`"),
        ));
    }
    let (engine, selection) = if kind == Kind::Umbrella {
        let (k, why) = select(&settings, is_async);
        (k, Some(why))
    } else {
        (kind, None)
    };
    if matches!(engine, Kind::Lmdb | Kind::Files | Kind::Redis) {
        crate::args::persistent_policy(&settings)?;
    }
    if is_async && engine != Kind::Async {
        return Err(Error::new_spanned(
            f.sig.asyncness,
            format!(
                "#[{macro_name}] wraps plain functions; for an `async fn` use #[acache] (or #[ucache])"
            ),
        ));
    }
    if !is_async && kind == Kind::Async {
        return Err(Error::new_spanned(
            f.sig.fn_token,
            "#[acache] wraps `async fn`s; for a plain function use #[mcache], #[bcache] or #[fcache]",
        ));
    }
    if kind == Kind::Umbrella
        && is_async
        && let Some((e, _)) = &settings.preferred_engine
    {
        settings.backend = Some((e.clone(), Span::call_site()));
    }

    let a = analyze(&f.sig, &settings, macro_name)?;
    settings.fresh.check_returns(a.returns)?;
    if engine == Kind::Async {
        settings.fresh.check_backend(settings.backend.as_ref())?;
    }
    let root = if kind == Kind::Umbrella {
        let base = runtime_path(Kind::Umbrella)?;
        let m = format_ident!("{}", engine.macro_name());
        quote!(#base::#m)
    } else {
        runtime_path(kind)?
    };
    // `#[ucache]` names the constants of the engines it relies on: the umbrella crate
    // deprecates those whose feature is off, so the compiler warns here (or, for `async`,
    // refuses) instead of the choice silently changing.
    let engine_check = if kind == Kind::Umbrella {
        let base = runtime_path(Kind::Umbrella)?;
        let mut consts = vec![match engine {
            Kind::Lmdb => "LMDB",
            Kind::Files => "FILES",
            Kind::Async | Kind::Umbrella => "ASYNC",
            Kind::Redis => "REDIS",
            Kind::Memory => "MEMORY",
        }];
        if engine == Kind::Async {
            match settings.preferred_engine.as_ref().map(|p| p.0.as_str()) {
                Some("lmdb") => consts.push("LMDB"),
                Some("files") => consts.push("FILES"),
                Some("redis") => consts.push("REDIS"),
                _ => {}
            }
        }
        let consts = consts.into_iter().map(|c| format_ident!("{}", c));
        quote!(#(const _: () = #base::__engines::Engine::<()>::#consts;)*)
    } else {
        TokenStream::new()
    };
    let cache_ty = cache_type(engine);
    let calls = builder_calls(engine, &settings, &root, &f);
    let selection_call = selection.map(|s| quote!(.selection(#s)));
    let (key_expr, value_ty, ret_ty) = (&a.key_expr, &a.value_ty, &a.ret_ty);

    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = &f;
    let fn_name = &sig.ident;
    let accessor = format_ident!("{}_cache", fn_name);
    let is_method = sig.receiver().is_some();
    let in_scope = |item: &proc_macro2::Ident| {
        if is_method {
            quote!(Self::#item)
        } else {
            quote!(#item)
        }
    };
    let doc = format!(
        "The cache behind [`{fn_name}`](#{macro_name}): `get`, `insert`, `remove`, `clear`, `len`, `stats`, `backend`."
    );
    let failed = format!("#[{macro_name}] on `{fn_name}`: settings were checked at compile time");

    // `accessor_fn`: `f_cache()` and what it needs; `key_binding`: the key, computed from the
    // arguments; `call_accessor`: the cache, as the rewritten function reaches it.
    let (accessor_fn, key_binding, call_accessor) = match &a.key_ty {
        KeyType::Named(key_ty) => {
            let cache_full = quote!(#root::#cache_ty<#key_ty, #value_ty>);
            let accessor_fn = quote! {
                #[doc = #doc]
                #[allow(dead_code)]
                #vis fn #accessor() -> &'static #cache_full {
                    #engine_check
                    static __TWAT_CACHE: #root::__private::OnceLock<#cache_full> = #root::__private::OnceLock::new();
                    __TWAT_CACHE.get_or_init(|| {
                        #root::#cache_ty::<#key_ty, #value_ty>::builder()
                            #calls
                            #selection_call
                            .build()
                            .expect(#failed)
                    })
                }
            };
            (accessor_fn, quote!(let __twat_key: #key_ty = #key_expr;), {
                let path = in_scope(&accessor);
                quote!(#path())
            })
        }
        KeyType::Inferred { witness } => {
            let key_span = settings
                .key
                .as_ref()
                .map_or(Span::call_site(), |(_, e)| syn::spanned::Spanned::span(e));
            // The key's type is the compiler's to know: the cache lives in a `CacheSlot`
            // inside a function generic over it. Both the rewritten function (from its key)
            // and `f_cache()` (from a witness closure, never called) instantiate that
            // function with the key expression's type; its one `static` holds one cache.
            let cache_of = format_ident!("__twat_{}_cache_of", fn_name);
            let persistent = matches!(engine, Kind::Lmdb | Kind::Files | Kind::Redis)
                || (engine == Kind::Async && settings.backend.is_some());
            let serialize = persistent.then(|| quote!(+ #root::__private::Serialize));
            let key_trait = if persistent {
                quote!(#root::__private::StoredKey)
            } else {
                quote!(#root::__private::MemoryKey)
            };
            // Written out for `f_cache()`'s signature (what its documentation shows); the
            // generic function names the trait, whose error message says what a key needs.
            let bounds = quote!(
                ::core::hash::Hash + ::core::cmp::Eq + ::core::clone::Clone
                    + ::core::marker::Send + ::core::marker::Sync + 'static #serialize
            );
            let who = format!("#[{macro_name}] on `{fn_name}`");
            let cache_of_path = in_scope(&cache_of);
            // Where a key of the wrong type is reported: the key expression. (Every token of
            // an argument takes that location, or the compiler widens it to the attribute.)
            let at_key = Span::call_site().located_at(key_span);
            let witness_type = if is_async {
                let of = respan(quote!(#root::__private::key_type_of_future), at_key);
                quote_spanned!(at_key=> #of(|| async move { #witness }))
            } else {
                let of = respan(quote!(#root::__private::key_type_of), at_key);
                quote_spanned!(at_key=> #of(|| { #witness }))
            };
            let opaque_key = respan(quote!(impl #bounds), at_key);
            let accessor_fn = quote! {
                #[doc(hidden)]
                #[allow(dead_code)]
                fn #cache_of<__TwatKey>(
                    _key: ::core::marker::PhantomData<__TwatKey>,
                ) -> &'static #root::#cache_ty<__TwatKey, #value_ty>
                where
                    __TwatKey: #key_trait,
                {
                    #engine_check
                    static __TWAT_CACHE: #root::__private::CacheSlot = #root::__private::CacheSlot::new();
                    __TWAT_CACHE.get_or_init(
                        || {
                            #root::#cache_ty::<__TwatKey, #value_ty>::builder()
                                #calls
                                #selection_call
                                .build()
                                .expect(#failed)
                        },
                        #who,
                    )
                }

                #[doc = #doc]
                #[allow(
                    dead_code,
                    unreachable_code,
                    unused_variables,
                    clippy::diverging_sub_expression,
                    clippy::let_unit_value,
                    clippy::unreachable,
                    clippy::no_effect_underscore_binding
                )]
                #vis fn #accessor() -> &'static #root::#cache_ty<#opaque_key, #value_ty> {
                    #cache_of_path(#witness_type)
                }
            };
            (accessor_fn, quote!(let __twat_key = #key_expr;), {
                let arg = respan(quote!(#root::__private::key_type(&__twat_key)), at_key);
                quote!(#cache_of_path(#arg))
            })
        }
    };

    let fresh = &settings.fresh;
    // `stale_while_revalidate`/`early`: the body may run later, so it owns copies of the
    // arguments (`fresh.rs`); `force_refresh`: evaluated over the arguments first.
    let (copies, rebinds) = if fresh.background() {
        crate::fresh::owned_arguments(sig)?
    } else {
        (TokenStream::new(), TokenStream::new())
    };
    let force_binding = fresh
        .force_refresh
        .as_ref()
        .map(|e| quote!(let __twat_force: bool = #e;));
    let (get, try_get) = if fresh.background() {
        (quote!(get_or_refresh_with), quote!(try_get_or_refresh_with))
    } else {
        (quote!(get_or_insert_with), quote!(try_get_or_insert_with))
    };
    let lookup_by = |plain: &TokenStream, fallible: &TokenStream| {
        if is_async {
            match a.returns {
                Returns::Plain => quote!(#call_accessor.#plain(__twat_key, __twat_body).await),
                Returns::Result => quote!(#call_accessor.#fallible(__twat_key, __twat_body).await),
                Returns::Option => quote!(
                    #call_accessor
                        .#fallible(__twat_key, async move { __twat_body.await.ok_or(()) })
                        .await
                        .ok()
                ),
            }
        } else {
            match a.returns {
                Returns::Plain => quote!(#call_accessor.#plain(__twat_key, __twat_body)),
                Returns::Result => quote!(#call_accessor.#fallible(__twat_key, __twat_body)),
                Returns::Option => quote!(
                    #call_accessor
                        .#fallible(__twat_key, move || __twat_body().ok_or(()))
                        .ok()
                ),
            }
        }
    };
    let mut lookup = lookup_by(&get, &try_get);
    if force_binding.is_some() {
        let refresh = lookup_by(&quote!(refresh_with), &quote!(try_refresh_with));
        lookup = quote!(if __twat_force { #refresh } else { #lookup });
    }
    let body = if is_async {
        quote! {{
            #force_binding
            #copies
            #key_binding
            let __twat_body = async move {
                #rebinds
                let __twat_out: #ret_ty = async move #block.await;
                __twat_out
            };
            if #root::__private::caching_disabled() {
                return __twat_body.await;
            }
            #lookup
        }}
    } else {
        quote! {{
            #force_binding
            #copies
            #key_binding
            #[allow(unused_mut)]
            let mut __twat_body = move || -> #ret_ty { #rebinds #block };
            if #root::__private::caching_disabled() {
                return __twat_body();
            }
            #lookup
        }}
    };

    Ok(quote! {
        #accessor_fn
        #(#attrs)*
        #vis #sig #body
    })
}
