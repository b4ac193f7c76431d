use twat_mcache::mcache;

#[mcache(folder_name = "x")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
