//! Streaming, parallel file hashing with the three digests model signing defines.
//!
//! Every read goes through one fixed-size buffer per worker thread, so memory stays
//! bounded by `threads x BUFFER_SIZE` whatever the size of the model.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::ProgressBar;
use rayon::prelude::*;
use sha2::Digest as _;

use crate::error::{Error, Result};

/// Size of the read buffer each hashing thread uses.
pub const BUFFER_SIZE: usize = 1 << 20;

/// A hash algorithm that OpenSSF Model Signing v1.0 defines for resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    /// SHA-256, the default.
    Sha256,
    /// BLAKE2b with a 64-byte output (Python's `hashlib.blake2b()` default).
    Blake2b,
    /// BLAKE3 with a 32-byte output.
    Blake3,
}

impl HashAlgorithm {
    /// The name recorded in `hash_type` and in resource `algorithm` fields.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Blake2b => "blake2b",
            HashAlgorithm::Blake3 => "blake3",
        }
    }

    /// Parses a name as written in a signature (`sha256`, `blake2b`, `blake3`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(HashAlgorithm::Sha256),
            "blake2b" => Some(HashAlgorithm::Blake2b),
            "blake3" => Some(HashAlgorithm::Blake3),
            _ => None,
        }
    }

    /// Length in bytes of a digest.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 | HashAlgorithm::Blake3 => 32,
            HashAlgorithm::Blake2b => 64,
        }
    }
}

impl std::fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A digest value together with the algorithm that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The algorithm.
    pub algorithm: HashAlgorithm,
    /// The raw digest bytes.
    pub bytes: Vec<u8>,
}

impl Digest {
    /// The digest in lowercase hex.
    pub fn hex(&self) -> String {
        hex::encode(&self.bytes)
    }
}

/// An incremental hasher for any [`HashAlgorithm`].
pub(crate) enum Hasher {
    Sha256(sha2::Sha256),
    Blake2b(Box<blake2::Blake2b512>),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    pub(crate) fn new(algorithm: HashAlgorithm) -> Self {
        match algorithm {
            HashAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Blake2b => Hasher::Blake2b(Box::new(blake2::Blake2b512::new())),
            HashAlgorithm::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Blake2b(h) => h.update(data),
            Hasher::Blake3(h) => {
                h.update(data);
            }
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Blake2b(h) => h.finalize().to_vec(),
            Hasher::Blake3(h) => h.finalize().as_bytes().to_vec(),
        }
    }
}

/// Which bytes of a file to hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// The whole file, read to its end.
    Whole,
    /// The bytes `start..end`; the file must hold all of them.
    Range {
        /// First byte (included).
        start: u64,
        /// Last byte (excluded).
        end: u64,
    },
}

thread_local! {
    /// One read buffer per hashing thread, reused across files: allocating (and zeroing)
    /// a fresh buffer per file would cost more than hashing a small file.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hashes `span` of the file at `path`, streaming through a fixed buffer and reporting
/// the bytes read to `progress`.
pub fn hash_file(
    path: &Path,
    span: Span,
    algorithm: HashAlgorithm,
    progress: &ProgressBar,
) -> Result<Digest> {
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() != BUFFER_SIZE {
                buffer.resize(BUFFER_SIZE, 0);
            }
            hash_with(path, span, algorithm, progress, &mut buffer)
        }
        // Only reachable if hashing re-entered itself on this thread; a private buffer
        // keeps it correct anyway.
        Err(_) => hash_with(path, span, algorithm, progress, &mut vec![0u8; BUFFER_SIZE]),
    })
}

