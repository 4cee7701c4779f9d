//! Rules for safetensors files: the header is read and checked; tensor bytes never are.
//!
//! safetensors holds no code, so the risks are in the header: a length that points outside
//! the file, JSON that two readers understand differently (duplicate keys), and sizes or
//! offsets that lie, which lets a file smuggle bytes no tensor accounts for or makes a
//! reader compute out-of-bounds views. Each violation has its own code.

use std::io::{Read, SeekFrom};

use ward_formats::safetensors::{self, Facts, PREFIX_LEN, Problem};

use crate::{Code, Context, Finding, Location, Severity, Source};

/// The header does not fit the limit on header size.
pub const HEADER_TOO_LARGE: Code = Code {
    id: "safetensors-header-too-large",
    severity: Severity::Medium,
    title: "safetensors header larger than the header limit",
    remedy: "check where the file comes from; raise `max_header_bytes` only for a file you trust",
};
/// The header length points outside the file.
pub const HEADER_OUT_OF_BOUNDS: Code = Code {
    id: "safetensors-header-out-of-bounds",
    severity: Severity::High,
    title: "safetensors header length points outside the file",
    remedy: "do not load the file; it is truncated or was crafted to confuse readers",
};
/// The header is not strict JSON.
pub const INVALID_JSON: Code = Code {
    id: "safetensors-invalid-json",
    severity: Severity::Medium,
    title: "safetensors header is not valid strict JSON",
    remedy: "do not load the file; re-export it with the `safetensors` library",
};
/// A key appears twice in one JSON object.
pub const DUPLICATE_KEY: Code = Code {
    id: "safetensors-duplicate-key",
    severity: Severity::High,
    title: "safetensors header repeats a key that readers resolve differently",
    remedy: "do not load the file; readers disagree on which entry wins, so it can show different weights to different tools",
};
/// Non-whitespace bytes follow the header's JSON object.
pub const TRAILING_DATA: Code = Code {
    id: "safetensors-trailing-data",
    severity: Severity::Medium,
    title: "safetensors header has data after its JSON object",
    remedy: "do not load the file; re-export it with the `safetensors` library",
};
/// A tensor entry is malformed.
pub const BAD_ENTRY: Code = Code {
    id: "safetensors-bad-tensor-entry",
    severity: Severity::Medium,
    title: "safetensors tensor entry is malformed",
    remedy: "do not load the file; re-export it with the `safetensors` library",
};
/// A dtype the format does not define.
pub const UNKNOWN_DTYPE: Code = Code {
    id: "safetensors-unknown-dtype",
    severity: Severity::Medium,
    title: "safetensors tensor has an unknown dtype",
    remedy: "check the file's origin; a newer safetensors dtype may need a newer ward",
};
/// Shape times dtype size disagrees with the byte range.
pub const SIZE_MISMATCH: Code = Code {
    id: "safetensors-size-mismatch",
    severity: Severity::High,
    title: "safetensors tensor size disagrees with its shape and dtype",
    remedy: "do not load the file; its header lies about tensor sizes",
};
/// Two tensors share bytes.
pub const OVERLAP: Code = Code {
    id: "safetensors-overlapping-tensors",
    severity: Severity::High,
    title: "safetensors tensors overlap",
    remedy: "do not load the file; overlapping tensors are never written by the library",
};
/// Bytes of the data section that no tensor covers.
pub const DATA_GAP: Code = Code {
    id: "safetensors-uncovered-data",
    severity: Severity::Medium,
    title: "safetensors data section has bytes no tensor covers",
    remedy: "do not load the file; hidden bytes can carry a payload for another reader",
};
/// A tensor's byte range is outside the data section.
pub const OUT_OF_BOUNDS: Code = Code {
    id: "safetensors-offsets-out-of-bounds",
    severity: Severity::High,
    title: "safetensors tensor offsets point outside the data section",
    remedy: "do not load the file; it is truncated or crafted",
};
/// `__metadata__` is not a string-to-string map.
pub const BAD_METADATA: Code = Code {
    id: "safetensors-bad-metadata",
    severity: Severity::Medium,
    title: "safetensors `__metadata__` is not a map of strings to strings",
    remedy: "do not load the file; re-export it with the `safetensors` library",
};

/// Every code this module reports.
pub const CODES: &[Code] = &[
    HEADER_TOO_LARGE,
    HEADER_OUT_OF_BOUNDS,
    INVALID_JSON,
    DUPLICATE_KEY,
    TRAILING_DATA,
    BAD_ENTRY,
    UNKNOWN_DTYPE,
    SIZE_MISMATCH,
    OVERLAP,
    DATA_GAP,
    OUT_OF_BOUNDS,
    BAD_METADATA,
];

