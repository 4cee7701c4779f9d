//! Format detection by content, never by name.
//!
//! A file's name is chosen by whoever published it, so it proves nothing: a pickle named
//! `model.safetensors` is still loaded by `torch.load`. [`detect`] looks only at the first
//! [`PREFIX_LEN`] bytes and the total length. Where two readings are possible, the more
//! dangerous one wins (a zlib-looking text file is tried as zlib; a file that is both a
//! pickle and a zip is reported by the engine as both, see [`crate::zip::find_eocd`]).

use std::io::Read;

/// How many leading bytes [`detect`] looks at. Covers the HDF5 signature positions 0, 512,
/// 1024 and 2048 and one tar header.
pub const PREFIX_LEN: usize = 4096;

/// What a file holds, decided by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// A Python pickle stream (protocol 0 to 5), possibly several stacked.
    Pickle,
    /// A zip archive (PyTorch checkpoints, `.npz`, `.keras`, generic archives).
    Zip,
    /// A tar archive (ustar, GNU or v7), including legacy PyTorch checkpoints.
    Tar,
    /// A gzip stream.
    Gzip,
    /// A zlib stream (joblib's default compression).
    Zlib,
    /// A bzip2 stream.
    Bzip2,
    /// An xz stream.
    Xz,
    /// An LZ4 frame.
    Lz4,
    /// A raw LZMA stream in the `.lzma` ("alone") format (joblib's `lzma` compression).
    Lzma,
    /// A NumPy `.npy` array.
    Npy,
    /// A safetensors file.
    Safetensors,
    /// A GGUF model file.
    Gguf,
    /// An ONNX model (protobuf).
    Onnx,
    /// A TensorFlow SavedModel protobuf (`saved_model.pb`).
    TfSavedModel,
    /// A TensorFlow GraphDef protobuf.
    TfGraphDef,
    /// An HDF5 file (legacy Keras `.h5`).
    Hdf5,
    /// UTF-8 text without NUL bytes: JSON, Python source, markdown.
    Text,
    /// A file of length zero: nothing that a loader could run.
    Empty,
    /// Nothing ward recognises.
    Unknown,
}

