//! Named bounds on every resource a parser may spend on one input.

use std::time::Duration;

/// Every bound the parsers apply, with safe defaults.
///
/// Raising a limit is an explicit, visible act (a policy file or a command-line flag);
/// hitting one is reported as a finding by the scanner, never as a crash or a silent skip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Pickle opcodes executed symbolically in one pickle stream.
    pub max_pickle_opcodes: u64,
    /// Entries in one pickle memo.
    pub max_pickle_memo: usize,
    /// Bytes the symbolic machine may hold for one pickle in its memo and in the lists,
    /// dicts, tuples and objects it keeps (an estimate that errs high). This, not the
    /// opcode or memo counts, is what bounds memory on hostile pickles.
    pub max_pickle_memory: u64,
    /// Depth of the pickle value stack plus MARK stack.
    pub max_pickle_stack: usize,
    /// Pickles scanned one after another in one stacked stream.
    pub max_stacked_pickles: usize,
    /// Nesting of pickles embedded in pickles (bytes passed to `pickle.loads`).
    pub max_pickle_nesting: usize,
    /// Bytes of one string or bytes argument kept in memory for inspection; longer
    /// payloads are skipped by length.
    pub max_inspected_bytes: usize,
    /// Depth of archives nested in archives.
    pub max_archive_depth: usize,
    /// Members in one archive.
    pub max_archive_members: usize,
    /// Bytes produced by decompressing one stream or member.
    pub max_decompressed_bytes: u64,
    /// Ratio of decompressed to compressed bytes before a stream is called a bomb.
    pub max_compression_ratio: u64,
    /// Bytes of a header (JSON, protobuf, metadata block) read into memory.
    pub max_header_bytes: u64,
    /// Nesting depth of structured data (JSON, protobuf messages, Jinja blocks).
    pub max_nesting: usize,
    /// Wall-clock time spent on one top-level file, enforced inside the engine.
    pub time_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pickle_opcodes: 1_000_000_000,
            max_pickle_memo: 8_000_000,
            max_pickle_memory: 256 << 20,
            max_pickle_stack: 100_000,
            max_stacked_pickles: 64,
            max_pickle_nesting: 8,
            max_inspected_bytes: 1 << 20,
            max_archive_depth: 4,
            max_archive_members: 100_000,
            max_decompressed_bytes: 8 << 30,
            max_compression_ratio: 1_000,
            max_header_bytes: 100 << 20,
            max_nesting: 256,
            time_budget: Duration::from_secs(120),
        }
    }
}
