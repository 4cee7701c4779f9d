//! safetensors headers: an 8-byte little-endian length, a JSON object, then raw tensor data.
//!
//! Only the header is read. The JSON is parsed by a small strict parser of our own rather
//! than `serde_json`, because the checks that matter here are invisible to a deserializer:
//! `serde_json` keeps the last of two duplicate keys while other readers keep the first, so
//! a header with a duplicated tensor name describes two different models depending on who
//! reads it. The parser keeps every key in order, reports duplicates, rejects `NaN`,
//! `Infinity` and non-whitespace trailing data, and bounds its nesting by
//! [`Limits::max_nesting`](crate::Limits::max_nesting).
//!
//! The validation then follows the format's own rules: known dtypes, shape times dtype size
//! equal to the byte range (checked arithmetic), byte ranges that are ordered, do not
//! overlap and cover the data section exactly, and `__metadata__` mapping strings to
//! strings. Every violation is returned as a [`Problem`]; nothing stops at the first one.

use std::collections::BTreeMap;

use crate::Reader;

/// Bytes of the length prefix.
pub const PREFIX_LEN: u64 = 8;

/// Headers claiming more than this many bytes are not safetensors headers for the sniffer
/// (a text file's first eight bytes read as a huge number); the real limit is
/// [`Limits::max_header_bytes`](crate::Limits::max_header_bytes).
const SNIFF_MAX_HEADER: u64 = 1 << 48;

/// Every dtype the safetensors format defines, with its size in bits.
pub const DTYPES: &[(&str, u64)] = &[
    ("BOOL", 8),
    ("F4", 4),
    ("F6_E2M3", 6),
    ("F6_E3M2", 6),
    ("U8", 8),
    ("I8", 8),
    ("F8_E5M2", 8),
    ("F8_E4M3", 8),
    ("F8_E8M0", 8),
    ("I16", 16),
    ("U16", 16),
    ("F16", 16),
    ("BF16", 16),
    ("I32", 32),
    ("U32", 32),
    ("F32", 32),
    ("C64", 64),
    ("F64", 64),
    ("I64", 64),
    ("U64", 64),
];

/// Whether `prefix` (the first bytes of an input of `len` bytes) looks like safetensors:
/// a plausible little-endian header length followed by a JSON object.
///
/// The length is not checked against `len` here so that a header that lies about its size
/// is still routed to the safetensors rules, which report the lie.
pub fn sniff(prefix: &[u8], len: u64) -> bool {
    let mut r = Reader::new(prefix);
    let Some(n) = r.u64_le() else { return false };
    if !(2..SNIFF_MAX_HEADER).contains(&n) || len < PREFIX_LEN.saturating_add(2) {
        return false;
    }
    if r.u8() != Some(b'{') {
        return false;
    }
    // The next non-whitespace byte opens a key or closes an empty object.
    while let Some(b) = r.u8() {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => continue,
            b'"' | b'}' => return true,
            _ => return false,
        }
    }
    // The prefix ended inside leading whitespace: still plausible.
    true
}

/// Reads the header length from the first eight bytes.
pub fn header_len(prefix: &[u8]) -> Option<u64> {
    Reader::new(prefix).u64_le()
}

/// One tensor as the header describes it, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorEntry {
    /// The tensor's name (the JSON key).
    pub name: String,
    /// The dtype string, as written.
    pub dtype: String,
    /// The shape.
    pub shape: Vec<u64>,
    /// Begin and end of the tensor's bytes, relative to the start of the data section.
    pub data_offsets: (u64, u64),
}

/// What a header says, for reports and `ward bom`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Number of tensors described.
    pub tensor_count: u64,
    /// Total number of elements over every tensor whose shape could be read.
    pub parameter_count: u128,
    /// Tensors per dtype.
    pub dtypes: BTreeMap<String, u64>,
    /// `__metadata__` entries whose keys and values are both strings.
    pub metadata: Vec<(String, String)>,
}

