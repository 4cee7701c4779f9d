//! Dataset files recognised by their content, and the facts a Parquet footer states.
//!
//! `ward bom` inventories the data beside a model, and a file's name says nothing about
//! what it holds, so [`sniff`] decides by content: the first bytes of the file (up to
//! [`SNIFF_BYTES`]), its last bytes, and its length. Binary formats are tried first, each
//! through a check that a random or text file passes only by accident of at least 32 bits:
//!
//! - Parquet: `PAR1` at both ends and a footer length that fits between them;
//! - Arrow IPC file (Feather v2): `ARROW1\0\0` at the start, `ARROW1` at the end and a
//!   footer length that fits;
//! - Arrow IPC stream (what Hugging Face `datasets` writes as `data-*.arrow`): the
//!   continuation marker, a metadata length that is positive, 8-aligned and fits, and a
//!   flatbuffer whose root table is a `Message` carrying a `Schema`, checked by following
//!   the root offset and the table's vtable inside the metadata (no flatbuffer library);
//! - TFRecord: the masked CRC-32C of the first record's length must match, and so must
//!   the record's own CRC when the record lies inside the prefix.
//!
//! Only when no binary format matched is the prefix read as UTF-8 text: JSON Lines when
//! every one of the first complete non-empty lines is a JSON object or array, CSV/TSV when
//! one delimiter occurs outside quotes equally often on each of the first records and the
//! quoting follows RFC 4180. Prose and source code fail the CSV rules because quotes and
//! brackets in unquoted fields are refused and because their lines rarely agree.
//!
//! [`parquet_facts`] reads a Parquet `FileMetaData` (Thrift compact protocol) with a
//! bounded reader of our own: the row count, the number of leaf columns the schema tree
//! describes, and the writer. The footer describes the rows twice (the file total and each
//! row group), and the columns twice (the schema and each row group's chunks); both
//! readings must agree.

use crate::{Limits, Reader};

/// Bytes of the start (and of the end) of a file that [`sniff`] looks at; callers pass at
/// most this much, and anything beyond it is ignored.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Complete lines (JSON Lines) or records (CSV) that the text sniffers check.
const TEXT_MAX_RECORDS: usize = 16;

/// Nesting of JSON arrays and objects on one JSON Lines line that the sniffer follows.
const JSON_MAX_NESTING: usize = 64;

/// Delimiters tried for CSV, in order.
const CSV_DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

const PARQUET_MAGIC: &[u8; 4] = b"PAR1";
const ARROW_FILE_START: &[u8; 8] = b"ARROW1\0\0";
const ARROW_MAGIC: &[u8; 6] = b"ARROW1";
const ARROW_CONTINUATION: &[u8; 4] = &[0xff; 4];
/// `MessageHeader::Schema` in Arrow's `Message.fbs`.
const ARROW_HEADER_SCHEMA: u8 = 1;
/// `MetadataVersion::V5`, the newest version Arrow defines (`V1` is 0).
const ARROW_MAX_METADATA_VERSION: u16 = 4;
/// TFRecord adds this to its rotated CRCs (`crc32c::Mask` in TensorFlow).
const TFRECORD_MASK_DELTA: u32 = 0xa282_ead8;
/// The UTF-8 byte order mark, which spreadsheet exports put before CSV text.
const UTF8_BOM: &[u8; 3] = b"\xef\xbb\xbf";

/// A dataset format recognised by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataFormat {
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC file format (Feather v2).
    ArrowFile,
    /// Arrow IPC streaming format (Hugging Face `datasets` shards).
    ArrowStream,
    /// TensorFlow TFRecord.
    TfRecord,
    /// JSON Lines: one JSON object or array per line.
    JsonLines,
    /// Comma-, tab-, semicolon- or pipe-separated values.
    Csv,
}

impl DataFormat {
    /// The stable name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::ArrowFile => "arrow",
            Self::ArrowStream => "arrow-stream",
            Self::TfRecord => "tfrecord",
            Self::JsonLines => "jsonl",
            Self::Csv => "csv",
        }
    }
}

/// Recognises a data file from its first bytes (`prefix`, up to [`SNIFF_BYTES`]) and total
/// length. `tail` is the file's last bytes (up to [`SNIFF_BYTES`]; may overlap `prefix`
/// for small files).
pub fn sniff(prefix: &[u8], tail: &[u8], len: u64) -> Option<DataFormat> {
    let prefix = prefix.get(..SNIFF_BYTES).unwrap_or(prefix);
    let tail = tail
        .len()
        .checked_sub(SNIFF_BYTES)
        .and_then(|start| tail.get(start..))
        .unwrap_or(tail);
    if prefix.starts_with(PARQUET_MAGIC) && parquet_footer_len(tail, len).is_some() {
        return Some(DataFormat::Parquet);
    }
    if is_arrow_file(prefix, tail, len) {
        return Some(DataFormat::ArrowFile);
    }
    if is_arrow_stream(prefix, len) {
        return Some(DataFormat::ArrowStream);
    }
    if is_tfrecord(prefix, len) {
        return Some(DataFormat::TfRecord);
    }
    let whole = u64::try_from(prefix.len()).is_ok_and(|n| n >= len);
    let text = complete_text(prefix, whole)?;
    if is_json_lines(text) {
        Some(DataFormat::JsonLines)
    } else if is_csv(text.as_bytes(), whole) {
        Some(DataFormat::Csv)
    } else {
        None
    }
}

/// The length of a Parquet file's `FileMetaData`, from the file's last 8 bytes (a longer
/// slice is fine: only its last 8 bytes are read) and the file's length. `None` unless the
/// file ends with `PAR1` and the footer fits between the leading magic and the length.
/// The footer is that many bytes just before the file's last 8 bytes.
pub fn parquet_footer_len(tail8: &[u8], len: u64) -> Option<u64> {
    let start = tail8.len().checked_sub(8)?;
    let mut r = Reader::new(tail8.get(start..)?);
    let footer_len = u64::from(r.u32_le()?);
    if r.take(4)? != PARQUET_MAGIC {
        return None;
    }
    // Leading magic, footer, footer length, trailing magic.
    let needed = footer_len.checked_add(12)?;
    (footer_len > 0 && needed <= len).then_some(footer_len)
}

fn is_arrow_file(prefix: &[u8], tail: &[u8], len: u64) -> bool {
    if !prefix.starts_with(ARROW_FILE_START) {
        return false;
    }
    let Some(end) = tail
        .len()
        .checked_sub(10)
        .and_then(|start| tail.get(start..))
    else {
        return false;
    };
    let mut r = Reader::new(end);
    let (Some(footer_len), Some(magic)) = (r.i32_le(), r.take(6)) else {
        return false;
    };
    // Leading magic and padding, footer, footer length, trailing magic.
    let needed = u64::try_from(footer_len)
        .ok()
        .and_then(|n| n.checked_add(18));
    magic == ARROW_MAGIC && footer_len > 0 && needed.is_some_and(|n| n <= len)
}

fn is_arrow_stream(prefix: &[u8], len: u64) -> bool {
    let mut r = Reader::new(prefix);
    if r.take(4) != Some(ARROW_CONTINUATION.as_slice()) {
        return false;
    }
    let Some(meta_len) = r.i32_le().and_then(|n| usize::try_from(n).ok()) else {
        return false;
    };
    let fits = u64::try_from(meta_len)
        .ok()
        .and_then(|n| n.checked_add(8))
        .is_some_and(|n| n <= len);
    if meta_len == 0 || meta_len % 8 != 0 || !fits {
        return false;
    }
    // The root table normally sits at the front of the flatbuffer; what the prefix does
    // not hold cannot be checked, so the stream is then not recognised.
    let rest = r.rest();
    let meta = rest.get(..meta_len).unwrap_or(rest);
    schema_message(meta, meta_len).is_some()
}