/// What a scan of one safetensors file found, with the facts `ward bom` can reuse.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Findings, empty for a well-formed file.
    pub findings: Vec<Finding>,
    /// What the header says, when it could be read.
    pub facts: Option<Facts>,
}

/// Scans a safetensors file; see [`inspect`].
pub fn scan(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Vec<Finding> {
    inspect(src, len, loc, ctx).findings
}

/// Reads the header of a safetensors file of `len` bytes and checks it; tensor bytes are
/// never read, so the cost is that of the header whatever the file's size.
pub fn inspect(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Outcome {
    let mut out = Outcome::default();
    let mut prefix = [0u8; 8];
    let read = src
        .seek(SeekFrom::Start(0))
        .and_then(|_| src.read_exact(&mut prefix));
    if len < PREFIX_LEN || read.is_err() {
        out.findings.push(Finding::new(
            HEADER_OUT_OF_BOUNDS,
            loc.at(0),
            format!("the file has `{len}` bytes, fewer than the 8-byte header length"),
        ));
        return out;
    }
    let n = u64::from_le_bytes(prefix);
    if n > ctx.limits.max_header_bytes {
        out.findings.push(Finding::new(
            HEADER_TOO_LARGE,
            loc.at(0),
            format!(
                "the header claims `{n}` bytes, more than the limit of `{}` bytes; the file was not inspected",
                ctx.limits.max_header_bytes
            ),
        ));
        return out;
    }
    let Some(data_start) = PREFIX_LEN.checked_add(n).filter(|&end| end <= len) else {
        out.findings.push(Finding::new(
            HEADER_OUT_OF_BOUNDS,
            loc.at(0),
            format!("the header claims `{n}` bytes but the file has only `{len}` bytes"),
        ));
        return out;
    };
    // `n` is at most `max_header_bytes` and at most the file's length, so this allocation is
    // bounded by a limit.
    let mut json = Vec::new();
    let taken = src.take(n).read_to_end(&mut json);
    if taken.is_err() || json.len() as u64 != n {
        out.findings.push(Finding::new(
            HEADER_OUT_OF_BOUNDS,
            loc.at(PREFIX_LEN),
            format!("could not read the `{n}`-byte header: the file ended early"),
        ));
        return out;
    }
    let data_len = len.saturating_sub(data_start);
    let header = safetensors::parse(&json, data_len, ctx.limits.max_nesting);
    for problem in header.problems {
        out.findings.push(finding(problem, loc, data_start));
    }
    out.facts = Some(header.facts);
    out
}

fn finding(problem: Problem, loc: &Location, data_start: u64) -> Finding {
    match problem {
        Problem::InvalidJson { offset, reason } => Finding::new(
            INVALID_JSON,
            loc.at(offset),
            format!("the header is not strict JSON: {reason}"),
        ),
        Problem::TrailingData { offset } => Finding::new(
            TRAILING_DATA,
            loc.at(offset),
            "non-whitespace bytes follow the header's JSON object",
        ),
        Problem::DuplicateKey { key, offset } => Finding::new(
            DUPLICATE_KEY,
            loc.at(offset),
            format!(
                "key `{key}` appears more than once; some readers keep the first, others the last"
            ),
        ),
        Problem::BadEntry { name, reason } => {
            Finding::new(BAD_ENTRY, loc.clone(), format!("tensor `{name}`: {reason}"))
        }
        Problem::UnknownDtype { name, dtype } => Finding::new(
            UNKNOWN_DTYPE,
            loc.clone(),
            format!(
                "tensor `{name}` has dtype `{dtype}`, which the safetensors format does not define"
            ),
        ),
        Problem::SizeMismatch {
            name,
            expected,
            actual,
        } => {
            let expected = expected.map_or_else(
                || "a size that overflows".to_owned(),
                |e| format!("`{e}` bytes"),
            );
            Finding::new(
                SIZE_MISMATCH,
                loc.clone(),
                format!(
                    "tensor `{name}` needs {expected} by shape and dtype, but its offsets give `{actual}` bytes"
                ),
            )
        }
        Problem::Overlap { first, second } => Finding::new(
            OVERLAP,
            loc.clone(),
            format!("tensors `{first}` and `{second}` share bytes"),
        ),
        Problem::Gap { start, end } => Finding::new(
            DATA_GAP,
            loc.at(data_start.saturating_add(start)),
            format!("data bytes `{start}..{end}` belong to no tensor"),
        ),
        Problem::OutOfBounds {
            name,
            offsets,
            data_len,
        } => Finding::new(
            OUT_OF_BOUNDS,
            loc.clone(),
            format!(
                "tensor `{name}` has offsets `[{}, {}]` but the data section has `{data_len}` bytes",
                offsets.0, offsets.1
            ),
        ),
        Problem::BadMetadata { reason } => Finding::new(BAD_METADATA, loc.clone(), reason),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Cursor;

    use ward_formats::Limits;

    use super::*;

    fn file(json: &str, data: usize) -> Vec<u8> {
        let mut out = (json.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(json.as_bytes());
        out.extend(std::iter::repeat_n(0u8, data));
        out
    }

    fn codes(bytes: &[u8], limits: Limits) -> Vec<&'static str> {
        let ctx = Context::new(limits);
        let out = inspect(
            &mut Cursor::new(bytes.to_vec()),
            bytes.len() as u64,
            &Location::file("t"),
            &ctx,
        );
        out.findings.iter().map(|f| f.code.id).collect()
    }

    #[test]
    fn a_valid_file_is_clean_and_reports_facts() {
        let bytes = file(
            r#"{"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}"#,
            8,
        );
        let ctx = Context::new(Limits::default());
        let out = inspect(
            &mut Cursor::new(bytes.clone()),
            bytes.len() as u64,
            &Location::file("t"),
            &ctx,
        );
        assert!(out.findings.is_empty(), "{:?}", out.findings);
        let facts = out.facts.unwrap();
        assert_eq!((facts.tensor_count, facts.parameter_count), (1, 4));
    }

    #[test]
    fn the_header_limit_is_enforced() {
        let bytes = file(
            r#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
            1,
        );
        let limits = Limits {
            max_header_bytes: 16,
            ..Limits::default()
        };
        assert_eq!(codes(&bytes, limits), ["safetensors-header-too-large"]);
        assert!(codes(&bytes, Limits::default()).is_empty());
    }

    #[test]
    fn the_nesting_limit_is_enforced() {
        let json = format!(
            r#"{{"__metadata__":{{"a":{}{}}}}}"#,
            "[".repeat(20),
            "]".repeat(20)
        );
        let limits = Limits {
            max_nesting: 8,
            ..Limits::default()
        };
        assert_eq!(codes(&file(&json, 0), limits), ["safetensors-invalid-json"]);
        assert_eq!(
            codes(&file(&json, 0), Limits::default()),
            ["safetensors-bad-metadata"]
        );
    }

    #[test]
    fn a_header_longer_than_the_file_is_reported() {
        let mut bytes = 1000u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        assert_eq!(
            codes(&bytes, Limits::default()),
            ["safetensors-header-out-of-bounds"]
        );
        assert_eq!(
            codes(b"abc", Limits::default()),
            ["safetensors-header-out-of-bounds"]
        );
    }

    /// A 5 GB input that holds only its header in memory and counts the bytes read.
    pub(crate) struct Huge {
        pub(crate) head: Vec<u8>,
        pub(crate) len: u64,
        pub(crate) pos: u64,
        pub(crate) read: u64,
    }

    impl std::io::Read for Huge {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let left = self.len.saturating_sub(self.pos);
            let n = (buf.len() as u64).min(left) as usize;
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = self.head.get(self.pos as usize + i).copied().unwrap_or(0);
            }
            self.pos += n as u64;
            self.read += n as u64;
            Ok(n)
        }
    }

    impl std::io::Seek for Huge {
        fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
            self.pos = match to {
                SeekFrom::Start(p) => p,
                SeekFrom::End(d) => self.len.saturating_add_signed(d),
                SeekFrom::Current(d) => self.pos.saturating_add_signed(d),
            };
            Ok(self.pos)
        }
    }

    #[test]
    fn a_five_gigabyte_file_costs_its_header() {
        let size: u64 = 5_000_000_000;
        let head = file(
            &format!(r#"{{"w":{{"dtype":"U8","shape":[{size}],"data_offsets":[0,{size}]}}}}"#),
            0,
        );
        let len = head.len() as u64 + size;
        let mut src = Huge {
            head,
            len,
            pos: 0,
            read: 0,
        };
        let out = inspect(
            &mut src,
            len,
            &Location::file("big"),
            &Context::new(Limits::default()),
        );
        assert!(out.findings.is_empty(), "{:?}", out.findings);
        assert_eq!(out.facts.unwrap().parameter_count, u128::from(size));
        assert!(src.read < 200, "read {} bytes", src.read);
    }

    #[test]
    fn every_code_is_distinct() {
        let mut ids: Vec<_> = CODES.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CODES.len());
    }
}
