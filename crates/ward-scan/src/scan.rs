//! Walking what the user named, scanning every file in parallel, and applying policy.
//!
//! Data flow: [`scan_paths`] expands the inputs (files, directories, `-` for stdin) into a
//! list of files, scans each one on the rayon pool with a fresh [`Context`] (so each file
//! has its own time budget), runs the directory rules once per directory, applies the
//! policy's waivers and returns a [`ScanReport`] sorted by path, whatever the parallelism.
//!
//! The walk follows a symbolic link only when its target stays inside the directory the
//! user named: a Hugging Face cache links `snapshots/*` into `blobs/`, which is fine, but a
//! link that leaves the root could make a scan read (and a later loader load) a file that
//! nobody reviewed, so it is reported and not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use jiff::civil::Date;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use ward_formats::Limits;

use crate::context::{Context, Source};
use crate::finding::{Code, Finding, Location, Severity};
use crate::policy::Policy;

/// A file named by the user, or found in a directory walk, is in no format ward knows.
pub const UNKNOWN_FORMAT: Code = Code {
    id: "scan-unknown-format",
    severity: Severity::Medium,
    title: "content in no format ward recognises",
    remedy: "check what the file is; if it must ship with the model, convert it to a known \
             format or waive this code for its digest in a policy",
};

/// A file's extension names one model format and its content is another.
pub const EXTENSION_MISMATCH: Code = Code {
    id: "scan-extension-mismatch",
    severity: Severity::Medium,
    title: "file extension does not match the content",
    remedy: "find out why the file was given a misleading name; tools that trust the name \
             (choosing a loader, or skipping a \"safe\" format) will mishandle it. Rename it \
             to match its content, or replace it by a file that is what its name says",
};

/// A file or directory could not be read.
pub const UNREADABLE: Code = Code {
    id: "scan-unreadable",
    severity: Severity::High,
    title: "file or directory could not be read",
    remedy: "fix the permissions or the path and scan again; an unread file was not inspected",
};

/// A symbolic link points outside the directory being scanned.
pub const SYMLINK_OUTSIDE_ROOT: Code = Code {
    id: "scan-symlink-outside-root",
    severity: Severity::Medium,
    title: "symbolic link leaves the scanned directory",
    remedy: "scan the directory that holds the link's target too (for a Hugging Face cache, \
             the model folder that holds both `snapshots/` and `blobs/`), or replace the link \
             by the file",
};

/// A directory entry is neither a file, a directory nor a link (a pipe, socket or device).
pub const NOT_REGULAR_FILE: Code = Code {
    id: "scan-not-regular-file",
    severity: Severity::Low,
    title: "special file (pipe, socket or device) not scanned",
    remedy: "remove special files from model folders; they cannot hold a model",
};

/// Standard input was larger than the limit for buffering it.
pub const INPUT_TOO_LARGE: Code = Code {
    id: "scan-input-too-large",
    severity: Severity::Medium,
    title: "standard input exceeds the buffering limit and was not scanned",
    remedy: "save the data to a file and scan the file instead of piping it",
};

/// A waiver in the policy has passed its expiry date.
pub const WAIVER_EXPIRED: Code = Code {
    id: "scan-waiver-expired",
    severity: Severity::Low,
    title: "policy waiver has expired and no longer suppresses findings",
    remedy: "review the accepted risk again: fix the finding, or renew the waiver with a new \
             `expires` date",
};

/// A waiver in the policy matched no finding in this scan.
pub const WAIVER_UNMATCHED: Code = Code {
    id: "scan-waiver-unmatched",
    severity: Severity::Info,
    title: "policy waiver matched no finding",
    remedy: "remove the waiver if the risk it accepted is gone, or fix its `code`, `path` or \
             `sha256`",
};

/// Every `scan-` code.
pub const CODES: &[Code] = &[
    UNKNOWN_FORMAT,
    EXTENSION_MISMATCH,
    UNREADABLE,
    SYMLINK_OUTSIDE_ROOT,
    NOT_REGULAR_FILE,
    INPUT_TOO_LARGE,
    WAIVER_EXPIRED,
    WAIVER_UNMATCHED,
];

/// The format name reports give to a file that a scanned model reads as raw tensor bytes.
pub const TENSOR_DATA: &str = "tensor-data";

/// The name reports give to standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// Bytes of standard input buffered (to an anonymous temporary file) by default.
pub const DEFAULT_MAX_STDIN_BYTES: u64 = 64 << 30;

