//! A bounded reader for the protocol buffers wire format, with no schema and no code
//! generation.
//!
//! ONNX models and TensorFlow graphs are protobuf messages. Their readers in this crate walk
//! only the field numbers they need, so this module offers two ways to read the wire format:
//!
//! - [`Fields`], an iterator over the fields of a message held in memory, whose
//!   length-delimited values are sub-[`Reader`]s that cannot read past their own end;
//! - [`Stream`], a buffered cursor over a seekable reader, for the outer layers of large
//!   files (an ONNX model or frozen graph can be gigabytes of weights), so that tensor bytes
//!   are skipped by seeking instead of being read into memory.
//!
//! Varints are decoded with an overflow check (at most ten bytes, the tenth carrying a
//! single bit), groups (wire types 3 and 4, deprecated and unused by ONNX and TensorFlow)
//! are refused, and recursion depth is bounded by the caller through [`descend`].

use std::io::{Read, Seek, SeekFrom};

use crate::Reader;

/// Why a protobuf message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The input ended inside a field.
    #[error("truncated protobuf field at offset {offset}: expected {expected}")]
    Truncated {
        /// Where the field started.
        offset: u64,
        /// What was being read.
        expected: &'static str,
    },
    /// A varint longer than ten bytes or wider than 64 bits.
    #[error("varint at offset {offset} overflows 64 bits")]
    VarintOverflow {
        /// Where the varint started.
        offset: u64,
    },
    /// A wire type that does not exist, or a group (wire types 3 and 4), which ONNX and
    /// TensorFlow never write.
    #[error("unsupported protobuf wire type `{wire_type}` at offset {offset}")]
    WireType {
        /// Where the field key started.
        offset: u64,
        /// The wire type found.
        wire_type: u8,
    },
    /// Field number zero, or one above the protobuf maximum.
    #[error("invalid protobuf field number `{number}` at offset {offset}")]
    FieldNumber {
        /// Where the field key started.
        offset: u64,
        /// The field number found.
        number: u64,
    },
    /// A length-delimited field that claims more bytes than its message has left.
    #[error("protobuf field at offset {offset} claims {claimed} bytes but only {available} remain")]
    Length {
        /// Where the field key started.
        offset: u64,
        /// The length the field claims.
        claimed: u64,
        /// Bytes left in the enclosing message.
        available: u64,
    },
    /// Messages nested deeper than `Limits::max_nesting`.
    #[error("protobuf messages nested deeper than the limit of {limit} at offset {offset}")]
    TooDeep {
        /// Where the message that went too deep starts.
        offset: u64,
        /// The limit that was hit.
        limit: usize,
    },
    /// More bytes would be held in memory than `Limits::max_header_bytes` allows.
    #[error(
        "protobuf part at offset {offset} needs {needed} bytes in memory, above the limit of {limit}"
    )]
    TooLarge {
        /// Where the part starts.
        offset: u64,
        /// Bytes the part would need.
        needed: u64,
        /// The limit that was hit.
        limit: u64,
    },
    /// The underlying reader failed.
    #[error("read error at offset {offset}: {message}")]
    Io {
        /// Where the read was attempted.
        offset: u64,
        /// The I/O error, as text.
        message: String,
    },
    /// The time budget ran out during the walk.
    #[error("time budget exhausted at offset {offset}")]
    Budget {
        /// Where the walk stopped.
        offset: u64,
    },
}

impl ProtoError {
    /// Whether this error is a limit being hit rather than malformed input.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            ProtoError::TooDeep { .. } | ProtoError::TooLarge { .. } | ProtoError::Budget { .. }
        )
    }
}

/// The largest field number protobuf allows (2^29 - 1).
const MAX_FIELD_NUMBER: u64 = (1 << 29) - 1;

/// The value of one field, by wire type.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: bytes, a string, a packed array or an embedded message.
    Bytes(Reader<'a>),
    /// Wire type 5.
    Fixed32(u32),
}