/// Checks that a flatbuffer of `meta_len` bytes (of which `meta` is the part at hand) has a
/// root table whose vtable lies inside it and which is an Arrow `Message` of a known
/// metadata version carrying a `Schema`, as the first message of a stream must.
fn schema_message(meta: &[u8], meta_len: usize) -> Option<()> {
    let root = usize::try_from(u32_at(meta, 0)?).ok()?;
    let to_vtable = i64::from(i32::from_le_bytes(
        meta.get(root..root.checked_add(4)?)?.try_into().ok()?,
    ));
    let vtable = usize::try_from(i64::try_from(root).ok()?.checked_sub(to_vtable)?).ok()?;
    let vtable_len = usize::from(u16_at(meta, vtable)?);
    let table_len = usize::from(u16_at(meta, vtable.checked_add(2)?)?);
    let inside = |start: usize, n: usize| start.checked_add(n).is_some_and(|end| end <= meta_len);
    if vtable_len < 4 || vtable_len % 2 != 0 || table_len < 4 {
        return None;
    }
    if !inside(vtable, vtable_len) || !inside(root, table_len) {
        return None;
    }
    // The offset of field `i` inside the table, `None` when the field is absent.
    let field = |i: usize| -> Option<Option<usize>> {
        let slot = i.checked_mul(2)?.checked_add(4)?;
        if slot >= vtable_len {
            return Some(None);
        }
        let offset = usize::from(u16_at(meta, vtable.checked_add(slot)?)?);
        match offset {
            0 => Some(None),
            n if n < table_len => Some(Some(root.checked_add(n)?)),
            _ => None,
        }
    };
    // Message: 0 version (short), 1 header_type (ubyte), 2 header (union offset).
    if let Some(at) = field(0)?
        && u16_at(meta, at)? > ARROW_MAX_METADATA_VERSION
    {
        return None;
    }
    let header_type = *meta.get(field(1)??)?;
    field(2)??;
    (header_type == ARROW_HEADER_SCHEMA).then_some(())
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes(b.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn is_tfrecord(prefix: &[u8], len: u64) -> bool {
    let mut r = Reader::new(prefix);
    let (Some(length_bytes), Some(length_crc)) = (r.take(8), r.u32_le()) else {
        return false;
    };
    if masked_crc32c(length_bytes) != length_crc {
        return false;
    }
    let mut length = Reader::new(length_bytes);
    let Some(record_len) = length.u64_le() else {
        return false;
    };
    // Length, its CRC, the record, its CRC.
    if record_len.checked_add(16).is_none_or(|n| n > len) {
        return false;
    }
    let record = usize::try_from(record_len).ok().and_then(|n| r.take(n));
    match (record, r.u32_le()) {
        (Some(data), Some(data_crc)) => masked_crc32c(data) == data_crc,
        _ => true,
    }
}

/// TFRecord's masked CRC: the CRC-32C rotated right by 15 bits plus a constant, so that a
/// CRC stored inside CRC-protected data does not cancel out.
fn masked_crc32c(data: &[u8]) -> u32 {
    crc32c(data)
        .rotate_right(15)
        .wrapping_add(TFRECORD_MASK_DELTA)
}

/// CRC-32C (Castagnoli), reflected polynomial.
const CRC32C_POLY: u32 = 0x82f6_3b78;
const CRC32C_TABLE: [u32; 256] = crc32c_table();

// Evaluated at compile time: an index out of bounds here would fail the build, it cannot
// panic at run time, and the loop bound keeps every index inside the table.
#[allow(clippy::indexing_slicing)]
const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CRC32C_POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

fn crc32c(data: &[u8]) -> u32 {
    let crc = data.iter().fold(!0u32, |crc, &b| {
        let index = usize::from(crc.to_le_bytes().first().copied().unwrap_or(0) ^ b);
        CRC32C_TABLE.get(index).copied().unwrap_or(0) ^ (crc >> 8)
    });
    !crc
}

/// The part of the prefix made of complete lines, as text: the whole prefix when it is the
/// whole file, otherwise up to its last line break. `None` when that part is not UTF-8 or
/// holds control characters other than tab, carriage return and line feed.
fn complete_text(prefix: &[u8], whole: bool) -> Option<&str> {
    let bytes = prefix.strip_prefix(UTF8_BOM).unwrap_or(prefix);
    let bytes = if whole {
        bytes
    } else {
        let end = bytes.iter().rposition(|&b| b == b'\n')?;
        bytes.get(..=end)?
    };
    if bytes
        .iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
    {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

fn is_json_lines(text: &str) -> bool {
    let mut checked = 0;
    for line in text.split('\n') {
        let line = line.trim_matches([' ', '\t', '\r']);
        if line.is_empty() {
            continue;
        }
        if !json_container_line(line.as_bytes()) {
            return false;
        }
        checked += 1;
        if checked == TEXT_MAX_RECORDS {
            break;
        }
    }
    checked > 0
}

/// Whether `line` is exactly one JSON object or array (RFC 8259), whitespace aside.
fn json_container_line(line: &[u8]) -> bool {
    let mut json = Json {
        bytes: line,
        pos: 0,
    };
    matches!(line.first(), Some(b'{' | b'[')) && json.value(0).is_some() && {
        json.ws();
        json.pos == line.len()
    }
}

/// A validating JSON scanner that builds nothing; every step consumes input or fails.
struct Json<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Json<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos = self.pos.saturating_add(1);
        Some(b)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.bump()? == expected).then_some(())
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos = self.pos.saturating_add(1);
        }
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'{' => self.container(depth, b'}', true),
            b'[' => self.container(depth, b']', false),
            b'"' => self.string(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn container(&mut self, depth: usize, close: u8, object: bool) -> Option<()> {
        if depth >= JSON_MAX_NESTING {
            return None;
        }
        self.bump()?;
        self.ws();
        if self.peek()? == close {
            self.bump()?;
            return Some(());
        }
        loop {
            if object {
                self.ws();
                self.string()?;
                self.ws();
                self.eat(b':')?;
            }
            self.value(depth.saturating_add(1))?;
            self.ws();
            match self.bump()? {
                b',' => continue,
                b if b == close => return Some(()),
                _ => return None,
            }
        }
    }

    fn string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            match self.bump()? {
                b'"' => return Some(()),
                b'\\' => match self.bump()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        for _ in 0..4 {
                            if !self.bump()?.is_ascii_hexdigit() {
                                return None;
                            }
                        }
                    }
                    _ => return None,
                },
                b if b < 0x20 => return None,
                _ => {}
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(word.len())?;
        (self.bytes.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.bump()?;
        }
        match self.bump()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.bump()?;
            self.digit()?;
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.bump()?;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump()?;
            }
            self.digit()?;
            self.digits();
        }
        Some(())
    }

    fn digit(&mut self) -> Option<()> {
        self.bump()?.is_ascii_digit().then_some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos = self.pos.saturating_add(1);
        }
    }
}

fn is_csv(text: &[u8], whole: bool) -> bool {
    CSV_DELIMITERS
        .iter()
        .any(|&delimiter| consistent_columns(text, delimiter, whole))
}

