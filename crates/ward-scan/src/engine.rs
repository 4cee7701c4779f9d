//! The format engine: detects what an input is, hands it to the matching rule, and recurses
//! into containers.
//!
//! Data flow: [`scan_source`] reads the first bytes of an input, decides its format by
//! content only ([`ward_formats::detect`]), and dispatches. Containers are opened here:
//! zip and tar members and decompressed streams are scanned by the same [`scan_source`]
//! with a context one level deeper, until `limits.max_archive_depth`. Independently of
//! what the start of the input says, the last 64 KiB are searched for a zip end record,
//! because zip readers (PyTorch's among them) find an archive from its end: a pickle with a
//! zip appended is both, and both parts are scanned.
//!
//! PyTorch zip checkpoints are recognised by their pickle members (`<folder>/data.pkl`,
//! any folder name, any letter case): those are scanned first, the storage keys their
//! persistent ids name mark the `<folder>/data/<key>` members as raw tensor bytes, which
//! are never read (scan cost does not grow with tensor size), and every other member is
//! sniffed by content, so a pickle under a harmless name is still scanned.

use std::collections::BTreeSet;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::SpooledTempFile;
use ward_formats::compress::{self, DecompressError};
use ward_formats::detect::{self, Format, PREFIX_LEN};
use ward_formats::tar::{Kind, TarArchive};
use ward_formats::zip::{self, Entry, ZipArchive};

use crate::archive;
use crate::finding::{Finding, Location, Severity};
use crate::{Context, Source};

/// Decompressed members and streams up to this size stay in memory; larger ones spill to
/// an anonymous temporary file, so memory stays bounded whatever the archive holds.
pub const SPOOL_IN_MEMORY_BYTES: usize = 64 << 20;

/// How far from the end a zip end record is searched for (the record plus the longest
/// comment).
const ZIP_TAIL: u64 = 22 + 0xffff;

/// Header facts the rule of a top-level file read on its way, kept for `ward bom` so that it
/// never parses a header a second time.
#[derive(Debug, Clone, Default)]
pub enum HeaderFacts {
    /// Nothing kept (other formats, members of containers, unreadable headers).
    #[default]
    None,
    /// A safetensors header.
    Safetensors(ward_formats::safetensors::Facts),
    /// A GGUF header.
    Gguf(Box<ward_formats::gguf::Facts>),
    /// An ONNX model's walk.
    Onnx(Box<ward_formats::onnx::Model>),
}

/// What the engine found in one input.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    /// The format detected from the first bytes.
    pub format: Format,
    /// Everything found, members included.
    pub findings: Vec<Finding>,
    /// Files beside this one that its loader reads as raw tensor bytes (see
    /// [`crate::scan::EngineOutcome::claims`]).
    pub claims: Vec<PathBuf>,
    /// Header facts of a top-level safetensors, GGUF or ONNX file.
    pub facts: HeaderFacts,
}

