//! Bounded streaming decompression for gzip, zlib, bzip2, xz, `.lzma` and LZ4 frames.
//!
//! joblib wraps whole pickles in these streams, and archives wrap members in them, so the
//! scanner must look inside. A few kilobytes can expand to terabytes (a decompression bomb),
//! so every byte written goes through [`BoundedWriter`], which stops at
//! `limits.max_decompressed_bytes` or once the output exceeds `limits.max_compression_ratio`
//! times the input. Every decoder here is pure Rust: miniz_oxide for deflate, libbz2-rs-sys
//! for bzip2, lzma-rs for xz, lz4_flex for LZ4.

use std::fmt;
use std::io::{BufReader, Read, Write};

use crate::detect::Format;
use crate::{Budget, Limits};

/// Output size below which the ratio limit is not applied: small, highly repetitive
/// payloads (a few megabytes of zeros) are ordinary, and the size limit bounds them anyway.
pub const RATIO_FLOOR_BYTES: u64 = 4 << 20;

/// Which decompression limit stopped a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    /// More than `limits.max_decompressed_bytes` would have been written.
    Size {
        /// The limit.
        limit: u64,
    },
    /// The output grew beyond `limits.max_compression_ratio` times the input.
    Ratio {
        /// The limit.
        limit: u64,
        /// Compressed input length.
        input: u64,
        /// Bytes produced when the limit was hit.
        output: u64,
    },
    /// The time budget of the top-level input ran out while decoding.
    Time {
        /// Bytes produced when the budget ran out.
        output: u64,
    },
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitHit::Time { output } => {
                write!(f, "time budget ran out after `{output}` decompressed bytes")
            }
            LimitHit::Size { limit } => {
                write!(f, "decompressed size exceeds the limit of `{limit}` bytes")
            }
            LimitHit::Ratio {
                limit,
                input,
                output,
            } => write!(
                f,
                "`{input}` compressed bytes expanded to more than `{output}` bytes, beyond the \
                 ratio limit of `{limit}`"
            ),
        }
    }
}

/// Why a compressed stream could not be fully decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    /// The format is not a compression wrapper.
    #[error("`{0}` is not a compression format")]
    NotCompression(Format),
    /// The stream is corrupt or truncated.
    #[error("corrupt {format} stream: {detail}")]
    Corrupt {
        /// The format.
        format: Format,
        /// What the decoder said.
        detail: String,
    },
    /// A limit was hit; the bytes written so far are valid output.
    #[error("{0}")]
    Limit(LimitHit),
}

/// A writer that counts, checksums (CRC-32) and bounds what passes through it.
pub struct BoundedWriter<'a, W: ?Sized> {
    out: &'a mut W,
    input_len: u64,
    max_bytes: u64,
    max_ratio: u64,
    written: u64,
    crc: crc32fast::Hasher,
    hit: Option<LimitHit>,
    budget: Option<Budget>,
}

impl<'a, W: Write + ?Sized> BoundedWriter<'a, W> {
    /// A writer into `out` for the decompression of `input_len` compressed bytes.
    pub fn new(out: &'a mut W, input_len: u64, limits: &Limits) -> Self {
        Self {
            out,
            input_len,
            max_bytes: limits.max_decompressed_bytes,
            max_ratio: limits.max_compression_ratio,
            written: 0,
            crc: crc32fast::Hasher::new(),
            hit: None,
            budget: None,
        }
    }

    /// Also stops once `budget` runs out (checked on every write, which decoders make in
    /// blocks of kilobytes, so the check costs nothing measurable).
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// CRC-32 of the bytes written so far.
    pub fn crc32(&self) -> u32 {
        self.crc.clone().finalize()
    }

    /// The limit that stopped the writer, if any.
    pub fn limit_hit(&self) -> Option<LimitHit> {
        self.hit
    }
}

impl<W: Write + ?Sized> Write for BoundedWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.hit.is_none() && self.budget.is_some_and(|b| b.check().is_err()) {
            self.hit = Some(LimitHit::Time {
                output: self.written,
            });
        }
        if let Some(hit) = self.hit {
            return Err(std::io::Error::other(hit.to_string()));
        }
        // The most this writer may hold: the size limit, and the ratio limit once the
        // output is past the floor.
        let ratio_cap = self
            .input_len
            .saturating_mul(self.max_ratio)
            .max(RATIO_FLOOR_BYTES);
        let cap = self.max_bytes.min(ratio_cap);
        let room = cap.saturating_sub(self.written);
        if room == 0 && !buf.is_empty() {
            self.hit = Some(if self.max_bytes <= ratio_cap {
                LimitHit::Size {
                    limit: self.max_bytes,
                }
            } else {
                LimitHit::Ratio {
                    limit: self.max_ratio,
                    input: self.input_len,
                    output: self.written,
                }
            });
            return self.write(buf);
        }
        // Write what fits; the next call reports the limit.
        let fits = usize::try_from(room).unwrap_or(usize::MAX).min(buf.len());
        let buf = buf.get(..fits).unwrap_or_default();
        let n = self.out.write(buf)?;
        let done = buf.get(..n).unwrap_or_default();
        self.crc.update(done);
        self.written = self.written.saturating_add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Decodes the `format` stream read from `input` (`input_len` compressed bytes) into `out`,