impl Format {
    /// A short lowercase name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pickle => "pickle",
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Gzip => "gzip",
            Format::Zlib => "zlib",
            Format::Bzip2 => "bzip2",
            Format::Xz => "xz",
            Format::Lz4 => "lz4",
            Format::Lzma => "lzma",
            Format::Npy => "npy",
            Format::Safetensors => "safetensors",
            Format::Gguf => "gguf",
            Format::Onnx => "onnx",
            Format::TfSavedModel => "tf-saved-model",
            Format::TfGraphDef => "tf-graph-def",
            Format::Hdf5 => "hdf5",
            Format::Text => "text",
            Format::Empty => "empty",
            Format::Unknown => "unknown",
        }
    }

    /// Whether this is a compression wrapper around one inner stream.
    pub fn is_compression(self) -> bool {
        matches!(
            self,
            Format::Gzip | Format::Zlib | Format::Bzip2 | Format::Xz | Format::Lz4 | Format::Lzma
        )
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const ZIP_LOCAL: &[u8] = b"PK\x03\x04";
const ZIP_EMPTY: &[u8] = b"PK\x05\x06";
const ZIP_SPANNED: &[u8] = b"PK\x07\x08PK\x03\x04";
const NPY_MAGIC: &[u8] = b"\x93NUMPY";
const GGUF_MAGIC: &[u8] = b"GGUF";
const HDF5_MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";
const GZIP_MAGIC: &[u8] = b"\x1f\x8b\x08";
const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
const LZ4_FRAME_MAGIC: &[u8] = b"\x04\x22\x4d\x18";
const BZIP2_BLOCK: &[u8] = b"\x31\x41\x59\x26\x53\x59";
const BZIP2_END: &[u8] = b"\x17\x72\x45\x38\x50\x90";

/// How many bytes of valid text make a zlib-looking header read as text instead.
const TEXT_WINS_AFTER: usize = 32;

/// Decides the format of an input from its first bytes (`prefix`, at most [`PREFIX_LEN`]
/// are used) and its total length.
pub fn detect(prefix: &[u8], len: u64) -> Format {
    if len == 0 || prefix.is_empty() {
        return Format::Empty;
    }
    if prefix.starts_with(ZIP_LOCAL)
        || prefix.starts_with(ZIP_EMPTY)
        || prefix.starts_with(ZIP_SPANNED)
    {
        return Format::Zip;
    }
    if prefix.starts_with(NPY_MAGIC) {
        return Format::Npy;
    }
    if prefix.starts_with(GGUF_MAGIC) {
        return Format::Gguf;
    }
    if is_hdf5(prefix) {
        return Format::Hdf5;
    }
    if prefix.starts_with(GZIP_MAGIC) {
        return Format::Gzip;
    }
    if prefix.starts_with(XZ_MAGIC) {
        return Format::Xz;
    }
    if prefix.starts_with(LZ4_FRAME_MAGIC) {
        return Format::Lz4;
    }
    if is_bzip2(prefix) {
        return Format::Bzip2;
    }
    if is_lzma_alone(prefix) {
        return Format::Lzma;
    }
    if is_binary_pickle(prefix) {
        return Format::Pickle;
    }
    if is_tar(prefix) {
        return Format::Tar;
    }
    if is_safetensors(prefix, len) {
        return Format::Safetensors;
    }
    // Formats without a magic number, recognised by trial parses. Pickle comes first: a
    // file that could be read as a pickle is loaded as one by `torch.load` or `pickle.load`.
    if crate::pickle::sniff(prefix) {
        return Format::Pickle;
    }
    if crate::onnx::sniff(prefix) {
        return Format::Onnx;
    }
    if crate::tf::sniff_saved_model(prefix) {
        return Format::TfSavedModel;
    }
    if crate::tf::sniff_graph_def(prefix) {
        return Format::TfGraphDef;
    }
    // Protobuf has no magic number: ONNX and TensorFlow files are recognised by a short
    // trial parse of their first fields.
    if crate::onnx::sniff(prefix) {
        return Format::Onnx;
    }
    match crate::tf::kind(prefix) {
        Some(crate::tf::Kind::SavedModel) => return Format::TfSavedModel,
        Some(crate::tf::Kind::GraphDef) => return Format::TfGraphDef,
        None => {}
    }
    // zlib has only a two-byte header whose check bits some text files satisfy (`x^` is a
    // valid header, and the one joblib writes), so the header must also start a stream that
    // inflates, and a prefix that reads as text for [`TEXT_WINS_AFTER`] bytes stays text:
    // compressed data is never that long a run of UTF-8 without NULs.
    if !(prefix.len() >= TEXT_WINS_AFTER && is_text(prefix)) && is_zlib(prefix) {
        return Format::Zlib;
    }
    if is_text(prefix) {
        return Format::Text;
    }
    Format::Unknown
}

/// A pickle of protocol 2 or later opens with `PROTO` and its version byte. Protocol 0 and
/// 1 pickles have no magic; the pickle module's own sniffer recognises those.
fn is_binary_pickle(prefix: &[u8]) -> bool {
    matches!(prefix, [0x80, 2..=5, ..])
}

/// HDF5 looks for its superblock at 0, 512, 1024, 2048 and so on (a user block may come
/// first).
fn is_hdf5(prefix: &[u8]) -> bool {
    [0usize, 512, 1024, 2048].into_iter().any(|at| {
        at.checked_add(HDF5_MAGIC.len())
            .and_then(|end| prefix.get(at..end))
            .is_some_and(|s| s == HDF5_MAGIC)
    })
}

/// `BZh` plus a block size digit, then either a block or the end-of-stream magic.
fn is_bzip2(prefix: &[u8]) -> bool {
    match prefix {
        [b'B', b'Z', b'h', b'1'..=b'9', rest @ ..] => {
            rest.starts_with(BZIP2_BLOCK) || rest.starts_with(BZIP2_END)
        }
        _ => false,
    }
}

/// The `.lzma` format has no magic number: a properties byte (`lc + 9 lp + 45 pb`, almost
/// always `0x5d`), a dictionary size that `xz` and Python's `lzma` only ever write as 2^n or
/// 2^n + 2^(n-1), and the uncompressed size or all ones for "unknown" (what joblib writes).
fn is_lzma_alone(prefix: &[u8]) -> bool {
    let Some(header) = prefix.get(..13) else {
        return false;
    };
    let mut r = crate::Reader::new(header);
    let (Some(props), Some(dict), Some(size)) = (r.u8(), r.u32_le(), r.u64_le()) else {
        return false;
    };
    let props_ok = props < 225 && {
        let lc = props % 9;
        let lp = (props / 9) % 5;
        lc + lp <= 4
    };
    let n = 31u32.saturating_sub(dict.leading_zeros());
    let dict_ok =
        (12..=30).contains(&n) && (dict == 1 << n || (n >= 1 && dict == (1 << n) | (1 << (n - 1))));
    let size_ok = size == u64::MAX || size < 1 << 40;
    props_ok && dict_ok && size_ok
}

/// A tar header is recognised by its checksum, which every tar dialect (v7, ustar, GNU,
/// pax) stores as octal at bytes 148..156, computed with that field read as spaces.
pub fn is_tar(prefix: &[u8]) -> bool {
    let Some(header) = prefix.get(..512) else {
        return false;
    };
    if header.iter().all(|&b| b == 0) {
        return false;
    }
    let Some(stored) = header.get(148..156).and_then(parse_octal) else {
        return false;
    };
    let (unsigned, signed) = tar_checksums(header);
    stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed)
}

