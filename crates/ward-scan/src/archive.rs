//! Rules for zip, tar and compressed containers: every anomaly the readers in
//! `ward_formats::{zip, tar, compress}` report becomes a finding here.
//!
//! Severities follow one principle: anything that lets two readers see different files is
//! at least medium, because a scanner and a loader that read different bytes make the scan
//! meaningless; anything that writes outside the extraction folder is high.

use ward_formats::compress::LimitHit;
use ward_formats::tar::{Anomaly as TarAnomaly, TarError};
use ward_formats::zip::{Anomaly as ZipAnomaly, Gap, UnsafePath, ZipError};

use crate::finding::{Code, Finding, Location, Severity};

/// Local header and central directory name a member differently.
pub const ZIP_NAME_MISMATCH: Code = Code {
    id: "zip-name-mismatch",
    severity: Severity::High,
    title: "zip member has different names in its local header and the central directory",
    remedy: "rebuild the archive with a standard zip writer; tools that read local headers \
             and tools that read the central directory see different files",
};
/// Local header and central directory disagree on size, method, CRC or flags.
pub const ZIP_HEADER_MISMATCH: Code = Code {
    id: "zip-header-mismatch",
    severity: Severity::Medium,
    title: "zip member's local header disagrees with the central directory",
    remedy: "rebuild the archive with a standard zip writer; readers that trust different \
             headers extract different bytes",
};
/// The central directory points at something that is not a local header.
pub const ZIP_BAD_LOCAL_HEADER: Code = Code {
    id: "zip-bad-local-header",
    severity: Severity::High,
    title: "zip central directory points at a missing or broken local header",
    remedy: "do not load the file; rebuild the archive from trusted sources",
};
/// A member's data does not match its CRC-32.
pub const ZIP_BAD_CRC: Code = Code {
    id: "zip-bad-crc",
    severity: Severity::Medium,
    title: "zip member's CRC-32 does not match its data",
    remedy: "PyTorch loads such members while stricter tools reject them; rebuild the \
             archive, and treat a checkpoint altered after it was written as untrusted",
};
/// A member is marked as encrypted.
pub const ZIP_ENCRYPTED: Code = Code {
    id: "zip-encrypted",
    severity: Severity::High,
    title: "zip member is marked as encrypted",
    remedy: "model archives are never encrypted; PyTorch ignores the flag and loads the \
             bytes, while scanners that honour it skip the member: do not load the file",
};
/// Flag bits outside the set ordinary writers use.
pub const ZIP_UNUSUAL_FLAGS: Code = Code {
    id: "zip-unusual-flags",
    severity: Severity::Medium,
    title: "zip member has unusual flag bits (for example 0x20, patched data)",
    remedy: "rebuild the archive with a standard zip writer; readers disagree on how to \
             handle these bits",
};
/// A compression method other than stored or deflate.
pub const ZIP_UNSUPPORTED_METHOD: Code = Code {
    id: "zip-unsupported-method",
    severity: Severity::Medium,
    title: "zip member uses a compression method ward does not decode",
    remedy: "rebuild the archive with stored or deflate members so that it can be inspected",
};
/// Two members share a name, compared case-insensitively.
pub const ZIP_DUPLICATE_NAME: Code = Code {
    id: "zip-duplicate-name",
    severity: Severity::High,
    title: "two zip members share a name (compared case-insensitively, as PyTorch does)",
    remedy: "do not load the file: which duplicate a loader picks differs between readers",
};
/// Bytes that belong to no member.
pub const ZIP_DATA_OUTSIDE_ENTRIES: Code = Code {
    id: "zip-data-outside-entries",
    severity: Severity::Medium,
    title: "zip holds bytes that belong to no member",
    remedy: "find out what the extra bytes are (a prepended file, hidden data) and rebuild \
             the archive without them",
};
/// A member name escapes the extraction folder.
pub const ZIP_PATH_TRAVERSAL: Code = Code {
    id: "zip-path-traversal",
    severity: Severity::High,
    title: "zip member name escapes the extraction folder (`..`, absolute or backslash path)",
    remedy: "do not extract the archive; rebuild it with relative member names",
};
/// The end record's count disagrees with the central directory.
pub const ZIP_ENTRY_COUNT_MISMATCH: Code = Code {
    id: "zip-entry-count-mismatch",
    severity: Severity::Medium,
    title: "zip end record's member count differs from the central directory",
    remedy: "rebuild the archive; readers that trust the count see fewer or more members",
};
/// Two members' bytes overlap.
pub const ZIP_OVERLAPPING_ENTRIES: Code = Code {
    id: "zip-overlapping-entries",
    severity: Severity::Medium,
    title: "zip members overlap",
    remedy: "do not extract the archive: overlapping members are used by zip bombs and to \
             show different readers different files",
};
/// A file reads both as another format and as a zip.
pub const ZIP_POLYGLOT: Code = Code {
    id: "zip-polyglot",
    severity: Severity::High,
    title: "file is both another format and a zip archive",
    remedy: "a loader that reads from the start and one that reads the zip directory see \
             different content; do not load the file, and split it into its parts",
};
/// The zip spans several disks.
pub const ZIP_MULTI_DISK: Code = Code {
    id: "zip-multi-disk",
    severity: Severity::Medium,
    title: "zip claims to span several disks",
    remedy: "rebuild the archive as a single file",
};
/// The zip structure could not be parsed.
pub const ZIP_INVALID: Code = Code {
    id: "zip-invalid",
    severity: Severity::Medium,
    title: "zip archive could not be parsed",
    remedy: "the archive was not inspected; rebuild it with a standard zip writer",
};
/// A member's data could not be decoded.
pub const ZIP_UNREADABLE_MEMBER: Code = Code {
    id: "zip-unreadable-member",
    severity: Severity::Medium,
    title: "zip member could not be decoded",
    remedy: "the member was not inspected; rebuild the archive",
};
/// A tar header's checksum is wrong.
pub const TAR_BAD_CHECKSUM: Code = Code {
    id: "tar-bad-checksum",
    severity: Severity::Medium,
    title: "tar header checksum is wrong; members after it were not read",
    remedy: "rebuild the archive; some extractors skip such headers and read on",
};
/// A tar member name or link target escapes the extraction folder.
pub const TAR_PATH_TRAVERSAL: Code = Code {
    id: "tar-path-traversal",
    severity: Severity::High,
    title: "tar member name or link escapes the extraction folder (`..` or absolute path)",
    remedy: "do not extract the archive (CVE-2007-4559); rebuild it with relative names",
};
/// A tar holds a hard or symbolic link.
pub const TAR_LINK: Code = Code {
    id: "tar-link",
    severity: Severity::Low,
    title: "tar member is a hard or symbolic link",
    remedy: "check the link target; model archives rarely need links",
};
/// Two tar members share a name.
pub const TAR_DUPLICATE_NAME: Code = Code {
    id: "tar-duplicate-name",
    severity: Severity::Medium,
    title: "two tar members share a name",
    remedy: "extractors keep the last copy and scanners may read the first; rebuild the archive",
};
/// Bytes after the end of a tar, or a member cut short.
pub const TAR_DATA_OUTSIDE_ENTRIES: Code = Code {
    id: "tar-data-outside-entries",
    severity: Severity::Medium,
    title: "tar has bytes after its end, or a member is cut short",
    remedy: "find out what the extra bytes are and rebuild the archive without them",
};
/// The tar could not be parsed.
pub const TAR_INVALID: Code = Code {
    id: "tar-invalid",
    severity: Severity::Medium,
    title: "tar archive could not be parsed",
    remedy: "the archive was not fully inspected; rebuild it with a standard tar writer",
};
/// A compressed stream is corrupt or truncated.
pub const COMPRESS_CORRUPT: Code = Code {
    id: "compress-corrupt",
    severity: Severity::Medium,
    title: "compressed stream is corrupt or truncated",
    remedy: "only the bytes before the damage were inspected; recompress the file",
};
/// Decompression exceeded the ratio limit.
pub const COMPRESS_BOMB: Code = Code {
    id: "compress-bomb",
    severity: Severity::High,
    title: "compressed data expands beyond the compression ratio limit (decompression bomb)",
    remedy: "do not decompress the file; if it is legitimate, raise `max_compression_ratio`",
};
/// Decompression exceeded the size limit.
pub const COMPRESS_TOO_LARGE: Code = Code {
    id: "compress-too-large",
    severity: Severity::Medium,
    title: "compressed data expands beyond the decompressed size limit",
    remedy: "only the first bytes were inspected; raise `max_decompressed_bytes` to scan it all",
};
/// Containers nested deeper than `limits.max_archive_depth`.
pub const ARCHIVE_DEPTH_LIMIT: Code = Code {
    id: "archive-depth-limit",
    severity: Severity::Medium,
    title: "containers nested deeper than the archive depth limit were not inspected",
    remedy: "unpack the outer archives and scan the inner ones, or raise `max_archive_depth`",
};
/// More members than `limits.max_archive_members`.
pub const ARCHIVE_TOO_MANY_MEMBERS: Code = Code {
    id: "archive-too-many-members",
    severity: Severity::Medium,
    title: "archive has more members than the limit; it was not inspected",
    remedy: "split the archive, or raise `max_archive_members`",
};
/// The per-file time budget ran out inside a container.
pub const ARCHIVE_TIME_BUDGET: Code = Code {
    id: "archive-time-budget",
    severity: Severity::Medium,
    title: "time budget ran out before every member was inspected",
    remedy: "scan the archive's members separately, or raise the time budget",
};

