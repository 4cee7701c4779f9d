//! Turning a model on disk (a directory or a single file) into a [`Manifest`]: listing
//! its files the way model signing does, then hashing them in parallel.

use std::fs;
use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::hash::{HashAlgorithm, Span, hash_file};
use crate::manifest::{Manifest, Method, Resource, Serialization, resource_order_key};

/// Paths model signing leaves out by default: they describe the repository, not the
/// model.
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// Models smaller than this get no progress bar: hashing them takes well under a second.
const PROGRESS_MIN_BYTES: u64 = 256 << 20;

/// Whether to draw a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Never.
    Hidden,
    /// On stderr, when stderr is a terminal and the model is large.
    Auto,
}

/// What to hash and how.
#[derive(Debug, Clone)]
pub struct HashOptions {
    /// Files or shards.
    pub method: Method,
    /// The hash algorithm.
    pub hash: HashAlgorithm,
    /// Follow symbolic links instead of refusing them.
    pub allow_symlinks: bool,
    /// Paths relative to the model (`/`-separated, normalised by [`normalize_ignore_path`])
    /// to leave out, with everything below them.
    pub ignore_paths: Vec<String>,
}

/// One unit of hashing work.
struct Job {
    path: PathBuf,
    name: String,
    span: Span,
    len: u64,
}