fn hash_with(
    path: &Path,
    span: Span,
    algorithm: HashAlgorithm,
    progress: &ProgressBar,
    buffer: &mut [u8],
) -> Result<Digest> {
    let mut file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut hasher = Hasher::new(algorithm);
    let size = file
        .metadata()
        .map_err(|e| Error::io("read the size of", path, e))?
        .len();
    let (start, len) = match span {
        Span::Whole => (0, size),
        Span::Range { start, end } => {
            if end > size {
                return Err(Error::FileChanged {
                    path: path.to_path_buf(),
                    expected: end,
                    found: size,
                });
            }
            (start, end.saturating_sub(start))
        }
    };
    if len >= ward_mapped::MIN_FILE
        && hash_mapped(&file, path, span, start, len, &mut hasher, progress)?
    {
        return Ok(Digest {
            algorithm,
            bytes: hasher.finish(),
        });
    }
    match span {
        Span::Whole => loop {
            let n = read_some(&mut file, buffer, path)?;
            let Some(chunk) = buffer.get(..n) else { break };
            if n == 0 {
                break;
            }
            hasher.update(chunk);
            progress.inc(n as u64);
        },
        Span::Range { start, end } => {
            file.seek(SeekFrom::Start(start))
                .map_err(|e| Error::io("seek in", path, e))?;
            let expected = end.saturating_sub(start);
            let mut left = expected;
            while left > 0 {
                let want = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(buffer.len());
                let Some(slot) = buffer.get_mut(..want) else {
                    break;
                };
                let n = read_some(&mut file, slot, path)?;
                if n == 0 {
                    return Err(Error::FileChanged {
                        path: path.to_path_buf(),
                        expected: end,
                        found: end.saturating_sub(left),
                    });
                }
                if let Some(chunk) = slot.get(..n) {
                    hasher.update(chunk);
                }
                left = left.saturating_sub(n as u64);
                progress.inc(n as u64);
            }
        }
    }
    Ok(Digest {
        algorithm,
        bytes: hasher.finish(),
    })
}

/// Hashes `len` bytes from `start` through mapped windows (no copy out of the page
/// cache). Returns `Ok(false)`, having hashed nothing, when the file system cannot map
/// the file, so the caller falls back to reading it.
fn hash_mapped(
    file: &File,
    path: &Path,
    span: Span,
    start: u64,
    len: u64,
    hasher: &mut Hasher,
    progress: &ProgressBar,
) -> Result<bool> {
    let mut hashed = 0u64;
    let outcome = ward_mapped::for_each_window(file, start, len, |bytes| {
        // Progress in 1 MiB steps, as the read path reports.
        for chunk in bytes.chunks(BUFFER_SIZE) {
            hasher.update(chunk);
            progress.inc(chunk.len() as u64);
        }
        hashed += bytes.len() as u64;
    });
    match outcome {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::FileChanged {
            path: path.to_path_buf(),
            expected: match span {
                Span::Whole => start.saturating_add(len),
                Span::Range { end, .. } => end,
            },
            found: start.saturating_add(hashed),
        }),
        Err(_) if hashed == 0 => Ok(false),
        Err(e) => Err(Error::io("map", path, e)),
    }
}

fn read_some(file: &mut File, buffer: &mut [u8], path: &Path) -> Result<usize> {
    loop {
        match file.read(buffer) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read", path, e)),
        }
    }
}

/// Hashes every file in `paths` as a whole, in parallel, and returns the digests in the
/// order of `paths`.
///
/// This is the reusable entry point for anything that needs file digests (the model
/// signer and the AI bill of materials): one thread per core, one buffer per thread.
pub fn digest_files(paths: &[PathBuf], algorithm: HashAlgorithm) -> Result<Vec<(PathBuf, Digest)>> {
    digest_each(paths, algorithm)
        .into_iter()
        .map(|(path, digest)| digest.map(|d| (path, d)))
        .collect()
}

