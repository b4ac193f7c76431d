use twat_mcache::mcache;

#[mcache(ttl = 60, stale_if_error = "soon")]
fn f(x: u32) -> Result<u32, ()> {
    Ok(x)
}

fn main() {}