/// A parsed header: the tensors it describes, what they add up to, and every violation.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// Tensors whose entries were well-formed, in header order.
    pub tensors: Vec<TensorEntry>,
    /// Counts for reports.
    pub facts: Facts,
    /// Everything that breaks the format's rules.
    pub problems: Vec<Problem>,
}

/// One way a header breaks the format's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The header is not valid strict JSON (syntax, `NaN`, invalid UTF-8, too deep).
    InvalidJson {
        /// Offset of the error in the file.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// Non-whitespace bytes follow the JSON object inside the header.
    TrailingData {
        /// Offset of the first trailing byte in the file.
        offset: u64,
    },
    /// A key appears twice in one object; readers disagree on which one wins.
    DuplicateKey {
        /// The duplicated key.
        key: String,
        /// Offset of the second occurrence.
        offset: u64,
    },
    /// A tensor entry is not `{dtype, shape, data_offsets}` with the right types.
    BadEntry {
        /// The tensor name.
        name: String,
        /// What was wrong.
        reason: String,
    },
    /// A dtype the format does not define.
    UnknownDtype {
        /// The tensor name.
        name: String,
        /// The dtype string.
        dtype: String,
    },
    /// Shape times dtype size differs from the byte range, or overflows.
    SizeMismatch {
        /// The tensor name.
        name: String,
        /// Bytes the shape and dtype need, if computable.
        expected: Option<u64>,
        /// Bytes the offsets give.
        actual: u64,
    },
    /// Two tensors share bytes.
    Overlap {
        /// The first tensor.
        first: String,
        /// The second tensor, which starts before the first ends.
        second: String,
    },
    /// Bytes of the data section that no tensor covers (a gap, or trailing bytes after the
    /// last tensor), which can hide a payload.
    Gap {
        /// Start of the uncovered range, relative to the data section.
        start: u64,
        /// End of the uncovered range.
        end: u64,
    },
    /// A tensor's bytes lie beyond the end of the file, or its begin exceeds its end.
    OutOfBounds {
        /// The tensor name.
        name: String,
        /// Begin and end as written.
        offsets: (u64, u64),
        /// Bytes in the data section.
        data_len: u64,
    },
    /// `__metadata__` is not an object of strings to strings.
    BadMetadata {
        /// What was wrong.
        reason: String,
    },
}

/// Parses and validates a header.
///
/// `json` is the header's bytes (file offset 8 onwards), `data_len` the bytes after the
/// header in the file, and `max_nesting` the bound on JSON nesting.
pub fn parse(json: &[u8], data_len: u64, max_nesting: usize) -> Header {
    let mut header = Header::default();
    let mut parser = Parser {
        r: Reader::with_base(json, PREFIX_LEN),
        max_nesting,
        duplicates: Vec::new(),
        trailing: None,
    };
    let value = match parser.document() {
        Ok(value) => value,
        Err(err) => {
            header.problems.push(Problem::InvalidJson {
                offset: err.offset,
                reason: err.reason,
            });
            return header;
        }
    };
    for (key, offset) in parser.duplicates {
        header.problems.push(Problem::DuplicateKey { key, offset });
    }
    if let Some(offset) = parser.trailing {
        header.problems.push(Problem::TrailingData { offset });
    }
    let Value::Object(entries) = value else {
        header.problems.push(Problem::InvalidJson {
            offset: PREFIX_LEN,
            reason: "the header is not a JSON object".into(),
        });
        return header;
    };
    let mut seen = std::collections::BTreeSet::new();
    for (name, value) in entries {
        // Later duplicates were reported above; the first occurrence is validated, as the
        // reference reader does.
        if !seen.insert(name.clone()) {
            continue;
        }
        if name == "__metadata__" {
            metadata(value, &mut header);
            continue;
        }
        if let Some(entry) = tensor(&name, value, &mut header.problems) {
            header.facts.tensor_count = header.facts.tensor_count.saturating_add(1);
            *header.facts.dtypes.entry(entry.dtype.clone()).or_default() += 1;
            if let Some(n) = entry
                .shape
                .iter()
                .try_fold(1u128, |acc, &d| acc.checked_mul(u128::from(d)))
            {
                header.facts.parameter_count = header.facts.parameter_count.saturating_add(n);
            }
            header.tensors.push(entry);
        }
    }
    layout(&header.tensors, data_len, &mut header.problems);
    header
}