/// Detects the format of `src` (`len` bytes), scans it with the matching rule and recurses
/// into containers. Never fails: what cannot be read becomes a finding.
pub fn scan_source(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> FileOutcome {
    let mut findings = Vec::new();
    let prefix = match read_prefix(src, len) {
        Ok(prefix) => prefix,
        Err(e) => {
            findings.push(Finding::new(
                crate::scan::UNREADABLE,
                loc.clone(),
                format!("cannot read the first bytes: {e}"),
            ));
            return FileOutcome {
                format: Format::Unknown,
                findings,
                claims: Vec::new(),
                facts: HeaderFacts::None,
            };
        }
    };
    let format = detect::detect(&prefix, len);
    if format == Format::Unknown {
        // Unrecognisable bytes in front of a zip directory: zip readers see a zip with data
        // prepended, so that is what it is.
        if let Some(zip) = appended_zip(format, src, len, loc, ctx) {
            findings.extend(zip);
            return FileOutcome {
                format: Format::Zip,
                findings,
                claims: Vec::new(),
                facts: HeaderFacts::None,
            };
        }
        return FileOutcome {
            format,
            findings,
            claims: Vec::new(),
            facts: HeaderFacts::None,
        };
    }
    // Only a file on disk has siblings a loader would read; members and stdin do not.
    let on_disk = ctx.depth == 0 && loc.members.is_empty() && loc.path != crate::scan::STDIN_NAME;
    let mut claims = Vec::new();
    let mut facts = HeaderFacts::None;
    match format {
        Format::Onnx if on_disk => {
            let outcome = crate::onnx::scan_model(src, len, loc, ctx);
            findings.extend(outcome.findings);
            claims = crate::onnx::claimed_files(&outcome.model, Path::new(&loc.path));
            facts = HeaderFacts::Onnx(Box::new(outcome.model));
        }
        Format::Safetensors if on_disk => {
            let outcome = crate::safetensors::inspect(src, len, loc, ctx);
            findings.extend(outcome.findings);
            facts = outcome
                .facts
                .map_or(HeaderFacts::None, HeaderFacts::Safetensors);
        }
        Format::Gguf if on_disk => {
            let outcome = crate::gguf::inspect(src, len, loc, ctx);
            findings.extend(outcome.findings);
            facts = outcome
                .facts
                .map_or(HeaderFacts::None, |f| HeaderFacts::Gguf(Box::new(f)));
        }
        Format::TfSavedModel if on_disk => {
            findings.extend(dispatch(format, src, len, loc, ctx));
            claims = crate::tf::claimed_files(Path::new(&loc.path));
        }
        _ => findings.extend(dispatch(format, src, len, loc, ctx)),
    }
    if format != Format::Zip {
        findings.extend(appended_zip(format, src, len, loc, ctx).unwrap_or_default());
    }
    FileOutcome {
        format,
        findings,
        claims,
        facts,
    }
}

fn read_prefix(src: &mut dyn Source, len: u64) -> io::Result<Vec<u8>> {
    src.seek(SeekFrom::Start(0))?;
    let want = usize::try_from(len.min(PREFIX_LEN as u64)).unwrap_or(PREFIX_LEN);
    let mut prefix = Vec::with_capacity(want);
    (&mut *src).take(want as u64).read_to_end(&mut prefix)?;
    src.seek(SeekFrom::Start(0))?;
    Ok(prefix)
}

fn dispatch(
    format: Format,
    src: &mut dyn Source,
    len: u64,
    loc: &Location,
    ctx: &Context,
) -> Vec<Finding> {
    match format {
        Format::Pickle => crate::pickle::scan(src, len, loc, ctx),
        Format::Npy => crate::pickle::numpy::scan(src, len, loc, ctx),
        Format::Zip => scan_zip(src, len, loc, ctx),
        Format::Tar => scan_tar(src, len, loc, ctx),
        f if f.is_compression() => scan_compressed(f, src, len, loc, ctx),
        Format::Safetensors => crate::safetensors::scan(src, len, loc, ctx),
        Format::Gguf => crate::gguf::scan(src, len, loc, ctx),
        Format::Onnx => crate::onnx::scan(src, len, loc, ctx),
        Format::TfSavedModel => crate::tf::scan_saved_model(src, len, loc, ctx),
        Format::TfGraphDef => crate::tf::scan(src, len, ward_formats::tf::Kind::GraphDef, loc, ctx),
        Format::Hdf5 => crate::keras::scan_h5(src, len, loc, ctx),
        // Text is left to the folder rules, an empty file holds nothing a loader could run,
        // and unknown content is reported by the caller, which knows whether the user named
        // the file.
        _ => Vec::new(),
    }
}

/// The finding, if any, for nested content the engine could not recognise. Top-level
/// unknown files are reported by the walk; a member is reported here, at low severity as
/// for a file met in a directory walk.
fn unknown_member(format: Format, loc: &Location) -> Option<Finding> {
    (format == Format::Unknown).then(|| {
        Finding::new(
            crate::scan::UNKNOWN_FORMAT,
            loc.clone(),
            "member content matches no format ward knows; it was not inspected",
        )
        .with_severity(Severity::Low)
    })
}

/// Scans content nested one container deeper, or reports the depth limit.
fn scan_nested(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Vec<Finding> {
    let nested = ctx.nested();
    if nested.depth > ctx.limits.max_archive_depth {
        return vec![Finding::new(
            archive::ARCHIVE_DEPTH_LIMIT,
            loc.clone(),
            format!(
                "nested `{}` containers deep, beyond the limit `max_archive_depth` = `{}`; this \
                 content was not inspected",
                nested.depth, ctx.limits.max_archive_depth
            ),
        )];
    }
    let outcome = scan_source(src, len, loc, &nested);
    let mut findings = Vec::new();
    // A member's name can lie like a file's: loaders and people pick a reader by it.
    if !matches!(
        outcome.format,
        Format::Unknown | Format::Text | Format::Empty
    ) && let Some(name) = loc.members.last()
    {
        findings.extend(crate::scan::extension_mismatch(
            name,
            outcome.format.as_str(),
            loc,
        ));
    }
    findings.extend(outcome.findings);
    findings.extend(unknown_member(outcome.format, loc));
    findings
}

fn budget_finding(loc: &Location, ctx: &Context) -> Option<Finding> {
    ctx.budget.check().err().map(|e| {
        Finding::new(
            archive::ARCHIVE_TIME_BUDGET,
            loc.clone(),
            format!("{e} before every member was inspected"),
        )
    })
}

/// A new spool for decompressed content.
fn spool() -> SpooledTempFile {
    SpooledTempFile::new(SPOOL_IN_MEMORY_BYTES)
}

/// Scans a zip archive: every anomaly of its two directories, then its members.
fn scan_zip(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Vec<Finding> {
    let archive = match ZipArchive::parse(src, len, &ctx.limits) {
        Ok(archive) => archive,
        Err(e) => return vec![archive::zip_error(&e, loc)],
    };
    let mut findings: Vec<Finding> = archive
        .anomalies
        .iter()
        .map(|a| archive::zip_anomaly(a, loc))
        .collect();
    findings.extend(scan_zip_members(&archive, src, loc, ctx));
    findings
}

fn is_pickle_name(name: &str) -> bool {
    name.len() > 4
        && name
            .get(name.len().saturating_sub(4)..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".pkl"))
}

fn scan_zip_members(
    archive: &ZipArchive,
    src: &mut dyn Source,
    loc: &Location,
    ctx: &Context,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    // PyTorch reads `<folder>/data.pkl` (and TorchScript's `constants.pkl`) as pickles and
    // the members their persistent ids name as raw storage bytes. Pickle members go first
    // so that their storage keys are known before the other members are considered.
    let (pickles, others): (Vec<&Entry>, Vec<&Entry>) = archive
        .entries
        .iter()
        .filter(|e| !e.is_dir())
        .partition(|e| is_pickle_name(&e.name));
    let mut storages: BTreeSet<String> = BTreeSet::new();
    // A `.keras` model is a zip with `config.json` and `metadata.json`; the Keras rules
    // read those two members as well.
    let keras = crate::keras::is_keras_archive(archive.entries.iter().map(|e| e.name.as_str()));
    for entry in pickles {
        if let Some(f) = budget_finding(loc, ctx) {
            findings.push(f);
            return findings;
        }
        let member_loc = loc.member(entry.name.clone());
        let (found, keys) = scan_zip_member(entry, src, &member_loc, ctx, Role::Pickle);
        findings.extend(found);
        let stem = entry
            .name
            .get(..entry.name.len().saturating_sub(4))
            .unwrap_or_default();
        let folder = stem.rsplit_once('/').map_or("", |(dir, _)| dir);
        for key in keys {
            storages.insert(format!("{stem}/{key}").to_ascii_lowercase());
            let data = if folder.is_empty() {
                format!("data/{key}")
            } else {
                format!("{folder}/data/{key}")
            };
            storages.insert(data.to_ascii_lowercase());
        }
    }
    for entry in others {
        if storages.contains(&entry.name.to_ascii_lowercase()) {
            // Raw tensor bytes: `torch.load` never unpickles them, so they are not read.
            continue;
        }
        if let Some(f) = budget_finding(loc, ctx) {
            findings.push(f);
            return findings;
        }
        let member_loc = loc.member(entry.name.clone());
        findings.extend(scan_zip_member(entry, src, &member_loc, ctx, Role::Other).0);
        if keras {
            findings.extend(
                crate::keras::scan_zip_member(entry, src, &member_loc, ctx).unwrap_or_default(),
            );
        }
    }
    findings
}

/// How the engine treats a zip member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A `.pkl` member: a pickle to PyTorch, whose storage keys are collected.
    Pickle,
    /// Anything else: sniffed by content.
    Other,
}

/// Extracts one member into a spool and scans it. For pickle members (`as_pickle`) the
/// storage keys their persistent ids name are returned too.
fn scan_zip_member(
    entry: &Entry,
    src: &mut dyn Source,
    loc: &Location,
    ctx: &Context,
    role: Role,
) -> (Vec<Finding>, Vec<String>) {
    let mut findings = Vec::new();
    if entry.method != zip::METHOD_STORED && entry.method != zip::METHOD_DEFLATE {
        // Already reported as `zip-unsupported-method` with the archive's anomalies.
        return (findings, Vec::new());
    }
    let mut spool = spool();
    let extracted = match zip::extract_within(src, entry, &mut spool, &ctx.limits, &ctx.budget) {
        Ok(extracted) => Some(extracted),
        Err(e) => {
            findings.push(archive::zip_error(&e, loc));
            None
        }
    };
    let len = match spool.stream_position() {
        Ok(len) => len,
        Err(e) => {
            findings.push(Finding::new(
                crate::scan::UNREADABLE,
                loc.clone(),
                e.to_string(),
            ));
            return (findings, Vec::new());
        }
    };
    if let Some(got) = extracted {
        if got.crc32 != entry.crc32 {
            findings.push(Finding::new(
                archive::ZIP_BAD_CRC,
                loc.clone(),
                format!(
                    "CRC-32 of the data is `{:#010x}`, the central directory says `{:#010x}`",
                    got.crc32, entry.crc32
                ),
            ));
        }
        if got.size != entry.uncompressed_size {
            findings.push(Finding::new(
                archive::ZIP_HEADER_MISMATCH,
                loc.clone(),
                format!(
                    "data holds `{}` bytes, the central directory says `{}`",
                    got.size, entry.uncompressed_size
                ),
            ));
        }
    } else if !worth_scanning_partial(&mut spool, len) {
        return (findings, Vec::new());
    }
    let mut keys = Vec::new();
    let nested = ctx.nested();
    if nested.depth > ctx.limits.max_archive_depth {
        findings.extend(scan_nested(&mut spool, len, loc, ctx));
    } else if role == Role::Pickle && detect_spool(&mut spool, len) == Format::Pickle {
        let scan = crate::pickle::scan_stream(&mut spool, len, loc, &nested);
        findings.extend(scan.findings);
        keys.extend(scan.storages.into_iter().map(|s| s.key));
        findings.extend(
            appended_zip(Format::Pickle, &mut spool, len, loc, &nested).unwrap_or_default(),
        );
    } else {
        findings.extend(scan_nested(&mut spool, len, loc, ctx));
    }
    (findings, keys)
}

fn detect_spool(spool: &mut SpooledTempFile, len: u64) -> Format {
    match read_prefix(spool, len) {
        Ok(prefix) => detect::detect(&prefix, len),
        Err(_) => Format::Unknown,
    }
}

/// Output cut short by a limit or corruption is still scanned when it is recognisable (a
/// malicious pickle followed by a bomb is malicious), but not when it is unrecognisable,
/// which the limit finding already explains.
fn worth_scanning_partial(spool: &mut SpooledTempFile, len: u64) -> bool {
    len > 0 && !matches!(detect_spool(spool, len), Format::Unknown | Format::Empty)
}

/// A read-only window over part of a source: a tar member, without copying it.
struct Window<'a> {
    inner: &'a mut dyn Source,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let at = self
            .start
            .checked_add(self.pos)
            .ok_or_else(|| io::Error::other("offset overflow"))?;
        self.inner.seek(SeekFrom::Start(at))?;
        let n = self.inner.read(buf.get_mut(..want).unwrap_or_default())?;
        self.pos = self.pos.saturating_add(n as u64);
        Ok(n)
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the member",
            )
        })?;
        self.pos = target;
        Ok(target)
    }
}