/// The unsigned and signed sums of a 512-byte tar header with the checksum field as spaces
/// (old tars summed signed bytes).
pub fn tar_checksums(header: &[u8]) -> (u64, i64) {
    let mut unsigned = 0u64;
    let mut signed = 0i64;
    for (i, &b) in header.iter().enumerate().take(512) {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned = unsigned.saturating_add(u64::from(b));
        signed = signed.saturating_add(i64::from(b as i8));
    }
    (unsigned, signed)
}

/// An octal number padded with spaces or NULs, as tar writes them.
pub fn parse_octal(field: &[u8]) -> Option<u64> {
    let trimmed: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    if trimmed.is_empty() {
        return None;
    }
    let mut value = 0u64;
    for digit in trimmed {
        if !(b'0'..=b'7').contains(&digit) {
            return None;
        }
        value = value.checked_mul(8)?.checked_add(u64::from(digit - b'0'))?;
    }
    Some(value)
}

/// safetensors: an 8-byte little-endian header length, then a JSON object. The safetensors
/// module owns the sniffer: it accepts a header length that points past the end of the file
/// so that the safetensors rules report that lie (`safetensors-header-out-of-bounds`)
/// instead of the file falling through to an unknown format.
fn is_safetensors(prefix: &[u8], len: u64) -> bool {
    crate::safetensors::sniff(prefix, len)
}

/// A zlib header (deflate, window at most 32 KiB, no preset dictionary, check bits valid)
/// followed by data that inflates without error.
fn is_zlib(prefix: &[u8]) -> bool {
    let [cmf, flg, ..] = prefix else {
        return false;
    };
    let header_ok = cmf & 0x0f == 8
        && cmf >> 4 <= 7
        && flg & 0x20 == 0
        && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0;
    if !header_ok {
        return false;
    }
    // Inflate the whole prefix (bounded: at most 64 KiB of output is looked at). Data that
    // is not deflate fails within a few bytes; a real stream cut by the end of the prefix
    // only runs out of input.
    let mut out = [0u8; 4096];
    let mut produced = 0usize;
    let mut decoder = flate2::read::ZlibDecoder::new(prefix);
    while produced < 64 * 1024 {
        match decoder.read(&mut out) {
            Ok(0) => break,
            Ok(n) => produced = produced.saturating_add(n),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(_) => return false,
        }
    }
    produced > 0
}

