//! A bounded cursor over untrusted bytes.
//!
//! Every read returns `None` instead of panicking when the input is too short, and length
//! prefixes become sub-readers so that a part can never read past its own end.

/// A cursor over a byte slice that cannot read out of bounds.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the enclosing input, so that positions stay absolute.
    base: u64,
}

impl<'a> Reader<'a> {
    /// A reader over the whole of `buf`, whose first byte is at offset 0.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// A reader over `buf`, whose first byte is at offset `base` of the enclosing input.
    pub fn with_base(buf: &'a [u8], base: u64) -> Self {
        Self { buf, pos: 0, base }
    }

    /// Absolute offset of the next byte to be read.
    pub fn offset(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes, or `None` if fewer remain (nothing is consumed then).
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    /// The next `n` bytes without consuming them.
    pub fn peek(&self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        self.buf.get(self.pos..end)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        out
    }

    /// Skips `n` bytes, or returns `None` if fewer remain.
    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    /// A reader over the next `n` bytes, which are consumed from this one.
    pub fn sub(&mut self, n: usize) -> Option<Reader<'a>> {
        let base = self.offset();
        self.take(n).map(|buf| Reader::with_base(buf, base))
    }

    /// Reads bytes up to (not including) `delim`, consuming the delimiter too.
    pub fn until(&mut self, delim: u8) -> Option<&'a [u8]> {
        let rest = self.buf.get(self.pos..)?;
        let len = rest.iter().position(|&b| b == delim)?;
        let out = self.take(len)?;
        self.skip(1)?;
        Some(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    /// A little-endian `u16`.
    pub fn u16_le(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    /// A little-endian `u32`.
    pub fn u32_le(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub fn u64_le(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// A big-endian `u64`.
    pub fn u64_be(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    /// A little-endian `i32`.
    pub fn i32_le(&mut self) -> Option<i32> {
        self.array().map(i32::from_le_bytes)
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end_without_consuming() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16_le(), Some(0x0201));
        assert_eq!(r.u16_le(), None);
        assert_eq!(r.offset(), 2);
        assert_eq!(r.u8(), Some(3));
        assert!(r.is_empty());
        assert_eq!(r.take(usize::MAX), None);
    }

    #[test]
    fn sub_readers_keep_absolute_offsets_and_cannot_overrun() {
        let data = [0u8, 1, 2, 3, 4, 5];
        let mut r = Reader::new(&data);
        r.skip(2).unwrap();
        let mut sub = r.sub(2).unwrap();
        assert_eq!(sub.offset(), 2);
        assert_eq!(sub.take(3), None);
        assert_eq!(sub.take(2), Some(&[2u8, 3][..]));
        assert_eq!(r.offset(), 4);
        assert!(r.sub(3).is_none());
    }

    #[test]
    fn until_consumes_the_delimiter() {
        let mut r = Reader::new(b"I42\nrest");
        r.skip(1).unwrap();
        assert_eq!(r.until(b'\n'), Some(&b"42"[..]));
        assert_eq!(r.rest(), b"rest");
        assert_eq!(Reader::new(b"no newline").until(b'\n'), None);
    }
}