/// Scans a tar archive: its anomalies, then every regular member in place.
fn scan_tar(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Vec<Finding> {
    let archive = match TarArchive::parse(src, len, &ctx.limits) {
        Ok(archive) => archive,
        Err(e) => return vec![archive::tar_error(&e, loc)],
    };
    let mut findings: Vec<Finding> = archive
        .anomalies
        .iter()
        .map(|a| archive::tar_anomaly(a, loc))
        .collect();
    let legacy = is_legacy_torch_tar(&archive);
    for member in &archive.members {
        if member.kind != Kind::File {
            continue;
        }
        if let Some(f) = budget_finding(loc, ctx) {
            findings.push(f);
            break;
        }
        let size = member.size.min(len.saturating_sub(member.data_offset));
        let member_loc = loc.member(member.name.clone());
        let mut window = Window {
            inner: &mut *src,
            start: member.data_offset,
            len: size,
            pos: 0,
        };
        let part = match member.name.as_str() {
            "storages" if legacy => Some(LegacyPart::Storages),
            "tensors" if legacy => Some(LegacyPart::Tensors),
            _ => None,
        };
        match part {
            Some(part) if ctx.depth < ctx.limits.max_archive_depth => {
                findings.extend(scan_legacy_records(
                    &mut window,
                    size,
                    part,
                    &member_loc,
                    ctx,
                ));
            }
            _ => findings.extend(scan_nested(&mut window, size, &member_loc, ctx)),
        }
    }
    findings
}

/// The members of a legacy PyTorch tar checkpoint that mix pickles with raw data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegacyPart {
    /// `storages`: a count, then per storage a `(key, location, storage_type)` pickle, an
    /// element count (`u64`) and the raw elements; then a pickle of storage views.
    Storages,
    /// `tensors`: a count, then per tensor a `(key, storage_id, tensor_type)` pickle, `ndim`
    /// (`i32`, padded to 8 bytes), `ndim` sizes, `ndim` strides and the storage offset
    /// (`i64` each).
    Tensors,
}

