use twat_mcache::mcache;

#[mcache]
fn f<T: Clone>(x: T) -> u32 {
    let _ = x;
    1
}

fn main() {}
