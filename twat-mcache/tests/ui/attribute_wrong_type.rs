use twat_mcache::mcache;

#[mcache(maxsize = "ten")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
