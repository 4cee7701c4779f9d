//! Per-key rate limits: requests and tokens per minute, in fixed one-minute windows.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::keys::KeyRecord;

/// Which limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Requests per minute.
    Requests,
    /// Tokens per minute.
    Tokens,
}

#[derive(Debug, Default)]
struct Window {
    minute: u64,
    requests: u32,
    tokens: u64,
}

/// Counts per key for the current minute.
#[derive(Debug, Default)]
pub struct Limiter {
    windows: Mutex<HashMap<String, Window>>,
}

impl Limiter {
    /// Admits a request estimated at `tokens` prompt tokens, or returns the limit hit and
    /// the seconds until the window resets (for `Retry-After`).
    pub fn admit(&self, key: &KeyRecord, now: u64, tokens: u64) -> Result<(), (Limit, u64)> {
        if key.rpm.is_none() && key.tpm.is_none() {
            return Ok(());
        }
        let minute = now / 60;
        let retry = 60 - now % 60;
        let Ok(mut map) = self.windows.lock() else {
            return Err((Limit::Requests, retry));
        };
        let w = map.entry(key.id.clone()).or_default();
        if w.minute != minute {
            *w = Window {
                minute,
                requests: 0,
                tokens: 0,
            };
        }
        if key.rpm.is_some_and(|rpm| w.requests >= rpm) {
            return Err((Limit::Requests, retry));
        }
        if key.tpm.is_some_and(|tpm| w.tokens >= u64::from(tpm)) {
            return Err((Limit::Tokens, retry));
        }
        w.requests = w.requests.saturating_add(1);
        w.tokens = w.tokens.saturating_add(tokens);
        Ok(())
    }

    /// Adds tokens learnt after the fact (the completion, or the upstream's exact count
    /// replacing the estimate).
    pub fn add_tokens(&self, key: &KeyRecord, now: u64, extra: u64) {
        if key.tpm.is_none() || extra == 0 {
            return;
        }
        if let Ok(mut map) = self.windows.lock()
            && let Some(w) = map.get_mut(&key.id)
            && w.minute == now / 60
        {
            w.tokens = w.tokens.saturating_add(extra);
        }
    }
}
