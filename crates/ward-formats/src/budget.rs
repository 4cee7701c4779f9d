//! A wall-clock budget that long-running parsers check as they go.

use std::time::{Duration, Instant};

/// The time one top-level input may still take.
///
/// Parsers call [`Budget::check`] every few thousand steps, so a hostile input that is
/// cheap to write but expensive to walk stops at the budget instead of hanging a scan.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Option<Instant>,
    allowed: Duration,
}

/// The budget ran out; the caller reports it as a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("time budget of {allowed:?} exhausted")]
pub struct BudgetExhausted {
    /// The budget that was allowed.
    pub allowed: Duration,
}

impl Budget {
    /// A budget that ends `allowed` from now.
    pub fn new(allowed: Duration) -> Self {
        Self {
            deadline: Instant::now().checked_add(allowed),
            allowed,
        }
    }

    /// A budget that never ends, for tests and for callers that bound time elsewhere.
    pub fn unlimited() -> Self {
        Self {
            deadline: None,
            allowed: Duration::MAX,
        }
    }

    /// Fails once the deadline has passed.
    pub fn check(&self) -> Result<(), BudgetExhausted> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(BudgetExhausted {
                allowed: self.allowed,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_budget_is_exhausted_and_unlimited_is_not() {
        assert!(Budget::new(Duration::ZERO).check().is_err());
        assert!(Budget::unlimited().check().is_ok());
        assert!(Budget::new(Duration::from_secs(3600)).check().is_ok());
    }
}