fn metadata(value: Value, header: &mut Header) {
    let Value::Object(entries) = value else {
        header.problems.push(Problem::BadMetadata {
            reason: format!("`__metadata__` is {}, expected an object", value.kind()),
        });
        return;
    };
    for (key, value) in entries {
        match value {
            Value::String(s) => header.facts.metadata.push((key, s)),
            other => header.problems.push(Problem::BadMetadata {
                reason: format!(
                    "`__metadata__.{key}` is {}, expected a string",
                    other.kind()
                ),
            }),
        }
    }
}

fn tensor(name: &str, value: Value, problems: &mut Vec<Problem>) -> Option<TensorEntry> {
    let bad = |reason: String| Problem::BadEntry {
        name: name.to_owned(),
        reason,
    };
    let Value::Object(fields) = value else {
        problems.push(bad(format!(
            "the entry is {}, expected an object",
            value.kind()
        )));
        return None;
    };
    let (mut dtype, mut shape, mut offsets) = (None, None, None);
    for (key, value) in fields {
        match key.as_str() {
            "dtype" => dtype = Some(value),
            "shape" => shape = Some(value),
            "data_offsets" => offsets = Some(value),
            other => {
                problems.push(bad(format!("unexpected field `{other}`")));
                return None;
            }
        }
    }
    let dtype = match dtype {
        Some(Value::String(s)) => s,
        Some(other) => {
            problems.push(bad(format!(
                "`dtype` is {}, expected a string",
                other.kind()
            )));
            return None;
        }
        None => {
            problems.push(bad("missing `dtype`".into()));
            return None;
        }
    };
    let shape = match shape.map(|v| v.u64_array()) {
        Some(Ok(s)) => s,
        Some(Err(kind)) => {
            problems.push(bad(format!(
                "`shape` is {kind}, expected an array of unsigned integers"
            )));
            return None;
        }
        None => {
            problems.push(bad("missing `shape`".into()));
            return None;
        }
    };
    let data_offsets = match offsets.map(|v| v.u64_array()) {
        Some(Ok(o)) => match o.as_slice() {
            [begin, end] => (*begin, *end),
            _ => {
                problems.push(bad(format!(
                    "`data_offsets` has {} items, expected 2",
                    o.len()
                )));
                return None;
            }
        },
        Some(Err(kind)) => {
            problems.push(bad(format!(
                "`data_offsets` is {kind}, expected two unsigned integers"
            )));
            return None;
        }
        None => {
            problems.push(bad("missing `data_offsets`".into()));
            return None;
        }
    };
    let actual = data_offsets.1.saturating_sub(data_offsets.0);
    match DTYPES.iter().find(|(d, _)| *d == dtype) {
        None => problems.push(Problem::UnknownDtype {
            name: name.to_owned(),
            dtype: dtype.clone(),
        }),
        Some(&(_, bits)) => {
            let expected = shape
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .and_then(|n| n.checked_mul(bits))
                .and_then(|b| if b % 8 == 0 { Some(b / 8) } else { None });
            if expected != Some(actual) {
                problems.push(Problem::SizeMismatch {
                    name: name.to_owned(),
                    expected,
                    actual,
                });
            }
        }
    }
    Some(TensorEntry {
        name: name.to_owned(),
        dtype,
        shape,
        data_offsets,
    })
}

