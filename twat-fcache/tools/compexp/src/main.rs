use std::time::Instant;
fn json_like(n: usize) -> Vec<u8> {
    let mut s = String::from("[");
    let mut i: u64 = 0;
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while s.len() < n {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        s.push_str(&format!("{{\"id\":{i},\"name\":\"user{}\",\"email\":\"user{}@example.com\",\"score\":{:.3},\"active\":{},\"tags\":[\"a{}\",\"b{}\"]}},",
            x % 100000, x % 7919, (x % 10000) as f64 / 7.0, x % 2 == 0, x % 13, x % 29));
        i += 1;
    }
    s.truncate(n); s.into_bytes()
}
fn f64s(n: usize) -> Vec<u8> {
    let mut x: u64 = 12345; let mut out = Vec::with_capacity(n);
    let mut v = 100.0f64;
    while out.len() < n { x ^= x << 13; x ^= x >> 7; x ^= x << 17; v += ((x % 2001) as f64 - 1000.0) / 997.0; out.extend_from_slice(&v.to_le_bytes()); }
    out.truncate(n); out
}
fn time<F: FnMut() -> usize>(reps: usize, mut f: F) -> (f64, usize) {
    let mut best = f64::MAX; let mut out = 0;
    for _ in 0..reps { let t = Instant::now(); out = f(); best = best.min(t.elapsed().as_secs_f64()); }
    (best, out)
}
fn main() {
    for (name, data) in [("json 1MiB", json_like(1 << 20)), ("f64 1MiB", f64s(1 << 20)), ("json 4KiB", json_like(4096)), ("f64 4KiB", f64s(4096))] {
        let n = data.len() as f64;
        let reps = if data.len() > 100000 { 15 } else { 2000 };
        let (tc, clen) = time(reps, || lz4_flex::compress_prepend_size(&data).len());
        let c = lz4_flex::compress_prepend_size(&data);
        let (td, _) = time(reps, || lz4_flex::decompress_size_prepended(&c).unwrap().len());
        println!("{name:10} lz4_flex      ratio {:5.2}x  comp {:7.0} MB/s ({:8.1} us)  decomp {:7.0} MB/s ({:8.1} us)", n / clen as f64, n / tc / 1e6, tc*1e6, n / td / 1e6, td*1e6);
        for lvl in [1, 3] {
            let (tc, clen) = time(reps, || zstd::bulk::compress(&data, lvl).unwrap().len());
            let c = zstd::bulk::compress(&data, lvl).unwrap();
            let (td, _) = time(reps, || zstd::bulk::decompress(&c, data.len()).unwrap().len());
            println!("{name:10} zstd level {lvl}  ratio {:5.2}x  comp {:7.0} MB/s ({:8.1} us)  decomp {:7.0} MB/s ({:8.1} us)", n / clen as f64, n / tc / 1e6, tc*1e6, n / td / 1e6, td*1e6);
        }
    }
}
