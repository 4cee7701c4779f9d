//! A zip reader that sees what every zip reader sees, and reports where they disagree.
//!
//! Zip describes each member twice: once in its local header, in front of the data, and
//! once in the central directory at the end. Readers differ in which copy they trust.
//! PyTorch's `PyTorchStreamReader` (miniz) finds the end record by searching backwards,
//! trusts the central directory, looks members up case-insensitively and ignores CRCs and
//! most flag bits; Python's `zipfile` accepts bytes before the archive; stricter tools
//! reject what either accepts. An attacker who can make two readers see different files can
//! show a scanner a clean member and the loader a malicious one. This reader parses both
//! copies and returns every disagreement as an [`Anomaly`], instead of picking one view.
//!
//! Member data is never read by [`ZipArchive::parse`]: offsets and sizes come from the
//! headers, so a checkpoint's tensor members cost nothing. [`extract`] reads one member.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};

use crate::compress::{BoundedWriter, LimitHit};
use crate::{Budget, Limits, Reader};

const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;
const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
const EOCD_LEN: u64 = 22;
const LOCAL_LEN: usize = 30;
/// The end record may be followed by a comment of up to 65535 bytes.
const MAX_EOCD_SEARCH: u64 = EOCD_LEN + 0xffff;

/// Compression method: stored.
pub const METHOD_STORED: u16 = 0;
/// Compression method: deflate.
pub const METHOD_DEFLATE: u16 = 8;
/// Flag bit 0: the member is encrypted.
pub const FLAG_ENCRYPTED: u16 = 0x0001;
/// Flag bit 3: sizes and CRC follow the data in a data descriptor.
pub const FLAG_DESCRIPTOR: u16 = 0x0008;
/// Flag bit 5: compressed patched data.
pub const FLAG_PATCHED: u16 = 0x0020;
/// Flag bit 6: strong encryption.
pub const FLAG_STRONG_ENCRYPTION: u16 = 0x0040;
/// Flag bit 11: the name is UTF-8.
pub const FLAG_UTF8: u16 = 0x0800;
/// Flag bits that ordinary writers set: deflate options (1, 2), data descriptor (3) and
/// UTF-8 names (11). Anything else is unusual.
const ORDINARY_FLAGS: u16 = 0x0002 | 0x0004 | FLAG_DESCRIPTOR | FLAG_UTF8;

/// Why a zip could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    /// Reading the input failed.
    #[error("cannot read the zip at offset {offset}: {source}")]
    Io {
        /// Where the read was attempted.
        offset: u64,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No end-of-central-directory record in the last 64 KiB.
    #[error("no end of central directory record found in the last {searched} bytes")]
    NoEndRecord {
        /// How many bytes from the end were searched.
        searched: u64,
    },
    /// A structure points outside the input or is cut short.
    #[error("{what} at offset {offset} is truncated or points outside the input")]
    Truncated {
        /// Which structure.
        what: &'static str,
        /// Where it starts.
        offset: u64,
    },
    /// A signature did not match.
    #[error("expected {what} signature at offset {offset}")]
    BadSignature {
        /// Which structure.
        what: &'static str,
        /// Where it was expected.
        offset: u64,
    },
    /// The central directory is larger than `limits.max_header_bytes`.
    #[error("central directory of {size} bytes exceeds the limit of {limit} bytes")]
    CentralTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More members than `limits.max_archive_members`.
    #[error("more than {limit} members")]
    TooManyMembers {
        /// The limit.
        limit: usize,
    },
    /// The member uses a compression method this reader does not decode.
    #[error("member `{name}` uses compression method {method}, which ward does not decode")]
    UnsupportedMethod {
        /// Member name.
        name: String,
        /// Method number.
        method: u16,
    },
    /// Deflate data is corrupt.
    #[error("member `{name}` has corrupt deflate data: {detail}")]
    Corrupt {
        /// Member name.
        name: String,
        /// What the decoder said.
        detail: String,
    },
    /// A decompression limit was hit.
    #[error("member `{name}`: {hit}")]
    Limit {
        /// Member name.
        name: String,
        /// Which limit.
        hit: LimitHit,
    },
}

/// One member, as the central directory describes it, with what its local header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the central directory.
    pub index: usize,
    /// The name from the central directory, decoded lossily as UTF-8.
    pub name: String,
    /// The name from the local header, if the local header could be read.
    pub local_name: Option<String>,
    /// General-purpose flag bits from the central directory.
    pub flags: u16,
    /// Compression method from the central directory.
    pub method: u16,
    /// CRC-32 from the central directory.
    pub crc32: u32,
    /// Compressed size (zip64 resolved).
    pub compressed_size: u64,
    /// Uncompressed size (zip64 resolved).
    pub uncompressed_size: u64,
    /// Absolute offset of the local header in the input.
    pub header_offset: u64,
    /// Absolute offset of the member's data, when the local header was read.
    pub data_offset: Option<u64>,
    /// Absolute end of the member's bytes, data descriptor included.
    pub end_offset: Option<u64>,
}

