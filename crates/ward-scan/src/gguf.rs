//! Rules for GGUF files: the header (metadata and tensor infos) is read and checked, and
//! every chat template in the metadata is analysed; tensor data is never read.
//!
//! The header is read in growing prefixes (1 MiB, then doubling) until the parser has what
//! it needs, so a 5 GB file costs the size of its header, and never more than
//! [`Limits::max_header_bytes`](ward_formats::Limits::max_header_bytes).

use std::io::{Read, SeekFrom};

use ward_formats::gguf::{self, Facts, Parsed, Problem};

use crate::template::{self, TemplateCodes};
use crate::{Code, Context, Finding, Location, Severity, Source};

/// First prefix read; most headers without a large vocabulary fit.
const FIRST_READ: u64 = 1 << 20;

/// Version 1, big-endian or unknown version.
pub const UNSUPPORTED_VERSION: Code = Code {
    id: "gguf-unsupported-version",
    severity: Severity::Medium,
    title: "GGUF version ward does not read (v1, big-endian or unknown)",
    remedy: "convert the model with a current `llama.cpp`; ward reads GGUF v2 and v3 little-endian",
};
/// A count larger than the file can hold.
pub const COUNT_EXCEEDS_FILE: Code = Code {
    id: "gguf-count-exceeds-file",
    severity: Severity::High,
    title: "GGUF count larger than the file can hold",
    remedy: "do not load the file; oversized counts are used to exhaust memory or overflow loaders",
};
/// A string length larger than the rest of the file.
pub const LENGTH_EXCEEDS_FILE: Code = Code {
    id: "gguf-length-exceeds-file",
    severity: Severity::High,
    title: "GGUF string length larger than the rest of the file",
    remedy: "do not load the file; oversized lengths are used to overflow loaders",
};
/// The file ends inside its header.
pub const TRUNCATED: Code = Code {
    id: "gguf-truncated",
    severity: Severity::Medium,
    title: "GGUF file ends inside its header",
    remedy: "download the file again; a truncated header cannot be checked",
};
/// A metadata value type the format does not define.
pub const UNKNOWN_VALUE_TYPE: Code = Code {
    id: "gguf-unknown-value-type",
    severity: Severity::Medium,
    title: "GGUF metadata value of an unknown type",
    remedy: "do not load the file; the rest of its header cannot be read",
};
/// Arrays nested deeper than the limit.
pub const NESTING_TOO_DEEP: Code = Code {
    id: "gguf-nesting-too-deep",
    severity: Severity::Medium,
    title: "GGUF metadata arrays nested deeper than the nesting limit",
    remedy: "check the file's origin; raise `max_nesting` only for a file you trust",
};
/// The header exceeds the header limit.
pub const HEADER_TOO_LARGE: Code = Code {
    id: "gguf-header-too-large",
    severity: Severity::Medium,
    title: "GGUF header larger than the header limit",
    remedy: "check the file's origin; raise `max_header_bytes` only for a file you trust",
};
/// A metadata key or tensor name appears twice.
pub const DUPLICATE: Code = Code {
    id: "gguf-duplicate-name",
    severity: Severity::High,
    title: "GGUF metadata key or tensor name appears twice",
    remedy: "do not load the file; loaders disagree on which entry wins",
};
/// Bad `general.alignment` or an unaligned tensor.
pub const BAD_ALIGNMENT: Code = Code {
    id: "gguf-bad-alignment",
    severity: Severity::Medium,
    title: "GGUF alignment invalid or tensor not aligned",
    remedy: "do not load the file; re-convert it with `llama.cpp`",
};
/// A tensor info with impossible dimensions.
pub const BAD_TENSOR_INFO: Code = Code {
    id: "gguf-bad-tensor-info",
    severity: Severity::Medium,
    title: "GGUF tensor info with impossible dimensions or size",
    remedy: "do not load the file; re-convert it with `llama.cpp`",
};
/// An unknown ggml tensor type.
pub const UNKNOWN_TENSOR_TYPE: Code = Code {
    id: "gguf-unknown-tensor-type",
    severity: Severity::Medium,
    title: "GGUF tensor of an unknown ggml type",
    remedy: "check the file's origin; a new quantization type may need a newer ward",
};
/// A tensor's data beyond the end of the file.
pub const TENSOR_OUT_OF_BOUNDS: Code = Code {
    id: "gguf-tensor-out-of-bounds",
    severity: Severity::High,
    title: "GGUF tensor data beyond the end of the file",
    remedy: "do not load the file; it is truncated or crafted to read out of bounds",
};
/// Two tensors share bytes.
pub const OVERLAP: Code = Code {
    id: "gguf-overlapping-tensors",
    severity: Severity::High,
    title: "GGUF tensors overlap",
    remedy: "do not load the file; converters never write overlapping tensors",
};
/// A chat template that reaches outside the Jinja sandbox.
pub const TEMPLATE_ESCAPE: Code = Code {
    id: "gguf-chat-template-escape",
    severity: Severity::Critical,
    title: "GGUF chat template reaches Python internals (server-side template injection)",
    remedy: "do not serve this model; loaders that render templates without a sandboxed environment run its code (CVE-2024-34359)",
};
/// A chat template using constructs that only serve to build an escape.
pub const TEMPLATE_SUSPICIOUS: Code = Code {
    id: "gguf-chat-template-suspicious",
    severity: Severity::High,
    title: "GGUF chat template uses constructs ordinary templates do not",
    remedy: "read the template; replace it with the model family's published template before serving",
};
/// A chat template that is not valid Jinja.
pub const TEMPLATE_INVALID: Code = Code {
    id: "gguf-chat-template-unparseable",
    severity: Severity::Medium,
    title: "GGUF chat template could not be parsed",
    remedy: "read the template; ward reports what it cannot parse instead of calling it clean",
};