/// Largest tensor rank a legacy `tensors` record may declare.
const MAX_LEGACY_NDIM: u64 = 64;

/// Whether a tar has the four members of a legacy (pre-1.6) PyTorch checkpoint.
fn is_legacy_torch_tar(archive: &TarArchive) -> bool {
    ["sys_info", "pickle", "storages", "tensors"]
        .iter()
        .all(|name| {
            archive
                .members
                .iter()
                .any(|m| m.kind == Kind::File && m.name == *name)
        })
}

/// Walks a legacy `storages` or `tensors` member as `torch.load` reads it: every pickle is
/// scanned with the pickle rules over exactly its own bytes, and the raw data between the
/// pickles is skipped by the lengths the records give, never read as a pickle.
fn scan_legacy_records(
    src: &mut dyn Source,
    len: u64,
    part: LegacyPart,
    loc: &Location,
    ctx: &Context,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mismatch = |at: u64, message: String| {
        Finding::new(crate::pickle::LEGACY_STORAGE_MISMATCH, loc.at(at), message)
    };
    let Some(count) = legacy_pickle(src, 0, len, loc, ctx, &mut findings) else {
        return findings;
    };
    let n = match count.top {
        Some(ward_formats::pickle::TopValue::Int(n)) => u64::try_from(n).ok(),
        _ => None,
    };
    let Some(n) = n.filter(|n| *n <= ctx.limits.max_archive_members as u64) else {
        findings.push(mismatch(
            0,
            "the first pickle is not a record count within `max_archive_members`".to_owned(),
        ));
        return findings;
    };
    let mut at = count.end;
    for _ in 0..n {
        if let Some(f) = budget_finding(loc, ctx) {
            findings.push(f);
            return findings;
        }
        let Some(record) = legacy_pickle(src, at, len, loc, ctx, &mut findings) else {
            return findings;
        };
        at = record.end;
        let data = match part {
            LegacyPart::Storages => {
                let storage_type = record.imports.last().and_then(|i| i.full_name());
                let elsize = storage_type
                    .as_deref()
                    .and_then(crate::pickle::callables::storage_element_size);
                let Some(elsize) = elsize else {
                    findings.push(mismatch(
                        at,
                        "storage record names no known storage type".to_owned(),
                    ));
                    return findings;
                };
                read_u64_at(src, at, len)
                    .and_then(|numel| numel.checked_mul(elsize))
                    .and_then(|bytes| bytes.checked_add(8))
            }
            LegacyPart::Tensors => read_u64_at(src, at, len)
                .map(|word| word & 0xffff_ffff)
                .filter(|ndim| *ndim <= MAX_LEGACY_NDIM)
                .map(|ndim| 8 + 16 * ndim + 8),
        };
        match data
            .and_then(|d| at.checked_add(d))
            .filter(|end| *end <= len)
        {
            Some(end) => at = end,
            None => {
                findings.push(mismatch(
                    at,
                    "record data is malformed or runs past the end of the member".to_owned(),
                ));
                return findings;
            }
        }
    }
    if part == LegacyPart::Storages && at < len {
        match legacy_pickle(src, at, len, loc, ctx, &mut findings) {
            Some(views) => at = views.end,
            None => return findings,
        }
    }
    if at < len {
        findings.push(Finding::new(
            crate::pickle::TRAILING_DATA,
            loc.at(at),
            format!(
                "`{}` bytes after the last record are not read by `torch.load`",
                len - at
            ),
        ));
    }
    findings
}