/// Every code of this module.
pub const CODES: &[Code] = &[
    ZIP_NAME_MISMATCH,
    ZIP_HEADER_MISMATCH,
    ZIP_BAD_LOCAL_HEADER,
    ZIP_BAD_CRC,
    ZIP_ENCRYPTED,
    ZIP_UNUSUAL_FLAGS,
    ZIP_UNSUPPORTED_METHOD,
    ZIP_DUPLICATE_NAME,
    ZIP_DATA_OUTSIDE_ENTRIES,
    ZIP_PATH_TRAVERSAL,
    ZIP_ENTRY_COUNT_MISMATCH,
    ZIP_OVERLAPPING_ENTRIES,
    ZIP_POLYGLOT,
    ZIP_MULTI_DISK,
    ZIP_INVALID,
    ZIP_UNREADABLE_MEMBER,
    TAR_BAD_CHECKSUM,
    TAR_PATH_TRAVERSAL,
    TAR_LINK,
    TAR_DUPLICATE_NAME,
    TAR_DATA_OUTSIDE_ENTRIES,
    TAR_INVALID,
    COMPRESS_CORRUPT,
    COMPRESS_BOMB,
    COMPRESS_TOO_LARGE,
    ARCHIVE_DEPTH_LIMIT,
    ARCHIVE_TOO_MANY_MEMBERS,
    ARCHIVE_TIME_BUDGET,
];