impl Entry {
    /// Whether the central directory marks this member as a directory.
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

/// Where bytes that belong to no member lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// Before the first local header (a prepended file, such as a pickle).
    Before,
    /// Between two members.
    Between,
    /// Between the last member and the central directory.
    BeforeCentral,
    /// After the end record and its comment.
    After,
}

/// Why a member name is unsafe to extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsafePath {
    /// A `..` component climbs out of the extraction folder (zip slip).
    DotDot,
    /// The name is absolute (`/etc/...`, `C:...`).
    Absolute,
    /// The name uses backslashes, which Windows extractors treat as separators.
    Backslash,
}

/// A disagreement or oddity found while parsing. Each is reported by the scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// The local header's name differs from the central directory's.
    NameMismatch {
        /// Central name.
        name: String,
        /// Local name.
        local: String,
    },
    /// A local header field differs from the central directory's.
    HeaderMismatch {
        /// Member name.
        name: String,
        /// Which field (`compressed size`, `uncompressed size`, `method`, `crc32`, `flags`).
        field: &'static str,
        /// Central value.
        central: u64,
        /// Local value.
        local: u64,
    },
    /// The local header is missing or unreadable where the central directory points.
    BadLocalHeader {
        /// Member name.
        name: String,
        /// Where it should be.
        offset: u64,
    },
    /// Flag bit 0 (traditional encryption) or bit 6 (strong encryption) is set.
    Encrypted {
        /// Member name.
        name: String,
        /// All flag bits.
        flags: u16,
    },
    /// Flag bits outside the ordinary set (for example 0x20 patched data).
    UnusualFlags {
        /// Member name.
        name: String,
        /// All flag bits.
        flags: u16,
    },
    /// A compression method other than stored or deflate.
    UnsupportedMethod {
        /// Member name.
        name: String,
        /// Method number.
        method: u16,
    },
    /// Two members share a name, compared case-insensitively as PyTorch does.
    DuplicateName {
        /// The first member's name.
        first: String,
        /// The later member's name.
        other: String,
    },
    /// Bytes that belong to no member.
    DataOutsideEntries {
        /// Where.
        gap: Gap,
        /// Absolute offset.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
    /// A name that escapes the extraction folder or is read differently on Windows.
    UnsafePath {
        /// Member name.
        name: String,
        /// Why.
        reason: UnsafePath,
    },
    /// The end record's entry count differs from the entries in the central directory.
    EntryCountMismatch {
        /// What the end record says.
        declared: u64,
        /// What the central directory holds.
        found: u64,
    },
    /// Two members' bytes overlap (one local header serves two names, or a quine bomb).
    Overlap {
        /// One member.
        name: String,
        /// The member it overlaps.
        other: String,
    },
    /// The archive's offsets are relative to a start after prepended bytes.
    Shifted {
        /// Number of bytes prepended.
        by: u64,
    },
    /// The archive spans several disks, which no model loader supports.
    MultiDisk,
}

/// A parsed zip archive: members in central-directory order and every anomaly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipArchive {
    /// Members in central-directory order.
    pub entries: Vec<Entry>,
    /// Every disagreement found.
    pub anomalies: Vec<Anomaly>,
    /// Absolute offset of the end-of-central-directory record.
    pub eocd_offset: u64,
    /// Offset of the first byte of the zip structure (0 unless bytes were prepended).
    pub start: u64,
    /// Absolute offset of the central directory.
    pub central_offset: u64,
}

/// Finds the end-of-central-directory record in the last bytes of an input (`tail`, which
/// ends at the end of the input and starts at absolute offset `tail_offset`), searching
/// backwards as PyTorch's miniz does. Returns its absolute offset.
pub fn find_eocd(tail: &[u8], tail_offset: u64) -> Option<u64> {
    let sig = EOCD_SIG.to_le_bytes();
    let last_start = tail.len().checked_sub(EOCD_LEN as usize)?;
    // The record is at least `EOCD_LEN` bytes, so its signature starts at `last_start` or
    // before; the last match wins.
    // `memrchr` is vectorised where a reverse substring search is not: find each `P`
    // from the end and compare the rest.
    let [first, ..] = sig;
    let mut end = last_start.saturating_add(1);
    while let Some(i) = tail.get(..end).and_then(|b| memchr::memrchr(first, b)) {
        if tail.get(i..i.saturating_add(sig.len())) == Some(&sig[..]) {
            return tail_offset.checked_add(i as u64);
        }
        end = i;
    }
    None
}

fn io_err(offset: u64) -> impl FnOnce(std::io::Error) -> ZipError {
    move |source| ZipError::Io { offset, source }
}

fn read_at<R: Read + Seek + ?Sized>(
    src: &mut R,
    offset: u64,
    len: usize,
    what: &'static str,
    input_len: u64,
) -> Result<Vec<u8>, ZipError> {
    let end = offset.checked_add(len as u64);
    if end.is_none_or(|end| end > input_len) {
        return Err(ZipError::Truncated { what, offset });
    }
    src.seek(SeekFrom::Start(offset)).map_err(io_err(offset))?;
    let mut buf = vec![0u8; len];
    src.read_exact(&mut buf).map_err(io_err(offset))?;
    Ok(buf)
}