/// Runs the pickle at `at` to find its end, then scans exactly its bytes with the pickle
/// rules. `None` (with the findings of the failed parse) when it does not reach `STOP`.
fn legacy_pickle(
    src: &mut dyn Source,
    at: u64,
    len: u64,
    loc: &Location,
    ctx: &Context,
    findings: &mut Vec<Finding>,
) -> Option<ward_formats::pickle::Pickle> {
    let opts = ward_formats::pickle::Options {
        limits: &ctx.limits,
        budget: &ctx.budget,
        nesting: 0,
    };
    let pickle = match src.seek(SeekFrom::Start(at)) {
        Ok(_) => {
            let mut reader: &mut dyn Read = &mut *src;
            let mut stream =
                ward_formats::pickle::Stream::new(&mut reader, at, Some(len.saturating_sub(at)));
            Some(stream.next_pickle(&opts))
        }
        Err(_) => None,
    };
    let end = pickle
        .as_ref()
        .filter(|p| p.error.is_none())
        .map_or(len, |p| p.end.min(len));
    let mut window = Window {
        inner: &mut *src,
        start: 0,
        len: end,
        pos: 0,
    };
    findings.extend(crate::pickle::scan_from(&mut window, at, end, loc, ctx).findings);
    pickle.filter(|p| p.error.is_none())
}

