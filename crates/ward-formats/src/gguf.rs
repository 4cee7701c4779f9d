//! GGUF headers: magic, version, metadata key-value pairs and tensor infos (versions 2 and 3,
//! little-endian). Tensor data is never read.
//!
//! Every count and length read from the file is checked against the bytes left in the
//! *file* before anything is allocated or skipped: a GGUF claiming 2^60 tensors or a string
//! of 2^63 bytes is the classic way to crash or exhaust a loader (the heap overflows fixed in
//! `gguf.c` in 2024 came from exactly these fields). Nested arrays are bounded by
//! [`Limits::max_nesting`](crate::Limits::max_nesting) and the whole header by
//! [`Limits::max_header_bytes`](crate::Limits::max_header_bytes).
//!
//! The parser works on a prefix of the file. When the prefix ends before the header does
//! and the file is longer, [`parse`] returns [`Parsed::NeedMore`] and the caller retries
//! with a longer prefix, so a scan reads only as much of the file as the header occupies.

use std::collections::{BTreeMap, BTreeSet};

use crate::Reader;

/// The magic at offset 0.
pub const MAGIC: &[u8; 4] = b"GGUF";
/// Alignment of the data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Most dimensions a ggml tensor can have.
pub const MAX_DIMS: u32 = 4;

/// Smallest encoding of one metadata pair: key length, empty key, type, one-byte value.
const MIN_KV_BYTES: u64 = 8 + 4 + 1;
/// Smallest encoding of one tensor info: name length, `n_dims`, type and offset.
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 4 + 8;

/// Metadata value types.
const T_UINT8: u32 = 0;
const T_INT8: u32 = 1;
const T_UINT16: u32 = 2;
const T_INT16: u32 = 3;
const T_UINT32: u32 = 4;
const T_INT32: u32 = 5;
const T_FLOAT32: u32 = 6;
const T_BOOL: u32 = 7;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;
const T_UINT64: u32 = 10;
const T_INT64: u32 = 11;
const T_FLOAT64: u32 = 12;

/// ggml tensor types this reader knows: `(id, name, elements per block, bytes per block)`,
/// as in ggml's type traits. Removed ids (4, 5, 31 to 33, 36 to 38) are unknown on purpose.
pub const GGML_TYPES: &[(u32, &str, u64, u64)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 40),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
    (40, "NVFP4", 64, 36),
    (41, "Q1_0", 128, 18),
];

/// A metadata value, with arrays summarised (their elements are checked, not kept).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Any unsigned integer type.
    Uint(u64),
    /// Any signed integer type.
    Int(i64),
    /// `float32` or `float64`.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string (invalid UTF-8 replaced).
    String(String),
    /// An array: its element type and length.
    Array {
        /// The element type id.
        elem_type: u32,
        /// The number of elements.
        len: u64,
    },
}

impl Value {
    fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Uint(v) => Some(*v),
            Value::Int(v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }
}

/// One tensor info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The tensor's name.
    pub name: String,
    /// Its dimensions, innermost first.
    pub dims: Vec<u64>,
    /// The ggml type id.
    pub ggml_type: u32,
    /// Offset of its data, relative to the start of the data section.
    pub offset: u64,
}

/// What the header says, for reports and `ward bom`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Format version (2 or 3).
    pub version: u32,
    /// Tensors described.
    pub tensor_count: u64,
    /// Elements over every tensor whose dimensions multiply without overflow.
    pub parameter_count: u128,
    /// Tensors per ggml type name (or `type-<id>` for unknown ones).
    pub tensor_types: BTreeMap<String, u64>,
    /// `general.architecture`.
    pub architecture: Option<String>,
    /// `general.name`.
    pub name: Option<String>,
    /// `general.file_type`: the quantization the file was written with.
    pub file_type: Option<u64>,
    /// `<architecture>.context_length`.
    pub context_length: Option<u64>,
    /// `general.base_model.<n>.name` and `general.base_model.<n>.repo_url` values.
    pub base_models: Vec<String>,
    /// `general.license`.
    pub license: Option<String>,
    /// Chat templates: `tokenizer.chat_template` and its named variants, key then text.
    pub chat_templates: Vec<(String, String)>,
}

/// A parsed header.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// Metadata pairs in file order.
    pub metadata: Vec<(String, Value)>,
    /// Tensor infos in file order.
    pub tensors: Vec<TensorInfo>,
    /// Alignment of the data section.
    pub alignment: u64,
    /// Offset of the data section in the file.
    pub data_start: u64,
    /// Extracted facts.
    pub facts: Facts,
    /// Every violation, in the order found.
    pub problems: Vec<Problem>,
}