/// Every code this module reports.
pub const CODES: &[Code] = &[
    UNSUPPORTED_VERSION,
    COUNT_EXCEEDS_FILE,
    LENGTH_EXCEEDS_FILE,
    TRUNCATED,
    UNKNOWN_VALUE_TYPE,
    NESTING_TOO_DEEP,
    HEADER_TOO_LARGE,
    DUPLICATE,
    BAD_ALIGNMENT,
    BAD_TENSOR_INFO,
    UNKNOWN_TENSOR_TYPE,
    TENSOR_OUT_OF_BOUNDS,
    OVERLAP,
    TEMPLATE_ESCAPE,
    TEMPLATE_SUSPICIOUS,
    TEMPLATE_INVALID,
];

const TEMPLATE_CODES: TemplateCodes = TemplateCodes {
    escape: TEMPLATE_ESCAPE,
    suspicious: TEMPLATE_SUSPICIOUS,
    invalid: TEMPLATE_INVALID,
};

/// What a scan of one GGUF file found, with the facts `ward bom` can reuse.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Findings, empty for a well-formed file with safe templates.
    pub findings: Vec<Finding>,
    /// What the header says, when its metadata could be read.
    pub facts: Option<Facts>,
    /// Bytes of the file that were read.
    pub bytes_read: u64,
}