impl<'a> Value<'a> {
    /// The payload of a length-delimited field, or `None` for other wire types.
    pub fn bytes(&self) -> Option<Reader<'a>> {
        match self {
            Value::Bytes(r) => Some(r.clone()),
            _ => None,
        }
    }

    /// The field as a UTF-8 string (lossily decoded), or `None` if it is not
    /// length-delimited.
    pub fn string(&self) -> Option<String> {
        self.bytes()
            .map(|mut r| String::from_utf8_lossy(r.rest()).into_owned())
    }

    /// The field as an integer, or `None` if it is not a varint.
    pub fn varint(&self) -> Option<u64> {
        match self {
            Value::Varint(v) => Some(*v),
            _ => None,
        }
    }
}

/// One field of a message.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    /// The field number.
    pub number: u32,
    /// The value.
    pub value: Value<'a>,
    /// Absolute offset of the field's key.
    pub offset: u64,
}

/// An iterator over the fields of a message held in memory.
///
/// It yields an error once, then stops, so a malformed message ends the walk of that
/// message with a reason instead of looping.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    reader: Reader<'a>,
    failed: bool,
}

impl<'a> Fields<'a> {
    /// The fields of the message that fills `reader`.
    pub fn new(reader: Reader<'a>) -> Self {
        Self {
            reader,
            failed: false,
        }
    }

    fn field(&mut self) -> Result<Field<'a>, ProtoError> {
        let offset = self.reader.offset();
        let key = varint(&mut self.reader)?;
        let (number, wire_type) = split_key(key, offset)?;
        let value = match wire_type {
            0 => Value::Varint(varint(&mut self.reader)?),
            1 => Value::Fixed64(self.reader.u64_le().ok_or(ProtoError::Truncated {
                offset,
                expected: "8-byte fixed64 value",
            })?),
            2 => {
                let claimed = varint(&mut self.reader)?;
                let available = self.reader.remaining() as u64;
                let n = usize::try_from(claimed)
                    .ok()
                    .filter(|&n| n <= self.reader.remaining())
                    .ok_or(ProtoError::Length {
                        offset,
                        claimed,
                        available,
                    })?;
                let sub = self.reader.sub(n).ok_or(ProtoError::Length {
                    offset,
                    claimed,
                    available,
                })?;
                Value::Bytes(sub)
            }
            5 => Value::Fixed32(self.reader.u32_le().ok_or(ProtoError::Truncated {
                offset,
                expected: "4-byte fixed32 value",
            })?),
            other => {
                return Err(ProtoError::WireType {
                    offset,
                    wire_type: other,
                });
            }
        };
        Ok(Field {
            number,
            value,
            offset,
        })
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, ProtoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.is_empty() {
            return None;
        }
        let out = self.field();
        self.failed = out.is_err();
        Some(out)
    }
}

/// Splits a field key into its number and wire type, refusing number 0 and numbers above
/// the protobuf maximum.
fn split_key(key: u64, offset: u64) -> Result<(u32, u8), ProtoError> {
    let number = key >> 3;
    let wire_type = (key & 7) as u8;
    if number == 0 || number > MAX_FIELD_NUMBER {
        return Err(ProtoError::FieldNumber { offset, number });
    }
    let number = u32::try_from(number).map_err(|_| ProtoError::FieldNumber { offset, number })?;
    Ok((number, wire_type))
}

/// Reads one base-128 varint, refusing encodings longer than ten bytes or wider than 64
/// bits (a hostile encoder can otherwise smuggle bits that one reader keeps and another
/// drops).
pub fn varint(r: &mut Reader<'_>) -> Result<u64, ProtoError> {
    let offset = r.offset();
    let mut value: u64 = 0;
    for i in 0..10u32 {
        let byte = r.u8().ok_or(ProtoError::Truncated {
            offset,
            expected: "varint",
        })?;
        let bits = u64::from(byte & 0x7f);
        if i == 9 && bits > 1 {
            return Err(ProtoError::VarintOverflow { offset });
        }
        value |= bits << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ProtoError::VarintOverflow { offset })
}

