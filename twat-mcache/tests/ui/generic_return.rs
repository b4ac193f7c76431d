use twat_mcache::mcache;

#[mcache(key: u32 = 1)]
fn f<T: Default>() -> T {
    T::default()
}

fn main() {}
