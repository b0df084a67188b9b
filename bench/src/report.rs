//! The results as a markdown report, a CSV file and an SVG plot of latencies.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::load::Measurement;
use crate::targets::Kind;

/// One line of the CSV: a measured operation (or chat metric) on one target.
#[derive(Debug, Clone)]
pub struct Row {
    pub section: &'static str,
    pub target: &'static str,
    pub operation: String,
    pub concurrency: usize,
    pub requests: u64,
    pub errors: u64,
    pub throughput: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Row {
    pub fn from_measurement(section: &'static str, target: Kind, operation: &str, m: &Measurement) -> Row {
        Row {
            section,
            target: target.name(),
            operation: operation.to_string(),
            concurrency: m.concurrency,
            requests: m.requests,
            errors: m.errors,
            throughput: m.throughput(),
            p50_ms: m.quantile_ms(0.5),
            p99_ms: m.quantile_ms(0.99),
            max_ms: m.max_ms(),
        }
    }
}

pub fn csv(rows: &[Row]) -> String {
    let mut out =
        String::from("section,target,operation,concurrency,requests,errors,throughput_per_s,p50_ms,p99_ms,max_ms\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},\"{}\",{},{},{},{:.1},{:.3},{:.3},{:.3}",
            r.section,
            r.target,
            r.operation.replace('"', "\"\""),
            r.concurrency,
            r.requests,
            r.errors,
            r.throughput,
            r.p50_ms,
            r.p99_ms,
            r.max_ms
        );
    }
    out
}

/// Per-target start-up and memory figures.
#[derive(Debug, Clone, Default)]
pub struct StartUp {
    pub version: String,
    /// spawn → health answering, ms, one per start.
    pub healthy_ms: Vec<f64>,
    /// spawn → first successful S3 PutObject, ms, one per start.
    pub first_put_ms: Vec<f64>,
    pub idle_rss_mib: Option<f64>,
    pub loaded_rss_mib: Option<f64>,
    pub skipped: Option<String>,
}

pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "—".into())
}

/// A cell for a ratio emulator/peer where higher is better for the emulator.
fn ratio(emulator: Option<f64>, peer: Option<f64>) -> String {
    match (emulator, peer) {
        (Some(e), Some(p)) if p > 0.0 => format!("{:.1}×", e / p),
        _ => "—".into(),
    }
}

pub struct Report<'a> {
    pub machine: String,
    pub settings: String,
    pub targets: &'a [Kind],
    pub startup: &'a BTreeMap<Kind, StartUp>,
    pub rows: &'a [Row],
    /// Per target and operation: why it was not measured.
    pub not_measured: &'a BTreeMap<(Kind, String), String>,
    pub chat: Option<String>,
    pub conformance: Option<String>,
    pub concurrencies: &'a [usize],
    pub op_names: Vec<String>,
}