/// Fields of a header that may be widened by a zip64 extra field.
struct Wide {
    uncompressed: u64,
    compressed: u64,
    offset: u64,
}

/// Replaces the 32-bit fields that hold `0xffffffff` by the values in the zip64 extra field
/// (id 1), which stores only those fields, in this order.
fn apply_zip64(extra: &[u8], wide: &mut Wide, has_offset: bool) {
    let mut r = Reader::new(extra);
    while let (Some(id), Some(size)) = (r.u16_le(), r.u16_le()) {
        let Some(mut field) = r.sub(usize::from(size)) else {
            return;
        };
        if id != 1 {
            continue;
        }
        if wide.uncompressed == 0xffff_ffff {
            match field.u64_le() {
                Some(v) => wide.uncompressed = v,
                None => return,
            }
        }
        if wide.compressed == 0xffff_ffff {
            match field.u64_le() {
                Some(v) => wide.compressed = v,
                None => return,
            }
        }
        if has_offset
            && wide.offset == 0xffff_ffff
            && let Some(v) = field.u64_le()
        {
            wide.offset = v;
        }
        return;
    }
}

fn unsafe_path(name: &str) -> Option<UnsafePath> {
    if name.contains('\\') {
        // Check `..` first through the Windows reading too.
        if name.split(['/', '\\']).any(|c| c == "..") {
            return Some(UnsafePath::DotDot);
        }
        return Some(UnsafePath::Backslash);
    }
    if name.starts_with('/') || name.as_bytes().get(1) == Some(&b':') {
        return Some(UnsafePath::Absolute);
    }
    if name.split('/').any(|c| c == "..") {
        return Some(UnsafePath::DotDot);
    }
    None
}

impl ZipArchive {
    /// Parses the end record, the central directory and every local header of the input
    /// `src` of length `len`. Member data is not read.
    pub fn parse<R: Read + Seek + ?Sized>(
        src: &mut R,
        len: u64,
        limits: &Limits,
    ) -> Result<ZipArchive, ZipError> {
        let tail_len = len.min(MAX_EOCD_SEARCH);
        let tail_offset = len.saturating_sub(tail_len);
        let tail = read_at(src, tail_offset, tail_len as usize, "end of input", len)?;
        let eocd_offset =
            find_eocd(&tail, tail_offset).ok_or(ZipError::NoEndRecord { searched: tail_len })?;
        let mut anomalies = Vec::new();
        let rel = usize::try_from(eocd_offset.saturating_sub(tail_offset)).unwrap_or(usize::MAX);
        let mut r = Reader::new(tail.get(rel..).unwrap_or_default());
        let trunc = ZipError::Truncated {
            what: "end of central directory record",
            offset: eocd_offset,
        };
        let fields = (|| {
            r.skip(4)?;
            let disk = r.u16_le()?;
            let cd_disk = r.u16_le()?;
            let _entries_here = r.u16_le()?;
            let entries = r.u16_le()?;
            let cd_size = r.u32_le()?;
            let cd_offset = r.u32_le()?;
            let comment_len = r.u16_le()?;
            Some((disk, cd_disk, entries, cd_size, cd_offset, comment_len))
        })();
        let (disk, cd_disk, entries16, cd_size32, cd_offset32, comment_len) =
            fields.ok_or(trunc)?;
        if disk != 0 || cd_disk != 0 {
            anomalies.push(Anomaly::MultiDisk);
        }
        let mut declared = u64::from(entries16);
        let mut cd_size = u64::from(cd_size32);
        let mut cd_offset = u64::from(cd_offset32);
        // The end of the structures: the end record plus its declared comment.
        let mut structure_end = eocd_offset
            .saturating_add(EOCD_LEN)
            .saturating_add(u64::from(comment_len));
        // Where the central directory ends: the zip64 record if there is one, else the end
        // record.
        let mut cd_end_limit = eocd_offset;
        let zip64 = entries16 == 0xffff || cd_size32 == 0xffff_ffff || cd_offset32 == 0xffff_ffff;
        if zip64 && eocd_offset >= 20 {
            let loc_off = eocd_offset.saturating_sub(20);
            let loc = read_at(
                src,
                loc_off,
                20,
                "zip64 end of central directory locator",
                len,
            )?;
            let mut lr = Reader::new(&loc);
            if lr.u32_le() == Some(ZIP64_LOCATOR_SIG) {
                let _ = lr.skip(4);
                let rec_off = lr.u64_le().unwrap_or(u64::MAX);
                let rec = read_at(
                    src,
                    rec_off,
                    56,
                    "zip64 end of central directory record",
                    len,
                )?;
                let mut rr = Reader::new(&rec);
                if rr.u32_le() != Some(ZIP64_EOCD_SIG) {
                    return Err(ZipError::BadSignature {
                        what: "zip64 end of central directory record",
                        offset: rec_off,
                    });
                }
                let parsed = (|| {
                    rr.skip(8 + 2 + 2 + 4 + 4 + 8)?;
                    Some((rr.u64_le()?, rr.u64_le()?, rr.u64_le()?))
                })();
                if let Some((n, size, off)) = parsed {
                    declared = n;
                    cd_size = size;
                    cd_offset = off;
                }
                cd_end_limit = rec_off;
            }
        }
        if cd_size > limits.max_header_bytes {
            return Err(ZipError::CentralTooLarge {
                size: cd_size,
                limit: limits.max_header_bytes,
            });
        }
        // Python's zipfile (and PyTorch's reader through the same arithmetic) accepts bytes
        // prepended to an archive whose offsets were not adjusted: the shift is the
        // distance between where the central directory is and where it says it is.
        let start = cd_end_limit
            .checked_sub(cd_size)
            .and_then(|actual| actual.checked_sub(cd_offset))
            .unwrap_or(0);
        if start > 0 {
            anomalies.push(Anomaly::Shifted { by: start });
        }
        let cd_abs = cd_offset.checked_add(start).ok_or(ZipError::Truncated {
            what: "central directory",
            offset: cd_offset,
        })?;
        let cd = read_at(src, cd_abs, cd_size as usize, "central directory", len)?;
        let mut r = Reader::with_base(&cd, cd_abs);
        let mut entries = Vec::new();
        while r.remaining() >= 4 {
            if r.peek(4) != Some(&CENTRAL_SIG.to_le_bytes()[..]) {
                break;
            }
            if entries.len() >= limits.max_archive_members {
                return Err(ZipError::TooManyMembers {
                    limit: limits.max_archive_members,
                });
            }
            let at = r.offset();
            let entry = parse_central(&mut r, entries.len(), start).ok_or(ZipError::Truncated {
                what: "central directory entry",
                offset: at,
            })?;
            entries.push(entry);
        }
        if r.remaining() > 0 {
            anomalies.push(Anomaly::DataOutsideEntries {
                gap: Gap::BeforeCentral,
                offset: r.offset(),
                len: r.remaining() as u64,
            });
        }
        if declared != entries.len() as u64 {
            anomalies.push(Anomaly::EntryCountMismatch {
                declared,
                found: entries.len() as u64,
            });
        }
        for entry in &mut entries {
            read_local(src, len, entry, &mut anomalies)?;
        }
        for entry in &entries {
            check_entry(entry, &mut anomalies);
        }
        check_duplicates(&entries, &mut anomalies);
        structure_end = structure_end.min(len);
        check_layout(&entries, start, cd_abs, structure_end, len, &mut anomalies);
        Ok(ZipArchive {
            entries,
            anomalies,
            eocd_offset,
            start,
            central_offset: cd_abs,
        })
    }