/// What kind of content the engine found in one top-level input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// A format ward parses.
    Known,
    /// Plain text (UTF-8 text, JSON, source code); directory rules look at it.
    Text,
    /// No format ward recognises: reported by the walk, fail-closed.
    Unknown,
}

/// What the engine reports for one top-level input.
#[derive(Debug, Clone)]
pub struct EngineOutcome {
    /// The detected format's name (`pickle`, `zip`, ...).
    pub format: String,
    /// Whether the format is known, text or unknown.
    pub kind: ContentKind,
    /// Everything found in it, members included.
    pub findings: Vec<Finding>,
    /// Files beside this one that its loader reads as raw tensor bytes (an ONNX model's
    /// external data, a SavedModel's variables). The walk does not call them unknown; what
    /// they hold is still detected by content like any other file.
    pub claims: Vec<PathBuf>,
    /// Header facts the rules read on the way (see [`crate::engine::HeaderFacts`]).
    pub facts: crate::engine::HeaderFacts,
}

/// The format engine, as the walk sees it. The real one is [`DefaultEngine`]; tests of the
/// walk and of policy use simpler ones.
pub trait Engine: Sync {
    /// Scans one file (or stdin) whose content is `src`.
    fn scan_file(
        &self,
        src: &mut dyn Source,
        len: u64,
        loc: &Location,
        ctx: &Context,
    ) -> EngineOutcome;

    /// Runs the rules that look at a directory as a whole (a model folder). `root` is the
    /// canonical directory the user named: a link in `dir` that leads outside it is not
    /// followed, as in the walk.
    fn scan_dir(&self, dir: &Path, root: &Path, loc: &Location, ctx: &Context) -> Vec<Finding>;
}

/// Settings for one `ward scan` run.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Resource bounds for every file.
    pub limits: Limits,
    /// Allowed callables and waivers, if the user gave a policy.
    pub policy: Option<Policy>,
    /// The day waivers are checked against (UTC today, outside tests).
    pub today: Date,
    /// Bytes of standard input that may be buffered for scanning.
    pub max_stdin_bytes: u64,
}

impl ScanOptions {
    /// Default limits, no policy, today's UTC date.
    pub fn new() -> Self {
        Self {
            limits: Limits::default(),
            policy: None,
            today: today_utc(),
            max_stdin_bytes: DEFAULT_MAX_STDIN_BYTES,
        }
    }
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Today's date in UTC.
pub fn today_utc() -> Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

/// How far a scan has got, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Files scanned so far.
    pub files_done: usize,
    /// Files to scan in total.
    pub files_total: usize,
    /// Bytes of the files scanned so far.
    pub bytes_done: u64,
    /// Bytes of all files to scan.
    pub bytes_total: u64,
}

/// Everything a scan produced, sorted by path.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanReport {
    /// One entry per file, directory or link with something to say, sorted by path.
    pub files: Vec<FileReport>,
    /// Findings about the policy itself (expired or unmatched waivers).
    pub policy: Option<PolicyReport>,
    /// Inputs that could not be read; any error makes `ward scan` exit with 2.
    pub errors: Vec<ScanError>,
}

/// The result for one path.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The path as the user named it or as found under a directory they named.
    pub path: String,
    /// The detected format, or `None` when the path was not read as a file (a directory,
    /// a link that was not followed, an unreadable file).
    pub format: Option<String>,
    /// Size in bytes, when read.
    pub size: Option<u64>,
    /// Lowercase hex SHA-256, computed only when a digest waiver needed it.
    pub sha256: Option<String>,
    /// Findings, in the order the rules produced them.
    pub findings: Vec<Reported>,
}

/// A finding and, if a waiver covers it, the waiver.
#[derive(Debug, Clone, Serialize)]
pub struct Reported {
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// The waiver that suppresses it; suppressed findings stay in the report but never
    /// fail a gate.
    pub suppressed: Option<Suppression>,
}

/// The waiver that suppressed a finding.
#[derive(Debug, Clone, Serialize)]
pub struct Suppression {
    /// Why the risk was accepted.
    pub reason: String,
    /// Who accepted it.
    pub owner: String,
    /// The last day the waiver applies (`YYYY-MM-DD`).
    pub expires: String,
    /// Where the waiver is written (`policy.toml:12`).
    pub policy: String,
}

/// Findings about the policy file.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyReport {
    /// The policy file as named by the user.
    pub path: String,
    /// Expired and unmatched waivers.
    pub findings: Vec<Finding>,
}

