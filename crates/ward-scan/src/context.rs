//! What every format rule receives: the input, the limits, the time budget and the policy
//! settings that parsing needs.

use std::collections::BTreeSet;
use std::io::{Read, Seek};

use ward_formats::{Budget, Limits};

/// A readable, seekable input: a file on disk or an archive member held in memory
/// (`std::io::Cursor<Vec<u8>>`). Format rules read headers through it and skip what they do
/// not need, so that scan cost follows what is inspected, not the file size.
pub trait Source: Read + Seek + Send {}

impl<T: Read + Seek + Send> Source for T {}

/// Settings shared by every rule while one top-level file is scanned.
#[derive(Debug, Clone)]
pub struct Context {
    /// Resource bounds for every parser.
    pub limits: Limits,
    /// Deadline for the whole top-level file, members included.
    pub budget: Budget,
    /// Fully qualified callables (`module.name`) that the user's policy allows in addition
    /// to the built-in allowlist.
    pub allowed_globals: BTreeSet<String>,
    /// How many containers deep the current input is (0 for a file named by the user).
    pub depth: usize,
}

impl Context {
    /// A context with default limits, a fresh budget from those limits and no extra
    /// allowed callables.
    pub fn new(limits: Limits) -> Self {
        let budget = Budget::new(limits.time_budget);
        Self {
            limits,
            budget,
            allowed_globals: BTreeSet::new(),
            depth: 0,
        }
    }

    /// The context for an input nested one container deeper.
    pub fn nested(&self) -> Self {
        Self {
            depth: self.depth.saturating_add(1),
            ..self.clone()
        }
    }
}