/// Checks one more level of message nesting against `limit`, returning the new depth.
pub fn descend(depth: usize, limit: usize, offset: u64) -> Result<usize, ProtoError> {
    let next = depth.saturating_add(1);
    if next > limit {
        return Err(ProtoError::TooDeep { offset, limit });
    }
    Ok(next)
}

/// A readable, seekable input for [`Stream`].
pub trait ReadSeek: Read + Seek {}

impl<T: Read + Seek + ?Sized> ReadSeek for T {}

/// The value of a field read from a [`Stream`]: scalars are decoded, length-delimited
/// payloads are left in the stream for the caller to skip, load or descend into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamValue {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1 or 5, already consumed.
    Fixed,
    /// Wire type 2: this many bytes follow and must be consumed by the caller.
    Len(u64),
}

/// Size of the read buffer of a [`Stream`].
const STREAM_BUFFER: usize = 64 * 1024;

/// A buffered, position-tracking cursor over a seekable input, for protobuf messages too
/// large to hold in memory. Callers bound each message by its end offset.
pub struct Stream<'s> {
    src: &'s mut dyn ReadSeek,
    len: u64,
    buf: Vec<u8>,
    /// Absolute offset of `buf[0]`.
    buf_start: u64,
    /// Position in `buf` of the next byte.
    buf_pos: usize,
}

impl std::fmt::Debug for Stream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("len", &self.len)
            .field("pos", &self.pos())
            .finish()
    }
}

impl<'s> Stream<'s> {
    /// A stream over the first `len` bytes of `src`, starting at its offset 0.
    pub fn new(src: &'s mut dyn ReadSeek, len: u64) -> Self {
        Self {
            src,
            len,
            buf: Vec::new(),
            buf_start: 0,
            buf_pos: 0,
        }
    }

    /// Total length of the input.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the input is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Absolute offset of the next byte.
    pub fn pos(&self) -> u64 {
        self.buf_start.saturating_add(self.buf_pos as u64)
    }

    fn io(&self, e: &std::io::Error) -> ProtoError {
        ProtoError::Io {
            offset: self.pos(),
            message: e.to_string(),
        }
    }

    fn fill(&mut self) -> Result<bool, ProtoError> {
        if self.buf_pos < self.buf.len() {
            return Ok(true);
        }
        let start = self.pos();
        let want = self.len.saturating_sub(start).min(STREAM_BUFFER as u64);
        if want == 0 {
            return Ok(false);
        }
        self.src
            .seek(SeekFrom::Start(start))
            .map_err(|e| self.io(&e))?;
        let mut buf = vec![0u8; want as usize];
        let mut got = 0usize;
        while got < buf.len() {
            let n = match buf.get_mut(got..) {
                Some(rest) => self.src.read(rest).map_err(|e| self.io(&e))?,
                None => 0,
            };
            if n == 0 {
                break;
            }
            got = got.saturating_add(n);
        }
        buf.truncate(got);
        self.buf = buf;
        self.buf_start = start;
        self.buf_pos = 0;
        Ok(got > 0)
    }

    fn byte(&mut self, offset: u64, expected: &'static str) -> Result<u8, ProtoError> {
        if !self.fill()? {
            return Err(ProtoError::Truncated { offset, expected });
        }
        let b = self
            .buf
            .get(self.buf_pos)
            .copied()
            .ok_or(ProtoError::Truncated { offset, expected })?;
        self.buf_pos = self.buf_pos.saturating_add(1);
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, ProtoError> {
        let offset = self.pos();
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let byte = self.byte(offset, "varint")?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return Err(ProtoError::VarintOverflow { offset });
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtoError::VarintOverflow { offset })
    }

