//! Namespaces and stored keys for persistent caches.
//!
//! A stored key is the namespace's id, a NUL, and the postcard-serialized arguments. The
//! namespace names the crate, module path, function, `version` and a hash of the
//! function's own tokens, so editing the body or bumping `version` invalidates old results,
//! and two functions on one folder never see each other's entries. Stores index entries by
//! [`digest`] of the stored key, and keep the stored key in the entry to compare on read.

use std::fmt;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

/// Who owns a set of entries in a shared store.
///
/// ```
/// use twat_cache_common::Namespace;
/// let a = Namespace::function("app", "app::geo", "geocode", 1, 0xfeed);
/// let b = Namespace::function("app", "app::geo", "geocode", 2, 0xfeed);
/// assert_ne!(a, b, "bumping `version` moves to a new namespace");
/// assert_eq!(a.function_name(), "geocode");
/// assert_eq!(Namespace::named("pages").id(), "pages");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Namespace {
    id: String,
    function: String,
}

impl Namespace {
    /// The namespace of a decorated function.
    ///
    /// ```
    /// use twat_cache_common::Namespace;
    /// let ns = Namespace::function("app", "app::geo", "geocode", 1, 0xfeed);
    /// assert_eq!(ns.id(), "app|app::geo::geocode|v1|000000000000feed");
    /// ```
    pub fn function(
        crate_name: &str,
        module_path: &str,
        function: &str,
        version: u32,
        code_hash: u64,
    ) -> Self {
        Namespace {
            id: format!("{crate_name}|{module_path}::{function}|v{version}|{code_hash:016x}"),
            function: function.to_owned(),
        }
    }

    /// A namespace with a plain name (caches built with a builder: its `name`).
    ///
    /// ```
    /// use twat_cache_common::Namespace;
    /// let ns = Namespace::named("pages");
    /// assert_eq!((ns.id(), ns.function_name()), ("pages", "pages"));
    /// ```
    pub fn named(name: &str) -> Self {
        Namespace {
            id: name.to_owned(),
            function: name.to_owned(),
        }
    }

    /// The full id, stored with the namespace so tools can list it.
    ///
    /// ```
    /// use twat_cache_common::Namespace;
    /// let ns = Namespace::function("app", "app", "f", 3, 1);
    /// assert!(ns.id().starts_with("app|app::f|v3|"));
    /// assert_eq!(ns.to_string(), ns.id());
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The function name (or the builder's name): what `twat-cache clear --function` matches.
    ///
    /// ```
    /// use twat_cache_common::Namespace;
    /// assert_eq!(Namespace::function("app", "app::geo", "geocode", 1, 0).function_name(), "geocode");
    /// ```
    pub fn function_name(&self) -> &str {
        &self.function
    }

    /// A stable 64-bit hash of the id: the prefix of every key in this namespace. Internal,
    /// for the stores.
    ///
    /// ```
    /// use twat_cache_common::Namespace;
    /// assert_eq!(Namespace::named("a").hash(), Namespace::named("a").hash());
    /// assert_ne!(Namespace::named("a").hash(), Namespace::named("b").hash());
    /// ```
    /// The same namespace for entries of another layout (e.g. with freshness stamps): the
    /// id gets `|tag`, so entries of one layout are never read as the other's. The
    /// function name is kept (the CLI's `clear --function` reaches both).
    ///
    /// ```
    /// use twat_cache_common::Namespace;
    /// let ns = Namespace::named("geo");
    /// assert_eq!(ns.variant("stamped1").id(), "geo|stamped1");
    /// assert_eq!(ns.variant("stamped1").function_name(), "geo");
    /// ```
    #[doc(hidden)]
    pub fn variant(&self, tag: &str) -> Namespace {
        Namespace {
            id: format!("{}|{tag}", self.id),
            function: self.function.clone(),
        }
    }

    #[doc(hidden)]
    pub fn hash(&self) -> u64 {
        xxh3_64(self.id.as_bytes())
    }

    /// The hash as 16 lowercase hex digits (a folder name for the file cache). Internal, for
    /// the stores.
    ///
    /// ```
    /// use twat_cache_common::Namespace;
    /// let ns = Namespace::named("pages");
    /// assert_eq!(ns.hex(), format!("{:016x}", ns.hash()));
    /// assert_eq!(ns.hex().len(), 16);
    /// ```
    #[doc(hidden)]
    pub fn hex(&self) -> String {
        format!("{:016x}", self.hash())
    }

    /// The stored key for already-serialized arguments: id, NUL, arguments. Internal, for
    /// the stores.
    ///
    /// ```
    /// use twat_cache_common::Namespace;
    /// assert_eq!(Namespace::named("ns").stored_key(&[1, 2]), b"ns\0\x01\x02");
    /// ```
    #[doc(hidden)]
    pub fn stored_key(&self, encoded_args: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.id.len() + 1 + encoded_args.len());
        k.extend_from_slice(self.id.as_bytes());
        k.push(0);
        k.extend_from_slice(encoded_args);
        k
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// The 128-bit digest that indexes a stored key (xxh3-128: fast, and collisions are
/// harmless because the full stored key is compared on read).
///
/// ```
/// let d = twat_cache_common::key::digest(b"abc");
/// assert_eq!(d, twat_cache_common::key::digest(b"abc"));
/// assert_ne!(d, twat_cache_common::key::digest(b"abd"));
/// ```
pub fn digest(stored_key: &[u8]) -> [u8; 16] {
    xxh3_128(stored_key).to_be_bytes()
}

/// A stable hash of a function's tokens, computed by the macros at compile time.
///
/// ```
/// use twat_cache_common::key::code_hash;
/// assert_eq!(code_hash("{ a + b }"), code_hash("{ a + b }"));
/// assert_ne!(code_hash("{ a + b }"), code_hash("{ a - b }"));
/// ```
pub fn code_hash(tokens: &str) -> u64 {
    xxh3_64(tokens.as_bytes())
}