fn read_u64_at(src: &mut dyn Source, at: u64, len: u64) -> Option<u64> {
    if at.checked_add(8)? > len {
        return None;
    }
    let mut buf = [0u8; 8];
    src.seek(SeekFrom::Start(at)).ok()?;
    src.read_exact(&mut buf).ok()?;
    Some(u64::from_le_bytes(buf))
}

/// Decompresses a gzip, zlib, bzip2, xz or LZ4 stream into a spool and scans the content.
fn scan_compressed(
    format: Format,
    src: &mut dyn Source,
    len: u64,
    loc: &Location,
    ctx: &Context,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let inner_loc = loc.member(format!("<{format}>"));
    if ctx.depth.saturating_add(1) > ctx.limits.max_archive_depth {
        let mut empty = io::Cursor::new(Vec::new());
        return scan_nested(&mut empty, 0, &inner_loc, ctx);
    }
    if let Err(e) = src.seek(SeekFrom::Start(0)) {
        findings.push(Finding::new(
            crate::scan::UNREADABLE,
            loc.clone(),
            e.to_string(),
        ));
        return findings;
    }
    let mut spool = spool();
    let mut input = (&mut *src).take(len);
    let complete = match compress::decompress(
        format,
        &mut input,
        len,
        &mut spool,
        &ctx.limits,
        &ctx.budget,
    ) {
        Ok(_) => true,
        Err(DecompressError::Limit(hit)) => {
            findings.push(archive::limit_hit(hit, loc));
            false
        }
        Err(e) => {
            findings.push(Finding::new(
                archive::COMPRESS_CORRUPT,
                loc.clone(),
                e.to_string(),
            ));
            false
        }
    };
    if spool.flush().is_err() {
        findings.push(Finding::new(
            crate::scan::UNREADABLE,
            loc.clone(),
            "cannot buffer the decompressed data",
        ));
        return findings;
    }
    let out_len = spool.stream_position().unwrap_or(0);
    if complete || worth_scanning_partial(&mut spool, out_len) {
        findings.extend(scan_nested(&mut spool, out_len, &inner_loc, ctx));
    }
    findings
}