    /// Moves to absolute offset `to` (forward or backward) without reading what lies
    /// between.
    pub fn seek_to(&mut self, to: u64) -> Result<(), ProtoError> {
        if to > self.len {
            return Err(ProtoError::Truncated {
                offset: self.pos(),
                expected: "bytes to skip",
            });
        }
        let buf_end = self.buf_start.saturating_add(self.buf.len() as u64);
        if to >= self.buf_start && to <= buf_end {
            self.buf_pos = usize::try_from(to.saturating_sub(self.buf_start)).unwrap_or(usize::MAX);
        } else {
            self.buf.clear();
            self.buf_start = to;
            self.buf_pos = 0;
        }
        Ok(())
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: u64) -> Result<(), ProtoError> {
        let to = self.pos().checked_add(n).ok_or(ProtoError::Truncated {
            offset: self.pos(),
            expected: "bytes to skip",
        })?;
        self.seek_to(to)
    }

    /// Reads the next `n` bytes into memory, refusing more than `limit`.
    pub fn load(&mut self, n: u64, limit: u64) -> Result<Vec<u8>, ProtoError> {
        let offset = self.pos();
        if n > limit {
            return Err(ProtoError::TooLarge {
                offset,
                needed: n,
                limit,
            });
        }
        let end =
            offset
                .checked_add(n)
                .filter(|&e| e <= self.len)
                .ok_or(ProtoError::Truncated {
                    offset,
                    expected: "length-delimited payload",
                })?;
        let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        while self.pos() < end {
            if !self.fill()? {
                return Err(ProtoError::Truncated {
                    offset,
                    expected: "length-delimited payload",
                });
            }
            let want = usize::try_from(end.saturating_sub(self.pos())).unwrap_or(usize::MAX);
            let avail = self.buf.get(self.buf_pos..).unwrap_or_default();
            let take = avail.len().min(want);
            out.extend_from_slice(avail.get(..take).unwrap_or_default());
            self.buf_pos = self.buf_pos.saturating_add(take);
        }
        Ok(out)
    }

    /// Reads the next field of a message that ends at absolute offset `end`, or `None`
    /// at the end of the message. A [`StreamValue::Len`] payload is checked to fit
    /// before `end` and must then be consumed by the caller.
    pub fn field(&mut self, end: u64) -> Result<Option<(u32, StreamValue, u64)>, ProtoError> {
        let offset = self.pos();
        if offset >= end {
            return Ok(None);
        }
        let key = self.varint()?;
        let (number, wire_type) = split_key(key, offset)?;
        let value = match wire_type {
            0 => StreamValue::Varint(self.varint()?),
            1 => {
                self.skip(8)?;
                StreamValue::Fixed
            }
            2 => {
                let claimed = self.varint()?;
                let available = end.saturating_sub(self.pos());
                if claimed > available {
                    return Err(ProtoError::Length {
                        offset,
                        claimed,
                        available,
                    });
                }
                StreamValue::Len(claimed)
            }
            5 => {
                self.skip(4)?;
                StreamValue::Fixed
            }
            other => {
                return Err(ProtoError::WireType {
                    offset,
                    wire_type: other,
                });
            }
        };
        if self.pos() > end {
            return Err(ProtoError::Truncated {
                offset,
                expected: "field inside its message",
            });
        }
        Ok(Some((number, value, offset)))
    }
}