/// returning how many bytes were written, within `limits` and `budget`. Bytes written before an error are valid output:
/// the caller scans them (a truncated stream that holds a malicious pickle is still
/// malicious).
pub fn decompress<W: Write + ?Sized>(
    format: Format,
    input: &mut dyn Read,
    input_len: u64,
    out: &mut W,
    limits: &Limits,
    budget: &Budget,
) -> Result<u64, DecompressError> {
    let mut sink = BoundedWriter::new(out, input_len, limits).with_budget(*budget);
    let result: Result<(), String> = match format {
        Format::Gzip => copy(&mut flate2::read::MultiGzDecoder::new(input), &mut sink),
        Format::Zlib => copy(&mut flate2::read::ZlibDecoder::new(input), &mut sink),
        Format::Bzip2 => copy(&mut bzip2::read::MultiBzDecoder::new(input), &mut sink),
        Format::Lz4 => copy(&mut lz4_flex::frame::FrameDecoder::new(input), &mut sink),
        Format::Xz => {
            lzma_rs::xz_decompress(&mut BufReader::new(input), &mut sink).map_err(|e| e.to_string())
        }
        Format::Lzma => lzma_rs::lzma_decompress(&mut BufReader::new(input), &mut sink)
            .map_err(|e| e.to_string()),
        other => return Err(DecompressError::NotCompression(other)),
    };
    if let Some(hit) = sink.limit_hit() {
        return Err(DecompressError::Limit(hit));
    }
    result.map_err(|detail| DecompressError::Corrupt { format, detail })?;
    Ok(sink.written())
}

fn copy<R: Read + ?Sized, W: Write + ?Sized>(from: &mut R, to: &mut W) -> Result<(), String> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
        };
        to.write_all(buf.get(..n).unwrap_or_default())
            .map_err(|e| e.to_string())?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &[u8] =
        b"\x80\x02cposix\nsystem\nq\x00X\x11\x00\x00\x00echo ward-fixtureq\x01\x85q\x02Rq\x03.";

    fn encode(format: Format, data: &[u8]) -> Vec<u8> {
        match format {
            Format::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Format::Zlib => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Format::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Format::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Format::Xz => {
                let mut out = Vec::new();
                lzma_rs::xz_compress(&mut &data[..], &mut out).unwrap();
                out
            }
            Format::Lzma => {
                let mut out = Vec::new();
                lzma_rs::lzma_compress(&mut &data[..], &mut out).unwrap();
                out
            }
            _ => unreachable!(),
        }
    }

    const ALL: [Format; 6] = [
        Format::Lzma,
        Format::Gzip,
        Format::Zlib,
        Format::Bzip2,
        Format::Lz4,
        Format::Xz,
    ];

    #[test]
    fn every_format_round_trips_and_is_detected() {
        for format in ALL {
            let data = encode(format, PAYLOAD);
            assert_eq!(crate::detect::detect(&data, data.len() as u64), format);
            let mut out = Vec::new();
            let n = decompress(
                format,
                &mut &data[..],
                data.len() as u64,
                &mut out,
                &Limits::default(),
                &Budget::unlimited(),
            )
            .unwrap();
            assert_eq!(out, PAYLOAD, "{format}");
            assert_eq!(n, PAYLOAD.len() as u64);
        }
    }

    #[test]
    fn size_limit_stops_every_format() {
        let limits = Limits {
            max_decompressed_bytes: 1000,
            ..Limits::default()
        };
        let big = vec![7u8; 100_000];
        for format in ALL {
            let data = encode(format, &big);
            let mut out = Vec::new();
            let err = decompress(
                format,
                &mut &data[..],
                data.len() as u64,
                &mut out,
                &limits,
                &Budget::unlimited(),
            )
            .unwrap_err();
            assert!(
                matches!(err, DecompressError::Limit(LimitHit::Size { limit: 1000 })),
                "{format}: {err}"
            );
            assert!(out.len() <= 1000);
        }
    }

    #[test]
    fn ratio_limit_stops_a_bomb() {
        let zeros = vec![0u8; 16 << 20];
        let data = encode(Format::Gzip, &zeros);
        let mut out = Vec::new();
        let err = decompress(
            Format::Gzip,
            &mut &data[..],
            data.len() as u64,
            &mut out,
            &Limits::default(),
            &Budget::unlimited(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DecompressError::Limit(LimitHit::Ratio { limit: 1000, .. })
            ),
            "{err}"
        );
        assert!((out.len() as u64) <= (data.len() as u64 * 1000).max(RATIO_FLOOR_BYTES));
    }

    #[test]
    fn time_budget_stops_decoding() {
        let data = encode(Format::Bzip2, &vec![3u8; 1 << 20]);
        let mut out = Vec::new();
        let spent = Budget::new(std::time::Duration::ZERO);
        let err = decompress(
            Format::Bzip2,
            &mut &data[..],
            data.len() as u64,
            &mut out,
            &Limits::default(),
            &spent,
        )
        .unwrap_err();
        assert!(
            matches!(err, DecompressError::Limit(LimitHit::Time { output: 0 })),
            "{err}"
        );
    }

    #[test]
    fn corrupt_streams_keep_the_output_before_the_error() {
        let mut data = encode(Format::Zlib, PAYLOAD);
        data.truncate(data.len() - 6);
        let mut out = Vec::new();
        let err = decompress(
            Format::Zlib,
            &mut &data[..],
            data.len() as u64,
            &mut out,
            &Limits::default(),
            &Budget::unlimited(),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            DecompressError::Corrupt {
                format: Format::Zlib,
                ..
            }
        ));
        assert!(matches!(
            decompress(
                Format::Pickle,
                &mut &data[..],
                1,
                &mut out,
                &Limits::default(),
                &Budget::unlimited()
            ),
            Err(DecompressError::NotCompression(Format::Pickle))
        ));
    }
}