/// Looks for a zip end record at the end of an input whose start is another format
/// (`format`). A loader that reads from the start (`pickle.load`) and one that reads the
/// zip directory (`torch.load`) would see different content, so both are scanned and the
/// file is reported as a polyglot; bytes in no known format in front of a zip are only
/// data outside entries. Returns `None` when there is no zip.
fn appended_zip(
    format: Format,
    src: &mut dyn Source,
    len: u64,
    loc: &Location,
    ctx: &Context,
) -> Option<Vec<Finding>> {
    if len < 22 {
        return None;
    }
    let tail_len = len.min(ZIP_TAIL);
    let tail_offset = len.saturating_sub(tail_len);
    let mut tail = Vec::with_capacity(usize::try_from(tail_len).unwrap_or_default());
    src.seek(SeekFrom::Start(tail_offset)).ok()?;
    (&mut *src).take(tail_len).read_to_end(&mut tail).ok()?;
    zip::find_eocd(&tail, tail_offset)?;
    // Random bytes can hold the four-byte signature; only a directory whose members have
    // real local headers counts as a zip.
    let archive = ZipArchive::parse(src, len, &ctx.limits).ok()?;
    if !archive.entries.iter().any(|e| e.data_offset.is_some()) {
        return None;
    }
    if format == Format::Tar && inside_tar_member(src, len, archive.eocd_offset, ctx) {
        // A zip stored as a tar member (an `.npz` in a tarball) is that member's content,
        // scanned as such, not a second reading of the whole file.
        return None;
    }
    let mut findings = Vec::new();
    if format != Format::Unknown {
        findings.push(Finding::new(
            archive::ZIP_POLYGLOT,
            loc.clone(),
            format!(
                "the file starts as `{format}` and also holds a zip archive (end record at \
                 offset `{}`)\nhint: `torch.load` and other zip readers load the archive part",
                archive.eocd_offset
            ),
        ));
    }
    findings.extend(
        archive
            .anomalies
            .iter()
            .map(|a| archive::zip_anomaly(a, loc)),
    );
    findings.extend(scan_zip_members(&archive, src, loc, ctx));
    Some(findings)
}

