//! placeholder
use proc_macro::TokenStream;
/// x
#[proc_macro_attribute]
pub fn mcache(_a: TokenStream, i: TokenStream) -> TokenStream { i }