    /// Members whose name matches `name` case-insensitively, as PyTorch looks them up.
    pub fn find_ci(&self, name: &str) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(move |e| e.name.eq_ignore_ascii_case(name))
    }
}

fn parse_central(r: &mut Reader<'_>, index: usize, start: u64) -> Option<Entry> {
    r.skip(4 + 2 + 2)?;
    let flags = r.u16_le()?;
    let method = r.u16_le()?;
    r.skip(4)?;
    let crc32 = r.u32_le()?;
    let compressed = r.u32_le()?;
    let uncompressed = r.u32_le()?;
    let name_len = r.u16_le()?;
    let extra_len = r.u16_le()?;
    let comment_len = r.u16_le()?;
    r.skip(2 + 2 + 4)?;
    let offset = r.u32_le()?;
    let name = r.take(usize::from(name_len))?;
    let extra = r.take(usize::from(extra_len))?;
    r.skip(usize::from(comment_len))?;
    let mut wide = Wide {
        uncompressed: u64::from(uncompressed),
        compressed: u64::from(compressed),
        offset: u64::from(offset),
    };
    apply_zip64(extra, &mut wide, true);
    Some(Entry {
        index,
        name: String::from_utf8_lossy(name).into_owned(),
        local_name: None,
        flags,
        method,
        crc32,
        compressed_size: wide.compressed,
        uncompressed_size: wide.uncompressed,
        header_offset: wide.offset.checked_add(start)?,
        data_offset: None,
        end_offset: None,
    })
}