/// An input that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanError {
    /// The path.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl ScanReport {
    /// Every finding not suppressed by a waiver, policy findings included.
    pub fn active_findings(&self) -> impl Iterator<Item = &Finding> {
        let files = self
            .files
            .iter()
            .flat_map(|file| file.findings.iter())
            .filter(|reported| reported.suppressed.is_none())
            .map(|reported| &reported.finding);
        let policy = self.policy.iter().flat_map(|policy| policy.findings.iter());
        files.chain(policy)
    }

    /// Counts for the summary line and the JSON `summary` object.
    pub fn summary(&self) -> Summary {
        let mut by_severity = BTreeMap::new();
        for sev in Severity::ALL {
            by_severity.insert(sev, 0usize);
        }
        for finding in self.active_findings() {
            if let Some(count) = by_severity.get_mut(&finding.severity) {
                *count = count.saturating_add(1);
            }
        }
        let suppressed = self
            .files
            .iter()
            .flat_map(|file| file.findings.iter())
            .filter(|reported| reported.suppressed.is_some())
            .count();
        Summary {
            files: self.files.iter().filter(|file| file.size.is_some()).count(),
            findings: by_severity.values().sum(),
            by_severity,
            suppressed,
            errors: self.errors.len(),
        }
    }

    /// The most severe finding not suppressed, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.active_findings().map(|finding| finding.severity).max()
    }
}

/// Counts over a whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Files read and scanned.
    pub files: usize,
    /// Findings not suppressed.
    pub findings: usize,
    /// Findings not suppressed, per severity.
    pub by_severity: BTreeMap<Severity, usize>,
    /// Findings suppressed by a waiver.
    pub suppressed: usize,
    /// Inputs that could not be read.
    pub errors: usize,
}