/// Whether the first records of `text` (at least 2, at most [`TEXT_MAX_RECORDS`]) follow
/// RFC 4180 quoting with `delimiter` and all have the same number of delimiters, at least
/// one, and more than one when it only ends each record.
fn consistent_columns(text: &[u8], delimiter: u8, whole: bool) -> bool {
    let mut scan = CsvScan {
        bytes: text,
        pos: 0,
        delimiter,
    };
    let mut expected = None;
    let mut records = 0;
    let mut all_trailing = true;
    // Each call consumes at least one byte, so the loop is bounded by the text's length.
    while records < TEXT_MAX_RECORDS {
        match scan.record() {
            Record::End => break,
            Record::Blank => continue,
            Record::Invalid => return false,
            Record::Partial => {
                if whole {
                    return false;
                }
                break;
            }
            Record::Fields {
                delimiters,
                trailing,
            } => {
                if delimiters == 0 || *expected.get_or_insert(delimiters) != delimiters {
                    return false;
                }
                all_trailing &= trailing;
                records += 1;
            }
        }
    }
    records >= 2 && !(all_trailing && expected == Some(1))
}

/// One record as the CSV scanner saw it.
enum Record {
    /// No bytes left.
    End,
    /// An empty line.
    Blank,
    /// The text ended inside a quoted field.
    Partial,
    /// A quote or bracket where RFC 4180 data cannot have one.
    Invalid,
    /// A well-formed record.
    Fields {
        /// Delimiters outside quotes.
        delimiters: usize,
        /// Whether the record ends with a delimiter (an empty last field).
        trailing: bool,
    },
}

#[derive(PartialEq, Eq)]
enum Field {
    Start,
    Unquoted,
    Quoted,
    Closed,
}

struct CsvScan<'a> {
    bytes: &'a [u8],
    pos: usize,
    delimiter: u8,
}

impl CsvScan<'_> {
    fn next_byte(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.pos).copied()?;
        self.pos = self.pos.saturating_add(1);
        Some(b)
    }

    fn record(&mut self) -> Record {
        if self.pos >= self.bytes.len() {
            return Record::End;
        }
        let mut delimiters = 0usize;
        let mut field = Field::Start;
        let mut brackets = Brackets::default();
        loop {
            let Some(b) = self.next_byte() else {
                return if field == Field::Quoted {
                    Record::Partial
                } else {
                    Self::finish(delimiters, &field, &brackets)
                };
            };
            if field == Field::Quoted {
                if b == b'"' {
                    if self.bytes.get(self.pos) == Some(&b'"') {
                        self.pos = self.pos.saturating_add(1);
                    } else {
                        field = Field::Closed;
                    }
                }
                continue;
            }
            if b == b'\r' && self.bytes.get(self.pos) == Some(&b'\n') {
                continue;
            }
            if b == b'\n' {
                return Self::finish(delimiters, &field, &brackets);
            }
            if b == self.delimiter {
                if !brackets.balanced() {
                    return Record::Invalid;
                }
                brackets = Brackets::default();
                delimiters = delimiters.saturating_add(1);
                field = Field::Start;
                continue;
            }
            match field {
                Field::Start if b == b'"' => field = Field::Quoted,
                // RFC 4180: a field holding a quote must be quoted, and nothing may follow
                // the closing quote but a delimiter or the end of the record.
                Field::Unquoted if b == b'"' => return Record::Invalid,
                Field::Closed => return Record::Invalid,
                _ => {
                    field = Field::Unquoted;
                    if !brackets.push(b) {
                        return Record::Invalid;
                    }
                }
            }
        }
    }

    fn finish(delimiters: usize, field: &Field, brackets: &Brackets) -> Record {
        if !brackets.balanced() {
            return Record::Invalid;
        }
        if delimiters == 0 && *field == Field::Start {
            return Record::Blank;
        }
        Record::Fields {
            delimiters,
            trailing: delimiters > 0 && *field == Field::Start,
        }
    }
}

/// Bracket depths inside one unquoted field. A value holding the delimiter must be quoted,
/// so an unquoted field with unbalanced brackets is code or prose cut at a comma
/// (`def f(a, b):`), not data.
#[derive(Default)]
struct Brackets {
    round: u32,
    square: u32,
    curly: u32,
}

impl Brackets {
    /// Records `b`; `false` when it closes a bracket that was not opened.
    fn push(&mut self, b: u8) -> bool {
        let (depth, open) = match b {
            b'(' => (&mut self.round, true),
            b')' => (&mut self.round, false),
            b'[' => (&mut self.square, true),
            b']' => (&mut self.square, false),
            b'{' => (&mut self.curly, true),
            b'}' => (&mut self.curly, false),
            _ => return true,
        };
        let next = if open {
            depth.checked_add(1)
        } else {
            depth.checked_sub(1)
        };
        match next {
            Some(n) => {
                *depth = n;
                true
            }
            None => false,
        }
    }

    fn balanced(&self) -> bool {
        self.round == 0 && self.square == 0 && self.curly == 0
    }
}

/// What a Parquet footer states about its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetFacts {
    /// Rows in the file (`FileMetaData.num_rows`, equal to the sum over row groups).
    pub rows: u64,
    /// Leaf (physical) columns of the schema tree.
    pub columns: u64,
    /// The writer (`created_by`), such as `parquet-cpp-arrow version 26.0.1`.
    pub created_by: Option<String>,
}