fn read_local<R: Read + Seek + ?Sized>(
    src: &mut R,
    len: u64,
    entry: &mut Entry,
    anomalies: &mut Vec<Anomaly>,
) -> Result<(), ZipError> {
    let bad = |anomalies: &mut Vec<Anomaly>| {
        anomalies.push(Anomaly::BadLocalHeader {
            name: entry.name.clone(),
            offset: entry.header_offset,
        })
    };
    let Ok(head) = read_at(src, entry.header_offset, LOCAL_LEN, "local header", len) else {
        bad(anomalies);
        return Ok(());
    };
    let mut r = Reader::new(&head);
    let parsed = (|| {
        let sig = r.u32_le()?;
        r.skip(2)?;
        let flags = r.u16_le()?;
        let method = r.u16_le()?;
        r.skip(4)?;
        let crc = r.u32_le()?;
        let compressed = r.u32_le()?;
        let uncompressed = r.u32_le()?;
        let name_len = r.u16_le()?;
        let extra_len = r.u16_le()?;
        Some((
            sig,
            flags,
            method,
            crc,
            compressed,
            uncompressed,
            name_len,
            extra_len,
        ))
    })();
    let Some((sig, flags, method, crc, compressed, uncompressed, name_len, extra_len)) = parsed
    else {
        bad(anomalies);
        return Ok(());
    };
    if sig != LOCAL_SIG {
        bad(anomalies);
        return Ok(());
    }
    let var_off = entry.header_offset.saturating_add(LOCAL_LEN as u64);
    let var_len = usize::from(name_len).saturating_add(usize::from(extra_len));
    let Ok(var) = read_at(src, var_off, var_len, "local header name", len) else {
        bad(anomalies);
        return Ok(());
    };
    let (name, extra) = var.split_at(usize::from(name_len).min(var.len()));
    let local_name = String::from_utf8_lossy(name).into_owned();
    if local_name != entry.name {
        anomalies.push(Anomaly::NameMismatch {
            name: entry.name.clone(),
            local: local_name.clone(),
        });
    }
    entry.local_name = Some(local_name);
    let mut wide = Wide {
        uncompressed: u64::from(uncompressed),
        compressed: u64::from(compressed),
        offset: 0,
    };
    apply_zip64(extra, &mut wide, false);
    let mut mismatch = |field: &'static str, central: u64, local: u64| {
        if central != local {
            anomalies.push(Anomaly::HeaderMismatch {
                name: entry.name.clone(),
                field,
                central,
                local,
            });
        }
    };
    mismatch("method", u64::from(entry.method), u64::from(method));
    mismatch("flags", u64::from(entry.flags), u64::from(flags));
    // With a data descriptor the local header may hold zeros; the real values follow the
    // data, so only a non-zero disagreeing value is a mismatch.
    let descriptor = flags & FLAG_DESCRIPTOR != 0;
    if !(descriptor && crc == 0) {
        mismatch("crc32", u64::from(entry.crc32), u64::from(crc));
    }
    if !(descriptor && wide.compressed == 0) {
        mismatch("compressed size", entry.compressed_size, wide.compressed);
    }
    if !(descriptor && wide.uncompressed == 0) {
        mismatch(
            "uncompressed size",
            entry.uncompressed_size,
            wide.uncompressed,
        );
    }
    let data_offset = var_off.saturating_add(var_len as u64);
    entry.data_offset = Some(data_offset);
    let mut end = data_offset.saturating_add(entry.compressed_size);
    if descriptor {
        let zip64 = entry.compressed_size > 0xffff_ffff || entry.uncompressed_size > 0xffff_ffff;
        let body = if zip64 { 20u64 } else { 12 };
        let has_sig = read_at(src, end, 4, "data descriptor", len)
            .ok()
            .is_some_and(|b| b == DESCRIPTOR_SIG.to_le_bytes());
        end = end
            .saturating_add(body)
            .saturating_add(if has_sig { 4 } else { 0 });
    }
    entry.end_offset = Some(end);
    Ok(())
}

fn check_entry(entry: &Entry, anomalies: &mut Vec<Anomaly>) {
    let name = || entry.name.clone();
    if entry.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
        anomalies.push(Anomaly::Encrypted {
            name: name(),
            flags: entry.flags,
        });
    }
    if entry.flags & !(ORDINARY_FLAGS | FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
        anomalies.push(Anomaly::UnusualFlags {
            name: name(),
            flags: entry.flags,
        });
    }
    if entry.method != METHOD_STORED && entry.method != METHOD_DEFLATE {
        anomalies.push(Anomaly::UnsupportedMethod {
            name: name(),
            method: entry.method,
        });
    }
    for candidate in std::iter::once(&entry.name).chain(entry.local_name.as_ref()) {
        if let Some(reason) = unsafe_path(candidate) {
            anomalies.push(Anomaly::UnsafePath {
                name: candidate.clone(),
                reason,
            });
            break;
        }
    }
}

fn check_duplicates(entries: &[Entry], anomalies: &mut Vec<Anomaly>) {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for entry in entries {
        let key = entry.name.to_ascii_lowercase();
        match seen.get(&key) {
            Some(first) => anomalies.push(Anomaly::DuplicateName {
                first: (*first).to_owned(),
                other: entry.name.clone(),
            }),
            None => {
                seen.insert(key, &entry.name);
            }
        }
    }
}