/// Scans every input with the real format engine. See the module documentation.
pub fn scan_paths(
    inputs: &[PathBuf],
    options: &ScanOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> ScanReport {
    scan_paths_with(&DefaultEngine, inputs, options, progress)
}

/// Scans every input with `engine`.
pub fn scan_paths_with(
    engine: &dyn Engine,
    inputs: &[PathBuf],
    options: &ScanOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> ScanReport {
    let mut walk = Walk::default();
    for input in inputs {
        walk.input(input, options);
    }
    walk.sizes();

    let bytes_total = walk.jobs.iter().map(|job| job.size).sum();
    let files_total = walk.jobs.len();
    let files_done = AtomicUsize::new(0);
    let bytes_done = AtomicU64::new(0);
    let scanned: Vec<(FileReport, Option<ScanError>, Vec<PathBuf>)> = walk
        .jobs
        .par_iter()
        .map(|job| {
            let out = scan_job(engine, job, options);
            let files = files_done.fetch_add(1, Ordering::Relaxed).saturating_add(1);
            let bytes = bytes_done
                .fetch_add(job.size, Ordering::Relaxed)
                .saturating_add(job.size);
            progress(Progress {
                files_done: files,
                files_total,
                bytes_done: bytes,
                bytes_total,
            });
            out
        })
        .collect();

    let mut by_path: BTreeMap<String, FileReport> = BTreeMap::new();
    let mut errors = walk.errors;
    let mut claims = Vec::new();
    for (report, error, claimed) in scanned {
        errors.extend(error);
        merge(&mut by_path, report);
        claims.extend(claimed);
    }
    release_claimed(&mut by_path, &claims);
    for (path, findings) in walk.findings {
        merge(&mut by_path, bare_report(path, findings));
    }
    let dir_findings: Vec<Vec<Finding>> = walk
        .dirs
        .par_iter()
        .map(|(dir, root, display)| {
            let ctx = file_context(options);
            engine.scan_dir(dir, root, &Location::file(display.clone()), &ctx)
        })
        .collect();
    for finding in dir_findings.into_iter().flatten() {
        let path = finding.location.path.clone();
        merge(&mut by_path, bare_report(path, vec![finding]));
    }

    let mut files: Vec<FileReport> = by_path.into_values().collect();
    let policy = options
        .policy
        .as_ref()
        .map(|policy| apply_policy(policy, options.today, &mut files, &walk.stdin));
    errors.sort_by(|a, b| a.path.cmp(&b.path));
    ScanReport {
        files,
        policy,
        errors,
    }
}

/// One file to scan.
#[derive(Debug)]
struct Job {
    input: JobInput,
    display: String,
    size: u64,
    /// Whether the user named this file (rather than it being found in a directory).
    named: bool,
}

#[derive(Debug)]
enum JobInput {
    Path(PathBuf),
    /// Standard input, buffered in an anonymous temporary file.
    Stdin(File),
}

#[derive(Debug, Default)]
struct Walk {
    jobs: Vec<Job>,
    /// Findings the walk itself made (links, special files, unreadable entries), by path.
    findings: Vec<(String, Vec<Finding>)>,
    errors: Vec<ScanError>,
    /// Directories visited, for the directory rules.
    dirs: Vec<(PathBuf, PathBuf, String)>,
    /// Canonical directories already walked, so that links inside the root cannot loop.
    visited: BTreeSet<PathBuf>,
    /// Standard input's buffer, kept for digest waivers.
    stdin: Option<File>,
}

impl Walk {
    fn input(&mut self, input: &Path, options: &ScanOptions) {
        if input.as_os_str() == "-" {
            self.stdin(options);
            return;
        }
        let display = input.display().to_string();
        // A path the user names is followed even if it is a link: they chose it.
        match fs::metadata(input) {
            Err(err) => self.unreadable(display, &err),
            Ok(meta) if meta.is_dir() => match fs::canonicalize(input) {
                Ok(root) => self.dir(input, display, &root),
                Err(err) => self.unreadable(display, &err),
            },
            Ok(meta) if meta.is_file() => self.jobs.push(Job {
                input: JobInput::Path(input.to_owned()),
                display,
                size: meta.len(),
                named: true,
            }),
            Ok(_) => self.special(display),
        }
    }

    fn stdin(&mut self, options: &ScanOptions) {
        let buffered = tempfile::tempfile().and_then(|mut file| {
            let limit = options.max_stdin_bytes.saturating_add(1);
            let copied = io::copy(&mut io::stdin().lock().take(limit), &mut file)?;
            Ok((file, copied))
        });
        match buffered {
            Err(err) => self.unreadable(STDIN_NAME.to_owned(), &err),
            Ok((_, copied)) if copied > options.max_stdin_bytes => self.findings.push((
                STDIN_NAME.to_owned(),
                vec![Finding::new(
                    INPUT_TOO_LARGE,
                    Location::file(STDIN_NAME),
                    format!(
                        "standard input is larger than `{}` bytes and was not scanned",
                        options.max_stdin_bytes
                    ),
                )],
            )),
            Ok((file, copied)) => match file.try_clone() {
                Ok(keep) => {
                    self.stdin = Some(keep);
                    self.jobs.push(Job {
                        input: JobInput::Stdin(file),
                        display: STDIN_NAME.to_owned(),
                        size: copied,
                        named: true,
                    });
                }
                Err(err) => self.unreadable(STDIN_NAME.to_owned(), &err),
            },
        }
    }

    /// Walks `dir` (shown as `display`), whose canonical form is inside `root`.
    fn dir(&mut self, dir: &Path, display: String, root: &Path) {
        match fs::canonicalize(dir) {
            Ok(canonical) => {
                if !self.visited.insert(canonical) {
                    return;
                }
            }
            Err(err) => return self.unreadable(display, &err),
        }
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) => return self.unreadable(display, &err),
        };
        let mut children = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => children.push(entry),
                Err(err) => return self.unreadable(display, &err),
            }
        }
        children.sort_by_key(|entry| entry.file_name());
        self.dirs.push((dir.to_owned(), root.to_owned(), display));
        for entry in children {
            let path = entry.path();
            let child = path.display().to_string();
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(err) => {
                    self.unreadable(child, &err);
                    continue;
                }
            };
            if file_type.is_symlink() {
                self.link(&path, child, root);
            } else if file_type.is_dir() {
                self.dir(&path, child, root);
            } else if file_type.is_file() {
                self.file(&path, child);
            } else {
                self.special(child);
            }
        }
    }

    fn link(&mut self, path: &Path, display: String, root: &Path) {
        let target = match fs::canonicalize(path) {
            Ok(target) => target,
            Err(err) => return self.unreadable(display, &err),
        };
        if !target.starts_with(root) {
            let finding = Finding::new(
                SYMLINK_OUTSIDE_ROOT,
                Location::file(display.clone()),
                format!(
                    "symbolic link points to `{}`, outside the scanned directory `{}`; it was \
                     not followed",
                    target.display(),
                    root.display()
                ),
            );
            self.findings.push((display, vec![finding]));
            return;
        }
        match fs::metadata(&target) {
            Ok(meta) if meta.is_dir() => self.dir(path, display, root),
            Ok(meta) if meta.is_file() => self.file(path, display),
            Ok(_) => self.special(display),
            Err(err) => self.unreadable(display, &err),
        }
    }

    /// A file found in a directory. Its size is read later, in parallel, by
    /// [`Walk::sizes`]: a walk of many small files would otherwise spend most of its time
    /// in one `stat` after another before any scan starts.
    fn file(&mut self, path: &Path, display: String) {
        self.jobs.push(Job {
            input: JobInput::Path(path.to_owned()),
            display,
            size: 0,
            named: false,
        });
    }

    /// Reads the size of every file found in a directory. A file that cannot be read now
    /// is reported when its scan opens it.
    fn sizes(&mut self) {
        self.jobs.par_iter_mut().for_each(|job| {
            if let (JobInput::Path(path), false) = (&job.input, job.named) {
                job.size = fs::metadata(path).map_or(0, |meta| meta.len());
            }
        });
    }

    fn special(&mut self, display: String) {
        let finding = Finding::new(
            NOT_REGULAR_FILE,
            Location::file(display.clone()),
            "not a regular file, directory or link; it was not read",
        );
        self.findings.push((display, vec![finding]));
    }

    fn unreadable(&mut self, display: String, err: &io::Error) {
        let (finding, error) = unreadable(&display, err);
        self.findings.push((display, vec![finding]));
        self.errors.push(error);
    }
}