/// Like [`digest_files`], but one file that cannot be read does not stop the others:
/// every path comes back with its digest or its error, in the order of `paths`.
///
/// Files are taken largest first from one shared queue by one worker per thread, so a
/// large file is never left to start last while the other threads sit idle (a folder of
/// a few multi-gigabyte shards would otherwise finish on one core).
pub fn digest_each(paths: &[PathBuf], algorithm: HashAlgorithm) -> Vec<(PathBuf, Result<Digest>)> {
    let mut order: Vec<(u64, usize)> = paths
        .iter()
        .enumerate()
        .map(|(i, path)| (std::fs::metadata(path).map_or(0, |m| m.len()), i))
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let next = AtomicUsize::new(0);
    let workers = rayon::current_num_threads().min(paths.len()).max(1);
    let mut done: Vec<(usize, Result<Digest>)> = (0..workers)
        .into_par_iter()
        .flat_map_iter(|_| {
            let mut mine = Vec::new();
            while let Some(&(_, i)) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                if let Some(path) = paths.get(i) {
                    mine.push((
                        i,
                        hash_file(path, Span::Whole, algorithm, &ProgressBar::hidden()),
                    ));
                }
            }
            mine
        })
        .collect();
    done.sort_by_key(|(i, _)| *i);
    done.into_iter()
        .filter_map(|(i, digest)| paths.get(i).map(|p| (p.clone(), digest)))
        .collect()
}

/// SHA-256 of `data` in one call.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_bytes(algorithm: HashAlgorithm, data: &[u8]) -> String {
        let mut h = Hasher::new(algorithm);
        h.update(data);
        hex::encode(h.finish())
    }

    #[test]
    fn known_answers() {
        // Values from the algorithms' published test vectors for "abc".
        assert_eq!(
            hash_bytes(HashAlgorithm::Sha256, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hash_bytes(HashAlgorithm::Blake3, b"abc"),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert!(hash_bytes(HashAlgorithm::Blake2b, b"abc").starts_with("ba80a53f981c4d0d"));
    }

    #[test]
    fn range_and_whole_agree_and_short_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let bar = ProgressBar::hidden();
        let whole = hash_file(&path, Span::Whole, HashAlgorithm::Sha256, &bar).unwrap();
        assert_eq!(whole.bytes, sha256(&data).to_vec());
        let part = hash_file(
            &path,
            Span::Range {
                start: 10,
                end: 2_000_010,
            },
            HashAlgorithm::Sha256,
            &bar,
        )
        .unwrap();
        assert_eq!(part.bytes, sha256(&data[10..2_000_010]).to_vec());
        let err = hash_file(
            &path,
            Span::Range {
                start: 0,
                end: 3_000_001,
            },
            HashAlgorithm::Sha256,
            &bar,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::FileChanged {
                    expected: 3_000_001,
                    found: 3_000_000,
                    ..
                }
            ),
            "{err}"
        );
        let all = digest_files(&[path.clone(), path.clone()], HashAlgorithm::Blake3).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].1, all[1].1);
    }

    #[test]
    fn mapped_and_read_paths_agree_across_window_boundaries() {
        // Past `ward_mapped::MIN_FILE`, so the mapped path runs; past `WINDOW`, so it
        // crosses a window boundary.
        let len = usize::try_from(ward_mapped::WINDOW).unwrap() + 3 * BUFFER_SIZE + 7;
        let data: Vec<u8> = (0..len)
            .map(|i| (i % 253) as u8 ^ (i >> 16) as u8)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        std::fs::write(&path, &data).unwrap();
        let bar = ProgressBar::hidden();
        let whole = hash_file(&path, Span::Whole, HashAlgorithm::Sha256, &bar).unwrap();
        assert_eq!(whole.bytes, sha256(&data).to_vec());
        assert_eq!(bar.position(), len as u64);
        let (start, end) = (4097u64, len as u64 - 1);
        let part = hash_file(
            &path,
            Span::Range { start, end },
            HashAlgorithm::Blake2b,
            &bar,
        )
        .unwrap();
        let mut expected = Hasher::new(HashAlgorithm::Blake2b);
        expected.update(&data[4097..len - 1]);
        assert_eq!(part.bytes, expected.finish());
        let err = hash_file(
            &path,
            Span::Range {
                start: 1,
                end: len as u64 + 1,
            },
            HashAlgorithm::Sha256,
            &bar,
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::FileChanged { found, .. } if found == len as u64),
            "{err}"
        );
    }
}