/// Sorts the members by position and reports bytes outside every member and overlaps.
fn check_layout(
    entries: &[Entry],
    start: u64,
    cd_abs: u64,
    structure_end: u64,
    len: u64,
    anomalies: &mut Vec<Anomaly>,
) {
    let mut spans: Vec<(u64, u64, &str)> = entries
        .iter()
        .filter_map(|e| Some((e.header_offset, e.end_offset?, e.name.as_str())))
        .collect();
    spans.sort_unstable();
    // Bytes before `start` are already reported as `Anomaly::Shifted`.
    let mut cursor = start;
    let mut last_name: Option<&str> = None;
    for (begin, end, name) in &spans {
        if *begin < cursor {
            if let Some(other) = last_name {
                anomalies.push(Anomaly::Overlap {
                    name: (*name).to_owned(),
                    other: other.to_owned(),
                });
            }
        } else if *begin > cursor {
            let gap = if last_name.is_none() {
                Gap::Before
            } else {
                Gap::Between
            };
            anomalies.push(Anomaly::DataOutsideEntries {
                gap,
                offset: cursor,
                len: begin - cursor,
            });
        }
        if *end > cursor {
            cursor = *end;
            last_name = Some(name);
        }
    }
    if spans.is_empty() && cd_abs > start {
        anomalies.push(Anomaly::DataOutsideEntries {
            gap: Gap::Before,
            offset: start,
            len: cd_abs - start,
        });
    } else if cd_abs > cursor {
        anomalies.push(Anomaly::DataOutsideEntries {
            gap: Gap::BeforeCentral,
            offset: cursor,
            len: cd_abs - cursor,
        });
    } else if cd_abs < cursor
        && let Some(other) = last_name
    {
        anomalies.push(Anomaly::Overlap {
            name: "central directory".to_owned(),
            other: other.to_owned(),
        });
    }
    if len > structure_end {
        anomalies.push(Anomaly::DataOutsideEntries {
            gap: Gap::After,
            offset: structure_end,
            len: len - structure_end,
        });
    }
}

/// The result of reading one member's data through [`extract`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extracted {
    /// Bytes written.
    pub size: u64,
    /// CRC-32 of the bytes written.
    pub crc32: u32,
}

/// Decodes one member's data into `out`, bounded by `limits.max_decompressed_bytes` and
/// `limits.max_compression_ratio`. Reads only that member's bytes. Like PyTorch's reader,
/// it ignores flag bits and does not fail on a CRC or size mismatch: it returns the CRC
/// and size it computed so the caller can compare them with what the headers claim.
pub fn extract<R: Read + Seek + ?Sized, W: Write>(
    src: &mut R,
    entry: &Entry,
    out: &mut W,
    limits: &Limits,
) -> Result<Extracted, ZipError> {
    extract_member(src, entry, out, limits, None)
}

/// [`extract`], also stopped (with [`LimitHit::Time`]) once `budget` runs out.
pub fn extract_within<R: Read + Seek + ?Sized, W: Write>(
    src: &mut R,
    entry: &Entry,
    out: &mut W,
    limits: &Limits,
    budget: &Budget,
) -> Result<Extracted, ZipError> {
    extract_member(src, entry, out, limits, Some(*budget))
}