fn unreadable(display: &str, err: &io::Error) -> (Finding, ScanError) {
    let message = format!("cannot read `{display}`: {err}");
    let finding = Finding::new(UNREADABLE, Location::file(display), message.clone());
    let error = ScanError {
        path: display.to_owned(),
        message,
    };
    (finding, error)
}

fn file_context(options: &ScanOptions) -> Context {
    let mut ctx = Context::new(options.limits.clone());
    if let Some(policy) = &options.policy {
        ctx.allowed_globals = policy.allowed_globals.clone();
    }
    ctx
}

fn scan_job(
    engine: &dyn Engine,
    job: &Job,
    options: &ScanOptions,
) -> (FileReport, Option<ScanError>, Vec<PathBuf>) {
    let file = match &job.input {
        JobInput::Path(path) => File::open(path),
        JobInput::Stdin(file) => file.try_clone().and_then(|mut file| {
            file.seek(SeekFrom::Start(0))?;
            Ok(file)
        }),
    };
    let file = match file {
        Ok(file) => file,
        Err(err) => {
            let (finding, error) = unreadable(&job.display, &err);
            return (
                bare_report(job.display.clone(), vec![finding]),
                Some(error),
                Vec::new(),
            );
        }
    };
    let len = file.metadata().map_or(job.size, |meta| meta.len());
    let mut src = BufReader::with_capacity(256 << 10, file);
    // A fresh context per file gives every file its own time budget.
    let ctx = file_context(options);
    let loc = Location::file(job.display.clone());
    let mut outcome = engine.scan_file(&mut src, len, &loc, &ctx);
    if outcome.kind == ContentKind::Unknown {
        // A file the user named explicitly and cannot be understood fails the default
        // gate; an unknown file met during a walk is only noted, since model folders hold
        // all sorts of harmless side files.
        let severity = if job.named {
            Severity::Medium
        } else {
            Severity::Low
        };
        outcome
            .findings
            .retain(|f| !(f.code == UNKNOWN_FORMAT && f.location.members.is_empty()));
        outcome.findings.insert(
            0,
            Finding::new(
                UNKNOWN_FORMAT,
                loc.clone(),
                "content matches no format ward knows; it was not inspected",
            )
            .with_severity(severity),
        );
    }
    if outcome.kind == ContentKind::Known
        && let Some(finding) = extension_mismatch(&job.display, &outcome.format, &loc)
    {
        outcome.findings.insert(0, finding);
    }
    let report = FileReport {
        path: job.display.clone(),
        format: Some(outcome.format),
        size: Some(len),
        sha256: None,
        findings: outcome
            .findings
            .into_iter()
            .map(|finding| Reported {
                finding,
                suppressed: None,
            })
            .collect(),
    };
    (report, None, outcome.claims)
}

