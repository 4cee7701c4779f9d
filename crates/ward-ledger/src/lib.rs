//! A tamper-evident, append-only audit log that anyone holding the public key can verify
//! offline.
//!
//! Data flow: [`Ledger::append`] canonicalizes a JSON entry on the caller's thread and
//! hands it to one writer thread, which gives it a sequence number and time, builds the
//! leaf bytes ([`entry`]), hashes them into the RFC 6962 tree ([`merkle`]) and commits
//! every request that arrived meanwhile in one durable transaction ([`storage`]) before
//! answering any of them (group commit). Checkpoints ([`note`]) sign the tree head in the
//! C2SP `tlog-checkpoint` / `signed-note` formats, every N entries, every T seconds, on
//! close and on demand. [`verify()`] recomputes everything from the leaf bytes.
//!
//! Key files sit beside the database: `<db>.key` holds the Ed25519 private key in the
//! `golang.org/x/mod/sumdb/note` encoding (`PRIVATE+KEY+<name>+<id>+<base64>`, mode 0600)
//! and `<db>.pub` the verifier key (`<name>+<id>+<base64>`). The key name is the log's
//! origin.

pub mod entry;
mod ledger;
pub mod merkle;
pub mod note;
pub mod storage;
mod verify;

use std::path::PathBuf;

pub use ledger::{
    ConsistencyProof, InclusionProof, Ledger, LedgerOptions, key_path, public_key_path,
};
pub use merkle::Hash;
pub use note::{Checkpoint, NoteSigner, NoteVerifier};
pub use verify::{Outcome, VerifyOptions, VerifyReport, verify, verify_storage};

/// Everything that can go wrong in `ward-ledger`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// SQLite reported an error.
    #[error("audit log `{path}`: {source}")]
    Sqlite {
        /// The database.
        path: PathBuf,
        /// The underlying error.
        source: rusqlite::Error,
    },
    /// `create` refuses to overwrite a log or key.
    #[error(
        "`{path}` already exists\nhint: choose another path; an existing log or key is never overwritten"
    )]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The database file does not exist.
    #[error("audit log `{path}` does not exist\nhint: create it with `ward audit init {path}`")]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// The file is a SQLite database but not an audit log of a known version.
    #[error("`{path}` is not a ward audit log (missing or unknown schema version)")]
    NotALedger {
        /// The file.
        path: PathBuf,
    },
    /// The database holds values that cannot come from this crate.
    #[error("audit log `{path}` is corrupt: {reason}")]
    Corrupt {
        /// The database.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The origin is not usable as a checkpoint origin and key name.
    #[error(
        "invalid origin `{origin}`: {reason}\nhint: use a schema-less URL such as `example.com/ward-audit`"
    )]
    InvalidOrigin {
        /// The rejected origin.
        origin: String,
        /// Why.
        reason: String,
    },
    /// An entry is larger than [`entry::MAX_ENTRY_BYTES`].
    #[error("entry is `{size}` bytes, more than the limit of `{limit}` bytes")]
    EntryTooLarge {
        /// Canonical size reached.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An entry nests deeper than [`entry::MAX_ENTRY_DEPTH`].
    #[error("entry nests deeper than the limit of `{limit}` levels")]
    EntryTooDeep {
        /// The limit.
        limit: usize,
    },
    /// A key file or key string is malformed or unsafe.
    #[error("{}{reason}", path.as_ref().map(|p| format!("key `{}`: ", p.display())).unwrap_or_default())]
    Key {
        /// The key file, when the key came from one.
        path: Option<PathBuf>,
        /// What is wrong.
        reason: String,
    },
    /// The private key file can be read by other users.
    #[error(
        "private key `{path}` is accessible to other users (mode `{mode:o}`)\nhint: run `chmod 600 {path}`"
    )]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A checkpoint was requested but the log was opened without its private key.
    #[error(
        "no signing key `{path}` for this audit log, so it cannot sign checkpoints\nhint: checkpoints are signed with the key `ward audit init` created beside the log"
    )]
    NoSigningKey {
        /// Where the key was looked for.
        path: PathBuf,
    },
    /// A signed note or checkpoint is malformed or does not verify.
    #[error("checkpoint: {reason}")]
    Note {
        /// What is wrong.
        reason: String,
    },
    /// A proof was requested for sizes or indices outside the tree.
    #[error("{reason}")]
    Proof {
        /// What is wrong.
        reason: String,
    },
    /// A tree node needed for a proof is not stored.
    #[error(
        "tree node at level `{level}` index `{index}` is missing\nhint: run `ward audit verify` on the log"
    )]
    MissingNode {
        /// Level of the node.
        level: u8,
        /// Index of the node.
        index: u64,
    },
    /// The log reached [`merkle::MAX_LOG_SIZE`] entries.
    #[error("the audit log is full (`{}` entries)", merkle::MAX_LOG_SIZE)]
    LogFull,
    /// A batch could not be committed; none of its entries were stored.
    #[error("audit log `{path}`: append failed, nothing from this batch was stored: {reason}")]
    CommitFailed {
        /// The database.
        path: PathBuf,
        /// The underlying error, as text, since every caller in the batch receives it.
        reason: String,
    },
    /// The writer thread is gone (it panicked or the log is closing).
    #[error("audit log writer for `{path}` has stopped")]
    WriterStopped {
        /// The database.
        path: PathBuf,
    },
}
