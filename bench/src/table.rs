//! The one table `scripts/bench.sh` prints (Markdown, so the README can carry it as is).

use serde::Serialize;

use crate::stats::Summary;

/// One line of the table. Cells are text; figures not measured (yet) say why.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub figure: String,
    pub roomlink: String,
    pub socketio: String,
    pub floor: String,
    /// The figure over its target ("0.8× of target"), or a reference figure for context.
    pub ratio: String,
}

impl Row {
    pub fn new(figure: impl Into<String>) -> Row {
        Row {
            figure: figure.into(),
            roomlink: "—".into(),
            socketio: "—".into(),
            floor: "—".into(),
            ratio: "—".into(),
        }
    }
}

/// Microseconds as the table shows them: µs below 10 ms, ms above.
pub fn time_us(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 100.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.1} µs")
    }
}

pub fn latency(s: &Summary) -> String {
    format!("p50 {} · p99 {}", time_us(s.p50_us), time_us(s.p99_us))
}

pub fn bytes(b: f64) -> String {
    if b >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

/// "0.8× of target" (lower is better for every target here).
pub fn of_target(value: f64, target: f64) -> String {
    if target > 0.0 {
        format!("{:.2}× of target", value / target)
    } else {
        "—".into()
    }
}

pub fn render(rows: &[Row]) -> String {
    let header = [
        "figure",
        "roomlink",
        "Socket.IO",
        "floor",
        "ratio (figure / target)",
    ];
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.figure.as_str(),
                r.roomlink.as_str(),
                r.socketio.as_str(),
                r.floor.as_str(),
                r.ratio.as_str(),
            ]
        })
        .collect();
    let mut width = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: [&str; 5]| {
        let parts: Vec<String> = row
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        format!("| {} |\n", parts.join(" | "))
    };
    let mut out = line(header);
    let rule: Vec<String> = width.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for row in cells {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_with_wide_characters() {
        let mut r = Row::new("login");
        r.roomlink = "p50 412 µs".into();
        let mut skipped = Row::new("FFI: Kotlin");
        skipped.roomlink = "skipped: kotlinc is not installed".into();
        let text = render(&[r, skipped]);
        let widths: Vec<usize> = text.lines().map(|l| l.chars().count()).collect();
        assert_eq!(widths.len(), 4);
        assert!(widths.iter().all(|&w| w == widths[0]), "{text}");
        assert!(text.contains("| skipped: kotlinc is not installed |"));
    }

    #[test]
    fn units_switch_at_sensible_points() {
        assert_eq!(time_us(42.0), "42.0 µs");
        assert_eq!(time_us(412.4), "412 µs");
        assert_eq!(time_us(12_345.0), "12.3 ms");
        assert_eq!(bytes(4096.0), "4.0 KiB");
        assert_eq!(bytes(1.5 * 1024.0 * 1024.0), "1.50 MiB");
        assert_eq!(of_target(1.0, 4.0), "0.25× of target");
    }
}
