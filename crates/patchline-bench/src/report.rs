//! The table of figures and the verdict on each target.
//!
//! A row is one contender: what ran, the size it read, its median wall
//! time, that time as a multiple of `curl -o` (of the same file or
//! document) and of `curl -o` followed by `sha256sum`, and its peak
//! memory (the highest of its runs).

use std::fmt::Write;

use patchline_transport::human_bytes;

use crate::check::{Checks, BEHIND};
use crate::download::Download;
use crate::measure::Stats;

/// `in` may take this many times as long as `curl -o` alone.
const IN_VS_CURL: f64 = 1.1;

/// `in`'s peak memory must stay under this, in MiB.
const IN_PEAK_MIB: f64 = 64.0;

/// Peaks count as the same when the largest is within this factor of the
/// smallest.
const SAME_PEAK: f64 = 1.1;

/// `check` may take this many times as long as curl fetching the index.
const CHECK_VS_CURL: f64 = 1.5;

/// Render the table and the targets.
pub fn render(downloads: &[Download], checks: &Checks) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<34} {:>10} {:>9} {:>8} {:>17} {:>9}",
        "what", "size", "median s", "x curl", "x curl+sha256sum", "peak MiB"
    );
    for download in downloads {
        let kind = if download.sparse { "sparse" } else { "random" };
        let rows = [
            ("curl -o", &download.curl),
            ("curl -o && sha256sum", &download.curl_sha256sum),
            ("in (download and verify)", &download.get),
        ];
        for (what, stats) in rows {
            row(
                &mut out,
                &format!("{what}, {kind}"),
                download.size,
                stats,
                Some(stats.ratio(&download.curl)),
                Some(stats.ratio(&download.curl_sha256sum)),
            );
        }
    }
    let rows = [
        ("curl -o /dev/null, index", &checks.curl),
        ("check, latest, cold", &checks.latest),
        (&format!("check, {BEHIND} behind, cold"), &checks.behind),
        ("check, latest, warm (304)", &checks.warm),
    ];
    for (what, stats) in rows {
        row(
            &mut out,
            what,
            checks.bytes,
            stats,
            Some(stats.ratio(&checks.curl)),
            None,
        );
    }

    out.push('\n');
    for download in downloads {
        let size = human_bytes(download.size);
        let ratio = download.get.ratio(&download.curl);
        target(
            &mut out,
            ratio <= IN_VS_CURL,
            &format!("in within {IN_VS_CURL}x of curl -o, {size}: {ratio:.2}x"),
        );
    }
    for download in downloads {
        let size = human_bytes(download.size);
        let peak = download.get.peak_mib();
        target(
            &mut out,
            peak < IN_PEAK_MIB,
            &format!("in peak memory under {IN_PEAK_MIB} MiB, {size}: {peak:.1} MiB"),
        );
    }
    if downloads.len() > 1 {
        let peaks: Vec<f64> = downloads.iter().map(|d| d.get.peak_mib()).collect();
        let low = peaks.iter().copied().fold(f64::INFINITY, f64::min);
        let high = peaks.iter().copied().fold(0.0, f64::max);
        let shown: Vec<String> = peaks.iter().map(|p| format!("{p:.1}")).collect();
        target(
            &mut out,
            high <= low * SAME_PEAK,
            &format!(
                "in peak memory the same for every size (within {:.0}%): {} MiB",
                (SAME_PEAK - 1.0) * 100.0,
                shown.join(", ")
            ),
        );
    }
    let ratio = checks.latest.ratio(&checks.curl);
    target(
        &mut out,
        ratio <= CHECK_VS_CURL,
        &format!("check within {CHECK_VS_CURL}x of curl (latest, cold): {ratio:.2}x"),
    );
    let (not_modified, runs) = checks.warm_not_modified;
    if not_modified != runs as u64 {
        let _ = writeln!(
            out,
            "note: the server answered 304 to {not_modified} of {runs} warm checks"
        );
    }
    out
}

fn row(
    out: &mut String,
    what: &str,
    size: u64,
    stats: &Stats,
    vs_curl: Option<f64>,
    vs_curl_sha256sum: Option<f64>,
) {
    let ratio = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}"));
    let _ = writeln!(
        out,
        "{what:<34} {:>10} {:>9.3} {:>8} {:>17} {:>9.1}",
        human_bytes(size),
        stats.median.as_secs_f64(),
        ratio(vs_curl),
        ratio(vs_curl_sha256sum),
        stats.peak_mib()
    );
}

fn target(out: &mut String, met: bool, what: &str) {
    let verdict = if met { "met" } else { "NOT met" };
    let _ = writeln!(out, "{verdict:<8} {what}");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn stats(millis: u64, peak_mib: u64) -> Stats {
        Stats {
            median: Duration::from_millis(millis),
            peak_kib: peak_mib * 1024,
        }
    }

    #[test]
    fn rows_and_verdicts() {
        let downloads = [
            Download {
                size: 2 << 30,
                sparse: false,
                curl: stats(2000, 5),
                curl_sha256sum: stats(4000, 5),
                get: stats(2100, 12),
            },
            Download {
                size: 8 << 30,
                sparse: true,
                curl: stats(8000, 5),
                curl_sha256sum: stats(16000, 5),
                get: stats(9600, 15),
            },
        ];
        let checks = Checks {
            bytes: 20 << 20,
            curl: stats(100, 6),
            latest: stats(140, 90),
            behind: stats(150, 90),
            warm: stats(120, 90),
            warm_not_modified: (3, 3),
        };
        let report = render(&downloads, &checks);
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(
            lines[3],
            "in (download and verify), random      2.0 GiB     2.100     1.05              0.53      12.0"
        );
        assert_eq!(
            lines[7],
            "curl -o /dev/null, index             20.0 MiB     0.100     1.00                 -       6.0"
        );
        assert_eq!(
            &lines[12..],
            [
                "met      in within 1.1x of curl -o, 2.0 GiB: 1.05x",
                "NOT met  in within 1.1x of curl -o, 8.0 GiB: 1.20x",
                "met      in peak memory under 64 MiB, 2.0 GiB: 12.0 MiB",
                "met      in peak memory under 64 MiB, 8.0 GiB: 15.0 MiB",
                "NOT met  in peak memory the same for every size (within 10%): 12.0, 15.0 MiB",
                "met      check within 1.5x of curl (latest, cold): 1.40x",
            ]
        );
    }
}