/// The formats a file extension promises, for the extensions that name one model format
/// unambiguously. Generic names (`.bin`, `.dat`, no extension) promise nothing. Loaders pick
/// their parser by these names, and users skip scanning "safe" ones, so a `.safetensors`
/// file that holds a pickle is an attack on that trust (it is still scanned by content).
const EXTENSION_FORMATS: &[(&str, &str, &[&str])] = &[
    ("safetensors", "safetensors", &["safetensors"]),
    ("gguf", "GGUF", &["gguf"]),
    ("onnx", "ONNX", &["onnx"]),
    ("npy", "NumPy `.npy`", &["npy"]),
    ("npz", "NumPy `.npz` (a zip)", &["zip"]),
    ("keras", "Keras (a zip)", &["zip"]),
    ("h5", "HDF5", &["hdf5"]),
    ("hdf5", "HDF5", &["hdf5"]),
    (
        "pb",
        "a TensorFlow or ONNX protobuf",
        &["tf-saved-model", "tf-graph-def", "onnx"],
    ),
    // PyTorch checkpoints are zips, legacy tars or stacked pickles; joblib and pickle files
    // may be compressed whole.
    ("pt", "a PyTorch checkpoint", TORCH_FORMATS),
    ("pth", "a PyTorch checkpoint", TORCH_FORMATS),
    ("ckpt", "a PyTorch checkpoint", TORCH_FORMATS),
    ("pkl", "a pickle", TORCH_FORMATS),
    ("pickle", "a pickle", TORCH_FORMATS),
    ("joblib", "a joblib file", TORCH_FORMATS),
];

const TORCH_FORMATS: &[&str] = &[
    "pickle", "zip", "tar", "gzip", "zlib", "bzip2", "xz", "lzma", "lz4",
];

/// The `scan-extension-mismatch` finding for a file or archive member called `name` whose
/// content was detected as `format`, if its extension promised something else.
pub(crate) fn extension_mismatch(name: &str, format: &str, loc: &Location) -> Option<Finding> {
    let expected = lying_extension(name, format)?;
    Some(Finding::new(
        EXTENSION_MISMATCH,
        loc.clone(),
        format!(
            "the name says {expected} but the content is `{format}`; it was scanned as what it is"
        ),
    ))
}

/// What a file's extension promised, when the content detected is something else.
fn lying_extension(path: &str, format: &str) -> Option<&'static str> {
    let ext = Path::new(path).extension()?.to_str()?.to_ascii_lowercase();
    let (_, promise, formats) = EXTENSION_FORMATS.iter().find(|(e, _, _)| *e == ext)?;
    (!formats.contains(&format)).then_some(*promise)
}

/// Files that a scanned model reads as raw tensor bytes are expected to match no format:
/// drop the walk's `scan-unknown-format` note on them (and only that), so that a benign
/// model folder scans clean. Anything recognisable in such a file (a pickle, an archive)
/// was detected by content and is still reported.
fn release_claimed(by_path: &mut BTreeMap<String, FileReport>, claims: &[PathBuf]) {
    let claimed: BTreeSet<PathBuf> = claims
        .iter()
        .filter_map(|path| fs::canonicalize(path).ok())
        .collect();
    if claimed.is_empty() {
        return;
    }
    for report in by_path.values_mut() {
        if report.format.as_deref() != Some("unknown") {
            continue;
        }
        let Ok(path) = fs::canonicalize(&report.path) else {
            continue;
        };
        if claimed.contains(&path) {
            report.findings.retain(|reported| {
                reported.finding.code != UNKNOWN_FORMAT
                    || !reported.finding.location.members.is_empty()
            });
            report.format = Some(TENSOR_DATA.to_owned());
        }
    }
}

fn bare_report(path: String, findings: Vec<Finding>) -> FileReport {
    FileReport {
        path,
        format: None,
        size: None,
        sha256: None,
        findings: findings
            .into_iter()
            .map(|finding| Reported {
                finding,
                suppressed: None,
            })
            .collect(),
    }
}

fn merge(by_path: &mut BTreeMap<String, FileReport>, report: FileReport) {
    match by_path.get_mut(&report.path) {
        Some(existing) => {
            existing.findings.extend(report.findings);
            if existing.format.is_none() {
                existing.format = report.format;
                existing.size = report.size;
            }
        }
        None => {
            by_path.insert(report.path.clone(), report);
        }
    }
}