/// Why a Parquet footer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The footer is longer than the configured limit.
    #[error(
        "parquet footer of {len} bytes exceeds `max_header_bytes` of {limit}\nhint: raise the limit only for files from a trusted source"
    )]
    FooterTooLong {
        /// Bytes in the footer.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// The footer ended inside a value.
    #[error("parquet footer truncated at byte {offset}: expected {expected}")]
    Truncated {
        /// Offset in the footer.
        offset: u64,
        /// What was being read.
        expected: &'static str,
    },
    /// The footer breaks the Thrift compact protocol or the Parquet schema rules.
    #[error("invalid parquet footer at byte {offset}: {what}")]
    Invalid {
        /// Offset in the footer.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// Structures nest deeper than `max_nesting`.
    #[error("parquet footer nests deeper than the `max_nesting` limit of {limit} at byte {offset}")]
    TooDeep {
        /// Offset in the footer.
        offset: u64,
        /// The limit.
        limit: usize,
    },
    /// A required `FileMetaData` field is absent.
    #[error("parquet footer lacks the required field `{field}`")]
    MissingField {
        /// The field's name in `parquet.thrift`.
        field: &'static str,
    },
    /// Two statements of the same fact disagree.
    #[error("parquet footer contradicts itself: {what}")]
    Inconsistent {
        /// Both readings.
        what: String,
    },
}

/// Reads a Parquet footer (`PAR1` at both ends; u32 LE footer length before the final
/// magic; `FileMetaData` in the Thrift compact protocol: field 2 schema list, 3 num_rows,
/// 4 row groups, 6 created_by). `footer` is the bytes of the `FileMetaData` (the caller
/// reads them using [`parquet_footer_len`]); it must be consumed exactly.
pub fn parquet_facts(footer: &[u8], limits: &Limits) -> Result<ParquetFacts, DataError> {
    let len = u64::try_from(footer.len()).unwrap_or(u64::MAX);
    if len > limits.max_header_bytes {
        return Err(DataError::FooterTooLong {
            len,
            limit: limits.max_header_bytes,
        });
    }
    let mut t = Thrift {
        r: Reader::new(footer),
        max_nesting: limits.max_nesting,
    };
    let depth = t.enter(0)?;
    let mut columns = None;
    let mut rows = None;
    let mut groups = None;
    let mut created_by = None;
    let mut last = 0;
    while let Some((id, ty, at)) = t.field(&mut last)? {
        match id {
            2 => {
                expect(ty, T_LIST, "schema", at)?;
                once(columns.is_some(), "schema", at)?;
                columns = Some(t.schema(depth)?);
            }
            3 => {
                expect(ty, T_I64, "num_rows", at)?;
                once(rows.is_some(), "num_rows", at)?;
                rows = Some(t.count("num_rows")?);
            }
            4 => {
                expect(ty, T_LIST, "row_groups", at)?;
                once(groups.is_some(), "row_groups", at)?;
                groups = Some(t.row_groups(depth)?);
            }
            6 => {
                expect(ty, T_BINARY, "created_by", at)?;
                once(created_by.is_some(), "created_by", at)?;
                created_by = Some(t.string("created_by")?);
            }
            _ => t.skip(ty, depth)?,
        }
    }
    if !t.r.is_empty() {
        return Err(t.invalid(format!(
            "{} bytes follow the end of `FileMetaData`",
            t.r.remaining()
        )));
    }
    let columns = columns.ok_or(DataError::MissingField { field: "schema" })?;
    let rows = rows.ok_or(DataError::MissingField { field: "num_rows" })?;
    let groups = groups.ok_or(DataError::MissingField {
        field: "row_groups",
    })?;
    if groups.rows != rows {
        return Err(DataError::Inconsistent {
            what: format!(
                "`num_rows` is {rows} but the {} row groups hold {} rows",
                groups.count, groups.rows
            ),
        });
    }
    if let Some(chunks) = groups.mismatched_columns(columns) {
        return Err(DataError::Inconsistent {
            what: format!("the schema has {columns} leaf columns but a row group has {chunks}"),
        });
    }
    Ok(ParquetFacts {
        rows,
        columns,
        created_by,
    })
}

fn expect(ty: u8, wanted: u8, field: &'static str, at: u64) -> Result<(), DataError> {
    if ty == wanted {
        return Ok(());
    }
    Err(DataError::Invalid {
        offset: at,
        what: format!(
            "field `{field}` has Thrift type `{}`, expected `{}`",
            type_name(ty),
            type_name(wanted)
        ),
    })
}

/// Thrift readers keep the last of two copies of a field; refusing the second copy keeps
/// ward from reporting a different value than a reader would use.
fn once(seen: bool, field: &'static str, at: u64) -> Result<(), DataError> {
    if seen {
        return Err(DataError::Invalid {
            offset: at,
            what: format!("field `{field}` appears twice"),
        });
    }
    Ok(())
}

// Thrift compact protocol type codes.
const T_BOOL_TRUE: u8 = 1;
const T_BOOL_FALSE: u8 = 2;
const T_I8: u8 = 3;
const T_I16: u8 = 4;
const T_I32: u8 = 5;
const T_I64: u8 = 6;
const T_DOUBLE: u8 = 7;
const T_BINARY: u8 = 8;
const T_LIST: u8 = 9;
const T_SET: u8 = 10;
const T_MAP: u8 = 11;
const T_STRUCT: u8 = 12;
const T_UUID: u8 = 13;

fn type_name(ty: u8) -> &'static str {
    match ty {
        T_BOOL_TRUE | T_BOOL_FALSE => "bool",
        T_I8 => "i8",
        T_I16 => "i16",
        T_I32 => "i32",
        T_I64 => "i64",
        T_DOUBLE => "double",
        T_BINARY => "binary",
        T_LIST => "list",
        T_SET => "set",
        T_MAP => "map",
        T_STRUCT => "struct",
        T_UUID => "uuid",
        _ => "unknown",
    }
}

/// Row groups as the footer lists them.
struct RowGroups {
    count: u64,
    rows: u64,
    /// The column-chunk count of the first group.
    first_columns: Option<u64>,
    /// A column-chunk count that differs from the first group's, if any group has one.
    other_columns: Option<u64>,
}

impl RowGroups {
    /// A row group's column-chunk count that differs from `columns`, if any.
    fn mismatched_columns(&self, columns: u64) -> Option<u64> {
        [self.first_columns, self.other_columns]
            .into_iter()
            .flatten()
            .find(|&n| n != columns)
    }
}

/// A bounded reader of the Thrift compact protocol.
struct Thrift<'a> {
    r: Reader<'a>,
    max_nesting: usize,
}

