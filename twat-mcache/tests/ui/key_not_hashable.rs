use twat_mcache::mcache;

// An untyped key still has to be a key: `f64` is not `Hash`/`Eq`.
#[mcache(key = f64::from(x) / 2.0)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