/// A tiny protobuf writer, used by tests and fixture generators to build messages from
/// bytes.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    fn raw_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// Appends a varint field.
    pub fn varint(mut self, number: u32, v: u64) -> Self {
        self.raw_varint(u64::from(number) << 3);
        self.raw_varint(v);
        self
    }

    /// Appends a length-delimited field.
    pub fn bytes(mut self, number: u32, data: &[u8]) -> Self {
        self.raw_varint((u64::from(number) << 3) | 2);
        self.raw_varint(data.len() as u64);
        self.buf.extend_from_slice(data);
        self
    }

    /// Appends a string field.
    pub fn string(self, number: u32, s: &str) -> Self {
        self.bytes(number, s.as_bytes())
    }

    /// Appends an embedded message.
    pub fn message(self, number: u32, m: Writer) -> Self {
        self.bytes(number, &m.buf)
    }

    /// The encoded message.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn varints_decode_and_overflow_is_refused() {
        assert_eq!(varint(&mut Reader::new(&[0x96, 0x01])), Ok(150));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(varint(&mut Reader::new(&max)), Ok(u64::MAX));
        let wide = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(
            varint(&mut Reader::new(&wide)),
            Err(ProtoError::VarintOverflow { offset: 0 })
        );
        let long = [0x80u8; 11];
        assert_eq!(
            varint(&mut Reader::new(&long)),
            Err(ProtoError::VarintOverflow { offset: 0 })
        );
        assert!(matches!(
            varint(&mut Reader::new(&[0x80])),
            Err(ProtoError::Truncated { .. })
        ));
    }

    #[test]
    fn fields_walk_and_sub_readers_are_bounded() {
        let inner = Writer::new().string(1, "abc");
        let msg = Writer::new().varint(1, 7).message(2, inner).finish();
        let fields: Vec<_> = Fields::new(Reader::new(&msg))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].value.varint(), Some(7));
        let sub = fields[1].value.bytes().unwrap();
        let inner: Vec<_> = Fields::new(sub).collect::<Result<_, _>>().unwrap();
        assert_eq!(inner[0].value.string().as_deref(), Some("abc"));
        assert_eq!(inner[0].offset, 4);
    }

    #[test]
    fn groups_bad_numbers_and_overlong_lengths_are_refused() {
        // Field 1, wire type 3 (start group).
        let mut f = Fields::new(Reader::new(&[0x0b, 0x00]));
        assert!(matches!(
            f.next(),
            Some(Err(ProtoError::WireType { wire_type: 3, .. }))
        ));
        assert!(f.next().is_none());
        // Field number 0.
        assert!(matches!(
            Fields::new(Reader::new(&[0x00, 0x00])).next(),
            Some(Err(ProtoError::FieldNumber { .. }))
        ));
        // Length 5 with 1 byte left.
        assert!(matches!(
            Fields::new(Reader::new(&[0x0a, 0x05, 0x00])).next(),
            Some(Err(ProtoError::Length {
                claimed: 5,
                available: 1,
                ..
            }))
        ));
    }

    #[test]
    fn nesting_limit_is_enforced() {
        assert_eq!(descend(0, 2, 0), Ok(1));
        assert_eq!(descend(1, 2, 0), Ok(2));
        assert_eq!(
            descend(2, 2, 9),
            Err(ProtoError::TooDeep {
                offset: 9,
                limit: 2
            })
        );
    }

    #[test]
    fn stream_reads_skips_and_bounds_loads() {
        let payload = vec![7u8; 100_000];
        let msg = Writer::new()
            .varint(1, 300)
            .bytes(2, &payload)
            .string(3, "tail")
            .finish();
        let len = msg.len() as u64;
        let mut cur = Cursor::new(msg);
        let mut s = Stream::new(&mut cur, len);
        assert_eq!(
            s.field(len).unwrap(),
            Some((1, StreamValue::Varint(300), 0))
        );
        let Some((2, StreamValue::Len(n), _)) = s.field(len).unwrap() else {
            panic!()
        };
        assert_eq!(n, 100_000);
        assert!(matches!(
            s.load(n, 10),
            Err(ProtoError::TooLarge { limit: 10, .. })
        ));
        s.skip(n).unwrap();
        let Some((3, StreamValue::Len(n), _)) = s.field(len).unwrap() else {
            panic!()
        };
        assert_eq!(s.load(n, 10).unwrap(), b"tail");
        assert_eq!(s.field(len).unwrap(), None);
        // A length beyond the message end is refused before anything is read.
        let bad = [0x12u8, 0x7f, 0x00];
        let mut cur = Cursor::new(bad.to_vec());
        let mut s = Stream::new(&mut cur, 3);
        assert!(matches!(
            s.field(3),
            Err(ProtoError::Length { claimed: 127, .. })
        ));
    }
}
