//! Prometheus metrics in the text exposition format, kept with atomics and short locks.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Histogram bucket upper bounds in seconds.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0, 60.0,
];

/// A cumulative histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b)
            && let Some(c) = self.counts.get(i)
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, c) in BUCKETS.iter().zip(self.counts.iter()) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// Every metric the gateway exports.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    blocks: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    upstream_errors: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Time from request received to response headers (or the whole body when not
    /// streamed) sent.
    pub duration: Histogram,
    /// Time the gateway itself added: total minus the time spent waiting on the upstream.
    pub overhead: Histogram,
}

impl Metrics {
    /// Counts a finished request.
    pub fn request(&self, endpoint: &'static str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((endpoint, status)).or_default() += 1;
        }
    }

    /// Counts a block by a rule.
    pub fn block(&self, rule: &'static str, direction: &'static str) {
        if let Ok(mut m) = self.blocks.lock() {
            *m.entry((rule, direction)).or_default() += 1;
        }
    }

    /// Counts an upstream failure.
    pub fn upstream_error(&self, upstream: &str, kind: &'static str) {
        if let Ok(mut m) = self.upstream_errors.lock() {
            *m.entry((upstream.to_string(), kind)).or_default() += 1;
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP ward_gateway_requests_total API requests by endpoint and status.\n# TYPE ward_gateway_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((e, s), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "ward_gateway_requests_total{{endpoint=\"{e}\",status=\"{s}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP ward_gateway_blocks_total Requests or responses blocked, by rule.\n# TYPE ward_gateway_blocks_total counter\n");
        if let Ok(m) = self.blocks.lock() {
            for ((r, d), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "ward_gateway_blocks_total{{rule=\"{r}\",direction=\"{d}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP ward_gateway_upstream_errors_total Upstream failures by upstream and kind.\n# TYPE ward_gateway_upstream_errors_total counter\n");
        if let Ok(m) = self.upstream_errors.lock() {
            for ((u, k), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "ward_gateway_upstream_errors_total{{upstream=\"{}\",kind=\"{k}\"}} {n}",
                    escape(u)
                );
            }
        }
        self.duration.render(
            "ward_gateway_request_duration_seconds",
            "Time to answer an API request.",
            &mut out,
        );
        self.overhead.render(
            "ward_gateway_overhead_duration_seconds",
            "Time added by the gateway (total minus upstream wait), non-streamed requests.",
            &mut out,
        );
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_contains_every_family() {
        let m = Metrics::default();
        m.request("chat", 200);
        m.block("pii-iban", "input");
        m.upstream_error("local", "timeout");
        m.duration.observe(Duration::from_micros(300));
        let text = m.render();
        assert!(text.contains("ward_gateway_requests_total{endpoint=\"chat\",status=\"200\"} 1"));
        assert!(
            text.contains("ward_gateway_blocks_total{rule=\"pii-iban\",direction=\"input\"} 1")
        );
        assert!(
            text.contains(
                "ward_gateway_upstream_errors_total{upstream=\"local\",kind=\"timeout\"} 1"
            )
        );
        assert!(text.contains("ward_gateway_request_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("ward_gateway_request_duration_seconds_bucket{le=\"0.00025\"} 0"));
    }
}
