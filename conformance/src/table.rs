//! The closing report: a scenario × driver table and the line `N passed, N failed`.

/// What happened to one scenario on one driver over all repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Runs passed and failed.
    Ran {
        passed: usize,
        failed: usize,
    },
    Skipped,
}

#[derive(Debug, Default)]
pub struct Table {
    drivers: Vec<String>,
    rows: Vec<(String, Vec<Cell>)>,
}

impl Table {
    pub fn new(drivers: Vec<String>) -> Table {
        Table {
            drivers,
            rows: Vec::new(),
        }
    }

    /// One row; `cells` in the order of the drivers.
    pub fn row(&mut self, scenario: &str, cells: Vec<Cell>) {
        self.rows.push((scenario.to_string(), cells));
    }

    /// `(passed, failed)` runs; a skipped cell counts as one failure when `require_all`.
    pub fn totals(&self, require_all: bool) -> (usize, usize) {
        let mut totals = (0, 0);
        for cell in self.rows.iter().flat_map(|(_, cells)| cells) {
            match cell {
                Cell::Ran { passed, failed } => {
                    totals.0 += passed;
                    totals.1 += failed;
                }
                Cell::Skipped if require_all => totals.1 += 1,
                Cell::Skipped => {}
            }
        }
        totals
    }

    pub fn render(&self, require_all: bool) -> String {
        let label = |c: &Cell| match c {
            Cell::Ran { failed: 0, .. } => "pass".to_string(),
            // A single failed run is plain FAIL; with repeats, the count shows even when all fail.
            Cell::Ran {
                passed: 0,
                failed: 1,
            } => "FAIL".to_string(),
            Cell::Ran { passed, failed } => format!("FAIL {failed}/{}", passed + failed),
            Cell::Skipped => "skip".to_string(),
        };
        let first = self
            .rows
            .iter()
            .map(|(s, _)| s.len())
            .chain(["scenario".len()])
            .max()
            .unwrap_or(0);
        let widths: Vec<usize> = self
            .drivers
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let cells = self
                    .rows
                    .iter()
                    .filter_map(|(_, c)| c.get(i))
                    .map(|c| label(c).len());
                cells.chain([d.len()]).max().unwrap_or(0)
            })
            .collect();
        let line = |first_col: &str, cols: Vec<String>| {
            let mut out = format!("{first_col:<first$}");
            for (col, w) in cols.iter().zip(&widths) {
                out.push_str(&format!("  {col:<w$}"));
            }
            out.trim_end().to_string() + "\n"
        };
        let mut out = line("scenario", self.drivers.clone());
        for (scenario, cells) in &self.rows {
            out.push_str(&line(scenario, cells.iter().map(label).collect()));
        }
        let (passed, failed) = self.totals(require_all);
        out.push_str(&format!("{passed} passed, {failed} failed\n"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let mut t = Table::new(vec!["rust".into(), "python".into()]);
        t.row(
            "login_logout",
            vec![
                Cell::Ran {
                    passed: 10,
                    failed: 0,
                },
                Cell::Skipped,
            ],
        );
        t.row(
            "seed_case_1",
            vec![
                Cell::Ran {
                    passed: 9,
                    failed: 1,
                },
                Cell::Skipped,
            ],
        );
        t
    }

    #[test]
    fn counts_runs_and_skips_only_when_required() {
        assert_eq!(table().totals(false), (19, 1));
        assert_eq!(table().totals(true), (19, 3));
    }

    #[test]
    fn renders_aligned_cells_and_ends_with_the_totals() {
        let text = table().render(false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "scenario      rust       python");
        assert_eq!(lines[1], "login_logout  pass       skip");
        assert_eq!(lines[2], "seed_case_1   FAIL 1/10  skip");
        assert_eq!(lines.last(), Some(&"19 passed, 1 failed"));
    }

    #[test]
    fn all_runs_failing_shows_the_count() {
        let mut t = Table::new(vec!["rust".into()]);
        t.row(
            "a",
            vec![Cell::Ran {
                passed: 0,
                failed: 3,
            }],
        );
        t.row(
            "b",
            vec![Cell::Ran {
                passed: 0,
                failed: 1,
            }],
        );
        let text = t.render(false);
        assert!(text.contains("a         FAIL 3/3"), "{text}");
        assert!(text.contains("b         FAIL\n"), "{text}");
    }
}
