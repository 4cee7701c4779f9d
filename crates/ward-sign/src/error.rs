//! The one error type of `ward-sign`.

use std::path::PathBuf;

/// Everything that can go wrong while hashing, signing or verifying a model.
///
/// Variants that come from verifying a signature (as opposed to reading files or keys)
/// are told apart by [`Error::is_verification_failure`], so that the command line can
/// exit with 1 for "the model or signature is not what it claims" and 2 for usage and
/// I/O problems.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What we were doing (`read`, `open`, `write`, ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating system error.
        source: std::io::Error,
    },
    /// A file became shorter while it was being hashed.
    #[error(
        "`{path}` changed while it was hashed: expected {expected} bytes, found {found}\nhint: sign or verify the model when nothing is writing to it"
    )]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// The size we saw when listing the model.
        expected: u64,
        /// The number of bytes we could read.
        found: u64,
    },
    /// The model contains a symbolic link and links were not allowed.
    #[error(
        "`{path}` is a symbolic link\nhint: links are refused by default because they can point outside the model; pass `--allow-symlinks` to follow them"
    )]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The model contains something that is neither a file nor a directory.
    #[error("`{path}` is not a regular file or directory (a fifo, socket or device)")]
    SpecialFile {
        /// The offending path.
        path: PathBuf,
    },
    /// A file name cannot be represented in a signature.
    #[error("`{path}`: file name is not valid UTF-8 and cannot be recorded in a signature")]
    NonUtf8Name {
        /// The offending path.
        path: PathBuf,
    },
    /// The model has no file to sign.
    #[error(
        "`{path}`: the model has no file to sign (after ignoring {ignored})\nhint: an empty signature would verify any empty directory; check the path and `--ignore-paths`"
    )]
    EmptyModel {
        /// The model path.
        path: PathBuf,
        /// The ignored paths, for the message.
        ignored: String,
    },
    /// A parameter given by the user is out of range.
    #[error("invalid {what}: {detail}")]
    InvalidArgument {
        /// Which parameter.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A key file could not be understood.
    #[error("`{path}`: {detail}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A certificate could not be parsed or is unusable for signing.
    #[error("certificate {which}: {detail}")]
    Certificate {
        /// Which certificate (file name or position in the chain).
        which: String,
        /// What is wrong.
        detail: String,
    },
    /// A signature file is malformed: it is not a bundle model signing writes.
    #[error("`{path}`: malformed signature: {detail}")]
    Malformed {
        /// The signature file.
        path: PathBuf,
        /// What was expected and what was found.
        detail: String,
    },
    /// The signature does not verify with the given key.
    #[error("`{path}`: {detail}")]
    BadSignature {
        /// The signature file.
        path: PathBuf,
        /// Which check failed.
        detail: String,
    },
    /// The certificate chain in the signature is not trusted.
    #[error("`{path}`: certificate chain rejected: {detail}")]
    Untrusted {
        /// The signature file.
        path: PathBuf,
        /// Which check failed, and on which certificate.
        detail: String,
    },
    /// The signature is valid but the model on disk differs from what was signed.
    #[error("`{path}`: model does not match its signature:\n{diff}")]
    Mismatch {
        /// The model path.
        path: PathBuf,
        /// What differs.
        diff: crate::verify::ManifestDiff,
    },
}

impl Error {
    /// True when the error means "verification failed" (exit 1) rather than a usage or
    /// I/O problem (exit 2).
    pub fn is_verification_failure(&self) -> bool {
        matches!(
            self,
            Error::Malformed { .. }
                | Error::BadSignature { .. }
                | Error::Untrusted { .. }
                | Error::Mismatch { .. }
        )
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// The result type of `ward-sign`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
