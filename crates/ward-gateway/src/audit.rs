//! The audit trail: every API request becomes one record handed to an [`AuditSink`].
//!
//! Appending can be slow (a durable log syncs to disk), so records are written off the
//! request path by blocking tasks, at most [`MAX_PENDING`] at a time; concurrent appends
//! let a group-committing log batch them. If an append fails the gateway fails closed:
//! it answers 503 to every new request until restarted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::{Notify, Semaphore};

/// Where audit records go.
pub trait AuditSink: Send + Sync + 'static {
    /// Appends one record durably and returns its sequence number.
    fn append(&self, record: &Value) -> Result<u64, String>;
}

/// An in-memory sink for tests and for embedding.
#[derive(Debug, Default)]
pub struct MemorySink {
    records: std::sync::Mutex<Vec<Value>>,
}

impl MemorySink {
    /// A copy of every record so far.
    pub fn records(&self) -> Vec<Value> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl AuditSink for MemorySink {
    fn append(&self, record: &Value) -> Result<u64, String> {
        let mut r = self
            .records
            .lock()
            .map_err(|_| "audit memory sink poisoned".to_string())?;
        r.push(record.clone());
        u64::try_from(r.len()).map_err(|e| e.to_string())
    }
}

/// The ward audit log: a tamper-evident Merkle log with signed checkpoints
/// (`ward audit verify` checks it).
impl AuditSink for ward_ledger::Ledger {
    fn append(&self, record: &Value) -> Result<u64, String> {
        ward_ledger::Ledger::append(self, record).map_err(|e| e.to_string())
    }
}

/// Appends in flight at most; further records wait for a slot (never dropped).
pub const MAX_PENDING: u32 = 64;

/// Queues records for the sink and tracks its health.
pub struct Auditor {
    sink: Arc<dyn AuditSink>,
    slots: Arc<Semaphore>,
    failed: Arc<AtomicBool>,
    /// Records submitted and not yet settled (appended, or failed with `failed` set). It is
    /// counted in `submit` itself, before any task runs, so that `drain` cannot return
    /// while a record handed over before it is still on its way.
    pending: Arc<Pending>,
}

#[derive(Default)]
struct Pending {
    count: AtomicUsize,
    settled: Notify,
}

impl Auditor {
    /// Wraps a sink.
    pub fn new(sink: Arc<dyn AuditSink>) -> Self {
        Self {
            sink,
            slots: Arc::new(Semaphore::new(MAX_PENDING as usize)),
            failed: Arc::new(AtomicBool::new(false)),
            pending: Arc::new(Pending::default()),
        }
    }

    /// Whether every append so far succeeded.
    pub fn healthy(&self) -> bool {
        !self.failed.load(Ordering::SeqCst)
    }

    /// Hands a record to the sink without waiting for it.
    pub fn submit(&self, record: Value) {
        let sink = Arc::clone(&self.sink);
        let slots = Arc::clone(&self.slots);
        let failed = Arc::clone(&self.failed);
        let pending = Arc::clone(&self.pending);
        pending.count.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let err = match slots.acquire_owned().await {
                Ok(slot) => {
                    let done = tokio::task::spawn_blocking(move || {
                        let result = sink.append(&record);
                        drop(slot);
                        result
                    })
                    .await;
                    match done {
                        Ok(Ok(_)) => None,
                        Ok(Err(e)) => Some(e),
                        Err(e) => Some(e.to_string()),
                    }
                }
                Err(_) => Some("the audit queue is closed".to_owned()),
            };
            if let Some(err) = err {
                // Marked before the record stops counting as pending, so that once `drain`
                // returns, `healthy` already tells the truth.
                failed.store(true, Ordering::SeqCst);
                tracing::error!(error = %err, "audit append failed; refusing new requests");
            }
            if pending.count.fetch_sub(1, Ordering::SeqCst) == 1 {
                pending.settled.notify_waiters();
            }
        });
    }

    /// Waits until every submitted record has been appended (used at shutdown).
    pub async fn drain(&self) {
        loop {
            // Register for the wake-up before reading the count, so that a record settling
            // in between cannot be missed.
            let settled = self.pending.settled.notified();
            let mut settled = std::pin::pin!(settled);
            settled.as_mut().enable();
            if self.pending.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            settled.await;
        }
    }
}

/// RFC 3339 UTC time with milliseconds, computed without a calendar library.
pub fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs(), d.subsec_millis())
}

/// Formats Unix seconds as RFC 3339 UTC (Howard Hinnant's days-to-civil algorithm).
pub fn rfc3339(secs: u64, millis: u32) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_795_000_000, 0), "2026-11-18T11:06:40.000Z");
    }

    #[tokio::test]
    async fn records_reach_the_ledger_and_it_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let ledger = Arc::new(ward_ledger::Ledger::create(&path, "ward-gateway-test").unwrap());
        let a = Auditor::new(ledger.clone());
        for i in 0..20 {
            a.submit(serde_json::json!({ "type": "gateway.request", "i": i }));
        }
        a.drain().await;
        drop(a);
        ledger.checkpoint().unwrap();
        drop(ledger);
        let public = std::fs::read_to_string(ward_ledger::public_key_path(&path)).unwrap();
        let options = ward_ledger::VerifyOptions {
            public_key: ward_ledger::NoteVerifier::parse(public.trim()).unwrap(),
            external_checkpoints: Vec::new(),
        };
        let report = ward_ledger::verify(&path, &options).unwrap();
        assert_eq!(report.size, 20);
        assert_eq!(report.outcome, ward_ledger::Outcome::Intact);
    }

    #[tokio::test]
    async fn records_reach_the_sink_and_drain_waits() {
        let sink = Arc::new(MemorySink::default());
        let a = Auditor::new(sink.clone());
        for i in 0..10 {
            a.submit(serde_json::json!({ "i": i }));
        }
        a.drain().await;
        assert_eq!(sink.records().len(), 10);
        assert!(a.healthy());
    }

    struct Broken;
    impl AuditSink for Broken {
        fn append(&self, _: &Value) -> Result<u64, String> {
            Err("disk full".into())
        }
    }

    #[tokio::test]
    async fn a_failed_append_marks_the_auditor_unhealthy() {
        let a = Auditor::new(Arc::new(Broken));
        assert!(a.healthy());
        a.submit(serde_json::json!({}));
        a.drain().await;
        // No waiting beyond `drain`: the failure is visible as soon as it returns.
        assert!(!a.healthy());
    }
}
