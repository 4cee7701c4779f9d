//! A bounded tar reader: ustar, GNU long names and pax headers.
//!
//! Legacy PyTorch checkpoints (before 1.6, and `torch.save(..., _use_new_zipfile_serialization=False)`
//! with tar) are tars whose `pickle` member is unpickled by `torch.load`, so tar members must
//! be found and scanned like zip members. [`TarArchive::parse`] walks the headers only,
//! seeking over member data, and reports what extractors would do differently or
//! dangerously: names with `..` or absolute paths, links that point out of the archive,
//! duplicate names, bad checksums and bytes after the end.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};

use crate::Limits;
use crate::detect::{parse_octal, tar_checksums};
use crate::zip::UnsafePath;

const BLOCK: u64 = 512;

/// Why a tar could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// Reading the input failed.
    #[error("cannot read the tar at offset {offset}: {source}")]
    Io {
        /// Where the read was attempted.
        offset: u64,
        /// The underlying error.
        source: std::io::Error,
    },
    /// More members than `limits.max_archive_members`.
    #[error("more than {limit} members")]
    TooManyMembers {
        /// The limit.
        limit: usize,
    },
}

/// What kind of member a header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (`0` or NUL, and `7` contiguous files).
    File,
    /// A directory (`5`).
    Directory,
    /// A hard link (`1`).
    HardLink,
    /// A symbolic link (`2`).
    Symlink,
    /// Anything else (devices, FIFOs, vendor types); never extracted by ward.
    Other(u8),
}

/// One member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The name, from a pax `path` record, a GNU long name or the header (with the ustar
    /// prefix).
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// Size of its data.
    pub size: u64,
    /// Absolute offset of its data.
    pub data_offset: u64,
    /// Link target, for links.
    pub link: Option<String>,
}

/// A disagreement or oddity found while parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// A header's checksum is wrong: the walk stops there, like `tarfile`.
    BadChecksum {
        /// Offset of the header.
        offset: u64,
    },
    /// A member's data runs past the end of the input.
    Truncated {
        /// Member name.
        name: String,
        /// Its declared size.
        size: u64,
    },
    /// A name or link target that escapes the extraction folder.
    UnsafePath {
        /// The name or target.
        name: String,
        /// Why.
        reason: UnsafePath,
    },
    /// A hard or symbolic link.
    Link {
        /// Member name.
        name: String,
        /// Its target.
        target: String,
    },
    /// Two members share a name; extractors keep the last.
    DuplicateName {
        /// The name.
        name: String,
    },
    /// Non-zero bytes after the end-of-archive blocks, or a missing end.
    DataAfterEnd {
        /// Offset of the first such byte.
        offset: u64,
    },
    /// A header field that is not a number.
    BadHeader {
        /// Offset of the header.
        offset: u64,
        /// Which field.
        field: &'static str,
    },
}

/// A parsed tar archive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TarArchive {
    /// Members in order (directories and links included).
    pub members: Vec<Member>,
    /// Every oddity found.
    pub anomalies: Vec<Anomaly>,
}

/// Why a member name is unsafe, with tar's reading (no backslash rule: tar is POSIX).
pub fn unsafe_path(name: &str) -> Option<UnsafePath> {
    if name.starts_with('/') {
        Some(UnsafePath::Absolute)
    } else if name.split('/').any(|c| c == "..") {
        Some(UnsafePath::DotDot)
    } else {
        None
    }
}

fn field(header: &[u8], start: usize, len: usize) -> &[u8] {
    header
        .get(start..start.saturating_add(len))
        .unwrap_or_default()
}

fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

/// A size field: octal, or GNU base-256 when the high bit of the first byte is set.
fn parse_size(bytes: &[u8]) -> Option<u64> {
    match bytes.split_first() {
        Some((first, rest)) if first & 0x80 != 0 => {
            let mut value = u64::from(first & 0x7f);
            for &b in rest {
                value = value.checked_mul(256)?.checked_add(u64::from(b))?;
            }
            Some(value)
        }
        _ => {
            if bytes.iter().all(|&b| b == 0 || b == b' ') {
                Some(0)
            } else {
                parse_octal(bytes)
            }
        }
    }
}