/// UTF-8 without NUL bytes; a multi-byte character cut by the end of the prefix is fine.
fn is_text(prefix: &[u8]) -> bool {
    if prefix.contains(&0) {
        return false;
    }
    match std::str::from_utf8(prefix) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_header(name: &str) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[124..135].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        let (sum, _) = tar_checksums(&h);
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h[155] = b' ';
        h
    }

    #[test]
    fn magic_numbers_are_recognised() {
        let cases: &[(&[u8], Format)] = &[
            (b"PK\x03\x04rest", Format::Zip),
            (
                b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
                Format::Zip,
            ),
            (b"PK\x07\x08PK\x03\x04", Format::Zip),
            (b"\x93NUMPY\x01\x00", Format::Npy),
            (b"GGUF\x03\0\0\0", Format::Gguf),
            (b"\x89HDF\r\n\x1a\n", Format::Hdf5),
            (b"\x1f\x8b\x08\0", Format::Gzip),
            (b"\xfd7zXZ\x00\x00", Format::Xz),
            (b"\x04\x22\x4d\x18\x64", Format::Lz4),
            (b"BZh91AY&SY", Format::Bzip2),
            (
                b"\x5d\x00\x00\x40\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00",
                Format::Lzma,
            ),
            (
                b"\x5d\x00\x00\x80\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00",
                Format::Lzma,
            ),
            (
                b"\x5d\x00\x00\x41\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00",
                Format::Unknown,
            ),
            (b"\x80\x02}q\x00.", Format::Pickle),
            (b"\x80\x05\x95", Format::Pickle),
            (b"cos\nsystem\n(S'echo ward-fixture'\ntR.", Format::Pickle),
            (b"{\"a\": 1}\n", Format::Text),
            (b"import os\n", Format::Text),
            (b"\x00\x01\x02\xff", Format::Unknown),
            (b"BZh9garbage", Format::Text),
        ];
        for (bytes, want) in cases {
            assert_eq!(detect(bytes, bytes.len() as u64), *want, "{bytes:?}");
        }
        assert_eq!(detect(b"", 0), Format::Empty);
    }

    #[test]
    fn hdf5_signature_after_a_user_block_is_found() {
        let mut data = vec![0u8; 1024];
        data.extend_from_slice(HDF5_MAGIC);
        assert_eq!(detect(&data, data.len() as u64), Format::Hdf5);
    }

    #[test]
    fn tar_is_recognised_by_checksum_and_a_wrong_checksum_is_not() {
        let h = tar_header("pickle");
        assert_eq!(detect(&h, 1024), Format::Tar);
        let mut bad = h.clone();
        bad[0] = b'q';
        assert_ne!(detect(&bad, 1024), Format::Tar);
    }

    #[test]
    fn safetensors_needs_a_header_that_fits() {
        let mut data = 2u64.to_le_bytes().to_vec();
        data.extend_from_slice(b"{}");
        assert_eq!(detect(&data, 10), Format::Safetensors);
        assert_ne!(detect(&data, 9), Format::Safetensors);
    }

    #[test]
    fn zlib_needs_a_stream_that_inflates_not_just_check_bits() {
        let z = [
            0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x06, 0x2c, 0x02, 0x15,
        ];
        assert_eq!(detect(&z, z.len() as u64), Format::Zlib);
        // `x^` passes the header check bits but the rest is not deflate data.
        let text = b"x^2 + y^2 = z^2 holds for every right triangle\n";
        assert_eq!(detect(text, text.len() as u64), Format::Text);
        // Short inputs keep the more dangerous reading.
        assert_eq!(detect(b"x^2 + y^2\n", 10), Format::Zlib);
    }

    #[test]
    fn octal_fields_parse_like_tar() {
        assert_eq!(parse_octal(b"0000644\0"), Some(0o644));
        assert_eq!(parse_octal(b"   12 \0"), Some(0o12));
        assert_eq!(parse_octal(b"\0\0\0"), None);
        assert_eq!(parse_octal(b"9"), None);
        assert_eq!(parse_octal(b"77777777777777777777777777"), None);
    }
}