/// The result of parsing a prefix of a file.
#[derive(Debug)]
pub enum Parsed {
    /// The header was read (possibly with problems, possibly stopped by one).
    Done(Box<Header>),
    /// The prefix ended inside the header; retry with at least this many bytes.
    NeedMore(u64),
}

/// One way a header breaks the format's rules or a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Version 1, a big-endian file, or an unknown version.
    UnsupportedVersion {
        /// The version field as read little-endian.
        version: u32,
    },
    /// A count whose items cannot fit in the bytes left in the file.
    CountExceedsFile {
        /// What was counted.
        what: &'static str,
        /// The count.
        count: u64,
        /// Offset of the count.
        offset: u64,
        /// Bytes left in the file after it.
        remaining: u64,
    },
    /// A string length larger than the bytes left in the file.
    LengthExceedsFile {
        /// The length.
        len: u64,
        /// Offset of the length.
        offset: u64,
        /// Bytes left in the file after it.
        remaining: u64,
    },
    /// The file ends inside the header.
    Truncated {
        /// Where.
        offset: u64,
    },
    /// A metadata value type this reader does not know.
    UnknownValueType {
        /// The key.
        key: String,
        /// The type id.
        value_type: u32,
        /// Offset of the type.
        offset: u64,
    },
    /// Arrays nested deeper than the limit.
    NestingTooDeep {
        /// The key.
        key: String,
        /// The limit.
        limit: usize,
    },
    /// The header is larger than the header limit.
    HeaderTooLarge {
        /// The limit.
        limit: u64,
    },
    /// A metadata key or tensor name appears twice.
    Duplicate {
        /// `metadata key` or `tensor name`.
        what: &'static str,
        /// The repeated name.
        name: String,
    },
    /// `general.alignment` is not a power of two, or a tensor is not aligned.
    BadAlignment {
        /// What is wrong.
        reason: String,
    },
    /// A tensor info with impossible dimensions or a size that overflows.
    BadTensorInfo {
        /// The tensor name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A ggml type this reader does not know, so the tensor's size cannot be checked.
    UnknownTensorType {
        /// The tensor name.
        name: String,
        /// The type id.
        ggml_type: u32,
    },
    /// A tensor's data lies beyond the end of the file.
    TensorOutOfBounds {
        /// The tensor name.
        name: String,
        /// Absolute end of its data.
        end: Option<u64>,
        /// The file length.
        file_len: u64,
    },
    /// Two tensors share bytes.
    Overlap {
        /// The first tensor.
        first: String,
        /// The second, which starts before the first ends.
        second: String,
    },
}

/// Why parsing stopped early.
enum Stop {
    NeedMore(u64),
    Fatal(Problem),
}

struct Cursor<'a> {
    r: Reader<'a>,
    file_len: u64,
    max_header: u64,
}

impl<'a> Cursor<'a> {
    fn remaining_in_file(&self) -> u64 {
        self.file_len.saturating_sub(self.r.offset())
    }