/// The pax records `path`, `linkpath` and `size` from an extended header.
fn parse_pax(data: &[u8]) -> (Option<String>, Option<String>, Option<u64>) {
    let (mut path, mut link, mut size) = (None, None, None);
    let mut rest = data;
    while !rest.is_empty() {
        let Some(space) = rest.iter().position(|&b| b == b' ') else {
            break;
        };
        let Some(len) = std::str::from_utf8(rest.get(..space).unwrap_or_default())
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        else {
            break;
        };
        let Some(record) = rest.get(space.saturating_add(1)..len) else {
            break;
        };
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(eq) = record.iter().position(|&b| b == b'=') {
            let key = record.get(..eq).unwrap_or_default();
            let value =
                String::from_utf8_lossy(record.get(eq.saturating_add(1)..).unwrap_or_default())
                    .into_owned();
            match key {
                b"path" => path = Some(value),
                b"linkpath" => link = Some(value),
                b"size" => size = value.parse().ok(),
                _ => {}
            }
        }
        rest = rest.get(len..).unwrap_or_default();
    }
    (path, link, size)
}

impl TarArchive {
    /// Walks the headers of the tar `src` of length `len`, seeking over member data.
    /// Extended headers (GNU long names, pax) are read into memory up to
    /// `limits.max_header_bytes`.
    pub fn parse<R: Read + Seek + ?Sized>(
        src: &mut R,
        len: u64,
        limits: &Limits,
    ) -> Result<TarArchive, TarError> {
        let mut out = TarArchive::default();
        let mut names = BTreeSet::new();
        let mut offset = 0u64;
        let mut long_name: Option<String> = None;
        let mut long_link: Option<String> = None;
        let mut pax_size: Option<u64> = None;
        let mut headers = 0usize;
        loop {
            if offset.saturating_add(BLOCK) > len {
                if offset < len {
                    out.anomalies.push(Anomaly::DataAfterEnd { offset });
                }
                break;
            }
            headers = headers.saturating_add(1);
            if headers
                > limits
                    .max_archive_members
                    .saturating_mul(2)
                    .saturating_add(2)
            {
                return Err(TarError::TooManyMembers {
                    limit: limits.max_archive_members,
                });
            }
            let mut header = [0u8; 512];
            src.seek(SeekFrom::Start(offset))
                .map_err(|source| TarError::Io { offset, source })?;
            src.read_exact(&mut header)
                .map_err(|source| TarError::Io { offset, source })?;
            if header.iter().all(|&b| b == 0) {
                // End of archive: anything non-zero after the zero blocks is hidden data.
                let after = offset.saturating_add(BLOCK);
                if let Some(hidden) = first_nonzero(src, after, len)? {
                    out.anomalies.push(Anomaly::DataAfterEnd { offset: hidden });
                }
                break;
            }
            let stored = parse_octal(field(&header, 148, 8));
            let (unsigned, signed) = tar_checksums(&header);
            let ok = stored
                .is_some_and(|s| s == unsigned || i64::try_from(s).is_ok_and(|s| s == signed));
            if !ok {
                out.anomalies.push(Anomaly::BadChecksum { offset });
                break;
            }
            let Some(size) = parse_size(field(&header, 124, 12)) else {
                out.anomalies.push(Anomaly::BadHeader {
                    offset,
                    field: "size",
                });
                break;
            };
            let size = pax_size.take().unwrap_or(size);
            let typeflag = field(&header, 156, 1).first().copied().unwrap_or(0);
            let data_offset = offset.saturating_add(BLOCK);
            let padded = size.div_ceil(BLOCK).saturating_mul(BLOCK);
            let next = data_offset.saturating_add(padded);
            match typeflag {
                b'L' | b'K' | b'x' => {
                    if size > limits.max_header_bytes || data_offset.saturating_add(size) > len {
                        out.anomalies.push(Anomaly::BadHeader {
                            offset,
                            field: "extended header size",
                        });
                        break;
                    }
                    let mut data = vec![0u8; usize::try_from(size).unwrap_or(0)];
                    src.seek(SeekFrom::Start(data_offset))
                        .map_err(|source| TarError::Io {
                            offset: data_offset,
                            source,
                        })?;
                    src.read_exact(&mut data).map_err(|source| TarError::Io {
                        offset: data_offset,
                        source,
                    })?;
                    match typeflag {
                        b'L' => long_name = Some(text(&data)),
                        b'K' => long_link = Some(text(&data)),
                        _ => {
                            let (path, link, psize) = parse_pax(&data);
                            long_name = path.or(long_name);
                            long_link = link.or(long_link);
                            pax_size = psize;
                        }
                    }
                    offset = next;
                    continue;
                }
                // Global pax headers apply to all later members; ward only skips them.
                b'g' => {
                    offset = next;
                    continue;
                }
                _ => {}
            }
            let name = long_name.take().unwrap_or_else(|| {
                let base = text(field(&header, 0, 100));
                let prefix = text(field(&header, 345, 155));
                if field(&header, 257, 5) == b"ustar" && !prefix.is_empty() {
                    format!("{prefix}/{base}")
                } else {
                    base
                }
            });
            let link_target = long_link
                .take()
                .unwrap_or_else(|| text(field(&header, 157, 100)));
            let kind = match typeflag {
                0 | b'0' | b'7' => Kind::File,
                b'5' => Kind::Directory,
                b'1' => Kind::HardLink,
                b'2' => Kind::Symlink,
                other => Kind::Other(other),
            };
            // Links carry no data in the archive whatever their size field says.
            let size = if matches!(kind, Kind::HardLink | Kind::Symlink) {
                0
            } else {
                size
            };
            if data_offset.saturating_add(size) > len {
                out.anomalies.push(Anomaly::Truncated {
                    name: name.clone(),
                    size,
                });
            }
            if let Some(reason) = unsafe_path(&name) {
                out.anomalies.push(Anomaly::UnsafePath {
                    name: name.clone(),
                    reason,
                });
            }
            let link = matches!(kind, Kind::HardLink | Kind::Symlink).then_some(link_target);
            if let Some(target) = &link {
                out.anomalies.push(Anomaly::Link {
                    name: name.clone(),
                    target: target.clone(),
                });
                let base = name.rsplit_once('/').map_or("", |(dir, _)| dir);
                let joined = if base.is_empty() {
                    target.clone()
                } else {
                    format!("{base}/{target}")
                };
                if let Some(reason) =
                    unsafe_path(target).or_else(|| escapes(&joined).then_some(UnsafePath::DotDot))
                {
                    out.anomalies.push(Anomaly::UnsafePath {
                        name: target.clone(),
                        reason,
                    });
                }
            }
            if kind != Kind::Directory && !names.insert(name.clone()) {
                out.anomalies
                    .push(Anomaly::DuplicateName { name: name.clone() });
            }
            if out.members.len() >= limits.max_archive_members {
                return Err(TarError::TooManyMembers {
                    limit: limits.max_archive_members,
                });
            }
            out.members.push(Member {
                name,
                kind,
                size,
                data_offset,
                link,
            });
            offset = if matches!(kind, Kind::HardLink | Kind::Symlink) {
                data_offset
            } else {
                next
            };
        }
        Ok(out)
    }
}