/// Normalises an ignore path given relative to the model: `/` separators, no `.`
/// components, no trailing slash. Returns `None` for paths that leave the model
/// (absolute or with `..`), which can never match a file inside it.
pub fn normalize_ignore_path(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?.to_owned()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// Whether the relative path `rel` is one of `ignore_paths` or lies below one.
pub fn is_ignored(rel: &str, ignore_paths: &[String]) -> bool {
    ignore_paths.iter().any(|ignored| {
        rel == ignored
            || rel
                .strip_prefix(ignored.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// The informative model name: the last path component, or the name of the resolved
/// directory when the path ends in `..` or is `.`.
fn model_name(model: &Path) -> String {
    let direct = model
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned);
    match direct {
        Some(name) if !name.is_empty() && name != ".." => name,
        _ => fs::canonicalize(model)
            .ok()
            .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
            .unwrap_or_default(),
    }
}

/// Lists the files of the model in resource order, as (absolute path, name, size).
fn list_files(model: &Path, options: &HashOptions) -> Result<Vec<(PathBuf, String, u64)>> {
    let meta = fs::symlink_metadata(model).map_err(|e| Error::io("read", model, e))?;
    if meta.file_type().is_symlink() && !options.allow_symlinks {
        return Err(Error::Symlink {
            path: model.to_path_buf(),
        });
    }
    let meta = fs::metadata(model).map_err(|e| Error::io("read", model, e))?;
    if meta.is_file() {
        return Ok(vec![(model.to_path_buf(), ".".to_owned(), meta.len())]);
    }
    if !meta.is_dir() {
        return Err(Error::SpecialFile {
            path: model.to_path_buf(),
        });
    }
    let mut files = Vec::new();
    let mut stack = vec![(model.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| Error::io("list", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(Error::NonUtf8Name { path });
            };
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            // Ignored paths are not even looked at, so that a `.git` directory full of
            // links or sockets does not stop signing.
            if is_ignored(&rel, &options.ignore_paths) {
                continue;
            }
            let kind = entry.file_type().map_err(|e| Error::io("read", &path, e))?;
            if kind.is_symlink() {
                if !options.allow_symlinks {
                    return Err(Error::Symlink { path });
                }
                // With links allowed, a link to a file is hashed as that file and a link
                // to a directory is not descended into, as model signing does.
                let target = fs::metadata(&path).map_err(|e| Error::io("follow link", &path, e))?;
                if target.is_file() {
                    files.push((path, rel, target.len()));
                } else if !target.is_dir() {
                    return Err(Error::SpecialFile { path });
                }
            } else if kind.is_dir() {
                stack.push((path, rel));
            } else if kind.is_file() {
                let len = entry
                    .metadata()
                    .map_err(|e| Error::io("read", &path, e))?
                    .len();
                files.push((path, rel, len));
            } else {
                // A fifo would block the hasher forever and a device has no fixed
                // content: neither can be part of a signed model.
                return Err(Error::SpecialFile { path });
            }
        }
    }
    files.sort_by(|a, b| {
        resource_order_key(&a.1, Method::Files).cmp(&resource_order_key(&b.1, Method::Files))
    });
    Ok(files)
}

fn jobs(files: Vec<(PathBuf, String, u64)>, method: Method) -> Result<Vec<Job>> {
    let mut jobs = Vec::with_capacity(files.len());
    for (path, name, len) in files {
        match method {
            Method::Files => jobs.push(Job {
                path,
                name,
                span: Span::Whole,
                len,
            }),
            Method::Shards { shard_size } => {
                let mut start = 0u64;
                while start < len {
                    let end = start.saturating_add(shard_size).min(len);
                    jobs.push(Job {
                        path: path.clone(),
                        name: format!("{name}:{start}:{end}"),
                        span: Span::Range { start, end },
                        len: end.saturating_sub(start),
                    });
                    start = end;
                }
            }
        }
    }
    Ok(jobs)
}

fn progress_bar(total: u64, progress: Progress) -> ProgressBar {
    if progress == Progress::Hidden
        || total < PROGRESS_MIN_BYTES
        || !std::io::stderr().is_terminal()
    {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    // No colours in the template, so `NO_COLOR` needs no special case.
    if let Ok(style) = ProgressStyle::with_template(
        "hashing {bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Hashes the model at `model` into a manifest.
///
/// The model must hold at least one file once ignored paths are left out: an empty
/// manifest would verify any empty directory.
pub fn hash_model(model: &Path, options: &HashOptions, progress: Progress) -> Result<Manifest> {
    if let Method::Shards { shard_size } = options.method {
        if shard_size == 0 {
            return Err(Error::InvalidArgument {
                what: "shard size",
                detail: "must be at least 1 byte".to_owned(),
            });
        }
        if options.hash == HashAlgorithm::Blake3 {
            return Err(Error::InvalidArgument {
                what: "hash for shards mode",
                detail: "`blake3` is only defined for files mode (it is parallel by itself)\nhint: use `--hash sha256` or `--hash blake2b` with `--shard-size`, or drop `--shard-size`".to_owned(),
            });
        }
    }
    let files = list_files(model, options)?;
    let jobs = jobs(files, options.method)?;
    if jobs.is_empty() {
        let ignored = if options.ignore_paths.is_empty() {
            "nothing".to_owned()
        } else {
            options
                .ignore_paths
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Error::EmptyModel {
            path: model.to_path_buf(),
            ignored,
        });
    }
    let total = jobs
        .iter()
        .fold(0u64, |acc, job| acc.saturating_add(job.len));
    let bar = progress_bar(total, progress);
    let mut serialization = Serialization {
        method: options.method,
        hash: options.hash,
        allow_symlinks: options.allow_symlinks,
        ignore_paths: options.ignore_paths.clone(),
    };
    serialization.ignore_paths.sort();
    serialization.ignore_paths.dedup();
    let algorithm = serialization.resource_algorithm();
    let hash_all = || {
        jobs.par_iter()
            .map(|job| {
                let digest = hash_file(&job.path, job.span, options.hash, &bar)?;
                Ok(Resource {
                    name: job.name.clone(),
                    algorithm: algorithm.clone(),
                    digest: digest.bytes,
                })
            })
            .collect::<Result<Vec<_>>>()
    };
    let resources = match io_pool(&jobs, total) {
        Some(pool) => pool.install(hash_all)?,
        None => hash_all()?,
    };
    bar.finish_and_clear();
    Ok(Manifest {
        model_name: model_name(model),
        serialization,
        resources,
    })
}

/// Files smaller than this on average make hashing wait on the disk more than on the CPU.
const SMALL_FILE: u64 = 4 << 20;
/// Threads per core when files are small: enough reads in flight to keep a disk busy.
const IO_THREADS_PER_CORE: usize = 4;

/// A larger pool for many small files: each read of a file not yet cached blocks its thread,
/// so more threads than cores keep more reads in flight. Memory stays bounded by threads x
/// `BUFFER_SIZE` (small files are read, not mapped). `None` for large files, which keep one
/// thread per core.
fn io_pool(jobs: &[Job], total: u64) -> Option<rayon::ThreadPool> {
    let count = u64::try_from(jobs.len()).ok()?;
    if count < 64 || total / count >= SMALL_FILE {
        return None;
    }
    let threads = rayon::current_num_threads().saturating_mul(IO_THREADS_PER_CORE);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(method: Method) -> HashOptions {
        HashOptions {
            method,
            hash: HashAlgorithm::Sha256,
            allow_symlinks: false,
            ignore_paths: GIT_PATHS.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn names(m: &Manifest) -> Vec<&str> {
        m.resources.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn lists_in_component_order_and_ignores_git() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::create_dir_all(root.join(".git/objects")).unwrap();
        fs::write(root.join("a/b/c"), b"1").unwrap();
        fs::write(root.join("a-b"), b"2").unwrap();
        fs::write(root.join("a/z"), b"3").unwrap();
        fs::write(root.join(".git/objects/x"), b"4").unwrap();
        fs::write(root.join(".gitignore"), b"5").unwrap();
        fs::write(root.join(".gitkeep"), b"6").unwrap();
        let m = hash_model(root, &options(Method::Files), Progress::Hidden).unwrap();
        assert_eq!(names(&m), vec![".gitkeep", "a/b/c", "a/z", "a-b"]);
        assert_eq!(m.resources[1].algorithm, "sha256");
    }

    #[test]
    fn shards_and_single_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.bin");
        fs::write(&file, vec![7u8; 25]).unwrap();
        let m = hash_model(
            &file,
            &options(Method::Shards { shard_size: 10 }),
            Progress::Hidden,
        )
        .unwrap();
        assert_eq!(names(&m), vec![".:0:10", ".:10:20", ".:20:25"]);
        assert_eq!(m.resources[0].algorithm, "sha256-sharded-10");
        assert_eq!(m.model_name, "w.bin");
        let m = hash_model(&file, &options(Method::Files), Progress::Hidden).unwrap();
        assert_eq!(names(&m), vec!["."]);
    }

    #[test]
    fn refuses_empty_models_symlinks_and_blake3_shards() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".git")).unwrap();
        fs::write(dir.path().join(".git/HEAD"), b"x").unwrap();
        let err = hash_model(dir.path(), &options(Method::Files), Progress::Hidden).unwrap_err();
        assert!(matches!(err, Error::EmptyModel { .. }), "{err}");
        fs::write(dir.path().join("f"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("f"), dir.path().join("l")).unwrap();
        let err = hash_model(dir.path(), &options(Method::Files), Progress::Hidden).unwrap_err();
        assert!(matches!(err, Error::Symlink { .. }), "{err}");
        let mut allow = options(Method::Files);
        allow.allow_symlinks = true;
        let m = hash_model(dir.path(), &allow, Progress::Hidden).unwrap();
        assert_eq!(names(&m), vec!["f", "l"]);
        assert_eq!(m.resources[0].digest, m.resources[1].digest);
        let mut b3 = options(Method::Shards { shard_size: 10 });
        b3.hash = HashAlgorithm::Blake3;
        let err = hash_model(dir.path(), &b3, Progress::Hidden).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    }

    #[test]
    fn colons_in_names_survive_shard_naming() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a:b.bin"), vec![1u8; 15]).unwrap();
        let m = hash_model(
            dir.path(),
            &options(Method::Shards { shard_size: 10 }),
            Progress::Hidden,
        )
        .unwrap();
        assert_eq!(names(&m), vec!["a:b.bin:0:10", "a:b.bin:10:15"]);
        let parsed: Vec<_> = m
            .resources
            .iter()
            .map(|r| crate::manifest::parse_shard_name(&r.name).unwrap())
            .collect();
        assert_eq!(parsed, vec![("a:b.bin", 0, 10), ("a:b.bin", 10, 15)]);
    }

    #[test]
    fn ignore_path_normalisation() {
        assert_eq!(
            normalize_ignore_path(Path::new("./a/b/")),
            Some("a/b".to_owned())
        );
        assert_eq!(normalize_ignore_path(Path::new("../x")), None);
        assert_eq!(normalize_ignore_path(Path::new("/abs")), None);
        assert!(is_ignored("a/b/c", &["a/b".to_owned()]));
        assert!(!is_ignored("a/bc", &["a/b".to_owned()]));
    }
}