impl Report<'_> {
    fn find(&self, target: Kind, op: &str, c: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.section == "ops" && r.target == target.name() && r.operation == op && r.concurrency == c)
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmark: emulator vs moto vs LocalStack\n");
        let _ = writeln!(md, "{}  \n{}\n", self.machine, self.settings);
        let _ = writeln!(md, "## Start-up and memory\n");
        let _ = writeln!(
            md,
            "| target | version | start → healthy (ms, median) | start → first PutObject (ms, median) | idle RSS (MiB) | RSS after workload (MiB) |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        for t in self.targets {
            let Some(s) = self.startup.get(t) else { continue };
            if let Some(why) = &s.skipped {
                let _ = writeln!(md, "| {} | — | skipped: {why} | | | |", t.name());
                continue;
            }
            let _ = writeln!(
                md,
                "| {} | {} | {} (n={}) | {} | {} | {} |",
                t.name(),
                s.version,
                opt(median(&s.healthy_ms), 1),
                s.healthy_ms.len(),
                opt(median(&s.first_put_ms), 1),
                opt(s.idle_rss_mib, 1),
                opt(s.loaded_rss_mib, 1)
            );
        }
        let peers: Vec<Kind> = self.targets.iter().copied().filter(|t| *t != Kind::Emulator).collect();
        for &c in self.concurrencies {
            let _ = writeln!(md, "\n## Throughput and latency at concurrency {c}\n");
            let _ = write!(md, "| operation |");
            for t in self.targets {
                let _ = write!(md, " {} req/s | {} p50 / p99 ms |", t.name(), t.name());
            }
            for p in &peers {
                let _ = write!(md, " emulator ÷ {} |", p.name());
            }
            let _ = writeln!(md);
            let _ = writeln!(md, "|---|{}{}", "---|---|".repeat(self.targets.len()), "---|".repeat(peers.len()));
            for op in &self.op_names {
                let _ = write!(md, "| {op} |");
                for &t in self.targets {
                    match self.find(t, op, c) {
                        Some(r) if r.requests > 0 => {
                            let errs = if r.errors > 0 { format!(" ({} errors)", r.errors) } else { String::new() };
                            let _ = write!(md, " {:.0}{errs} | {:.2} / {:.2} |", r.throughput, r.p50_ms, r.p99_ms);
                        }
                        Some(r) if r.errors > 0 => {
                            let _ = write!(md, " all {} failed | — |", r.errors);
                        }
                        Some(_) => {
                            let _ = write!(md, " none finished in the window | — |");
                        }
                        None => {
                            let why = self.not_measured.get(&(t, op.clone())).map(String::as_str).unwrap_or("not run");
                            let _ = write!(md, " — | {why} |");
                        }
                    }
                }
                let emu = self.find(Kind::Emulator, op, c).filter(|r| r.requests > 0).map(|r| r.throughput);
                for &p in &peers {
                    let peer = self.find(p, op, c).filter(|r| r.requests > 0).map(|r| r.throughput);
                    let _ = write!(md, " {} |", ratio(emu, peer));
                }
                let _ = writeln!(md);
            }
        }
        md.push_str(&self.goals());
        let errors: Vec<&Row> = self.rows.iter().filter(|r| r.errors > 0).collect();
        if !errors.is_empty() {
            let _ = writeln!(
                md,
                "\nErrors counted above are requests that failed or returned a wrong answer; see the CSV."
            );
        }
        if let Some(chat) = &self.chat {
            let _ = writeln!(md, "\n{chat}");
        }
        if let Some(conf) = &self.conformance {
            let _ = writeln!(md, "\n{conf}");
        }
        md
    }
}

impl Report<'_> {
    /// The performance goals, each with what this run measured and whether it is met.
    fn goals(&self) -> String {
        let mut md = String::from("\n## Goals\n\n| goal | measured | met |\n|---|---|---|\n");
        let mut line = |goal: &str, measured: String, met: Option<bool>| {
            let verdict = match met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "not measured",
            };
            let _ = writeln!(md, "| {goal} | {measured} | {verdict} |");
        };
        let emu = self.startup.get(&Kind::Emulator);
        let cold = emu.and_then(|s| median(&s.healthy_ms));
        line("cold start to healthy ≤ 50 ms", format!("{} ms", opt(cold, 1)), cold.map(|v| v <= 50.0));
        let idle = emu.and_then(|s| s.idle_rss_mib);
        line("idle RSS ≤ 25 MiB", format!("{} MiB", opt(idle, 1)), idle.map(|v| v <= 25.0));
        let c = self.concurrencies.iter().copied().max().unwrap_or(1);
        if self.targets.contains(&Kind::Moto) {
            let mut worst: Option<(f64, &str)> = None;
            for op in &self.op_names {
                let e = self.find(Kind::Emulator, op, c).filter(|r| r.requests > 0).map(|r| r.throughput);
                let m = self.find(Kind::Moto, op, c).filter(|r| r.requests > 0).map(|r| r.throughput);
                if let (Some(e), Some(m)) = (e, m) {
                    let r = e / m;
                    if worst.is_none_or(|(w, _)| r < w) {
                        worst = Some((r, op));
                    }
                }
            }
            line(
                &format!("every operation ≥ 20× moto's throughput at concurrency {c}"),
                worst.map(|(r, op)| format!("lowest {r:.1}× ({op})")).unwrap_or_else(|| "—".into()),
                worst.map(|(r, _)| r >= 20.0),
            );
        }
        let chat = self.rows.iter().find(|r| r.section == "chat" && r.operation.starts_with("send → deliver"));
        line(
            "chat send → deliver p99 ≤ 10 ms with 1,000 clients",
            chat.map(|r| format!("{:.2} ms ({})", r.p99_ms, r.operation)).unwrap_or_else(|| "—".into()),
            chat.map(|r| r.p99_ms <= 10.0),
        );
        md
    }
}