fn why(reason: UnsafePath) -> &'static str {
    match reason {
        UnsafePath::DotDot => "has a `..` component",
        UnsafePath::Absolute => "is absolute",
        UnsafePath::Backslash => "uses backslashes, which Windows extractors read as folders",
    }
}

/// The finding for one zip anomaly, located at the archive `loc`.
pub fn zip_anomaly(anomaly: &ZipAnomaly, loc: &Location) -> Finding {
    match anomaly {
        ZipAnomaly::NameMismatch { name, local } => Finding::new(
            ZIP_NAME_MISMATCH,
            loc.clone(),
            format!("central directory names the member `{name}`, its local header `{local}`"),
        ),
        ZipAnomaly::HeaderMismatch {
            name,
            field,
            central,
            local,
        } => Finding::new(
            ZIP_HEADER_MISMATCH,
            loc.clone(),
            format!(
                "member `{name}`: {field} is `{central}` in the central directory and \
                 `{local}` in the local header"
            ),
        ),
        ZipAnomaly::BadLocalHeader { name, offset } => Finding::new(
            ZIP_BAD_LOCAL_HEADER,
            loc.at(*offset),
            format!("member `{name}`: no valid local header at offset `{offset}`"),
        ),
        ZipAnomaly::Encrypted { name, flags } => Finding::new(
            ZIP_ENCRYPTED,
            loc.clone(),
            format!("member `{name}` has encryption flag bits set (flags `{flags:#06x}`)"),
        ),
        ZipAnomaly::UnusualFlags { name, flags } => Finding::new(
            ZIP_UNUSUAL_FLAGS,
            loc.clone(),
            format!("member `{name}` has unusual flag bits (flags `{flags:#06x}`)"),
        ),
        ZipAnomaly::UnsupportedMethod { name, method } => Finding::new(
            ZIP_UNSUPPORTED_METHOD,
            loc.clone(),
            format!("member `{name}` uses compression method `{method}`; it was not inspected"),
        ),
        ZipAnomaly::DuplicateName { first, other } => Finding::new(
            ZIP_DUPLICATE_NAME,
            loc.clone(),
            format!("members `{first}` and `{other}` have the same name to PyTorch's reader"),
        ),
        ZipAnomaly::DataOutsideEntries { gap, offset, len } => {
            let place = match gap {
                Gap::Before => "before the first member",
                Gap::Between => "between members",
                Gap::BeforeCentral => "between the last member and the central directory",
                Gap::After => "after the end of the archive",
            };
            Finding::new(
                ZIP_DATA_OUTSIDE_ENTRIES,
                loc.at(*offset),
                format!("`{len}` bytes {place} belong to no member"),
            )
        }
        ZipAnomaly::UnsafePath { name, reason } => Finding::new(
            ZIP_PATH_TRAVERSAL,
            loc.clone(),
            format!("member name `{name}` {}", why(*reason)),
        ),
        ZipAnomaly::EntryCountMismatch { declared, found } => Finding::new(
            ZIP_ENTRY_COUNT_MISMATCH,
            loc.clone(),
            format!("end record declares `{declared}` members, central directory holds `{found}`"),
        ),
        ZipAnomaly::Overlap { name, other } => Finding::new(
            ZIP_OVERLAPPING_ENTRIES,
            loc.clone(),
            format!("`{name}` overlaps `{other}`"),
        ),
        ZipAnomaly::Shifted { by } => Finding::new(
            ZIP_DATA_OUTSIDE_ENTRIES,
            loc.at(0),
            format!("`{by}` bytes were prepended to the archive without adjusting its offsets"),
        ),
        ZipAnomaly::MultiDisk => Finding::new(
            ZIP_MULTI_DISK,
            loc.clone(),
            "end record names a disk other than the first",
        ),
    }
}