/// Checks that the byte ranges are in bounds, disjoint and cover the data section exactly.
fn layout(tensors: &[TensorEntry], data_len: u64, problems: &mut Vec<Problem>) {
    let mut ranges: Vec<&TensorEntry> = Vec::with_capacity(tensors.len());
    let mut out_of_bounds = false;
    for t in tensors {
        let (begin, end) = t.data_offsets;
        if begin > end || end > data_len {
            out_of_bounds = true;
            problems.push(Problem::OutOfBounds {
                name: t.name.clone(),
                offsets: t.data_offsets,
                data_len,
            });
        } else {
            ranges.push(t);
        }
    }
    ranges.sort_by_key(|t| t.data_offsets);
    let mut covered = 0u64;
    let mut last: Option<&TensorEntry> = None;
    for t in ranges {
        let (begin, end) = t.data_offsets;
        if begin < covered {
            if let Some(prev) = last {
                problems.push(Problem::Overlap {
                    first: prev.name.clone(),
                    second: t.name.clone(),
                });
            }
        } else if begin > covered {
            problems.push(Problem::Gap {
                start: covered,
                end: begin,
            });
        }
        if end >= covered {
            covered = end;
            last = Some(t);
        }
    }
    // An out-of-bounds tensor already explains the uncovered tail; one finding is enough.
    if covered < data_len && !out_of_bounds {
        problems.push(Problem::Gap {
            start: covered,
            end: data_len,
        });
    }
}

/// A JSON value with object keys kept in order (duplicates included).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool,
    /// The number's text, validated against the JSON grammar.
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    /// The value as an array of `u64`, or the kind of value it is instead.
    fn u64_array(self) -> Result<Vec<u64>, &'static str> {
        let Value::Array(items) = self else {
            return Err(self.kind());
        };
        items
            .into_iter()
            .map(|item| match item {
                Value::Number(text) => {
                    parse_u64(&text).ok_or("a number that is not an unsigned 64-bit integer")
                }
                other => Err(other.kind()),
            })
            .collect()
    }
}

/// Parses a JSON number's text as a `u64`: digits only, no sign, fraction or exponent.
fn parse_u64(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.bytes().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

struct JsonError {
    offset: u64,
    reason: String,
}

struct Parser<'a> {
    r: Reader<'a>,
    max_nesting: usize,
    duplicates: Vec<(String, u64)>,
    trailing: Option<u64>,
}

