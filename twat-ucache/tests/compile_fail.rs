//! `#[ucache]`'s compile-time errors and warnings, checked against their expected text.
//! trybuild builds each case with this crate's features, so the cases for a compiled-out
//! engine run only in the builds where that engine is off.
#![allow(missing_docs)]

#[test]
fn selection_errors_and_compiled_out_engines() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/always/*.rs");
    // With LMDB compiled out, `#[ucache]` picking it is a deprecation warning (made an
    // error here with `deny(deprecated)` so that trybuild can see it).
    #[cfg(not(feature = "lmdb"))]
    t.compile_fail("tests/ui/no_lmdb/*.rs");
    // The compiler names the cache's type in these errors, which differs without LMDB.
    #[cfg(feature = "lmdb")]
    t.compile_fail("tests/ui/with_lmdb/*.rs");
    #[cfg(not(feature = "async"))]
    t.compile_fail("tests/ui/no_async/*.rs");
    // With Redis compiled out (acache still in), a plain fn preferring it is a
    // deprecation warning, and its cache serves from memory.
    #[cfg(all(feature = "async", not(feature = "redis")))]
    t.compile_fail("tests/ui/no_redis/*.rs");
}