/// The finding for a zip that could not be parsed, or a member that could not be read.
pub fn zip_error(err: &ZipError, loc: &Location) -> Finding {
    match err {
        ZipError::TooManyMembers { limit } => Finding::new(
            ARCHIVE_TOO_MANY_MEMBERS,
            loc.clone(),
            format!("zip has more than `{limit}` members (limit `max_archive_members`)"),
        ),
        ZipError::Limit { hit, .. } => limit_hit(*hit, loc),
        ZipError::UnsupportedMethod { .. } | ZipError::Corrupt { .. } => {
            Finding::new(ZIP_UNREADABLE_MEMBER, loc.clone(), err.to_string())
        }
        other => Finding::new(ZIP_INVALID, loc.clone(), other.to_string()),
    }
}

/// The finding for a decompression limit.
pub fn limit_hit(hit: LimitHit, loc: &Location) -> Finding {
    match hit {
        LimitHit::Ratio { .. } => Finding::new(COMPRESS_BOMB, loc.clone(), hit.to_string()),
        LimitHit::Size { .. } => Finding::new(COMPRESS_TOO_LARGE, loc.clone(), hit.to_string()),
        LimitHit::Time { .. } => Finding::new(ARCHIVE_TIME_BUDGET, loc.clone(), hit.to_string()),
    }
}