/// Scans a GGUF file; see [`inspect`].
pub fn scan(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Vec<Finding> {
    inspect(src, len, loc, ctx).findings
}

/// Reads and checks the header of a GGUF file of `len` bytes and analyses its chat
/// templates. Tensor data is never read.
pub fn inspect(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Outcome {
    let mut out = Outcome::default();
    let cap = len.min(ctx.limits.max_header_bytes);
    let mut want = FIRST_READ.min(cap);
    let mut buf: Vec<u8> = Vec::new();
    let header = loop {
        if let Err(exhausted) = ctx.budget.check() {
            out.findings.push(Finding::new(
                TRUNCATED,
                loc.clone(),
                format!("stopped reading the header: {exhausted}"),
            ));
            return out;
        }
        // `want` never exceeds the header limit or the file, so the buffer is bounded.
        let have = buf.len() as u64;
        if want > have {
            let read = src
                .seek(SeekFrom::Start(have))
                .and_then(|_| src.take(want.saturating_sub(have)).read_to_end(&mut buf));
            if read.is_err() {
                out.findings.push(Finding::new(
                    TRUNCATED,
                    loc.at(have),
                    "the file could not be read to the end of its header",
                ));
                return out;
            }
        }
        out.bytes_read = buf.len() as u64;
        // A file shorter than it claims to be is read as what it is.
        let file_len = if (buf.len() as u64) < want {
            buf.len() as u64
        } else {
            len
        };
        match gguf::parse(
            &buf,
            file_len,
            ctx.limits.max_header_bytes,
            ctx.limits.max_nesting,
        ) {
            Parsed::Done(header) => break header,
            Parsed::NeedMore(n) => {
                let next = n.max(want.saturating_mul(2)).min(cap);
                if next <= want {
                    // The parser asks for bytes past the limit or the file; it reports that
                    // itself when given the whole allowed prefix, so this cannot loop.
                    out.findings.push(Finding::new(
                        TRUNCATED,
                        loc.at(want),
                        "the header did not fit in the bytes read",
                    ));
                    return out;
                }
                want = next;
            }
        }
    };
    for problem in &header.problems {
        out.findings.push(finding(problem, loc));
    }
    for (key, text) in &header.facts.chat_templates {
        out.findings
            .extend(template::check(text, key, loc, ctx, &TEMPLATE_CODES));
    }
    out.facts = Some(header.facts);
    out
}

fn finding(problem: &Problem, loc: &Location) -> Finding {
    match problem {
        Problem::UnsupportedVersion { version } => {
            let why = match version {
                1 => "version 1 used 32-bit counts and is refused".to_owned(),
                v if v.swap_bytes() == 2 || v.swap_bytes() == 3 => {
                    "the file is big-endian".to_owned()
                }
                v => format!("version `{v}` is unknown"),
            };
            Finding::new(
                UNSUPPORTED_VERSION,
                loc.at(4),
                format!("{why}; the file was not inspected"),
            )
        }
        Problem::CountExceedsFile {
            what,
            count,
            offset,
            remaining,
        } => Finding::new(
            COUNT_EXCEEDS_FILE,
            loc.at(*offset),
            format!(
                "the header claims `{count}` {what}, which cannot fit in the `{remaining}` bytes left in the file"
            ),
        ),
        Problem::LengthExceedsFile {
            len,
            offset,
            remaining,
        } => Finding::new(
            LENGTH_EXCEEDS_FILE,
            loc.at(*offset),
            format!("a string claims `{len}` bytes but only `{remaining}` are left in the file"),
        ),
        Problem::Truncated { offset } => Finding::new(
            TRUNCATED,
            loc.at(*offset),
            "the file ends inside its header",
        ),
        Problem::UnknownValueType {
            key,
            value_type,
            offset,
        } => Finding::new(
            UNKNOWN_VALUE_TYPE,
            loc.at(*offset),
            format!("metadata `{key}` has value type `{value_type}`, which GGUF does not define"),
        ),
        Problem::NestingTooDeep { key, limit } => Finding::new(
            NESTING_TOO_DEEP,
            loc.clone(),
            format!("metadata `{key}` nests arrays deeper than the limit of `{limit}`"),
        ),
        Problem::HeaderTooLarge { limit } => Finding::new(
            HEADER_TOO_LARGE,
            loc.clone(),
            format!(
                "the header is larger than the `max_header_bytes` limit of `{limit}` bytes; the rest was not inspected"
            ),
        ),
        Problem::Duplicate { what, name } => Finding::new(
            DUPLICATE,
            loc.clone(),
            format!("{what} `{name}` appears more than once"),
        ),
        Problem::BadAlignment { reason } => {
            Finding::new(BAD_ALIGNMENT, loc.clone(), reason.clone())
        }
        Problem::BadTensorInfo { name, reason } => Finding::new(
            BAD_TENSOR_INFO,
            loc.clone(),
            format!("tensor `{name}`: {reason}"),
        ),
        Problem::UnknownTensorType { name, ggml_type } => Finding::new(
            UNKNOWN_TENSOR_TYPE,
            loc.clone(),
            format!(
                "tensor `{name}` has ggml type `{ggml_type}`, which ward does not know, so its size cannot be checked"
            ),
        ),
        Problem::TensorOutOfBounds {
            name,
            end,
            file_len,
        } => {
            let end = end.map_or_else(|| "past 2^64".to_owned(), |e| format!("at byte `{e}`"));
            Finding::new(
                TENSOR_OUT_OF_BOUNDS,
                loc.clone(),
                format!("tensor `{name}` ends {end} but the file has `{file_len}` bytes"),
            )
        }
        Problem::Overlap { first, second } => Finding::new(
            OVERLAP,
            loc.clone(),
            format!("tensors `{first}` and `{second}` share bytes"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use ward_formats::Limits;

    use super::*;

    fn gguf(kvs: &[(&str, &str)]) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&(kvs.len() as u64).to_le_bytes());
        for (k, v) in kvs {
            out.extend_from_slice(&(k.len() as u64).to_le_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&8u32.to_le_bytes());
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        out
    }

    fn run(bytes: &[u8], limits: Limits) -> Outcome {
        inspect(
            &mut Cursor::new(bytes.to_vec()),
            bytes.len() as u64,
            &Location::file("m.gguf"),
            &Context::new(limits),
        )
    }

    fn ids(out: &Outcome) -> Vec<&'static str> {
        out.findings.iter().map(|f| f.code.id).collect()
    }

    #[test]
    fn a_clean_file_reports_facts() {
        let out = run(
            &gguf(&[
                ("general.architecture", "llama"),
                ("tokenizer.chat_template", "{{ messages[0]['content'] }}"),
            ]),
            Limits::default(),
        );
        assert_eq!(ids(&out), Vec::<&str>::new());
        assert_eq!(out.facts.unwrap().architecture.as_deref(), Some("llama"));
    }

    #[test]
    fn templates_are_checked() {
        let out = run(
            &gguf(&[(
                "tokenizer.chat_template",
                "{{ cycler.__init__.__globals__.os.popen('echo ward-fixture').read() }}",
            )]),
            Limits::default(),
        );
        assert!(ids(&out).contains(&"gguf-chat-template-escape"));
        let out = run(
            &gguf(&[("tokenizer.chat_template.tool_use", "{% if x %}")]),
            Limits::default(),
        );
        assert_eq!(ids(&out), ["gguf-chat-template-unparseable"]);
    }

    #[test]
    fn the_header_limit_is_enforced_and_large_headers_are_read_in_steps() {
        let big = "x".repeat(3 << 20);
        let bytes = gguf(&[("general.name", &big)]);
        let out = run(&bytes, Limits::default());
        assert_eq!(ids(&out), Vec::<&str>::new());
        assert_eq!(out.bytes_read, bytes.len() as u64);
        let out = run(
            &bytes,
            Limits {
                max_header_bytes: 1 << 20,
                ..Limits::default()
            },
        );
        assert_eq!(ids(&out), ["gguf-header-too-large"]);
        assert!(out.bytes_read <= 1 << 20);
    }

    #[test]
    fn only_the_header_is_read() {
        let mut bytes = gguf(&[("general.architecture", "llama")]);
        bytes.resize(bytes.len().next_multiple_of(32), 0);
        bytes.resize(bytes.len() + (4 << 20), 0);
        // One tensor would be needed to cover the data; with none, only the header is read.
        let out = run(&bytes, Limits::default());
        assert!(out.bytes_read <= 1 << 20, "{}", out.bytes_read);
    }

    #[test]
    fn a_five_gigabyte_file_costs_its_header() {
        let size: u64 = 5_000_000_000;
        let mut head = gguf(&[("general.architecture", "llama")]);
        // One F32 tensor of `size / 4` elements: patch the tensor count and append its info.
        head[8..16].copy_from_slice(&1u64.to_le_bytes());
        head.extend_from_slice(&1u64.to_le_bytes());
        head.push(b'w');
        head.extend_from_slice(&1u32.to_le_bytes());
        head.extend_from_slice(&(size / 4).to_le_bytes());
        head.extend_from_slice(&0u32.to_le_bytes());
        head.extend_from_slice(&0u64.to_le_bytes());
        let len = head.len().next_multiple_of(32) as u64 + size;
        let mut src = crate::safetensors::tests::Huge {
            head,
            len,
            pos: 0,
            read: 0,
        };
        let out = inspect(
            &mut src,
            len,
            &Location::file("big.gguf"),
            &Context::new(Limits::default()),
        );
        assert_eq!(ids(&out), Vec::<&str>::new());
        assert_eq!(out.facts.unwrap().parameter_count, u128::from(size / 4));
        assert!(src.read <= FIRST_READ, "read {} bytes", src.read);
    }

    #[test]
    fn the_time_budget_is_enforced() {
        let bytes = gguf(&[("general.architecture", "llama")]);
        let limits = Limits {
            time_budget: std::time::Duration::ZERO,
            ..Limits::default()
        };
        let out = run(&bytes, limits);
        assert_eq!(ids(&out), ["gguf-truncated"]);
        assert!(out.findings[0].message.contains("time budget"));
        assert_eq!(out.bytes_read, 0);
    }

    #[test]
    fn the_nesting_limit_is_enforced() {
        let mut bytes = b"GGUF".to_vec();
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.push(b'k');
        bytes.extend_from_slice(&9u32.to_le_bytes());
        for _ in 0..10 {
            bytes.extend_from_slice(&9u32.to_le_bytes());
            bytes.extend_from_slice(&1u64.to_le_bytes());
        }
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        assert_eq!(ids(&run(&bytes, Limits::default())), Vec::<&str>::new());
        assert_eq!(
            ids(&run(
                &bytes,
                Limits {
                    max_nesting: 4,
                    ..Limits::default()
                }
            )),
            ["gguf-nesting-too-deep"]
        );
    }
}