/// Whether a relative path climbs above its root once `..` components are resolved.
fn escapes(path: &str) -> bool {
    let mut depth = 0i64;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn first_nonzero<R: Read + Seek + ?Sized>(
    src: &mut R,
    from: u64,
    len: u64,
) -> Result<Option<u64>, TarError> {
    src.seek(SeekFrom::Start(from))
        .map_err(|source| TarError::Io {
            offset: from,
            source,
        })?;
    let mut buf = [0u8; 8192];
    let mut at = from;
    while at < len {
        let want = usize::try_from((len - at).min(buf.len() as u64)).unwrap_or(buf.len());
        let chunk = buf.get_mut(..want).unwrap_or_default();
        src.read_exact(chunk)
            .map_err(|source| TarError::Io { offset: at, source })?;
        if let Some(i) = chunk.iter().position(|&b| b != 0) {
            return Ok(Some(at.saturating_add(i as u64)));
        }
        at = at.saturating_add(want as u64);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use ward_fixtures::containers::{EVIL_PICKLE, TarMember, legacy_torch_tar, tar, tar_files};

    use super::*;

    fn parse(bytes: &[u8]) -> TarArchive {
        TarArchive::parse(
            &mut Cursor::new(bytes),
            bytes.len() as u64,
            &Limits::default(),
        )
        .unwrap()
    }

    #[test]
    fn legacy_checkpoint_members_are_listed_with_offsets() {
        let bytes = legacy_torch_tar(EVIL_PICKLE);
        let tar = parse(&bytes);
        assert_eq!(tar.anomalies, vec![]);
        let names: Vec<&str> = tar.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["sys_info", "pickle", "storages", "tensors"]);
        let p = &tar.members[1];
        let at = p.data_offset as usize;
        assert_eq!(&bytes[at..at + p.size as usize], EVIL_PICKLE);
    }

    #[test]
    fn long_names_and_unsafe_paths() {
        let long = format!("{}/data.pkl", "d".repeat(120));
        let tar = parse(&tar_files(&[
            (&long, b"x"),
            ("../up", b"y"),
            ("/abs", b"z"),
        ]));
        assert_eq!(tar.members[0].name, long);
        assert_eq!(
            tar.anomalies,
            vec![
                Anomaly::UnsafePath {
                    name: "../up".into(),
                    reason: UnsafePath::DotDot
                },
                Anomaly::UnsafePath {
                    name: "/abs".into(),
                    reason: UnsafePath::Absolute
                },
            ]
        );
    }

    #[test]
    fn links_duplicates_and_checksums() {
        let mut link = TarMember::file("a/link", b"");
        link.kind = b'2';
        link.link = "../../etc/passwd".into();
        let mut bad = TarMember::file("bad", b"");
        bad.bad_checksum = true;
        let tar = parse(&tar(&[
            link,
            TarMember::file("x", b"1"),
            TarMember::file("x", b"2"),
            bad,
        ]));
        assert!(tar.anomalies.contains(&Anomaly::Link {
            name: "a/link".into(),
            target: "../../etc/passwd".into()
        }));
        assert!(tar.anomalies.iter().any(|a| matches!(
            a,
            Anomaly::UnsafePath {
                reason: UnsafePath::DotDot,
                ..
            }
        )));
        assert!(
            tar.anomalies
                .contains(&Anomaly::DuplicateName { name: "x".into() })
        );
        assert!(
            tar.anomalies
                .iter()
                .any(|a| matches!(a, Anomaly::BadChecksum { .. }))
        );
    }

    #[test]
    fn data_after_the_end_and_truncation_are_reported() {
        let mut bytes = tar_files(&[("a", b"1")]);
        bytes.extend_from_slice(b"hidden");
        let tar = parse(&bytes);
        assert!(
            tar.anomalies
                .iter()
                .any(|a| matches!(a, Anomaly::DataAfterEnd { .. }))
        );
        let full = tar_files(&[("a", &[1u8; 2000])]);
        let tar = parse(&full[..1024]);
        assert!(tar.anomalies.contains(&Anomaly::Truncated {
            name: "a".into(),
            size: 2000
        }));
    }

    #[test]
    fn member_limit_is_enforced() {
        let bytes = tar_files(&[("a", b"1"), ("b", b"2")]);
        let few = Limits {
            max_archive_members: 1,
            ..Limits::default()
        };
        assert!(matches!(
            TarArchive::parse(&mut Cursor::new(&bytes), bytes.len() as u64, &few),
            Err(TarError::TooManyMembers { limit: 1 })
        ));
    }

    #[test]
    fn sizes_parse_in_octal_and_base_256() {
        assert_eq!(parse_size(b"00000000012\0"), Some(10));
        assert_eq!(
            parse_size(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
            Some(256)
        );
        assert_eq!(parse_size(b"zz"), None);
        assert_eq!(parse_size(&[0xff; 12]), None);
    }
}
