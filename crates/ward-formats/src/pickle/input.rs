//! A buffered, streaming view of a pickle stream.
//!
//! The virtual machine reads opcodes and short arguments from a fixed buffer, so that a
//! 1 GB pickle costs one buffer of memory, and skips long payloads by length without
//! keeping them. Positions are absolute offsets in the enclosing input.

use std::io::{self, Read};

/// Size of the read buffer; also the longest argument that can be borrowed in one piece.
const BUF_SIZE: usize = 64 * 1024;
/// Smallest read buffer. An input known to be shorter than [`BUF_SIZE`] gets a buffer of
/// its own length (at least this), so that scanning many small files does not zero a full
/// buffer each time.
const MIN_BUF_SIZE: usize = 4 * 1024;

/// Why a read could not be satisfied.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The input ended first.
    Eof,
    /// The underlying reader failed.
    Io(io::Error),
}

/// A buffered reader over untrusted bytes with absolute offsets.
pub(crate) struct Input<'r> {
    inner: &'r mut dyn Read,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Absolute offset of `buf[0]`.
    base: u64,
    /// Bytes the input may still yield after the buffered ones, when known, so that a
    /// length prefix beyond the end fails at once instead of after reading everything.
    remaining_hint: Option<u64>,
}

impl<'r> Input<'r> {
    /// An input whose first byte is at absolute offset `start`; `len` is how many bytes the
    /// reader can yield at most, when known.
    pub(crate) fn new(inner: &'r mut dyn Read, start: u64, len: Option<u64>) -> Self {
        let size = len
            .and_then(|len| usize::try_from(len).ok())
            .map_or(BUF_SIZE, |len| {
                len.saturating_add(1).clamp(MIN_BUF_SIZE, BUF_SIZE)
            });
        Self {
            inner,
            buf: vec![0; size],
            pos: 0,
            end: 0,
            base: start,
            remaining_hint: len,
        }
    }

    /// Absolute offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }

    /// How many bytes may still be read, when the length of the input is known.
    pub(crate) fn remaining(&self) -> Option<u64> {
        self.remaining_hint
            .map(|r| r.saturating_add(self.end.saturating_sub(self.pos) as u64))
    }

