//! A closed-loop load generator: `concurrency` workers each send one request, wait for its
//! answer, and send the next, for a fixed time.
//!
//! Requests that start during the warm-up (connections being opened, caches filling) are not
//! counted; throughput is counted requests over the measured window, and latencies go into an
//! HDR histogram in microseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::workloads::Call;

/// What one operation did at one concurrency on one target.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub concurrency: usize,
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub seconds: f64,
    pub latency_us: Histogram<u64>,
}

impl Measurement {
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.latency_us.max() as f64 / 1000.0
    }
}

pub fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

pub async fn run(call: Call, concurrency: usize, warmup: Duration, duration: Duration) -> Measurement {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let seq = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (call, seq) = (call.clone(), seq.clone());
        workers.push(tokio::spawn(async move {
            let mut hist = histogram();
            let (mut errors, mut first_error) = (0u64, None);
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let result = call(seq.fetch_add(1, Ordering::Relaxed)).await;
                let done = Instant::now();
                if began < measure_from || done > end {
                    continue;
                }
                match result {
                    Ok(()) => {
                        let us = done.duration_since(began).as_micros().max(1) as u64;
                        hist.saturating_record(us);
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (hist, errors, first_error)
        }));
    }
    let mut m = Measurement {
        concurrency,
        requests: 0,
        errors: 0,
        first_error: None,
        seconds: duration.as_secs_f64(),
        latency_us: histogram(),
    };
    for w in workers {
        let (hist, errors, first_error) = w.await.expect("a load worker panicked");
        m.latency_us.add(&hist).expect("histograms share bounds");
        m.errors += errors;
        if m.first_error.is_none() {
            m.first_error = first_error;
        }
    }
    m.requests = m.latency_us.len();
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_only_the_measured_window_and_separates_errors() {
        let call: Call = Arc::new(|i| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if i % 4 == 0 { Err(anyhow::anyhow!("boom {i}")) } else { Ok(()) }
            })
        });
        let m = run(call, 4, Duration::from_millis(50), Duration::from_millis(300)).await;
        // 4 workers × ~300 ms / ~5 ms ≈ 240 requests, a quarter of them failing.
        let total = m.requests + m.errors;
        assert!((120..=260).contains(&total), "{total} requests in the window");
        assert!(m.errors * 6 > total && m.errors * 3 < total, "{} errors of {total}", m.errors);
        assert!(m.first_error.as_deref().unwrap().starts_with("boom"));
        assert!(m.quantile_ms(0.5) >= 5.0 && m.quantile_ms(0.5) < 50.0, "p50 {}", m.quantile_ms(0.5));
    }
}
