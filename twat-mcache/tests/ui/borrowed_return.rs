use twat_mcache::mcache;

#[mcache]
fn f(x: &str) -> &str {
    x
}

fn main() {}
