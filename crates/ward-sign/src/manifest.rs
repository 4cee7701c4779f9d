//! The manifest: every resource of a model (file or shard) paired with its digest, plus
//! the serialization parameters needed to recompute it.

use crate::hash::{HashAlgorithm, sha256};

/// Default shard size of model signing (1 GB, decimal), used when `--shard-size` is not
/// given in shards mode.
pub const DEFAULT_SHARD_SIZE: u64 = 1_000_000_000;

/// How a model is cut into resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// One resource per file, named by its path relative to the model.
    Files,
    /// One resource per shard of each file, named `path:start:end`.
    Shards {
        /// Bytes per shard (the last shard of a file may be shorter).
        shard_size: u64,
    },
}

/// The serialization parameters recorded in the predicate's `serialization` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serialization {
    /// Files or shards.
    pub method: Method,
    /// The hash of each resource.
    pub hash: HashAlgorithm,
    /// Whether symbolic links were followed.
    pub allow_symlinks: bool,
    /// Paths (relative to the model, `/`-separated) left out of the manifest.
    pub ignore_paths: Vec<String>,
}

impl Serialization {
    /// The `algorithm` string of each resource: the hash name, or
    /// `<hash>-sharded-<shard_size>` in shards mode.
    pub fn resource_algorithm(&self) -> String {
        match self.method {
            Method::Files => self.hash.name().to_owned(),
            Method::Shards { shard_size } => format!("{}-sharded-{shard_size}", self.hash.name()),
        }
    }
}

/// One signed resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// `path` (files mode) or `path:start:end` (shards mode); `.` names a single-file
    /// model.
    pub name: String,
    /// The algorithm string as recorded (see [`Serialization::resource_algorithm`]).
    pub algorithm: String,
    /// The raw digest.
    pub digest: Vec<u8>,
}

/// A model's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Informative model name (the last component of the model path).
    pub model_name: String,
    /// How the resources were computed.
    pub serialization: Serialization,
    /// The resources, in the order they are (or were) recorded.
    pub resources: Vec<Resource>,
}

impl Manifest {
    /// The subject digest: SHA-256 over the concatenated raw resource digests, in
    /// resource order.
    pub fn root_digest(&self) -> [u8; 32] {
        let mut all = Vec::with_capacity(self.resources.len().saturating_mul(32));
        for resource in &self.resources {
            all.extend_from_slice(&resource.digest);
        }
        sha256(&all)
    }
}

/// Splits a shard resource name `path:start:end` from the right, so that a path that
/// itself contains `:` is still understood (model signing 1.x splits from the left and
/// rejects such names).
pub fn parse_shard_name(name: &str) -> Option<(&str, u64, u64)> {
    let mut parts = name.rsplitn(3, ':');
    let end = parts.next()?;
    let start = parts.next()?;
    let path = parts.next()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(start) || !digits(end) || path.is_empty() {
        return None;
    }
    let start: u64 = start.parse().ok()?;
    let end: u64 = end.parse().ok()?;
    if start >= end {
        return None;
    }
    Some((path, start, end))
}

/// The ordering model signing uses for resources: by path component, then by shard
/// start and end. Plain string order differs when a name contains a character that
/// sorts before `/` (for example `a-b` and `a/b`).
pub fn resource_order_key(name: &str, method: Method) -> (Vec<&str>, u64, u64) {
    match method {
        Method::Files => (name.split('/').collect(), 0, 0),
        Method::Shards { .. } => match parse_shard_name(name) {
            Some((path, start, end)) => (path.split('/').collect(), start, end),
            None => (name.split('/').collect(), 0, 0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_with_colons() {
        assert_eq!(parse_shard_name("a/b.bin:0:10"), Some(("a/b.bin", 0, 10)));
        assert_eq!(parse_shard_name("c:d.bin:5:7"), Some(("c:d.bin", 5, 7)));
        assert_eq!(parse_shard_name(".:0:1"), Some((".", 0, 1)));
        assert_eq!(parse_shard_name("x:7:5"), None);
        assert_eq!(parse_shard_name("x:+1:5"), None);
        assert_eq!(parse_shard_name("x:1"), None);
        assert_eq!(parse_shard_name(":1:2"), None);
    }

    #[test]
    fn component_order_differs_from_string_order() {
        let mut names = vec!["a/b", "a-b", "a/a"];
        names.sort_by(|x, y| {
            resource_order_key(x, Method::Files).cmp(&resource_order_key(y, Method::Files))
        });
        assert_eq!(names, vec!["a/a", "a/b", "a-b"]);
        let mut plain = vec!["a/b", "a-b", "a/a"];
        plain.sort();
        assert_eq!(plain, vec!["a-b", "a/a", "a/b"]);
        let method = Method::Shards { shard_size: 10 };
        let mut shards = vec!["f:10:20", "f:0:10", "e/x:0:3"];
        shards.sort_by(|x, y| resource_order_key(x, method).cmp(&resource_order_key(y, method)));
        assert_eq!(shards, vec!["e/x:0:3", "f:0:10", "f:10:20"]);
    }
}