/// The finding for one tar anomaly.
pub fn tar_anomaly(anomaly: &TarAnomaly, loc: &Location) -> Finding {
    match anomaly {
        TarAnomaly::BadChecksum { offset } => Finding::new(
            TAR_BAD_CHECKSUM,
            loc.at(*offset),
            format!("header at offset `{offset}` has a wrong checksum"),
        ),
        TarAnomaly::Truncated { name, size } => Finding::new(
            TAR_DATA_OUTSIDE_ENTRIES,
            loc.clone(),
            format!("member `{name}` declares `{size}` bytes but the archive ends first"),
        ),
        TarAnomaly::UnsafePath { name, reason } => Finding::new(
            TAR_PATH_TRAVERSAL,
            loc.clone(),
            format!("name or link target `{name}` {}", why(*reason)),
        ),
        TarAnomaly::Link { name, target } => Finding::new(
            TAR_LINK,
            loc.clone(),
            format!("member `{name}` links to `{target}`"),
        ),
        TarAnomaly::DuplicateName { name } => Finding::new(
            TAR_DUPLICATE_NAME,
            loc.clone(),
            format!("more than one member is named `{name}`"),
        ),
        TarAnomaly::DataAfterEnd { offset } => Finding::new(
            TAR_DATA_OUTSIDE_ENTRIES,
            loc.at(*offset),
            format!("bytes after the end of the archive at offset `{offset}`"),
        ),
        TarAnomaly::BadHeader { offset, field } => Finding::new(
            TAR_INVALID,
            loc.at(*offset),
            format!("header at offset `{offset}` has an invalid {field}"),
        ),
    }
}

/// The finding for a tar that could not be parsed.
pub fn tar_error(err: &TarError, loc: &Location) -> Finding {
    match err {
        TarError::TooManyMembers { limit } => Finding::new(
            ARCHIVE_TOO_MANY_MEMBERS,
            loc.clone(),
            format!("tar has more than `{limit}` members (limit `max_archive_members`)"),
        ),
        TarError::Io { .. } => Finding::new(TAR_INVALID, loc.clone(), err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_follow_the_two_readers_rule() {
        for code in CODES {
            if code.id.contains("mismatch")
                || code.id.contains("duplicate")
                || code.id.contains("outside")
                || code.id.contains("polyglot")
            {
                assert!(code.severity >= Severity::Medium, "{}", code.id);
            }
            if code.id.ends_with("path-traversal") {
                assert_eq!(code.severity, Severity::High, "{}", code.id);
            }
        }
    }

    #[test]
    fn messages_name_the_member_and_values() {
        let loc = Location::file("m.pt");
        let f = zip_anomaly(
            &ZipAnomaly::NameMismatch {
                name: "a/data.pkl".into(),
                local: "a/x".into(),
            },
            &loc,
        );
        assert_eq!(f.code, ZIP_NAME_MISMATCH);
        assert!(f.message.contains("`a/data.pkl`") && f.message.contains("`a/x`"));
        let f = zip_anomaly(
            &ZipAnomaly::DataOutsideEntries {
                gap: Gap::After,
                offset: 9,
                len: 4,
            },
            &loc,
        );
        assert_eq!(f.location.offset, Some(9));
        let f = limit_hit(LimitHit::Size { limit: 5 }, &loc);
        assert_eq!(f.code, COMPRESS_TOO_LARGE);
    }
}