    /// Stops for a longer prefix, or for good if the file itself ends here.
    fn short(&self, need: u64) -> Stop {
        let want = self.r.offset().saturating_add(need);
        if want > self.file_len {
            Stop::Fatal(Problem::Truncated {
                offset: self.r.offset(),
            })
        } else if want > self.max_header {
            Stop::Fatal(Problem::HeaderTooLarge {
                limit: self.max_header,
            })
        } else {
            Stop::NeedMore(want)
        }
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], Stop> {
        let Ok(size) = usize::try_from(n) else {
            return Err(self.short(n));
        };
        match self.r.take(size) {
            Some(bytes) => Ok(bytes),
            None => Err(self.short(n)),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Stop> {
        let bytes = self.take(N as u64)?;
        bytes.try_into().map_err(|_| {
            Stop::Fatal(Problem::Truncated {
                offset: self.r.offset(),
            })
        })
    }

    fn u32(&mut self) -> Result<u32, Stop> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, Stop> {
        self.array().map(u64::from_le_bytes)
    }

    /// A count of items each at least `min` bytes, checked against the rest of the file.
    fn count(&mut self, what: &'static str, min: u64) -> Result<u64, Stop> {
        let offset = self.r.offset();
        let count = self.u64()?;
        let remaining = self.remaining_in_file();
        if count.checked_mul(min).is_none_or(|need| need > remaining) {
            return Err(Stop::Fatal(Problem::CountExceedsFile {
                what,
                count,
                offset,
                remaining,
            }));
        }
        Ok(count)
    }

    fn string_bytes(&mut self) -> Result<&'a [u8], Stop> {
        let offset = self.r.offset();
        let len = self.u64()?;
        let remaining = self.remaining_in_file();
        if len > remaining {
            return Err(Stop::Fatal(Problem::LengthExceedsFile {
                len,
                offset,
                remaining,
            }));
        }
        self.take(len)
    }

    fn string(&mut self) -> Result<String, Stop> {
        self.string_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// Parses the header from `prefix`, the first bytes of a file of `file_len` bytes.
///
/// Stops with [`Problem::HeaderTooLarge`] rather than asking for more than `max_header`
/// bytes, and bounds nested arrays by `max_nesting`.
pub fn parse(prefix: &[u8], file_len: u64, max_header: u64, max_nesting: usize) -> Parsed {
    let mut header = Header {
        alignment: DEFAULT_ALIGNMENT,
        ..Header::default()
    };
    let mut cur = Cursor {
        r: Reader::new(prefix),
        file_len,
        max_header,
    };
    match body(&mut cur, &mut header, max_nesting) {
        Ok(()) => {}
        Err(Stop::NeedMore(n)) => return Parsed::NeedMore(n),
        Err(Stop::Fatal(problem)) => header.problems.push(problem),
    }
    Parsed::Done(Box::new(header))
}

fn body(cur: &mut Cursor<'_>, header: &mut Header, max_nesting: usize) -> Result<(), Stop> {
    let magic = cur.take(4)?;
    if magic != MAGIC {
        return Err(Stop::Fatal(Problem::Truncated { offset: 0 }));
    }
    let version = cur.u32()?;
    // Version 1 used 32-bit counts and lengths; a big-endian file shows its version
    // byte-swapped. Both are refused rather than misread.
    if !(2..=3).contains(&version) {
        return Err(Stop::Fatal(Problem::UnsupportedVersion { version }));
    }
    header.facts.version = version;
    let tensor_count = cur.count("tensors", MIN_TENSOR_INFO_BYTES)?;
    let kv_count = cur.count("metadata pairs", MIN_KV_BYTES)?;
    header.facts.tensor_count = tensor_count;

    let mut keys = BTreeSet::new();
    for _ in 0..kv_count {
        let key = cur.string()?;
        let type_offset = cur.r.offset();
        let value_type = cur.u32()?;
        let value = value(cur, &key, value_type, type_offset, 0, max_nesting)?;
        if !keys.insert(key.clone()) {
            header.problems.push(Problem::Duplicate {
                what: "metadata key",
                name: key.clone(),
            });
        }
        header.metadata.push((key, value));
    }
    facts(header);

    let mut names = BTreeSet::new();
    for _ in 0..tensor_count {
        let name = cur.string()?;
        let n_dims = cur.u32()?;
        if n_dims > MAX_DIMS {
            return Err(Stop::Fatal(Problem::BadTensorInfo {
                name,
                reason: format!("`{n_dims}` dimensions, more than ggml's `{MAX_DIMS}`"),
            }));
        }
        let mut dims = Vec::new();
        for _ in 0..n_dims {
            dims.push(cur.u64()?);
        }
        let ggml_type = cur.u32()?;
        let offset = cur.u64()?;
        if !names.insert(name.clone()) {
            header.problems.push(Problem::Duplicate {
                what: "tensor name",
                name: name.clone(),
            });
        }
        header.tensors.push(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
        });
    }
    let end = cur.r.offset();
    header.data_start = end
        .checked_next_multiple_of(header.alignment)
        .ok_or(Stop::Fatal(Problem::Truncated { offset: end }))?;
    tensors(header, cur.file_len);
    Ok(())
}

fn value(
    cur: &mut Cursor<'_>,
    key: &str,
    value_type: u32,
    type_offset: u64,
    depth: usize,
    max_nesting: usize,
) -> Result<Value, Stop> {
    let scalar = |cur: &mut Cursor<'_>, t: u32| -> Result<Option<Value>, Stop> {
        Ok(Some(match t {
            T_UINT8 => Value::Uint(u64::from(u8::from_le_bytes(cur.array()?))),
            T_INT8 => Value::Int(i64::from(i8::from_le_bytes(cur.array()?))),
            T_UINT16 => Value::Uint(u64::from(u16::from_le_bytes(cur.array()?))),
            T_INT16 => Value::Int(i64::from(i16::from_le_bytes(cur.array()?))),
            T_UINT32 => Value::Uint(u64::from(u32::from_le_bytes(cur.array()?))),
            T_INT32 => Value::Int(i64::from(i32::from_le_bytes(cur.array()?))),
            T_FLOAT32 => Value::Float(f64::from(f32::from_le_bytes(cur.array()?))),
            T_BOOL => Value::Bool(u8::from_le_bytes(cur.array()?) != 0),
            T_UINT64 => Value::Uint(u64::from_le_bytes(cur.array()?)),
            T_INT64 => Value::Int(i64::from_le_bytes(cur.array()?)),
            T_FLOAT64 => Value::Float(f64::from_le_bytes(cur.array()?)),
            T_STRING => Value::String(cur.string()?),
            _ => return Ok(None),
        }))
    };
    if value_type != T_ARRAY {
        return match scalar(cur, value_type)? {
            Some(v) => Ok(v),
            None => Err(Stop::Fatal(Problem::UnknownValueType {
                key: key.to_owned(),
                value_type,
                offset: type_offset,
            })),
        };
    }
    if depth >= max_nesting {
        return Err(Stop::Fatal(Problem::NestingTooDeep {
            key: key.to_owned(),
            limit: max_nesting,
        }));
    }
    let elem_offset = cur.r.offset();
    let elem_type = cur.u32()?;
    let min = match elem_type {
        T_UINT8 | T_INT8 | T_BOOL => 1,
        T_UINT16 | T_INT16 => 2,
        T_UINT32 | T_INT32 | T_FLOAT32 => 4,
        T_UINT64 | T_INT64 | T_FLOAT64 | T_STRING => 8,
        // An array header: element type and count.
        T_ARRAY => 12,
        _ => {
            return Err(Stop::Fatal(Problem::UnknownValueType {
                key: key.to_owned(),
                value_type: elem_type,
                offset: elem_offset,
            }));
        }
    };
    let len = cur.count("array elements", min)?;
    match elem_type {
        // Fixed-size elements are skipped by length; the count was checked above.
        T_UINT8 | T_INT8 | T_BOOL | T_UINT16 | T_INT16 | T_UINT32 | T_INT32 | T_FLOAT32
        | T_UINT64 | T_INT64 | T_FLOAT64 => {
            let bytes = len.checked_mul(min).ok_or(Stop::Fatal(Problem::Truncated {
                offset: elem_offset,
            }))?;
            cur.take(bytes)?;
        }
        T_STRING => {
            for _ in 0..len {
                cur.string_bytes()?;
            }
        }
        _ => {
            for _ in 0..len {
                let at = cur.r.offset();
                value(cur, key, T_ARRAY, at, depth.saturating_add(1), max_nesting)?;
            }
        }
    }
    Ok(Value::Array { elem_type, len })
}

fn lookup<'h>(metadata: &'h [(String, Value)], key: &str) -> Option<&'h Value> {
    metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn facts(header: &mut Header) {
    let md = &header.metadata;
    let f = &mut header.facts;
    f.architecture = lookup(md, "general.architecture")
        .and_then(Value::as_str)
        .map(str::to_owned);
    f.name = lookup(md, "general.name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    f.file_type = lookup(md, "general.file_type").and_then(Value::as_u64);
    f.license = lookup(md, "general.license")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(arch) = &f.architecture {
        f.context_length = lookup(md, &format!("{arch}.context_length")).and_then(Value::as_u64);
    }
    for (key, value) in md {
        if let Some(rest) = key.strip_prefix("general.base_model.") {
            let name = rest
                .strip_suffix(".name")
                .or_else(|| rest.strip_suffix(".repo_url"));
            if let (Some(_), Some(v)) = (name, value.as_str()) {
                f.base_models.push(v.to_owned());
            }
        }
        let is_template =
            key == "tokenizer.chat_template" || key.starts_with("tokenizer.chat_template.");
        if let (true, Some(text)) = (is_template, value.as_str()) {
            f.chat_templates.push((key.clone(), text.to_owned()));
        }
    }
    match lookup(md, "general.alignment") {
        None => {}
        Some(Value::Uint(a)) if *a > 0 && a.is_power_of_two() => header.alignment = *a,
        Some(other) => {
            header.problems.push(Problem::BadAlignment {
                reason: format!(
                    "`general.alignment` is `{other:?}`, expected a power of two; the default of `{DEFAULT_ALIGNMENT}` was used"
                ),
            });
        }
    }
}

/// The size in bytes of a tensor of `ggml_type` with `dims`, or why it cannot be computed.
pub fn tensor_size(ggml_type: u32, dims: &[u64]) -> Result<u64, String> {
    let Some(&(_, name, block, size)) = GGML_TYPES.iter().find(|t| t.0 == ggml_type) else {
        return Err("unknown type".into());
    };
    let ne0 = dims.first().copied().unwrap_or(1);
    if ne0 % block != 0 {
        return Err(format!(
            "first dimension `{ne0}` is not a multiple of the `{name}` block size `{block}`"
        ));
    }
    dims.iter()
        .skip(1)
        .try_fold((ne0 / block).checked_mul(size), |acc, &d| {
            Some(acc?.checked_mul(d))
        })
        .flatten()
        .ok_or_else(|| "the size overflows 64 bits".into())
}

fn tensors(header: &mut Header, file_len: u64) {
    let mut ranges = Vec::new();
    for t in &header.tensors {
        let type_name = GGML_TYPES
            .iter()
            .find(|g| g.0 == t.ggml_type)
            .map_or_else(|| format!("type-{}", t.ggml_type), |g| g.1.to_owned());
        *header.facts.tensor_types.entry(type_name).or_default() += 1;
        if let Some(n) = t
            .dims
            .iter()
            .try_fold(1u128, |acc, &d| acc.checked_mul(u128::from(d)))
        {
            header.facts.parameter_count = header.facts.parameter_count.saturating_add(n);
        }
        if t.offset % header.alignment != 0 {
            header.problems.push(Problem::BadAlignment {
                reason: format!(
                    "tensor `{}` starts at data offset `{}`, not a multiple of the alignment `{}`",
                    t.name, t.offset, header.alignment
                ),
            });
        }
        let size = match tensor_size(t.ggml_type, &t.dims) {
            Ok(size) => size,
            Err(_) if !GGML_TYPES.iter().any(|g| g.0 == t.ggml_type) => {
                header.problems.push(Problem::UnknownTensorType {
                    name: t.name.clone(),
                    ggml_type: t.ggml_type,
                });
                continue;
            }
            Err(reason) => {
                header.problems.push(Problem::BadTensorInfo {
                    name: t.name.clone(),
                    reason,
                });
                continue;
            }
        };
        let start = header.data_start.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(size));
        match (start, end) {
            (Some(start), Some(end)) if end <= file_len => {
                ranges.push((start, end, t.name.clone()))
            }
            _ => header.problems.push(Problem::TensorOutOfBounds {
                name: t.name.clone(),
                end,
                file_len,
            }),
        }
    }
    ranges.sort();
    let mut last: Option<(u64, String)> = None;
    for (start, end, name) in ranges {
        if let Some((prev_end, prev)) = &last {
            if start < *prev_end {
                header.problems.push(Problem::Overlap {
                    first: prev.clone(),
                    second: name.clone(),
                });
            }
            if end <= *prev_end {
                continue;
            }
        }
        last = Some((end, name));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small GGUF writer for tests.
    #[derive(Default)]
    pub struct Writer {
        pub out: Vec<u8>,
    }

    impl Writer {
        pub fn new(version: u32, tensors: u64, kvs: u64) -> Self {
            let mut out = MAGIC.to_vec();
            out.extend_from_slice(&version.to_le_bytes());
            out.extend_from_slice(&tensors.to_le_bytes());
            out.extend_from_slice(&kvs.to_le_bytes());
            Self { out }
        }
        pub fn str(&mut self, s: &str) -> &mut Self {
            self.out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            self.out.extend_from_slice(s.as_bytes());
            self
        }
        pub fn u32(&mut self, v: u32) -> &mut Self {
            self.out.extend_from_slice(&v.to_le_bytes());
            self
        }
        pub fn u64(&mut self, v: u64) -> &mut Self {
            self.out.extend_from_slice(&v.to_le_bytes());
            self
        }
        pub fn kv_str(&mut self, k: &str, v: &str) -> &mut Self {
            self.str(k).u32(T_STRING).str(v)
        }
        pub fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> &mut Self {
            self.str(name).u32(dims.len() as u32);
            for d in dims {
                self.u64(*d);
            }
            self.u32(ty).u64(offset)
        }
        pub fn pad_data(&mut self, data: usize) -> Vec<u8> {
            let mut out = self.out.clone();
            out.resize(out.len().next_multiple_of(32) + data, 0);
            out
        }
    }

    fn done(bytes: &[u8]) -> Header {
        match parse(bytes, bytes.len() as u64, 1 << 20, 8) {
            Parsed::Done(h) => *h,
            Parsed::NeedMore(n) => panic!("asked for {n} bytes"),
        }
    }

    #[test]
    fn a_valid_file_parses_with_facts() {
        let mut w = Writer::new(3, 2, 3);
        w.kv_str("general.architecture", "llama")
            .kv_str("tokenizer.chat_template", "{{ x }}");
        w.str("llama.context_length").u32(T_UINT32).u32(4096);
        w.tensor("a", &[8], 0, 0).tensor("b", &[32, 2], 8, 32);
        let h = done(&w.pad_data(32 + 68));
        assert_eq!(h.problems, vec![]);
        assert_eq!(h.facts.architecture.as_deref(), Some("llama"));
        assert_eq!(h.facts.context_length, Some(4096));
        assert_eq!(h.facts.chat_templates.len(), 1);
        assert_eq!(h.facts.parameter_count, 72);
    }

    #[test]
    fn a_short_prefix_asks_for_more_and_a_short_file_is_truncated() {
        let mut w = Writer::new(3, 0, 1);
        w.kv_str("k", "a long enough value");
        let bytes = w.out.clone();
        assert!(
            matches!(parse(&bytes[..30], bytes.len() as u64, 1 << 20, 8), Parsed::NeedMore(n) if n > 30)
        );
        assert!(
            matches!(parse(&bytes[..30], bytes.len() as u64, 28, 8), Parsed::Done(h) if h.problems == vec![Problem::HeaderTooLarge { limit: 28 }])
        );
        let h = done(&bytes[..bytes.len() - 1]);
        assert!(matches!(
            h.problems.as_slice(),
            [Problem::LengthExceedsFile { .. }]
        ));
    }

    #[test]
    fn counts_are_checked_against_the_file_before_use() {
        let h = done(&Writer::new(3, u64::MAX, 0).out);
        assert!(matches!(
            h.problems.as_slice(),
            [Problem::CountExceedsFile {
                what: "tensors",
                ..
            }]
        ));
        let mut w = Writer::new(3, 0, 1);
        w.str("a").u32(T_ARRAY).u32(T_UINT64).u64(1 << 40);
        assert!(matches!(
            done(&w.out).problems.as_slice(),
            [Problem::CountExceedsFile {
                what: "array elements",
                ..
            }]
        ));
    }

    #[test]
    fn nested_arrays_are_bounded() {
        let mut w = Writer::new(3, 0, 1);
        w.str("deep").u32(T_ARRAY);
        for _ in 0..20 {
            w.u32(T_ARRAY).u64(1);
        }
        w.u32(T_UINT8).u64(0);
        w.out.extend_from_slice(&[0; 64]);
        assert!(matches!(
            done(&w.out).problems.as_slice(),
            [Problem::NestingTooDeep { limit: 8, .. }]
        ));
    }

    #[test]
    fn layout_problems_are_reported() {
        let mut w = Writer::new(3, 2, 0);
        w.tensor("a", &[8], 0, 0).tensor("b", &[8], 0, 16);
        let h = done(&w.pad_data(64));
        assert!(
            h.problems
                .iter()
                .any(|p| matches!(p, Problem::BadAlignment { .. }))
        );
        assert!(
            h.problems
                .iter()
                .any(|p| matches!(p, Problem::Overlap { .. }))
        );
        let mut w = Writer::new(2, 1, 0);
        w.tensor("a", &[8], 99, 0);
        assert!(matches!(
            done(&w.pad_data(64)).problems.as_slice(),
            [Problem::UnknownTensorType { .. }]
        ));
        let mut w = Writer::new(2, 1, 0);
        w.tensor("a", &[1 << 40], 0, 0);
        assert!(matches!(
            done(&w.pad_data(64)).problems.as_slice(),
            [Problem::TensorOutOfBounds { .. }]
        ));
        assert!(matches!(
            done(&Writer::new(1, 0, 0).out).problems.as_slice(),
            [Problem::UnsupportedVersion { version: 1 }]
        ));
    }
}