impl Parser<'_> {
    fn err<T>(&self, reason: impl Into<String>) -> Result<T, JsonError> {
        Err(JsonError {
            offset: self.r.offset(),
            reason: reason.into(),
        })
    }

    fn ws(&mut self) {
        while let Some([b' ' | b'\t' | b'\n' | b'\r']) = self.r.peek(1) {
            let _ = self.r.u8();
        }
    }

    fn document(&mut self) -> Result<Value, JsonError> {
        self.ws();
        let value = self.value(0)?;
        self.ws();
        if !self.r.is_empty() {
            self.trailing = Some(self.r.offset());
        }
        Ok(value)
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth >= self.max_nesting {
            return self.err(format!(
                "nesting deeper than the limit of {}",
                self.max_nesting
            ));
        }
        match self.r.peek(1) {
            Some([b'{']) => self.object(depth),
            Some([b'[']) => self.array(depth),
            Some([b'"']) => self.string().map(Value::String),
            Some([b't']) => self.literal("true", Value::Bool),
            Some([b'f']) => self.literal("false", Value::Bool),
            Some([b'n']) => self.literal("null", Value::Null),
            Some([b'-' | b'0'..=b'9']) => self.number(),
            Some([b'N' | b'I']) => self.err("`NaN` and `Infinity` are not JSON"),
            Some(_) => self.err("expected a JSON value"),
            None => self.err("the header ends where a value was expected"),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, JsonError> {
        if self.r.peek(word.len()) == Some(word.as_bytes()) {
            let _ = self.r.skip(word.len());
            Ok(value)
        } else {
            self.err("expected a JSON value")
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        let _ = self.r.u8();
        let mut entries: Vec<(String, Value)> = Vec::new();
        let mut keys = std::collections::BTreeSet::new();
        self.ws();
        if self.r.peek(1) == Some(b"}") {
            let _ = self.r.u8();
            return Ok(Value::Object(entries));
        }
        loop {
            self.ws();
            let at = self.r.offset();
            if self.r.peek(1) != Some(b"\"") {
                return self.err("expected a string key");
            }
            let key = self.string()?;
            if !keys.insert(key.clone()) {
                self.duplicates.push((key.clone(), at));
            }
            self.ws();
            if self.r.u8() != Some(b':') {
                return self.err("expected `:` after an object key");
            }
            self.ws();
            let value = self.value(depth.saturating_add(1))?;
            entries.push((key, value));
            self.ws();
            match self.r.u8() {
                Some(b',') => continue,
                Some(b'}') => return Ok(Value::Object(entries)),
                _ => return self.err("expected `,` or `}` in an object"),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        let _ = self.r.u8();
        let mut items = Vec::new();
        self.ws();
        if self.r.peek(1) == Some(b"]") {
            let _ = self.r.u8();
            return Ok(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth.saturating_add(1))?);
            self.ws();
            match self.r.u8() {
                Some(b',') => continue,
                Some(b']') => return Ok(Value::Array(items)),
                _ => return self.err("expected `,` or `]` in an array"),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let mut text = String::new();
        let take_digits = |p: &mut Self, text: &mut String| -> usize {
            let mut n = 0;
            while let Some([d @ b'0'..=b'9']) = p.r.peek(1) {
                text.push(char::from(*d));
                let _ = p.r.u8();
                n += 1;
            }
            n
        };
        if self.r.peek(1) == Some(b"-") {
            text.push('-');
            let _ = self.r.u8();
        }
        let first = self.r.peek(1);
        let int_digits = take_digits(self, &mut text);
        if int_digits == 0 {
            return self.err("expected digits in a number");
        }
        if first == Some(b"0") && int_digits > 1 {
            return self.err("numbers may not have leading zeros");
        }
        if self.r.peek(1) == Some(b".") {
            text.push('.');
            let _ = self.r.u8();
            if take_digits(self, &mut text) == 0 {
                return self.err("expected digits after `.`");
            }
        }
        if let Some([e @ (b'e' | b'E')]) = self.r.peek(1) {
            text.push(char::from(*e));
            let _ = self.r.u8();
            if let Some([s @ (b'+' | b'-')]) = self.r.peek(1) {
                text.push(char::from(*s));
                let _ = self.r.u8();
            }
            if take_digits(self, &mut text) == 0 {
                return self.err("expected digits in an exponent");
            }
        }
        Ok(Value::Number(text))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let Some(digits) = self.r.take(4) else {
            return self.err("truncated `\\u` escape");
        };
        let text = std::str::from_utf8(digits).ok();
        match text.and_then(|t| u32::from_str_radix(t, 16).ok()) {
            Some(v) => Ok(v),
            None => self.err("invalid `\\u` escape"),
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let _ = self.r.u8();
        let mut out = Vec::new();
        loop {
            let Some(b) = self.r.u8() else {
                return self.err("unterminated string");
            };
            match b {
                b'"' => break,
                b'\\' => match self.r.u8() {
                    Some(b'"') => out.push(b'"'),
                    Some(b'\\') => out.push(b'\\'),
                    Some(b'/') => out.push(b'/'),
                    Some(b'b') => out.push(8),
                    Some(b'f') => out.push(12),
                    Some(b'n') => out.push(b'\n'),
                    Some(b'r') => out.push(b'\r'),
                    Some(b't') => out.push(b'\t'),
                    Some(b'u') => {
                        let hi = self.hex4()?;
                        let code = if (0xD800..0xDC00).contains(&hi) {
                            if self.r.take(2) != Some(b"\\u") {
                                return self.err("unpaired surrogate in `\\u` escape");
                            }
                            let lo = self.hex4()?;
                            if !(0xDC00..0xE000).contains(&lo) {
                                return self.err("unpaired surrogate in `\\u` escape");
                            }
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            hi
                        };
                        let Some(c) = char::from_u32(code) else {
                            return self.err("`\\u` escape is not a Unicode scalar value");
                        };
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return self.err("invalid escape in a string"),
                },
                0..=0x1f => return self.err("control character in a string"),
                other => out.push(other),
            }
        }
        match String::from_utf8(out) {
            Ok(s) => Ok(s),
            Err(_) => self.err("a string is not valid UTF-8"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str, data_len: u64) -> Header {
        parse(json.as_bytes(), data_len, 64)
    }

    #[test]
    fn a_valid_header_has_no_problems_and_counts_parameters() {
        let h = header(
            r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[2,3],"data_offsets":[16,28]},"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}  "#,
            28,
        );
        assert_eq!(h.problems, vec![]);
        assert_eq!(h.facts.tensor_count, 2);
        assert_eq!(h.facts.parameter_count, 10);
        assert_eq!(h.facts.metadata, vec![("format".into(), "pt".into())]);
        assert_eq!(h.facts.dtypes.get("F16"), Some(&1));
    }

    #[test]
    fn duplicates_trailing_data_and_nan_are_reported() {
        let h = header(
            r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{}} x"#,
            1,
        );
        assert!(
            matches!(h.problems.as_slice(), [Problem::DuplicateKey { key, .. }, Problem::TrailingData { .. }] if key == "a")
        );
        let h = header(r#"{"a":NaN}"#, 0);
        assert!(matches!(
            h.problems.as_slice(),
            [Problem::InvalidJson { .. }]
        ));
        let h = header(r#"{"a":1,}"#, 0);
        assert!(matches!(
            h.problems.as_slice(),
            [Problem::InvalidJson { .. }]
        ));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        let h = header(&deep, 0);
        assert!(
            matches!(h.problems.as_slice(), [Problem::InvalidJson { reason, .. }] if reason.contains("nesting"))
        );
        let shallow = format!(
            "{{\"__metadata__\":{{\"a\":{}{}}}}}",
            "[".repeat(10),
            "]".repeat(10)
        );
        assert!(matches!(
            header(&shallow, 0).problems.as_slice(),
            [Problem::BadMetadata { .. }]
        ));
    }

    #[test]
    fn layout_violations_each_have_a_problem() {
        let h = header(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            12,
        );
        assert!(
            h.problems
                .iter()
                .any(|p| matches!(p, Problem::Overlap { .. }))
        );
        let h = header(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            12,
        );
        assert_eq!(h.problems, vec![Problem::Gap { start: 8, end: 12 }]);
        let h = header(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            4,
        );
        assert!(matches!(
            h.problems.as_slice(),
            [Problem::OutOfBounds { .. }]
        ));
        let h = header(
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#,
            8,
        );
        assert!(matches!(
            h.problems.as_slice(),
            [Problem::SizeMismatch { expected: None, .. }]
        ));
        let h = header(
            r#"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}}"#,
            1,
        );
        assert!(matches!(
            h.problems.as_slice(),
            [Problem::UnknownDtype { .. }]
        ));
        let h = header(
            r#"{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#,
            1,
        );
        assert!(matches!(
            h.problems.as_slice(),
            [Problem::BadEntry { .. }, Problem::Gap { .. }]
        ));
    }

    #[test]
    fn sniffing_needs_a_json_object_after_the_length() {
        let mut bytes = 4u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{ \"a\"");
        assert!(sniff(&bytes, 20));
        assert!(!sniff(b"\x80\x04\x95xxxxxx{", 20));
        assert!(!sniff(b"var x = {\"a\": 1}", 20));
    }
}