    /// Refills the buffer after moving the unread bytes to its start. Returns how many
    /// new bytes arrived (0 at the end of the input).
    fn fill(&mut self) -> Result<usize, ReadError> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base = self.base.saturating_add(self.pos as u64);
            self.end = self.end.saturating_sub(self.pos);
            self.pos = 0;
        }
        let Some(free) = self.buf.get_mut(self.end..) else {
            return Ok(0);
        };
        if free.is_empty() {
            return Ok(0);
        }
        loop {
            match self.inner.read(free) {
                Ok(n) => {
                    self.end = self.end.saturating_add(n);
                    if let Some(r) = self.remaining_hint.as_mut() {
                        *r = r.saturating_sub(n as u64);
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// The next byte.
    #[inline]
    pub(crate) fn byte(&mut self) -> Result<u8, ReadError> {
        if let Some(&b) = self.buf.get(self.pos)
            && self.pos < self.end
        {
            self.pos += 1;
            return Ok(b);
        }
        if self.fill()? == 0 {
            return Err(ReadError::Eof);
        }
        self.byte()
    }

    /// The next byte without consuming it, or `None` at the end of the input.
    pub(crate) fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        if self.pos >= self.end && self.fill()? == 0 {
            return Ok(None);
        }
        Ok(self.buf.get(self.pos).copied())
    }

    /// The next `n` bytes (at most the buffer size), borrowed.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], ReadError> {
        // Longer than the buffer means longer than the input (see `new`).
        if n > self.buf.len() {
            return Err(ReadError::Eof);
        }
        while self.end.saturating_sub(self.pos) < n {
            if self.fill()? == 0 {
                return Err(ReadError::Eof);
            }
        }
        let start = self.pos;
        self.pos = start.saturating_add(n);
        self.buf.get(start..self.pos).ok_or(ReadError::Eof)
    }

    /// Up to `n` next bytes (fewer at the end of the input) without consuming them.
    #[inline]
    pub(crate) fn peek_n(&mut self, n: usize) -> Result<&[u8], ReadError> {
        let n = n.min(self.buf.len());
        while self.end.saturating_sub(self.pos) < n {
            if self.fill()? == 0 {
                break;
            }
        }
        let stop = self.end.min(self.pos.saturating_add(n));
        Ok(self.buf.get(self.pos..stop).unwrap_or_default())
    }

    /// Consumes `n` bytes already seen through [`Input::peek_n`].
    #[inline]
    pub(crate) fn skip_buffered(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.end);
    }

    /// A fixed-size array.
    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| ReadError::Eof)
    }

    /// Reads `n` bytes into a new vector (the caller bounds `n`).
    pub(crate) fn read_vec(&mut self, n: u64) -> Result<Vec<u8>, ReadError> {
        if self.remaining().is_some_and(|r| r < n) {
            return Err(ReadError::Eof);
        }
        let want = usize::try_from(n).map_err(|_| ReadError::Eof)?;
        let mut out = Vec::with_capacity(want.min(BUF_SIZE));
        while out.len() < want {
            if self.pos >= self.end && self.fill()? == 0 {
                return Err(ReadError::Eof);
            }
            let chunk = (want - out.len()).min(self.end - self.pos);
            let Some(bytes) = self.buf.get(self.pos..self.pos + chunk) else {
                return Err(ReadError::Eof);
            };
            out.extend_from_slice(bytes);
            self.pos += chunk;
        }
        Ok(out)
    }

    /// Skips `n` bytes without keeping them.
    pub(crate) fn skip(&mut self, n: u64) -> Result<(), ReadError> {
        if self.remaining().is_some_and(|r| r < n) {
            return Err(ReadError::Eof);
        }
        let mut left = n;
        while left > 0 {
            if self.pos >= self.end && self.fill()? == 0 {
                return Err(ReadError::Eof);
            }
            let avail = (self.end - self.pos) as u64;
            let step = avail.min(left);
            // `step` is at most the buffered count, which is a `usize`.
            self.pos += step as usize;
            left -= step;
        }
        Ok(())
    }

    /// Reads a line up to and including `\n`. Lines longer than `max` are consumed but not
    /// kept: the result is then `Line::Long` with the line's length.
    pub(crate) fn line(&mut self, max: usize) -> Result<Line<'_>, ReadError> {
        let max = max.min(self.buf.len().saturating_sub(1));
        let mut scanned = 0usize;
        loop {
            let window = self
                .buf
                .get(self.pos + scanned..self.end)
                .unwrap_or_default();
            if let Some(i) = memchr_nl(window) {
                let len = scanned + i + 1;
                let start = self.pos;
                self.pos += len;
                let line = self.buf.get(start..self.pos).ok_or(ReadError::Eof)?;
                return Ok(Line::Short(line));
            }
            scanned = self.end - self.pos;
            if scanned > max {
                return self.skip_line(scanned);
            }
            if self.fill()? == 0 {
                return Err(ReadError::Eof);
            }
        }
    }

    /// Consumes the rest of an overlong line whose first `seen` bytes are buffered.
    fn skip_line(&mut self, seen: usize) -> Result<Line<'static>, ReadError> {
        let mut total = seen as u64;
        self.pos = self.end;
        loop {
            if self.fill()? == 0 {
                return Err(ReadError::Eof);
            }
            let window = self.buf.get(self.pos..self.end).unwrap_or_default();
            if let Some(i) = memchr_nl(window) {
                self.pos += i + 1;
                total = total.saturating_add(i as u64 + 1);
                return Ok(Line::Long(total));
            }
            total = total.saturating_add(window.len() as u64);
            self.pos = self.end;
        }
    }
}

/// A line read by [`Input::line`].
pub(crate) enum Line<'a> {
    /// The whole line, newline included.
    Short(&'a [u8]),
    /// A line too long to keep, with its length (newline included).
    Long(u64),
}

fn memchr_nl(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_numbers_and_skips_cross_buffer_refills() {
        let mut data = vec![b'x'; BUF_SIZE + 10];
        data.extend_from_slice(b"\nabc\n");
        data.extend_from_slice(&[1, 2, 3]);
        let mut cursor = std::io::Cursor::new(data);
        let mut input = Input::new(&mut cursor, 100, None);
        match input.line(16).unwrap() {
            Line::Long(n) => assert_eq!(n, BUF_SIZE as u64 + 11),
            Line::Short(_) => panic!("expected a long line"),
        }
        match input.line(16).unwrap() {
            Line::Short(l) => assert_eq!(l, b"abc\n"),
            Line::Long(_) => panic!("expected a short line"),
        }
        assert_eq!(input.offset(), 100 + BUF_SIZE as u64 + 15);
        input.skip(1).unwrap();
        assert_eq!(input.array::<2>().unwrap(), [2, 3]);
        assert!(matches!(input.byte(), Err(ReadError::Eof)));
    }
}