fn extract_member<R: Read + Seek + ?Sized, W: Write>(
    src: &mut R,
    entry: &Entry,
    out: &mut W,
    limits: &Limits,
    budget: Option<Budget>,
) -> Result<Extracted, ZipError> {
    // Flag bits are ignored on purpose: PyTorch's reader loads a member marked encrypted
    // as if it were not, so the scanner must inspect the same bytes (the flag itself is
    // reported by `parse`).
    let data_offset = entry.data_offset.ok_or(ZipError::BadSignature {
        what: "local header",
        offset: entry.header_offset,
    })?;
    src.seek(SeekFrom::Start(data_offset))
        .map_err(io_err(data_offset))?;
    let raw = (&mut *src).take(entry.compressed_size);
    let mut sink = BoundedWriter::new(out, entry.compressed_size, limits);
    if let Some(budget) = budget {
        sink = sink.with_budget(budget);
    }
    let result = match entry.method {
        METHOD_STORED => {
            let mut raw = raw;
            std::io::copy(&mut raw, &mut sink).map(|_| ())
        }
        METHOD_DEFLATE => {
            let mut decoder = flate2::read::DeflateDecoder::new(raw);
            std::io::copy(&mut decoder, &mut sink).map(|_| ())
        }
        method => {
            return Err(ZipError::UnsupportedMethod {
                name: entry.name.clone(),
                method,
            });
        }
    };
    if let Some(hit) = sink.limit_hit() {
        return Err(ZipError::Limit {
            name: entry.name.clone(),
            hit,
        });
    }
    result.map_err(|e| ZipError::Corrupt {
        name: entry.name.clone(),
        detail: e.to_string(),
    })?;
    Ok(Extracted {
        size: sink.written(),
        crc32: sink.crc32(),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use ward_fixtures::containers::{
        BENIGN_PICKLE, EVIL_PICKLE, ZipMember, ZipWriter, torch_zip, zip as build_zip,
    };

    use super::*;

    #[test]
    fn the_end_record_search_matches_a_byte_by_byte_one() {
        fn naive(tail: &[u8], at: u64) -> Option<u64> {
            let last = tail.len().checked_sub(EOCD_LEN as usize)?;
            (0..=last)
                .rev()
                .find(|&i| tail.get(i..i + 4) == Some(&b"PK\x05\x06"[..]))
                .map(|i| at + i as u64)
        }
        let mut cases: Vec<Vec<u8>> = vec![Vec::new(), b"PK\x05\x06".to_vec()];
        for len in [21usize, 22, 23, 40, 100] {
            for at in 0..len {
                let mut tail = vec![b'x'; len];
                if let Some(dst) = tail.get_mut(at..(at + 4).min(len)) {
                    dst.copy_from_slice(&b"PK\x05\x06"[..dst.len()]);
                }
                cases.push(tail.clone());
                // A second signature closer to the end.
                tail.extend_from_slice(b"PK\x05\x06");
                tail.extend(std::iter::repeat_n(0u8, at % 25));
                cases.push(tail);
            }
        }
        for tail in &cases {
            assert_eq!(find_eocd(tail, 1000), naive(tail, 1000), "{tail:?}");
        }
        assert!(cases.iter().any(|t| find_eocd(t, 0).is_some()));
        assert!(cases.iter().any(|t| find_eocd(t, 0).is_none()));
    }

    fn parse(bytes: &[u8]) -> ZipArchive {
        ZipArchive::parse(
            &mut Cursor::new(bytes),
            bytes.len() as u64,
            &Limits::default(),
        )
        .unwrap()
    }

    fn read(bytes: &[u8], entry: &Entry) -> (Vec<u8>, Extracted) {
        let mut out = Vec::new();
        let got = extract(&mut Cursor::new(bytes), entry, &mut out, &Limits::default()).unwrap();
        (out, got)
    }

    #[test]
    fn a_clean_checkpoint_has_no_anomalies_and_members_read_back() {
        let bytes = torch_zip("archive", "data.pkl", EVIL_PICKLE, &[("0", &[0u8; 16])]);
        let zip = parse(&bytes);
        assert_eq!(zip.anomalies, vec![]);
        assert_eq!(zip.entries.len(), 3);
        let pkl = zip.find_ci("ARCHIVE/DATA.PKL").next().unwrap();
        let (data, got) = read(&bytes, pkl);
        assert_eq!(data, EVIL_PICKLE);
        assert_eq!(got.crc32, pkl.crc32);
    }

    #[test]
    fn deflated_members_inflate() {
        let bytes = ZipWriter::new(vec![ZipMember::deflated("a/b.npy", &[9u8; 5000])]).finish();
        let zip = parse(&bytes);
        assert_eq!(zip.anomalies, vec![]);
        let (data, got) = read(&bytes, &zip.entries[0]);
        assert_eq!(data, vec![9u8; 5000]);
        assert_eq!(got.size, 5000);
    }

    #[test]
    fn local_and_central_disagreements_are_reported() {
        let mut m = ZipMember::stored("archive/data.pkl", EVIL_PICKLE);
        m.local_name = Some("archive/other".into());
        m.local_size_override = Some(3);
        let zip = parse(&ZipWriter::new(vec![m]).finish());
        assert!(zip.anomalies.contains(&Anomaly::NameMismatch {
            name: "archive/data.pkl".into(),
            local: "archive/other".into()
        }));
        assert!(zip.anomalies.iter().any(|a| matches!(
            a,
            Anomaly::HeaderMismatch {
                field: "compressed size",
                local: 3,
                ..
            }
        )));
    }

    #[test]
    fn a_wrong_crc_reads_like_pytorch_and_the_real_crc_is_returned() {
        let mut m = ZipMember::stored("archive/data.pkl", EVIL_PICKLE);
        m.crc_override = Some(1);
        let bytes = ZipWriter::new(vec![m]).finish();
        let zip = parse(&bytes);
        let (data, got) = read(&bytes, &zip.entries[0]);
        assert_eq!(data, EVIL_PICKLE);
        assert_ne!(got.crc32, zip.entries[0].crc32);
    }

    #[test]
    fn flags_are_reported() {
        for (flags, want) in [(1u16, true), (0x40, true), (0x20, false)] {
            let mut m = ZipMember::stored("x", BENIGN_PICKLE);
            m.flags = flags;
            let bytes = ZipWriter::new(vec![m]).finish();
            let zip = parse(&bytes);
            let encrypted = zip
                .anomalies
                .iter()
                .any(|a| matches!(a, Anomaly::Encrypted { .. }));
            let unusual = zip
                .anomalies
                .iter()
                .any(|a| matches!(a, Anomaly::UnusualFlags { .. }));
            assert_eq!((encrypted, unusual), (want, !want), "flags {flags:#x}");
            let read = extract(
                &mut Cursor::new(&bytes),
                &zip.entries[0],
                &mut Vec::new(),
                &Limits::default(),
            );
            assert_eq!(read.unwrap().size, BENIGN_PICKLE.len() as u64);
        }
    }

    #[test]
    fn duplicates_compare_case_insensitively() {
        let zip = parse(&build_zip(&[("a/data.pkl", b"1"), ("A/DATA.PKL", b"2")]));
        assert_eq!(
            zip.anomalies,
            vec![Anomaly::DuplicateName {
                first: "a/data.pkl".into(),
                other: "A/DATA.PKL".into()
            }]
        );
    }

    #[test]
    fn unsafe_paths_are_reported() {
        for (name, reason) in [
            ("../x", UnsafePath::DotDot),
            ("a/../../x", UnsafePath::DotDot),
            ("/etc/x", UnsafePath::Absolute),
            ("C:/x", UnsafePath::Absolute),
            ("a\\b", UnsafePath::Backslash),
            ("..\\x", UnsafePath::DotDot),
        ] {
            let zip = parse(&build_zip(&[(name, b"1")]));
            assert_eq!(
                zip.anomalies,
                vec![Anomaly::UnsafePath {
                    name: name.into(),
                    reason
                }]
            );
        }
    }

    #[test]
    fn bytes_outside_members_are_reported_where_they_are() {
        let mut w = ZipWriter::new(vec![
            ZipMember::stored("a", b"1"),
            ZipMember::stored("b", b"2"),
        ]);
        w.prefix = BENIGN_PICKLE.to_vec();
        w.members[0].trailing = b"hidden".to_vec();
        w.suffix = b"tail".to_vec();
        let zip = parse(&w.finish());
        let gaps: Vec<(Gap, u64)> = zip
            .anomalies
            .iter()
            .filter_map(|a| match a {
                Anomaly::DataOutsideEntries { gap, len, .. } => Some((*gap, *len)),
                _ => None,
            })
            .collect();
        assert_eq!(gaps, vec![(Gap::Between, 6), (Gap::After, 4)]);
        assert!(zip.anomalies.contains(&Anomaly::Shifted {
            by: BENIGN_PICKLE.len() as u64
        }));
        assert_eq!(zip.start, BENIGN_PICKLE.len() as u64);
    }

    #[test]
    fn entry_count_mismatch_is_reported() {
        let mut w = ZipWriter::new(vec![ZipMember::stored("a", b"1")]);
        w.count_override = Some(2);
        let zip = parse(&w.finish());
        assert_eq!(
            zip.anomalies,
            vec![Anomaly::EntryCountMismatch {
                declared: 2,
                found: 1
            }]
        );
    }

    #[test]
    fn overlapping_members_are_reported() {
        // Two central entries pointing at the same local header.
        let bytes = build_zip(&[("a", b"1")]);
        let mut zip_bytes = bytes.clone();
        let cd_start =
            u32::from_le_bytes(bytes[bytes.len() - 6..bytes.len() - 2].try_into().unwrap())
                as usize;
        let central = bytes[cd_start..bytes.len() - 22].to_vec();
        zip_bytes.truncate(bytes.len() - 22);
        zip_bytes.extend_from_slice(&central);
        let mut eocd = bytes[bytes.len() - 22..].to_vec();
        eocd[8..10].copy_from_slice(&2u16.to_le_bytes());
        eocd[10..12].copy_from_slice(&2u16.to_le_bytes());
        eocd[12..16].copy_from_slice(&((central.len() * 2) as u32).to_le_bytes());
        zip_bytes.extend_from_slice(&eocd);
        let zip = parse(&zip_bytes);
        assert!(
            zip.anomalies
                .iter()
                .any(|a| matches!(a, Anomaly::Overlap { .. })),
            "{:?}",
            zip.anomalies
        );
    }

    #[test]
    fn member_limits_are_enforced() {
        let bytes = ZipWriter::new(vec![ZipMember::deflated("z", &vec![0u8; 8 << 20])]).finish();
        let zip = parse(&bytes);
        let err = extract(
            &mut Cursor::new(&bytes),
            &zip.entries[0],
            &mut Vec::new(),
            &Limits::default(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ZipError::Limit {
                    hit: LimitHit::Ratio { .. },
                    ..
                }
            ),
            "{err}"
        );
        let small = Limits {
            max_decompressed_bytes: 10,
            ..Limits::default()
        };
        let err = extract(
            &mut Cursor::new(&bytes),
            &zip.entries[0],
            &mut Vec::new(),
            &small,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ZipError::Limit {
                hit: LimitHit::Size { limit: 10 },
                ..
            }
        ));
        let few = Limits {
            max_archive_members: 1,
            ..Limits::default()
        };
        let two = build_zip(&[("a", b"1"), ("b", b"2")]);
        assert!(matches!(
            ZipArchive::parse(&mut Cursor::new(&two), two.len() as u64, &few),
            Err(ZipError::TooManyMembers { limit: 1 })
        ));
        let tiny = Limits {
            max_header_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            ZipArchive::parse(&mut Cursor::new(&two), two.len() as u64, &tiny),
            Err(ZipError::CentralTooLarge { .. })
        ));
    }

    #[test]
    fn the_time_budget_stops_a_member() {
        let bytes = build_zip(&[("a", &[1u8; 100][..])]);
        let zip = parse(&bytes);
        let spent = Budget::new(std::time::Duration::ZERO);
        let err = extract_within(
            &mut Cursor::new(&bytes),
            &zip.entries[0],
            &mut Vec::new(),
            &Limits::default(),
            &spent,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ZipError::Limit {
                    hit: LimitHit::Time { output: 0 },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"PK\x05\x06",
            b"PK\x03\x04\x00\x00",
            &[0xffu8; 100][..],
        ] {
            assert!(
                ZipArchive::parse(
                    &mut Cursor::new(bytes),
                    bytes.len() as u64,
                    &Limits::default()
                )
                .is_err()
            );
        }
        let mut empty = vec![0u8; 22];
        empty[..4].copy_from_slice(b"PK\x05\x06");
        let zip = parse(&empty);
        assert!(zip.entries.is_empty() && zip.anomalies.is_empty());
    }
}