/// Marks findings covered by an active waiver as suppressed, and reports expired and
/// unmatched waivers.
fn apply_policy(
    policy: &Policy,
    today: Date,
    files: &mut [FileReport],
    stdin: &Option<File>,
) -> PolicyReport {
    let mut matched = vec![false; policy.waivers.len()];
    for file in files.iter_mut() {
        for reported in &mut file.findings {
            let finding = &reported.finding;
            if policy.needs_digest(finding) && file.sha256.is_none() && file.size.is_some() {
                file.sha256 = digest(&file.path, stdin);
            }
            let hit = policy.waivers.iter().enumerate().find(|(_, waiver)| {
                waiver.is_active(today)
                    && waiver.matches_without_digest(finding)
                    && waiver.matches_digest(file.sha256.as_deref())
            });
            if let Some((index, waiver)) = hit {
                if let Some(flag) = matched.get_mut(index) {
                    *flag = true;
                }
                reported.suppressed = Some(Suppression {
                    reason: waiver.reason.clone(),
                    owner: waiver.owner.clone(),
                    expires: waiver.expires.to_string(),
                    policy: format!("{}:{}", policy.path, waiver.line),
                });
            }
        }
    }

    let mut findings = Vec::new();
    for (waiver, matched) in policy.waivers.iter().zip(matched) {
        let target = match (&waiver.path, &waiver.sha256) {
            (Some(path), Some(sha)) => format!("path `{path}` and sha256 `{sha}`"),
            (Some(path), None) => format!("path `{path}`"),
            (None, Some(sha)) => format!("sha256 `{sha}`"),
            (None, None) => "every file".to_owned(),
        };
        if !waiver.is_active(today) {
            findings.push(Finding::new(
                WAIVER_EXPIRED,
                waiver.location(&policy.path),
                format!(
                    "waiver at line {} for `{}` on {target} (owner `{}`) expired on `{}`; \
                     the findings it covered are reported again",
                    waiver.line, waiver.code, waiver.owner, waiver.expires
                ),
            ));
        } else if !matched {
            findings.push(Finding::new(
                WAIVER_UNMATCHED,
                waiver.location(&policy.path),
                format!(
                    "waiver at line {} for `{}` on {target} (owner `{}`) matched no finding",
                    waiver.line, waiver.code, waiver.owner
                ),
            ));
        }
    }
    PolicyReport {
        path: policy.path.clone(),
        findings,
    }
}

/// The SHA-256 of a scanned file, or `None` if it cannot be read again (the waiver then
/// does not apply: fail closed).
fn digest(path: &str, stdin: &Option<File>) -> Option<String> {
    let mut file = if path == STDIN_NAME {
        let mut file = stdin.as_ref()?.try_clone().ok()?;
        file.seek(SeekFrom::Start(0)).ok()?;
        file
    } else {
        File::open(path).ok()?
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(buf.get(..n)?),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
    )
}

/// The format engine and directory rules of this crate.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultEngine;

impl Engine for DefaultEngine {
    fn scan_file(
        &self,
        src: &mut dyn Source,
        len: u64,
        loc: &Location,
        ctx: &Context,
    ) -> EngineOutcome {
        let outcome = crate::engine::scan_source(src, len, loc, ctx);
        let mut engine_outcome = outcome_of(outcome.format, outcome.findings);
        engine_outcome.claims = outcome.claims;
        engine_outcome.facts = outcome.facts;
        engine_outcome
    }

    fn scan_dir(&self, dir: &Path, root: &Path, loc: &Location, ctx: &Context) -> Vec<Finding> {
        crate::folder::scan_dir(dir, root, loc, ctx)
    }
}