/// Whether `offset` lies in the data of a regular member of the tar in `src`.
fn inside_tar_member(src: &mut dyn Source, len: u64, offset: u64, ctx: &Context) -> bool {
    TarArchive::parse(src, len, &ctx.limits).is_ok_and(|tar| {
        tar.members.iter().any(|m| {
            m.kind == Kind::File
                && offset >= m.data_offset
                && offset < m.data_offset.saturating_add(m.size)
        })
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::io::Cursor;

    use ward_fixtures::containers::{self, EVIL_PICKLE};
    use ward_formats::Limits;

    use super::*;

    fn scan(bytes: &[u8]) -> FileOutcome {
        scan_with(bytes, Limits::default())
    }

    fn scan_with(bytes: &[u8], limits: Limits) -> FileOutcome {
        let ctx = Context::new(limits);
        scan_source(
            &mut Cursor::new(bytes.to_vec()),
            bytes.len() as u64,
            &Location::file("f"),
            &ctx,
        )
    }

    fn codes(outcome: &FileOutcome) -> BTreeSet<&'static str> {
        outcome.findings.iter().map(|f| f.code.id).collect()
    }

    #[test]
    fn every_container_fixture_reports_exactly_its_codes() {
        let mut wrong = Vec::new();
        for fixture in containers::fixtures() {
            let (_, bytes) = &fixture.files[0];
            let outcome = scan(bytes);
            let want: BTreeSet<&str> = fixture.expect.iter().copied().collect();
            if codes(&outcome) != want {
                wrong.push(format!(
                    "{}: got {:?}, want {want:?}",
                    fixture.name,
                    codes(&outcome)
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn tensor_storage_members_are_never_read() {
        // The storage member is deflated garbage that would be a corrupt member if read.
        let pickle = containers::TORCH_STATE_DICT_PICKLE;
        let mut storage = containers::ZipMember::stored("m/data/0", &[0xffu8; 64]);
        storage.method = containers::Method::Stored;
        storage.crc_override = Some(0);
        let bytes = containers::ZipWriter::new(vec![
            containers::ZipMember::stored("m/data.pkl", pickle),
            storage,
        ])
        .finish();
        let outcome = scan(&bytes);
        assert_eq!(outcome.format, Format::Zip);
        // A read of `m/data/0` would report its wrong CRC.
        assert!(
            !codes(&outcome).contains("zip-bad-crc"),
            "{:#?}",
            outcome.findings
        );
        assert!(
            !codes(&outcome).contains("scan-unknown-format"),
            "{:#?}",
            outcome.findings
        );
    }

    #[test]
    fn a_zip_stored_in_a_tar_is_a_member_not_a_polyglot() {
        let inner = containers::zip(&[("x/data.pkl", EVIL_PICKLE)]);
        let bytes = containers::tar_files(&[("model.npz", &inner)]);
        let outcome = scan(&bytes);
        assert_eq!(codes(&outcome), BTreeSet::from(["pickle-dangerous-global"]));
        assert_eq!(
            outcome.findings[0].location.members,
            vec!["model.npz".to_owned(), "x/data.pkl".to_owned()]
        );
        // The same zip appended after the tar's end is a second reading of the file.
        let mut appended = containers::tar_files(&[("a", b"1")]);
        appended.extend_from_slice(&inner);
        let outcome = scan(&appended);
        assert!(
            codes(&outcome).contains("zip-polyglot"),
            "{:#?}",
            outcome.findings
        );
    }

    #[test]
    fn unknown_members_are_reported_at_low_severity() {
        let bytes = containers::zip(&[("blob.bin", &[0u8, 1, 2, 255])]);
        let outcome = scan(&bytes);
        let f = &outcome.findings[0];
        assert_eq!(
            (f.code.id, f.severity),
            ("scan-unknown-format", Severity::Low)
        );
        assert_eq!(f.location.members, vec!["blob.bin".to_owned()]);
    }

    #[test]
    fn the_depth_limit_is_a_finding() {
        let inner = containers::compress(containers::Wrapper::Gzip, EVIL_PICKLE);
        let bytes = containers::zip(&[("a.gz", &inner)]);
        let shallow = Limits {
            max_archive_depth: 1,
            ..Limits::default()
        };
        assert_eq!(
            codes(&scan_with(&bytes, shallow)),
            BTreeSet::from(["archive-depth-limit"])
        );
        let deep = Limits {
            max_archive_depth: 2,
            ..Limits::default()
        };
        assert_eq!(
            codes(&scan_with(&bytes, deep)),
            BTreeSet::from(["pickle-dangerous-global"])
        );
    }

    #[test]
    fn the_member_limit_is_a_finding() {
        let bytes = containers::zip(&[("a", b"1"), ("b", b"2")]);
        let few = Limits {
            max_archive_members: 1,
            ..Limits::default()
        };
        assert_eq!(
            codes(&scan_with(&bytes, few.clone())),
            BTreeSet::from(["archive-too-many-members"])
        );
        let tar = containers::tar_files(&[("a", b"1"), ("b", b"2")]);
        assert_eq!(
            codes(&scan_with(&tar, few)),
            BTreeSet::from(["archive-too-many-members"])
        );
    }

    #[test]
    fn the_size_limit_is_a_finding_and_the_output_before_it_is_scanned() {
        let mut data = EVIL_PICKLE.to_vec();
        data.extend(vec![b' '; 10_000]);
        let bytes = containers::compress(containers::Wrapper::Zlib, &data);
        let small = Limits {
            max_decompressed_bytes: 5_000,
            ..Limits::default()
        };
        let outcome = scan_with(&bytes, small);
        assert!(
            codes(&outcome).contains("compress-too-large"),
            "{:#?}",
            outcome.findings
        );
        assert!(
            codes(&outcome).contains("pickle-dangerous-global"),
            "{:#?}",
            outcome.findings
        );
    }

    #[test]
    fn the_header_limit_is_a_finding() {
        let tiny = Limits {
            max_header_bytes: 40,
            ..Limits::default()
        };
        let zip = containers::zip(&[("a/data.pkl", EVIL_PICKLE)]);
        assert_eq!(
            codes(&scan_with(&zip, tiny.clone())),
            BTreeSet::from(["zip-invalid"])
        );
        let long = format!("{}/data.pkl", "d".repeat(120));
        let tar = containers::tar_files(&[(&long, EVIL_PICKLE)]);
        assert_eq!(
            codes(&scan_with(&tar, tiny)),
            BTreeSet::from(["tar-invalid"])
        );
    }

    #[test]
    fn the_time_budget_is_a_finding() {
        let bytes = containers::zip(&[("a/data.pkl", EVIL_PICKLE)]);
        let limits = Limits {
            time_budget: std::time::Duration::ZERO,
            ..Limits::default()
        };
        assert!(codes(&scan_with(&bytes, limits)).contains("archive-time-budget"));
    }

    #[test]
    fn a_corrupt_stream_is_a_finding() {
        let mut bytes = containers::compress(containers::Wrapper::Gzip, EVIL_PICKLE);
        bytes.truncate(bytes.len() - 4);
        let outcome = scan(&bytes);
        assert!(
            codes(&outcome).contains("compress-corrupt"),
            "{:#?}",
            outcome.findings
        );
    }
}
