//! Output for people: sizes, times and aligned tables.

/// `1536` → `"1.5 KiB"`; below 1 KiB, `"512 B"`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Unix milliseconds as ISO-8601 UTC, to the second: `2023-11-14T22:13:20Z`.
pub fn iso(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// How long before `now_ms` the time `ms` was: `"42s ago"`, `"5m ago"`, `"3h ago"`,
/// `"12d ago"`; `"just now"` for a time in the future (clock skew between machines).
pub fn age(ms: u64, now_ms: u64) -> String {
    if ms >= now_ms {
        return "just now".into();
    }
    let s = (now_ms - ms) / 1000;
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86_400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

/// An optional time as its age, or `-`.
pub fn opt_age(ms: Option<u64>, now_ms: u64) -> String {
    ms.map_or_else(|| "-".into(), |ms| age(ms, now_ms))
}

/// An optional time as ISO-8601 with its age, or `-`.
pub fn opt_time(ms: Option<u64>, now_ms: u64) -> String {
    ms.map_or_else(
        || "-".into(),
        |ms| format!("{} ({})", iso(ms), age(ms, now_ms)),
    )
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table with a header row, printed with columns aligned and two spaces between them.
#[derive(Debug)]
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[(&'static str, Align)]) -> Self {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|(h, _)| h.len()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, cell) in cells.enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                if i > 0 {
                    out.push_str("  ");
                }
                match self.columns[i].1 {
                    Align::Left => {
                        out.push_str(cell);
                        out.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        out.extend(std::iter::repeat_n(' ', pad));
                        out.push_str(cell);
                    }
                }
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
            out
        };
        let mut out = line(&mut self.columns.iter().map(|(h, _)| *h));
        for row in &self.rows {
            out.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(5 << 20), "5.0 MiB");
        assert_eq!(size(u64::MAX), "16384.0 PiB");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso(1_700_000_000_999), "2023-11-14T22:13:20Z");
        assert_eq!(iso(4_107_542_400_000), "2100-03-01T00:00:00Z");
        assert_eq!(iso(1_735_689_599_000), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn ages() {
        let now = 10_000_000_000;
        assert_eq!(age(now + 5, now), "just now");
        assert_eq!(age(now - 42_000, now), "42s ago");
        assert_eq!(age(now - 300_000, now), "5m ago");
        assert_eq!(age(now - 3 * 3_600_000, now), "3h ago");
        assert_eq!(age(now - 12 * 86_400_000, now), "12d ago");
        assert_eq!(opt_age(None, now), "-");
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&[("NAME", Align::Left), ("N", Align::Right)]);
        t.row(vec!["a".into(), "100".into()]);
        t.row(vec!["long name".into(), "2".into()]);
        assert_eq!(
            t.render(),
            "NAME         N\na          100\nlong name    2\n"
        );
    }
}
