use twat_mcache::mcache;

// The key's type could depend on `T`, and the cache is one `static`: it must be written.
#[mcache(key = x.as_ref().len())]
fn f<T: AsRef<str>>(x: T) -> usize {
    x.as_ref().len()
}

fn main() {}
