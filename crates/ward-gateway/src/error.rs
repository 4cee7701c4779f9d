//! The one error type of the gateway crate.

use std::path::PathBuf;

/// Everything that can go wrong while configuring, initialising or running the gateway.
///
/// Messages follow the house style: lowercase, values in backticks, a `hint:` line when the
/// operator can do something about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file could not be read.
    #[error("cannot read config `{path}`: {source}")]
    ConfigRead {
        /// The file that was read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or does not match the schema.
    #[error("invalid config `{path}`: {message}")]
    ConfigParse {
        /// The file that was parsed.
        path: PathBuf,
        /// What the parser expected.
        message: String,
    },
    /// The configuration is well formed but unsafe or inconsistent.
    #[error("invalid config `{path}`: {message}\nhint: {hint}")]
    ConfigInvalid {
        /// The file that holds the setting.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// What the operator can do.
        hint: String,
    },
    /// A provider key could not be loaded.
    #[error("upstream `{upstream}`: provider key not available: {message}\nhint: {hint}")]
    ProviderKey {
        /// The upstream whose key is missing.
        upstream: String,
        /// Why it is missing.
        message: String,
        /// What the operator can do.
        hint: String,
    },
    /// The key store is missing: the gateway never starts without credentials.
    #[error(
        "key store `{path}` does not exist\nhint: run `ward gateway init --config <file>` first"
    )]
    StoreMissing {
        /// Where the store was expected.
        path: PathBuf,
    },
    /// The key store exists but holds no admin secret.
    #[error(
        "key store `{path}` has no admin secret\nhint: the store was not created by `ward gateway init`; create a new one"
    )]
    AdminSecretMissing {
        /// The store that lacks it.
        path: PathBuf,
    },
    /// `init` refuses to overwrite an existing file.
    #[error(
        "`{path}` already exists; refusing to overwrite it\nhint: move it away or point the config at a new path"
    )]
    AlreadyExists {
        /// The file that exists.
        path: PathBuf,
    },
    /// A SQLite operation on the key store failed.
    #[error("key store `{path}`: {source}")]
    Store {
        /// The store file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A stored value does not have the shape the gateway wrote.
    #[error("key store `{path}`: corrupt row for key `{id}`: {message}")]
    StoreCorrupt {
        /// The store file.
        path: PathBuf,
        /// The key id of the row.
        id: String,
        /// What was wrong.
        message: String,
    },
    /// No key with this id exists.
    #[error(
        "no key with id `{id}` in `{path}`\nhint: `ward keys list --config <file>` shows the ids"
    )]
    KeyNotFound {
        /// The store file.
        path: PathBuf,
        /// The id that was asked for.
        id: String,
    },
    /// An argument to a key operation is invalid.
    #[error("{message}\nhint: {hint}")]
    InvalidArgument {
        /// What is wrong.
        message: String,
        /// What the user can do.
        hint: String,
    },
    /// A file operation failed.
    #[error("`{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The operating system could not provide randomness.
    #[error("cannot read operating-system randomness: {0}")]
    Random(String),
    /// The TLS certificate or key could not be loaded.
    #[error("tls: `{path}`: {message}")]
    Tls {
        /// The PEM file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The listener could not be bound.
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        /// The address from the config.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The audit sink failed.
    #[error("audit log: {0}")]
    Audit(String),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