/// Classifies a detected format for the walk.
fn outcome_of(format: ward_formats::detect::Format, findings: Vec<Finding>) -> EngineOutcome {
    use ward_formats::detect::Format;
    let kind = match format {
        Format::Text | Format::Empty => ContentKind::Text,
        Format::Unknown => ContentKind::Unknown,
        _ => ContentKind::Known,
    };
    EngineOutcome {
        format: format.as_str().to_owned(),
        kind,
        findings,
        claims: Vec::new(),
        facts: crate::engine::HeaderFacts::None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn extensions_that_promise_a_format_are_checked_against_the_content() {
        assert_eq!(
            lying_extension("m/model.safetensors", "pickle"),
            Some("safetensors")
        );
        assert_eq!(
            lying_extension("m/MODEL.SAFETENSORS", "pickle"),
            Some("safetensors")
        );
        assert_eq!(lying_extension("m/model.safetensors", "safetensors"), None);
        assert_eq!(lying_extension("m/model.onnx", "zip"), Some("ONNX"));
        assert_eq!(lying_extension("m/model.pt", "zip"), None);
        assert_eq!(lying_extension("m/model.pkl", "gzip"), None);
        assert_eq!(
            lying_extension("m/model.pt", "safetensors"),
            Some("a PyTorch checkpoint")
        );
        // Generic or missing extensions promise nothing.
        assert_eq!(lying_extension("m/pytorch_model.bin", "safetensors"), None);
        assert_eq!(lying_extension("m/weights", "pickle"), None);
    }

    /// Calls every file starting with `EVIL` a high finding, and records directories.
    #[derive(Default)]
    struct FakeEngine {
        dirs: Mutex<Vec<String>>,
    }

    const FAKE: Code = Code {
        id: "scan-test-fake",
        severity: Severity::High,
        title: "t",
        remedy: "r",
    };

    impl Engine for FakeEngine {
        fn scan_file(
            &self,
            src: &mut dyn Source,
            len: u64,
            loc: &Location,
            ctx: &Context,
        ) -> EngineOutcome {
            assert_eq!(ctx.depth, 0);
            let mut bytes = Vec::new();
            src.read_to_end(&mut bytes).unwrap();
            assert_eq!(bytes.len() as u64, len);
            let findings = if bytes.starts_with(b"EVIL") {
                vec![Finding::new(FAKE, loc.clone(), "evil")]
            } else {
                Vec::new()
            };
            EngineOutcome {
                format: "fake".to_owned(),
                kind: ContentKind::Known,
                findings,
                claims: Vec::new(),
                facts: crate::engine::HeaderFacts::None,
            }
        }

        fn scan_dir(
            &self,
            _dir: &Path,
            _root: &Path,
            loc: &Location,
            _ctx: &Context,
        ) -> Vec<Finding> {
            self.dirs.lock().unwrap().push(loc.path.clone());
            Vec::new()
        }
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::TempDir::new().unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        fs::write(dir.path().join("a/evil.bin"), b"EVIL payload").unwrap();
        fs::write(dir.path().join("a/b/fine.bin"), b"fine").unwrap();
        fs::write(dir.path().join("top.bin"), b"top").unwrap();
        dir
    }

    #[test]
    fn walk_reports_sorted_files_runs_dir_rules_and_progress() {
        let dir = tree();
        let engine = FakeEngine::default();
        let calls = Mutex::new(Vec::new());
        let progress = |p: Progress| calls.lock().unwrap().push(p);
        let report = scan_paths_with(
            &engine,
            &[dir.path().to_owned()],
            &ScanOptions::new(),
            &progress,
        );
        let root = dir.path().display().to_string();
        let paths: Vec<String> = report.files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            paths,
            [
                format!("{root}/a/b/fine.bin"),
                format!("{root}/a/evil.bin"),
                format!("{root}/top.bin")
            ]
        );
        assert_eq!(report.files[1].findings.len(), 1);
        assert_eq!(report.max_severity(), Some(Severity::High));
        assert_eq!(report.summary().files, 3);
        let mut dirs = engine.dirs.lock().unwrap().clone();
        dirs.sort();
        assert_eq!(
            dirs,
            [root.clone(), format!("{root}/a"), format!("{root}/a/b")]
        );
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 3);
        let last = calls.iter().max_by_key(|p| p.files_done).unwrap();
        assert_eq!((last.files_done, last.files_total), (3, 3));
        assert_eq!(last.bytes_done, last.bytes_total);
        assert_eq!(last.bytes_total, 12 + 4 + 3);
    }

    #[test]
    fn digests_are_computed_only_for_digest_waivers() {
        let dir = tree();
        let evil = dir.path().join("a/evil.bin");
        let by_path = "version = 1\n[[waiver]]\ncode = \"scan-test-fake\"\npath = \"**/evil.bin\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"2030-01-01\"\n";
        let mut options = ScanOptions::new();
        options.today = Date::constant(2029, 1, 1);
        options.policy =
            Some(Policy::parse(by_path, Path::new("p.toml"), &["scan-test-fake"]).unwrap());
        let report = scan_paths_with(
            &FakeEngine::default(),
            std::slice::from_ref(&evil),
            &options,
            &|_| {},
        );
        assert!(report.files[0].findings[0].suppressed.is_some());
        assert_eq!(report.files[0].sha256, None);
        assert_eq!(report.max_severity(), None);

        // sha256("EVIL payload"), computed with sha256sum.
        let digest = "2e43827578cbf8c7c098fe093fe769859e4688ff412708cda4477766eed53b0d";
        let by_digest = format!(
            "version = 1\n[[waiver]]\ncode = \"scan-test-fake\"\nsha256 = \"{digest}\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"2030-01-01\"\n"
        );
        options.policy =
            Some(Policy::parse(&by_digest, Path::new("p.toml"), &["scan-test-fake"]).unwrap());
        let report = scan_paths_with(&FakeEngine::default(), &[evil], &options, &|_| {});
        assert_eq!(report.files[0].sha256.as_deref(), Some(digest));
        assert!(report.files[0].findings[0].suppressed.is_some());
        assert!(report.policy.unwrap().findings.is_empty());
    }
}
