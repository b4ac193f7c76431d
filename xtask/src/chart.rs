//! The chart of `cargo xtask bench`: one SVG, a panel per headline workload, a bar per
//! contender (median time per operation, ours highlighted), drawn from the same criterion
//! estimates as the printed table. Plain SVG text: no plotting dependency to build in CI.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The workloads drawn, in order, with a title (groups absent from the run are skipped).
const PANELS: &[(&str, &str)] = &[
    ("hit_1t", "memory hit, 1 thread"),
    ("hit_2t", "memory hit, 2 threads (time per op)"),
    (
        "hit_threads",
        "memory hit, <crate>_<threads> (time per op: wall / all ops)",
    ),
    ("miss_evict", "memory miss + insert + evict (cap 1k)"),
    ("decorator", "decorated function, hit"),
    ("hit_10000", "LMDB hit, 10k keys"),
    ("miss_store_10k", "LMDB miss + store"),
    ("fcache_hit_1KiB", "file hit, 1 KiB"),
];

fn is_ours(id: &str) -> bool {
    id.starts_with("mcache") || id.starts_with("twat") || id.starts_with("bcache")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the panels found in `estimates` (group → (id, ns)); `None` when none is there.
pub(crate) fn svg(estimates: &BTreeMap<String, Vec<(String, f64)>>, note: &str) -> Option<String> {
    const WIDTH: f64 = 760.0;
    const LABEL: f64 = 230.0;
    const BAR_AREA: f64 = 420.0;
    const ROW: f64 = 20.0;
    let panels: Vec<(&str, &Vec<(String, f64)>)> = PANELS
        .iter()
        .filter_map(|(g, title)| estimates.get(*g).map(|rows| (*title, rows)))
        .collect();
    if panels.is_empty() {
        return None;
    }
    let height: f64 = 40.0
        + panels
            .iter()
            .map(|(_, rows)| 34.0 + ROW * rows.len() as f64)
            .sum::<f64>()
        + 24.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/><text x="10" y="22" font-size="15" font-weight="bold">twat-cache: median time per operation (shorter is better)</text>"##
    );
    let mut y = 40.0;
    for (title, rows) in panels {
        let _ = writeln!(
            out,
            r#"<text x="10" y="{:.0}" font-weight="bold">{}</text>"#,
            y + 16.0,
            escape(title)
        );
        y += 24.0;
        // The scale ends at 4× our time (or the slowest row, if nearer): a contender 20×
        // slower would flatten every other bar; its bar is cut and its time still written.
        let ours_ns = rows
            .iter()
            .find(|r| is_ours(&r.0))
            .map_or(f64::MAX, |r| r.1);
        let max = rows
            .iter()
            .map(|r| r.1)
            .fold(0.0_f64, f64::max)
            .min(4.0 * ours_ns);
        for (id, ns) in rows {
            let ours = is_ours(id);
            let w = if max > 0.0 {
                ns.min(max) / max * BAR_AREA
            } else {
                0.0
            };
            let color = if ours { "#d9480f" } else { "#868e96" };
            let _ = writeln!(
                out,
                r#"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text><rect x="{LABEL}" y="{:.0}" width="{w:.1}" height="{:.0}" fill="{color}"/><text x="{:.1}" y="{:.0}">{}</text>"#,
                LABEL - 8.0,
                y + 13.0,
                escape(id),
                y + 2.0,
                ROW - 5.0,
                LABEL + w + 6.0,
                y + 13.0,
                escape(&format!(
                    "{}{}",
                    crate::format_ns(*ns),
                    if *ns > max { " (bar cut)" } else { "" }
                )),
            );
            y += ROW;
        }
        y += 10.0;
    }
    let _ = writeln!(
        out,
        r##"<text x="10" y="{:.0}" fill="#495057">{}</text></svg>"##,
        y + 10.0,
        escape(note)
    );
    Some(out)
}