/// Latency percentiles of each operation at one concurrency, one line per target, on a log
/// scale: where a target's curve lies to the right, it is slower.
pub fn svg(rows: &[Row], op_names: &[String], concurrency: usize, targets: &[Kind]) -> String {
    const W: f64 = 900.0;
    const ROW_H: f64 = 34.0;
    const LEFT: f64 = 260.0;
    const RIGHT: f64 = 30.0;
    const TOP: f64 = 60.0;
    let colours = |t: &str| match t {
        "emulator" => "#1b9e77",
        "moto" => "#d95f02",
        _ => "#7570b3",
    };
    let (lo, hi) = (0.01f64, 1000.0f64); // ms
    let x = |ms: f64| LEFT + (ms.clamp(lo, hi).log10() - lo.log10()) / (hi.log10() - lo.log10()) * (W - LEFT - RIGHT);
    let h = TOP + ROW_H * op_names.len() as f64 + 40.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="20" font-size="14">Latency at concurrency {concurrency}: bar p50 → p99, tick max (ms, log scale)</text>"#
    );
    let mut legend_x = LEFT;
    for t in targets {
        let _ = writeln!(s, r#"<rect x="{legend_x}" y="30" width="12" height="12" fill="{}"/>"#, colours(t.name()));
        let _ = writeln!(s, r#"<text x="{}" y="41">{}</text>"#, legend_x + 16.0, t.name());
        legend_x += 110.0;
    }
    let mut tick = lo;
    while tick <= hi {
        let tx = x(tick);
        let _ = writeln!(s, r##"<line x1="{tx}" y1="{TOP}" x2="{tx}" y2="{}" stroke="#ddd"/>"##, h - 30.0);
        let _ = writeln!(s, r#"<text x="{tx}" y="{}" text-anchor="middle">{tick}</text>"#, h - 14.0);
        tick *= 10.0;
    }
    for (i, op) in op_names.iter().enumerate() {
        let y0 = TOP + ROW_H * i as f64;
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="end">{op}</text>"#, LEFT - 8.0, y0 + ROW_H / 2.0 + 4.0);
        let measured: Vec<&Row> = targets
            .iter()
            .filter_map(|t| {
                rows.iter().find(|r| {
                    r.section == "ops"
                        && r.target == t.name()
                        && &r.operation == op
                        && r.concurrency == concurrency
                        && r.requests > 0
                })
            })
            .collect();
        let band = (ROW_H - 6.0) / measured.len().max(1) as f64;
        for (j, r) in measured.iter().enumerate() {
            let y = y0 + 3.0 + band * j as f64;
            let (a, b, m) = (x(r.p50_ms), x(r.p99_ms), x(r.max_ms));
            let c = colours(r.target);
            let _ = writeln!(
                s,
                r#"<rect x="{a:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{c}"/>"#,
                (b - a).max(2.0),
                band - 2.0
            );
            let _ = writeln!(
                s,
                r#"<line x1="{m:.1}" y1="{y:.1}" x2="{m:.1}" y2="{:.1}" stroke="{c}" stroke-width="2"/>"#,
                y + band - 2.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(target: &'static str, op: &str, throughput: f64) -> Row {
        Row {
            section: "ops",
            target,
            operation: op.into(),
            concurrency: 32,
            requests: 100,
            errors: 0,
            throughput,
            p50_ms: 1.0,
            p99_ms: 2.0,
            max_ms: 3.0,
        }
    }

    #[test]
    fn the_table_gives_ratios_and_reasons() {
        let rows = vec![row("emulator", "S3 PutObject 1 KiB", 3000.0), row("moto", "S3 PutObject 1 KiB", 150.0)];
        let startup = BTreeMap::new();
        let mut not_measured = BTreeMap::new();
        not_measured.insert((Kind::Localstack, "S3 PutObject 1 KiB".to_string()), "it fell over".to_string());
        let report = Report {
            machine: "m".into(),
            settings: "s".into(),
            targets: &[Kind::Emulator, Kind::Moto, Kind::Localstack],
            startup: &startup,
            rows: &rows,
            not_measured: &not_measured,
            chat: None,
            conformance: None,
            concurrencies: &[32],
            op_names: vec!["S3 PutObject 1 KiB".into()],
        };
        let md = report.markdown();
        let line = md.lines().find(|l| l.starts_with("| S3 PutObject 1 KiB")).unwrap();
        assert!(line.contains("| 20.0× |"), "{line}");
        assert!(line.contains("it fell over"), "{line}");
        assert!(md.contains("| lowest 20.0× (S3 PutObject 1 KiB) | yes |"), "{md}");
        assert!(md.contains("| cold start to healthy ≤ 50 ms | — ms | not measured |"), "{md}");
        assert!(csv(&rows).lines().nth(1).unwrap().starts_with("ops,emulator,\"S3 PutObject 1 KiB\",32,100,0,3000.0"));
        assert!(median(&[3.0, 1.0, 2.0, 10.0]) == Some(2.5));
        let svg = svg(&rows, &report.op_names, 32, report.targets);
        assert_eq!(svg.matches("<rect x=").count(), 3 + 2, "three legend swatches and two bars");
    }
}