impl Thrift<'_> {
    fn invalid(&self, what: String) -> DataError {
        DataError::Invalid {
            offset: self.r.offset(),
            what,
        }
    }

    fn truncated(&self, expected: &'static str) -> DataError {
        DataError::Truncated {
            offset: self.r.offset(),
            expected,
        }
    }

    /// One level deeper, or an error past `max_nesting`.
    fn enter(&self, depth: usize) -> Result<usize, DataError> {
        let depth = depth.saturating_add(1);
        if depth > self.max_nesting {
            return Err(DataError::TooDeep {
                offset: self.r.offset(),
                limit: self.max_nesting,
            });
        }
        Ok(depth)
    }

    fn byte(&mut self, expected: &'static str) -> Result<u8, DataError> {
        self.r.u8().ok_or_else(|| self.truncated(expected))
    }

    fn varint(&mut self) -> Result<u64, DataError> {
        let at = self.r.offset();
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte("a varint")?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DataError::Invalid {
            offset: at,
            what: "varint overflows 64 bits".to_owned(),
        })
    }

    fn zigzag(&mut self) -> Result<i64, DataError> {
        let n = self.varint()?;
        let magnitude = i64::try_from(n >> 1).unwrap_or(i64::MAX);
        Ok(if n & 1 == 0 {
            magnitude
        } else {
            -magnitude - 1
        })
    }

    /// A non-negative i64 field.
    fn count(&mut self, field: &'static str) -> Result<u64, DataError> {
        let at = self.r.offset();
        let n = self.zigzag()?;
        u64::try_from(n).map_err(|_| DataError::Invalid {
            offset: at,
            what: format!("`{field}` is negative (`{n}`)"),
        })
    }

    fn i32(&mut self) -> Result<i32, DataError> {
        let at = self.r.offset();
        let n = self.zigzag()?;
        i32::try_from(n).map_err(|_| DataError::Invalid {
            offset: at,
            what: format!("i32 value `{n}` out of range"),
        })
    }

    fn binary(&mut self) -> Result<&[u8], DataError> {
        let at = self.r.offset();
        let n = self.varint()?;
        let available = self.r.remaining();
        usize::try_from(n)
            .ok()
            .and_then(|n| self.r.take(n))
            .ok_or(DataError::Invalid {
                offset: at,
                what: format!("binary of {n} bytes but only {available} remain"),
            })
    }

    fn string(&mut self, field: &'static str) -> Result<String, DataError> {
        let at = self.r.offset();
        let bytes = self.binary()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DataError::Invalid {
            offset: at,
            what: format!("`{field}` is not UTF-8"),
        })
    }

    /// The next field header of a struct as (id, type, offset), or `None` at its end.
    fn field(&mut self, last: &mut i16) -> Result<Option<(i16, u8, u64)>, DataError> {
        let at = self.r.offset();
        let b = self.byte("a field header")?;
        if b == 0 {
            return Ok(None);
        }
        let ty = b & 0x0f;
        if !(T_BOOL_TRUE..=T_UUID).contains(&ty) {
            return Err(DataError::Invalid {
                offset: at,
                what: format!("unknown Thrift type `{ty}`"),
            });
        }
        let delta = b >> 4;
        let id = if delta == 0 {
            i16::try_from(self.zigzag()?).ok()
        } else {
            last.checked_add(i16::from(delta))
        };
        let id = id.ok_or(DataError::Invalid {
            offset: at,
            what: "field id out of range".to_owned(),
        })?;
        *last = id;
        Ok(Some((id, ty, at)))
    }

    /// A list or set header as (element type, count). Every element takes at least one
    /// byte, so a count above the bytes left is refused before any loop runs.
    fn list_header(&mut self) -> Result<(u8, usize), DataError> {
        let at = self.r.offset();
        let b = self.byte("a list header")?;
        let ty = b & 0x0f;
        let short = b >> 4;
        let count = if short == 15 {
            self.varint()?
        } else {
            u64::from(short)
        };
        if !(T_BOOL_TRUE..=T_UUID).contains(&ty) {
            return Err(DataError::Invalid {
                offset: at,
                what: format!("unknown Thrift list element type `{ty}`"),
            });
        }
        let remaining = self.r.remaining();
        match usize::try_from(count) {
            Ok(n) if n <= remaining => Ok((ty, n)),
            _ => Err(DataError::Invalid {
                offset: at,
                what: format!("list of {count} elements in {remaining} bytes"),
            }),
        }
    }

    /// Skips one value of type `ty` found at nesting `depth`.
    fn skip(&mut self, ty: u8, depth: usize) -> Result<(), DataError> {
        match ty {
            // In a struct field, a bool's value is its type code.
            T_BOOL_TRUE | T_BOOL_FALSE => Ok(()),
            T_I8 => self.byte("an i8").map(drop),
            T_I16 | T_I32 | T_I64 => self.varint().map(drop),
            T_DOUBLE => self.fixed(8, "a double"),
            T_UUID => self.fixed(16, "a uuid"),
            T_BINARY => self.binary().map(drop),
            T_LIST | T_SET => {
                let (element, count) = self.list_header()?;
                let depth = self.enter(depth)?;
                for _ in 0..count {
                    self.skip_element(element, depth)?;
                }
                Ok(())
            }
            T_MAP => {
                let at = self.r.offset();
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let types = self.byte("map key and value types")?;
                let (key, value) = (types >> 4, types & 0x0f);
                let remaining = u64::try_from(self.r.remaining()).unwrap_or(u64::MAX);
                let valid = |t: u8| (T_BOOL_TRUE..=T_UUID).contains(&t);
                if !valid(key) || !valid(value) || count.saturating_mul(2) > remaining {
                    return Err(DataError::Invalid {
                        offset: at,
                        what: format!("map of {count} entries of types `{key}`/`{value}`"),
                    });
                }
                let depth = self.enter(depth)?;
                for _ in 0..count {
                    self.skip_element(key, depth)?;
                    self.skip_element(value, depth)?;
                }
                Ok(())
            }
            T_STRUCT => {
                let depth = self.enter(depth)?;
                let mut last = 0;
                while let Some((_, ty, _)) = self.field(&mut last)? {
                    self.skip(ty, depth)?;
                }
                Ok(())
            }
            _ => Err(self.invalid(format!("unknown Thrift type `{ty}`"))),
        }
    }

    /// Skips one element of a list, set or map, where a bool takes a byte of its own.
    fn skip_element(&mut self, ty: u8, depth: usize) -> Result<(), DataError> {
        if matches!(ty, T_BOOL_TRUE | T_BOOL_FALSE) {
            return self.byte("a bool").map(drop);
        }
        self.skip(ty, depth)
    }

    fn fixed(&mut self, n: usize, expected: &'static str) -> Result<(), DataError> {
        self.r.skip(n).ok_or_else(|| self.truncated(expected))
    }

    /// The schema list, a depth-first flattening of the schema tree: its root first, then
    /// each element followed by its children. Returns the number of leaf columns, after
    /// checking that the elements form exactly one tree.
    fn schema(&mut self, depth: usize) -> Result<u64, DataError> {
        let at = self.r.offset();
        let (element, count) = self.list_header()?;
        if element != T_STRUCT || count == 0 {
            return Err(DataError::Invalid {
                offset: at,
                what: format!(
                    "schema is a list of {count} `{}`, expected structs starting with the root",
                    type_name(element)
                ),
            });
        }
        let depth = self.enter(depth)?;
        // Children still expected by each open group, innermost last.
        let mut pending: Vec<u64> = Vec::new();
        let mut leaves = 0u64;
        for index in 0..count {
            let element_at = self.r.offset();
            let (children, has_type) = self.schema_element(depth)?;
            if index > 0 {
                let open = pending.last_mut().ok_or(DataError::Invalid {
                    offset: element_at,
                    what: format!("schema element {index} lies outside the tree of the root"),
                })?;
                *open = open.saturating_sub(1);
            }
            if index > 0 && children == 0 && has_type {
                leaves = leaves.saturating_add(1);
            } else if children > 0 {
                if pending.len() >= self.max_nesting {
                    return Err(DataError::TooDeep {
                        offset: element_at,
                        limit: self.max_nesting,
                    });
                }
                pending.push(children);
            }
            while pending.last() == Some(&0) {
                pending.pop();
            }
        }
        if !pending.is_empty() {
            return Err(self.invalid(format!(
                "the schema list ends while {} groups still expect children",
                pending.len()
            )));
        }
        Ok(leaves)
    }

    /// One `SchemaElement` as (`num_children`, whether `type` is set); parquet-cpp calls
    /// an element a leaf when it has a type and no children.
    fn schema_element(&mut self, depth: usize) -> Result<(u64, bool), DataError> {
        let depth = self.enter(depth)?;
        let mut last = 0;
        let mut children = None;
        let mut has_type = false;
        while let Some((id, ty, at)) = self.field(&mut last)? {
            match (id, ty) {
                (1, T_I32) => {
                    once(has_type, "type", at)?;
                    self.i32()?;
                    has_type = true;
                }
                (5, T_I32) => {
                    once(children.is_some(), "num_children", at)?;
                    let n = self.i32()?;
                    children = Some(u64::try_from(n).map_err(|_| DataError::Invalid {
                        offset: at,
                        what: format!("`num_children` is negative (`{n}`)"),
                    })?);
                }
                _ => self.skip(ty, depth)?,
            }
        }
        Ok((children.unwrap_or(0), has_type))
    }

    /// The row group list: how many, the rows they hold, and their column-chunk counts.
    fn row_groups(&mut self, depth: usize) -> Result<RowGroups, DataError> {
        let at = self.r.offset();
        let (element, count) = self.list_header()?;
        if element != T_STRUCT && count > 0 {
            return Err(DataError::Invalid {
                offset: at,
                what: format!("row groups are `{}`, expected structs", type_name(element)),
            });
        }
        let depth = self.enter(depth)?;
        let mut groups = RowGroups {
            count: 0,
            rows: 0,
            first_columns: None,
            other_columns: None,
        };
        for _ in 0..count {
            let group_at = self.r.offset();
            let (rows, columns) = self.row_group(depth)?;
            groups.count = groups.count.saturating_add(1);
            groups.rows = groups.rows.checked_add(rows).ok_or(DataError::Invalid {
                offset: group_at,
                what: "row counts overflow 64 bits".to_owned(),
            })?;
            match groups.first_columns {
                None => groups.first_columns = Some(columns),
                Some(first) if first != columns => groups.other_columns = Some(columns),
                Some(_) => {}
            }
        }
        Ok(groups)
    }

    /// One `RowGroup` as (`num_rows`, number of column chunks).
    fn row_group(&mut self, depth: usize) -> Result<(u64, u64), DataError> {
        let depth = self.enter(depth)?;
        let mut last = 0;
        let mut rows = None;
        let mut columns = None;
        while let Some((id, ty, at)) = self.field(&mut last)? {
            match id {
                1 => {
                    expect(ty, T_LIST, "RowGroup.columns", at)?;
                    once(columns.is_some(), "RowGroup.columns", at)?;
                    let (element, count) = self.list_header()?;
                    let inner = self.enter(depth)?;
                    for _ in 0..count {
                        self.skip_element(element, inner)?;
                    }
                    columns = Some(u64::try_from(count).unwrap_or(u64::MAX));
                }
                3 => {
                    expect(ty, T_I64, "RowGroup.num_rows", at)?;
                    once(rows.is_some(), "RowGroup.num_rows", at)?;
                    rows = Some(self.count("RowGroup.num_rows")?);
                }
                _ => self.skip(ty, depth)?,
            }
        }
        let rows = rows.ok_or(DataError::MissingField {
            field: "RowGroup.num_rows",
        })?;
        let columns = columns.ok_or(DataError::MissingField {
            field: "RowGroup.columns",
        })?;
        Ok((rows, columns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- CRC-32C ----

    #[test]
    fn crc32c_matches_the_rfc_3720_test_vectors() {
        // RFC 3720, appendix B.4.
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&ascending), 0x46dd_794e);
        let descending: Vec<u8> = (0..32).rev().collect();
        assert_eq!(crc32c(&descending), 0x113f_db5c);
        let read_pdu: [u8; 48] = [
            0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14,
            0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(crc32c(&read_pdu), 0xd996_3a56);
        // The common check value.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    // ---- Binary formats ----

    fn tfrecord(records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for record in records {
            let len = (record.len() as u64).to_le_bytes();
            out.extend_from_slice(&len);
            out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
            out.extend_from_slice(record);
            out.extend_from_slice(&masked_crc32c(record).to_le_bytes());
        }
        out
    }

    fn sniff_all(bytes: &[u8]) -> Option<DataFormat> {
        sniff(bytes, bytes, bytes.len() as u64)
    }

    #[test]
    fn tfrecord_needs_both_crcs_when_the_record_is_in_the_prefix() {
        let file = tfrecord(&[b"first record", b"second"]);
        assert_eq!(sniff_all(&file), Some(DataFormat::TfRecord));
        assert_eq!(sniff_all(&tfrecord(&[b""])), Some(DataFormat::TfRecord));

        let mut bad_data = file.clone();
        bad_data[14] ^= 1;
        assert_eq!(sniff_all(&bad_data), None);
        let mut bad_length_crc = file.clone();
        bad_length_crc[9] ^= 1;
        assert_eq!(sniff_all(&bad_length_crc), None);

        // A record longer than the prefix is accepted on the length CRC alone, but it
        // must fit in the file.
        let big = vec![7u8; 100];
        let file = tfrecord(&[&big]);
        let prefix = &file[..40];
        assert_eq!(
            sniff(prefix, &file[file.len() - 8..], file.len() as u64),
            Some(DataFormat::TfRecord)
        );
        assert_eq!(sniff(prefix, prefix, 40), None);
    }

    #[test]
    fn parquet_needs_magic_at_both_ends_and_a_footer_that_fits() {
        let mut file = b"PAR1".to_vec();
        file.extend_from_slice(&[0u8; 20]);
        file.extend_from_slice(&20u32.to_le_bytes());
        file.extend_from_slice(b"PAR1");
        let len = file.len() as u64;
        assert_eq!(sniff_all(&file), Some(DataFormat::Parquet));
        assert_eq!(parquet_footer_len(&file, len), Some(20));
        assert_eq!(parquet_footer_len(&file[file.len() - 8..], len), Some(20));
        // One byte too long for the file.
        assert_eq!(parquet_footer_len(&file[file.len() - 8..], len - 1), None);
        let mut long = file.clone();
        let at = long.len() - 8;
        long[at..at + 4].copy_from_slice(&21u32.to_le_bytes());
        assert_eq!(sniff_all(&long), None);
        assert_eq!(parquet_footer_len(b"PAR1", 100), None);
        assert_eq!(parquet_footer_len(b"\0\0\0\0PAR1", 100), None);
        assert_eq!(sniff_all(b"PAR1PAR1"), None);
    }

    #[test]
    fn arrow_files_need_both_magics_and_a_footer_that_fits() {
        let mut file = b"ARROW1\0\0".to_vec();
        file.extend_from_slice(&[0u8; 16]);
        file.extend_from_slice(&16i32.to_le_bytes());
        file.extend_from_slice(b"ARROW1");
        assert_eq!(sniff_all(&file), Some(DataFormat::ArrowFile));
        let mut liar = file.clone();
        let at = liar.len() - 10;
        liar[at..at + 4].copy_from_slice(&17i32.to_le_bytes());
        assert_eq!(sniff_all(&liar), None);
        liar[at..at + 4].copy_from_slice(&(-1i32).to_le_bytes());
        assert_eq!(sniff_all(&liar), None);
        assert_eq!(sniff_all(b"ARROW1\0\0ARROW1"), None);
    }

    /// The first message of a stream as pyarrow 26 writes it: a flatbuffer whose root
    /// offset is 16, with the vtable at 6 and the `Message` table at 16.
    fn arrow_stream_start() -> Vec<u8> {
        let mut meta = vec![0u8; 32];
        meta[0..4].copy_from_slice(&16u32.to_le_bytes());
        // vtable: 10 bytes, table of 12 bytes, fields version@6, header_type@5, header@8.
        for (i, v) in [10u16, 12, 6, 5, 8].iter().enumerate() {
            meta[6 + 2 * i..8 + 2 * i].copy_from_slice(&v.to_le_bytes());
        }
        meta[16..20].copy_from_slice(&10i32.to_le_bytes());
        meta[21] = ARROW_HEADER_SCHEMA;
        meta[22..24].copy_from_slice(&4u16.to_le_bytes());
        let mut file = vec![0xff; 4];
        file.extend_from_slice(&(meta.len() as i32).to_le_bytes());
        file.extend_from_slice(&meta);
        file.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        file
    }

    #[test]
    fn arrow_streams_need_a_schema_message_flatbuffer() {
        let file = arrow_stream_start();
        assert_eq!(sniff_all(&file), Some(DataFormat::ArrowStream));

        let mut wrong_header = file.clone();
        wrong_header[8 + 21] = 3; // RecordBatch
        assert_eq!(sniff_all(&wrong_header), None);
        let mut future_version = file.clone();
        future_version[8 + 22] = 5;
        assert_eq!(sniff_all(&future_version), None);
        let mut root_outside = file.clone();
        root_outside[8..12].copy_from_slice(&64u32.to_le_bytes());
        assert_eq!(sniff_all(&root_outside), None);
        let mut vtable_outside = file.clone();
        vtable_outside[8 + 16..8 + 20].copy_from_slice(&(-100i32).to_le_bytes());
        assert_eq!(sniff_all(&vtable_outside), None);
        let mut unaligned = file.clone();
        unaligned[4..8].copy_from_slice(&20i32.to_le_bytes());
        assert_eq!(sniff_all(&unaligned), None);
        let mut too_long = file.clone();
        too_long[4..8].copy_from_slice(&4096i32.to_le_bytes());
        assert_eq!(sniff_all(&too_long), None);
        // End of stream only.
        assert_eq!(sniff_all(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), None);
    }

    // ---- Text formats ----

    #[test]
    fn json_lines_need_one_object_or_array_per_line() {
        let text = b"{\"text\": \"a, b\", \"label\": 1}\n\n[1, 2.5e-3, null, true]\r\n{\"x\": {\"y\": [\"\\u00e9\\n\"]}}\n";
        assert_eq!(sniff_all(text), Some(DataFormat::JsonLines));
        assert_eq!(sniff_all(b"{\"a\": 1}"), Some(DataFormat::JsonLines));
        for bad in [
            &b"{\"a\": 1}\n{\"a\": }\n"[..],
            b"{\"a\": 1}\n\"just a string\"\n",
            b"{\"a\": 1} {\"b\": 2}\n",
            b"{\"a\": 01}\n",
            b"{\"a\": \"\\x\"}\n",
            b"{\"a\": [1, 2,]}\n",
            b"{\n  \"pretty\": true\n}\n",
            b"",
            b"\n\n",
        ] {
            assert_ne!(
                sniff_all(bad),
                Some(DataFormat::JsonLines),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{}{}\n", "[".repeat(100), "]".repeat(100));
        assert_eq!(sniff_all(deep.as_bytes()), None);
    }

    #[test]
    fn a_truncated_prefix_is_judged_on_its_complete_lines() {
        let mut file = Vec::new();
        for i in 0..5000 {
            file.extend_from_slice(format!("{{\"id\": {i}, \"text\": \"row {i}\"}}\n").as_bytes());
        }
        let prefix = &file[..SNIFF_BYTES];
        let tail = &file[file.len() - SNIFF_BYTES..];
        assert_eq!(
            sniff(prefix, tail, file.len() as u64),
            Some(DataFormat::JsonLines)
        );
        // The third line is cut: fine when more of the file follows, not when the cut
        // prefix is the whole file.
        let short = b"{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3";
        assert_eq!(sniff(short, short, 100), Some(DataFormat::JsonLines));
        assert_eq!(sniff_all(short), None);
        let csv = b"a,b\n1,2\n3,\"cut inside a quoted\nfield";
        assert_eq!(sniff(csv, csv, 100), Some(DataFormat::Csv));
        assert_eq!(sniff_all(csv), None);
    }

    #[test]
    fn csv_and_tsv_need_the_same_delimiter_count_on_every_record() {
        let csv = b"id,text,label\r\n1,\"hello, world\",0\r\n2,\"a \"\"quoted\"\" word\",1\r\n3,\"two\nlines\",0\r\n";
        assert_eq!(sniff_all(csv), Some(DataFormat::Csv));
        let tsv = b"id\ttext\tlabel\n1\thello, world\t0\n2\tbye\t1\n";
        assert_eq!(sniff_all(tsv), Some(DataFormat::Csv));
        let bom = b"\xef\xbb\xbfa;b\n1;2\n";
        assert_eq!(sniff_all(bom), Some(DataFormat::Csv));
        assert_eq!(sniff_all(b"a|b|c\n1|2|3\n\n4|5|6"), Some(DataFormat::Csv));
        assert_eq!(sniff_all(b"a,b,\n1,2,\n"), Some(DataFormat::Csv));

        for bad in [
            // One line only, one column, or counts that differ.
            &b"a,b,c\n"[..],
            b"a\nb\nc\n",
            b"a,b\n1,2,3\n",
            // A trailing delimiter alone is still a single column.
            b"let a = 1;\nlet b = 2;\n",
            // A quote inside an unquoted field, text after a closing quote.
            b"a,b\n5\" screen,2\n",
            b"a,b\n\"x\"y,2\n",
            // Unterminated quote in a whole file; binary.
            b"a,b\n\"open,2\n",
            b"a,b\n1,\x002\n",
        ] {
            assert_eq!(sniff_all(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn prose_and_source_code_are_not_csv() {
        let readme = b"# ward\n\nward is a security toolkit for AI systems. It scans model files, archives\nand notebooks for code that runs on load, signs models with keys or certificates,\nand keeps an audit log of what was allowed. Findings carry a stable code, a\nseverity and a remedy, so that reports can be diffed, waived and tracked.\n";
        assert_eq!(sniff_all(readme), None);
        // The paragraph alone, without its heading.
        assert_eq!(sniff_all(&readme[8..]), None);
        let two_lines = b"It reads pickles, zips and tars (and more),\nthen reports what it found, if anything.\n";
        assert_eq!(sniff_all(two_lines), None);

        let python = b"import os, sys\n\n\ndef main(argv, env):\n    out, err = run(argv[1], env)\n    print(out, file=sys.stderr)\n    return 0, err\n";
        assert_eq!(sniff_all(python), None);
        let python_calls = b"x = f(a, b)\ny = g(c, d)\nz = h(e, f)\n";
        assert_eq!(sniff_all(python_calls), None);
        let rust = b"fn main() {\n    let (a, b) = (1, 2);\n    println!(\"{a}, {b}\");\n}\n";
        assert_eq!(sniff_all(rust), None);
        let markdown_list = b"- first, with a comma\n- second, with a comma\n";
        // Two records that agree are CSV by these rules: short text is ambiguous, which is
        // why a README is judged with its heading and more than two lines above.
        assert_eq!(sniff_all(markdown_list), Some(DataFormat::Csv));
    }

    #[test]
    fn binary_formats_win_over_text() {
        // A TFRecord whose record is a JSON line is still a TFRecord.
        let file = tfrecord(&[b"{\"a\": 1}"]);
        assert_eq!(sniff_all(&file), Some(DataFormat::TfRecord));
        assert_eq!(sniff_all(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(sniff(&[], &[], 0), None);
    }

    #[test]
    fn format_names_are_stable() {
        let all = [
            (DataFormat::Parquet, "parquet"),
            (DataFormat::ArrowFile, "arrow"),
            (DataFormat::ArrowStream, "arrow-stream"),
            (DataFormat::TfRecord, "tfrecord"),
            (DataFormat::JsonLines, "jsonl"),
            (DataFormat::Csv, "csv"),
        ];
        for (format, name) in all {
            assert_eq!(format.as_str(), name);
        }
    }

    // ---- Parquet footers ----

    /// A Thrift compact protocol writer for tests.
    #[derive(Default)]
    struct Out {
        bytes: Vec<u8>,
        last: Vec<i16>,
    }

    impl Out {
        fn varint(&mut self, mut n: u64) -> &mut Self {
            loop {
                let b = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    self.bytes.push(b);
                    return self;
                }
                self.bytes.push(b | 0x80);
            }
        }
        fn zigzag(&mut self, n: i64) -> &mut Self {
            self.varint(((n << 1) ^ (n >> 63)) as u64)
        }
        fn begin(&mut self) -> &mut Self {
            self.last.push(0);
            self
        }
        fn end(&mut self) -> &mut Self {
            self.bytes.push(0);
            self.last.pop();
            self
        }
        fn field(&mut self, id: i16, ty: u8) -> &mut Self {
            let last = self.last.last_mut().unwrap();
            let delta = id - *last;
            *last = id;
            if (1..=15).contains(&delta) {
                self.bytes.push(((delta as u8) << 4) | ty);
            } else {
                self.bytes.push(ty);
                self.zigzag(i64::from(id));
            }
            self
        }
        fn i64_field(&mut self, id: i16, n: i64) -> &mut Self {
            self.field(id, T_I64).zigzag(n)
        }
        fn i32_field(&mut self, id: i16, n: i32) -> &mut Self {
            self.field(id, T_I32).zigzag(i64::from(n))
        }
        fn binary_field(&mut self, id: i16, b: &[u8]) -> &mut Self {
            self.field(id, T_BINARY).varint(b.len() as u64);
            self.bytes.extend_from_slice(b);
            self
        }
        fn list(&mut self, id: i16, element: u8, count: usize) -> &mut Self {
            self.field(id, T_LIST);
            if count < 15 {
                self.bytes.push(((count as u8) << 4) | element);
            } else {
                self.bytes.push(0xf0 | element);
                self.varint(count as u64);
            }
            self
        }
        /// A schema element: a group with `children`, or a typed leaf.
        fn element(&mut self, name: &str, children: Option<i32>) -> &mut Self {
            self.begin();
            if children.is_none() {
                self.i32_field(1, 1);
            }
            self.binary_field(4, name.as_bytes());
            if let Some(n) = children {
                self.i32_field(5, n);
            }
            self.end()
        }
        fn row_group(&mut self, columns: usize, rows: i64) -> &mut Self {
            self.begin().list(1, T_STRUCT, columns);
            for _ in 0..columns {
                // A ColumnChunk with file_offset and a nested ColumnMetaData holding a
                // list of encodings, a map-free key/value list and statistics.
                self.begin().i64_field(2, 4);
                self.field(3, T_STRUCT).begin().i32_field(1, 1);
                self.list(2, T_I32, 2).zigzag(0).zigzag(3);
                self.field(3, T_BOOL_TRUE).field(4, T_DOUBLE);
                self.bytes.extend_from_slice(&1.5f64.to_le_bytes());
                self.end().end();
            }
            self.i64_field(2, 100).i64_field(3, rows).end()
        }
    }

    /// `FileMetaData` for a flat table of `columns` columns in `groups` row groups.
    fn footer(columns: usize, groups: &[i64]) -> Vec<u8> {
        let mut out = Out::default();
        out.begin().i32_field(1, 2);
        out.list(2, T_STRUCT, columns + 1)
            .element("schema", Some(columns as i32));
        for i in 0..columns {
            out.element(&format!("c{i}"), None);
        }
        out.i64_field(3, groups.iter().sum());
        out.list(4, T_STRUCT, groups.len());
        for &rows in groups {
            out.row_group(columns, rows);
        }
        out.binary_field(6, b"parquet-cpp-arrow version 26.0.1");
        // An unknown field with a map, a set and a uuid, which must be skipped.
        out.field(20, T_MAP).varint(2);
        out.bytes.push((T_BINARY << 4) | T_BOOL_TRUE);
        out.varint(1).bytes.extend_from_slice(b"k\x01");
        out.varint(1).bytes.extend_from_slice(b"j\x02");
        out.field(21, T_SET);
        out.bytes.push(0x10 | T_UUID);
        out.bytes.extend_from_slice(&[9u8; 16]);
        out.end();
        out.bytes
    }

    fn facts(footer: &[u8]) -> Result<ParquetFacts, DataError> {
        parquet_facts(footer, &Limits::default())
    }

    #[test]
    fn a_parquet_footer_gives_rows_columns_and_writer() {
        let got = facts(&footer(3, &[600, 400])).unwrap();
        assert_eq!(
            got,
            ParquetFacts {
                rows: 1000,
                columns: 3,
                created_by: Some("parquet-cpp-arrow version 26.0.1".to_owned()),
            }
        );
        // Many columns (long list header), no row groups.
        let got = facts(&footer(20, &[])).unwrap();
        assert_eq!((got.rows, got.columns), (0, 20));
    }

    #[test]
    fn nested_schemas_count_leaves() {
        // root { a, b { c, d { e } }, f }, and an empty group g.
        let mut out = Out::default();
        out.begin().list(2, T_STRUCT, 8);
        out.element("root", Some(4))
            .element("a", None)
            .element("b", Some(2))
            .element("c", None)
            .element("d", Some(1))
            .element("e", None)
            .element("f", None)
            .element("g", Some(0));
        out.i64_field(3, 0).list(4, T_STRUCT, 0).end();
        assert_eq!(facts(&out.bytes).unwrap().columns, 4);

        // The root promises three children but the list holds two elements.
        let mut out = Out::default();
        out.begin().list(2, T_STRUCT, 3);
        out.element("root", Some(3))
            .element("a", None)
            .element("b", None);
        out.i64_field(3, 0).list(4, T_STRUCT, 0).end();
        assert!(matches!(facts(&out.bytes), Err(DataError::Invalid { .. })));

        // One element more than the root's tree.
        let mut out = Out::default();
        out.begin().list(2, T_STRUCT, 3);
        out.element("root", Some(1))
            .element("a", None)
            .element("b", None);
        out.i64_field(3, 0).list(4, T_STRUCT, 0).end();
        assert!(matches!(facts(&out.bytes), Err(DataError::Invalid { .. })));
    }

    #[test]
    fn the_two_row_and_column_counts_must_agree() {
        let mut bytes = footer(3, &[10]);
        // Patch num_rows (field 3, zigzag 10 = 20) to 11.
        let at = bytes
            .windows(2)
            .position(|w| w == [0x16, 20])
            .expect("num_rows");
        bytes[at + 1] = 22;
        assert!(matches!(facts(&bytes), Err(DataError::Inconsistent { .. })));

        let mut out = Out::default();
        out.begin().list(2, T_STRUCT, 3);
        out.element("root", Some(2))
            .element("a", None)
            .element("b", None);
        out.i64_field(3, 5)
            .list(4, T_STRUCT, 1)
            .row_group(3, 5)
            .end();
        let err = facts(&out.bytes).unwrap_err();
        assert_eq!(
            err.to_string(),
            "parquet footer contradicts itself: the schema has 2 leaf columns but a row group has 3"
        );
    }

    #[test]
    fn malformed_footers_are_errors() {
        let good = footer(2, &[5]);
        // Every truncation fails cleanly.
        for n in 0..good.len() {
            assert!(facts(&good[..n]).is_err(), "prefix of {n} bytes");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(facts(&trailing), Err(DataError::Invalid { .. })));

        let missing = {
            let mut out = Out::default();
            out.begin().i64_field(3, 0).list(4, T_STRUCT, 0).end();
            out.bytes
        };
        assert_eq!(
            facts(&missing),
            Err(DataError::MissingField { field: "schema" })
        );
        let negative = {
            let mut out = Out::default();
            out.begin().list(2, T_STRUCT, 1).element("root", Some(0));
            out.i64_field(3, -1).list(4, T_STRUCT, 0).end();
            out.bytes
        };
        assert!(matches!(facts(&negative), Err(DataError::Invalid { .. })));
        let twice = {
            let mut out = Out::default();
            out.begin().list(2, T_STRUCT, 1).element("root", Some(0));
            out.i64_field(3, 0)
                .i64_field(3, 0)
                .list(4, T_STRUCT, 0)
                .end();
            out.bytes
        };
        assert!(matches!(facts(&twice), Err(DataError::Invalid { .. })));
        let wrong_type = {
            let mut out = Out::default();
            out.begin().list(2, T_STRUCT, 1).element("root", Some(0));
            out.i32_field(3, 0).list(4, T_STRUCT, 0).end();
            out.bytes
        };
        assert!(matches!(facts(&wrong_type), Err(DataError::Invalid { .. })));
        // A list claiming more elements than bytes, and a varint of eleven bytes.
        assert!(matches!(
            facts(&[0x29, 0xfc, 0xff, 0xff, 0x0f]),
            Err(DataError::Invalid { .. })
        ));
        assert!(matches!(
            facts(&[
                0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f
            ]),
            Err(DataError::Invalid { .. })
        ));
        assert!(matches!(facts(&[0x1e]), Err(DataError::Invalid { .. })));
    }

    #[test]
    fn footer_limits_are_errors() {
        let good = footer(2, &[5]);
        let small = Limits {
            max_header_bytes: 8,
            ..Limits::default()
        };
        assert!(matches!(
            parquet_facts(&good, &small),
            Err(DataError::FooterTooLong { limit: 8, .. })
        ));
        let shallow = Limits {
            max_nesting: 2,
            ..Limits::default()
        };
        assert!(matches!(
            parquet_facts(&good, &shallow),
            Err(DataError::TooDeep { limit: 2, .. })
        ));
        // Structs nested 10,000 deep in an unknown field.
        let mut deep = vec![0x1c; 10_000];
        deep.extend(std::iter::repeat_n(0, 10_001));
        assert!(matches!(facts(&deep), Err(DataError::TooDeep { .. })));
    }
}
