//! Zip, tar and compressed fixtures, and the small writers that build them.
//!
//! The writers are deliberately permissive: every field a hostile archive could lie about
//! (names, sizes, CRCs, flag bits, bytes outside members) has a knob, so that each fixture
//! shows one disagreement between readers. Other fixture modules use them too.

use std::io::Write;

use crate::Fixture;

/// A harmless malicious pickle: protocol 2, `posix.system("echo ward-fixture")` (checked
/// with `pickletools.dis`).
pub const EVIL_PICKLE: &[u8] =
    b"\x80\x02cposix\nsystem\nq\x00X\x11\x00\x00\x00echo ward-fixtureq\x01\x85q\x02Rq\x03.";

/// A benign pickle: protocol 2, an empty dict.
pub const BENIGN_PICKLE: &[u8] = b"\x80\x02}q\x00.";

/// A benign PyTorch state dict pickle, byte-exact as `torch.save` writes `data.pkl` for
/// `OrderedDict(weight=tensor of 4 floats)`: the tensor's storage is the persistent id
/// `('storage', torch.FloatStorage, '0', 'cpu', 4)`, stored in the member `data/0`.
pub const TORCH_STATE_DICT_PICKLE: &[u8] = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x06\x00\x00\x00weightq\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03((X\x07\x00\x00\x00storageq\x04ctorch\nFloatStorage\nq\x05X\x01\x00\x00\x000q\x06X\x03\x00\x00\x00cpuq\x07K\x04tq\x08QK\x00K\x04\x85q\tK\x01\x85q\n\x89h\x00)Rq\x0btq\x0cRq\rs.";

/// How a zip member's data is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// No compression (method 0), as `torch.save` writes.
    Stored,
    /// Deflate (method 8), as `np.savez_compressed` writes.
    Deflate,
}

/// One member of a [`ZipWriter`] archive, with knobs for every field a reader may trust.
#[derive(Debug, Clone)]
pub struct ZipMember {
    /// Name in the central directory.
    pub name: String,
    /// Name in the local header, if different.
    pub local_name: Option<String>,
    /// Uncompressed bytes.
    pub data: Vec<u8>,
    /// How the data is stored.
    pub method: Method,
    /// General-purpose flag bits (both headers).
    pub flags: u16,
    /// CRC-32 to write instead of the correct one (both headers).
    pub crc_override: Option<u32>,
    /// Compressed size to write in the local header instead of the correct one.
    pub local_size_override: Option<u32>,
    /// Bytes written after this member's data, before the next local header.
    pub trailing: Vec<u8>,
}

impl ZipMember {
    /// A stored member with correct headers.
    pub fn stored(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.to_owned(),
            local_name: None,
            data: data.to_vec(),
            method: Method::Stored,
            flags: 0,
            crc_override: None,
            local_size_override: None,
            trailing: Vec::new(),
        }
    }

    /// A deflated member with correct headers.
    pub fn deflated(name: &str, data: &[u8]) -> Self {
        Self {
            method: Method::Deflate,
            ..Self::stored(name, data)
        }
    }
}

/// A zip archive writer (stored and deflate) for fixtures.
#[derive(Debug, Clone, Default)]
pub struct ZipWriter {
    /// Bytes before the first local header (a prepended file). Offsets are not adjusted,
    /// like `cat file.pkl archive.zip`.
    pub prefix: Vec<u8>,
    /// The members in order.
    pub members: Vec<ZipMember>,
    /// Bytes after the end record (its comment length stays 0).
    pub suffix: Vec<u8>,
    /// Entry count to write in the end record instead of the real one.
    pub count_override: Option<u16>,
}

impl ZipWriter {
    /// A writer for these members.
    pub fn new(members: Vec<ZipMember>) -> Self {
        Self {
            members,
            ..Self::default()
        }
    }

    /// The archive's bytes.
    #[allow(
        clippy::expect_used,
        reason = "encoding into a `Vec<u8>` cannot fail: its writes are infallible"
    )]
    pub fn finish(&self) -> Vec<u8> {
        let mut out = self.prefix.clone();
        let base = out.len();
        let mut central = Vec::new();
        for m in &self.members {
            let offset = (out.len() - base) as u32;
            let crc = m.crc_override.unwrap_or_else(|| crc32fast::hash(&m.data));
            let (method, body) = match m.method {
                Method::Stored => (0u16, m.data.clone()),
                Method::Deflate => {
                    let mut e = flate2::write::DeflateEncoder::new(
                        Vec::new(),
                        flate2::Compression::default(),
                    );
                    e.write_all(&m.data).expect("writing to a Vec cannot fail");
                    (8u16, e.finish().expect("writing to a Vec cannot fail"))
                }
            };
            let local_name = m.local_name.as_deref().unwrap_or(&m.name);
            let csize = body.len() as u32;
            let usize_ = m.data.len() as u32;
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&m.flags.to_le_bytes());
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0, 0, 0x21, 0]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&m.local_size_override.unwrap_or(csize).to_le_bytes());
            out.extend_from_slice(&usize_.to_le_bytes());
            out.extend_from_slice(&(local_name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(local_name.as_bytes());
            out.extend_from_slice(&body);
            out.extend_from_slice(&m.trailing);

            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            central.extend_from_slice(&20u16.to_le_bytes());
            central.extend_from_slice(&20u16.to_le_bytes());
            central.extend_from_slice(&m.flags.to_le_bytes());
            central.extend_from_slice(&method.to_le_bytes());
            central.extend_from_slice(&[0, 0, 0x21, 0]);
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&csize.to_le_bytes());
            central.extend_from_slice(&usize_.to_le_bytes());
            central.extend_from_slice(&(m.name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 8]);
            central.extend_from_slice(&0u32.to_le_bytes());
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(m.name.as_bytes());
        }
        let cd_offset = (out.len() - base) as u32;
        out.extend_from_slice(&central);
        let count = self.count_override.unwrap_or(self.members.len() as u16);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&self.suffix);
        out
    }
}

/// A zip of stored members with correct headers.
pub fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    ZipWriter::new(
        members
            .iter()
            .map(|(n, d)| ZipMember::stored(n, d))
            .collect(),
    )
    .finish()
}

/// A minimal PyTorch zip checkpoint: `<folder>/<data_pkl_name>` holding `pickle`,
/// `<folder>/version`, and one `<folder>/data/<key>` member per storage.
pub fn torch_zip(
    folder: &str,
    data_pkl_name: &str,
    pickle: &[u8],
    storages: &[(&str, &[u8])],
) -> Vec<u8> {
    let mut members = vec![
        ZipMember::stored(&format!("{folder}/{data_pkl_name}"), pickle),
        ZipMember::stored(&format!("{folder}/version"), b"3\n"),
    ];
    for (key, bytes) in storages {
        members.push(ZipMember::stored(&format!("{folder}/data/{key}"), bytes));
    }
    ZipWriter::new(members).finish()
}

/// A benign checkpoint: [`TORCH_STATE_DICT_PICKLE`] and its storage of 4 floats.
pub fn torch_zip_benign(folder: &str) -> Vec<u8> {
    torch_zip(
        folder,
        "data.pkl",
        TORCH_STATE_DICT_PICKLE,
        &[("0", &[0u8; 16])],
    )
}

/// One tar member, with knobs for hostile archives.
#[derive(Debug, Clone)]
pub struct TarMember {
    /// The name (a GNU long-name record is written when it exceeds 100 bytes).
    pub name: String,
    /// Content.
    pub data: Vec<u8>,
    /// Type flag (`b'0'` regular file, `b'2'` symlink, `b'5'` directory).
    pub kind: u8,
    /// Link target for links.
    pub link: String,
    /// Whether to write a wrong header checksum.
    pub bad_checksum: bool,
}

impl TarMember {
    /// A regular file.
    pub fn file(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.to_owned(),
            data: data.to_vec(),
            kind: b'0',
            link: String::new(),
            bad_checksum: false,
        }
    }
}

fn tar_header(name: &[u8], size: usize, kind: u8, link: &[u8], bad_checksum: bool) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = kind;
    let l = link.len().min(100);
    h[157..157 + l].copy_from_slice(&link[..l]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum::<u32>() + u32::from(bad_checksum);
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % 512;
    if rem != 0 {
        out.resize(out.len() + 512 - rem, 0);
    }
}

/// A ustar archive of these members, GNU long names where needed.
pub fn tar(members: &[TarMember]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        if m.name.len() > 100 {
            let mut long = m.name.as_bytes().to_vec();
            long.push(0);
            out.extend(tar_header(b"././@LongLink", long.len(), b'L', b"", false));
            out.extend(long);
            pad(&mut out);
        }
        out.extend(tar_header(
            m.name.as_bytes(),
            m.data.len(),
            m.kind,
            m.link.as_bytes(),
            m.bad_checksum,
        ));
        out.extend(&m.data);
        pad(&mut out);
    }
    out.extend([0u8; 1024]);
    out
}

/// A tar of regular files.
pub fn tar_files(files: &[(&str, &[u8])]) -> Vec<u8> {
    tar(&files
        .iter()
        .map(|(n, d)| TarMember::file(n, d))
        .collect::<Vec<_>>())
}

/// A legacy (pre-1.6) PyTorch tar checkpoint with `pickle` as the model pickle, laid out
/// as `torch.serialization` writes it: `storages` holds a count, one
/// `('0', 'cpu', torch.FloatStorage)` record with its element count and 4 raw floats, and
/// an empty list of storage views; `tensors` holds a count, one
/// `('0', '0', torch.FloatTensor)` record, then rank 1, size 4, stride 1 and offset 0.
pub fn legacy_torch_tar(pickle: &[u8]) -> Vec<u8> {
    let mut storages = b"\x80\x02K\x01.".to_vec();
    storages.extend_from_slice(
        b"\x80\x02X\x01\x00\x00\x000X\x03\x00\x00\x00cpuctorch\nFloatStorage\n\x87.",
    );
    storages.extend_from_slice(&4u64.to_le_bytes());
    storages.extend_from_slice(&[0u8; 16]);
    storages.extend_from_slice(b"\x80\x02].");
    let mut tensors = b"\x80\x02K\x01.".to_vec();
    tensors.extend_from_slice(
        b"\x80\x02X\x01\x00\x00\x000X\x01\x00\x00\x000ctorch\nFloatTensor\n\x87.",
    );
    tensors.extend_from_slice(&1u32.to_le_bytes());
    tensors.extend_from_slice(&[0u8; 4]);
    for word in [4i64, 1, 0] {
        tensors.extend_from_slice(&word.to_le_bytes());
    }
    tar_files(&[
        ("sys_info", b"\x80\x02}q\x00."),
        ("pickle", pickle),
        ("storages", &storages),
        ("tensors", &tensors),
    ])
}

/// A legacy tar checkpoint whose `storages` member carries a malicious storage record.
pub fn legacy_torch_tar_evil_storages() -> Vec<u8> {
    let mut storages = b"\x80\x02K\x01.".to_vec();
    storages.extend_from_slice(EVIL_PICKLE);
    tar_files(&[
        ("sys_info", b"\x80\x02}q\x00."),
        ("pickle", BENIGN_PICKLE),
        ("storages", &storages),
        ("tensors", b"\x80\x02K\x00."),
    ])
}

/// Compression wrappers joblib and archives use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    /// gzip.
    Gzip,
    /// zlib (joblib's default `compress=3`).
    Zlib,
    /// bzip2.
    Bzip2,
    /// xz.
    Xz,
    /// LZ4 frame.
    Lz4,
    /// The `.lzma` ("alone") format, joblib's `lzma` compression.
    Lzma,
}

/// `data` wrapped in one compression stream.
#[allow(
    clippy::expect_used,
    reason = "encoding into a `Vec<u8>` cannot fail: its writes are infallible"
)]
pub fn compress(wrapper: Wrapper, data: &[u8]) -> Vec<u8> {
    let fail = "compressing into a Vec cannot fail";
    match wrapper {
        Wrapper::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(3));
            e.write_all(data).expect(fail);
            e.finish().expect(fail)
        }
        Wrapper::Zlib => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
            e.write_all(data).expect(fail);
            e.finish().expect(fail)
        }
        Wrapper::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(3));
            e.write_all(data).expect(fail);
            e.finish().expect(fail)
        }
        Wrapper::Xz => {
            let mut out = Vec::new();
            lzma_rs::xz_compress(&mut &data[..], &mut out).expect(fail);
            out
        }
        Wrapper::Lzma => {
            let mut out = Vec::new();
            lzma_rs::lzma_compress(&mut &data[..], &mut out).expect(fail);
            out
        }
        Wrapper::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(data).expect(fail);
            e.finish().expect(fail)
        }
    }
}

const UNSAFE: &str = "pickle-dangerous-global";

/// Every container fixture with the codes a scan must report.
pub fn fixtures() -> Vec<Fixture> {
    let evil = EVIL_PICKLE;
    let mut out = vec![
        Fixture::file(
            "containers/torch-zip-benign.pt",
            torch_zip_benign("archive"),
            &[],
        ),
        Fixture::file(
            "containers/torch-zip-evil.pt",
            torch_zip("my_model", "data.pkl", evil, &[]),
            &[UNSAFE],
        ),
        Fixture::file(
            "containers/torch-zip-uppercase-data-pkl.pt",
            torch_zip("archive", "DATA.PKL", evil, &[]),
            &[UNSAFE],
        ),
        Fixture::file(
            "containers/zip-pickle-under-other-name.zip",
            zip(&[("weights/notes.txt", evil)]),
            &[UNSAFE],
        ),
        // A member whose name promises a safe format: whoever unpacks the archive and
        // trusts the name loads a pickle.
        Fixture::file(
            "containers/zip-pickle-named-safetensors.zip",
            zip(&[("model/model.safetensors", evil)]),
            &["scan-extension-mismatch", UNSAFE],
        ),
    ];
    for (name, flags, code) in [
        ("encrypted", 0x0001u16, "zip-encrypted"),
        ("patched", 0x0020, "zip-unusual-flags"),
        ("strong-encryption", 0x0040, "zip-encrypted"),
    ] {
        let mut m = ZipMember::stored("archive/data.pkl", evil);
        m.flags = flags;
        // PyTorch ignores the flag bits and loads the member, so ward reads it too.
        let expect: &[&'static str] = &[code, UNSAFE];
        out.push(Fixture::file(
            format!("containers/zip-flag-{name}.pt"),
            ZipWriter::new(vec![m]).finish(),
            expect,
        ));
    }
    let mut m = ZipMember::stored("archive/data.pkl", evil);
    m.crc_override = Some(0x1234_5678);
    out.push(Fixture::file(
        "containers/zip-bad-crc.pt",
        ZipWriter::new(vec![m]).finish(),
        &["zip-bad-crc", UNSAFE],
    ));
    let mut m = ZipMember::stored("archive/data.pkl", evil);
    m.local_name = Some("archive/notes.txt".to_owned());
    out.push(Fixture::file(
        "containers/zip-name-mismatch.pt",
        ZipWriter::new(vec![m]).finish(),
        &["zip-name-mismatch", UNSAFE],
    ));
    let mut m = ZipMember::stored("archive/data.pkl", evil);
    m.local_size_override = Some(3);
    out.push(Fixture::file(
        "containers/zip-size-mismatch.pt",
        ZipWriter::new(vec![m]).finish(),
        &["zip-header-mismatch", UNSAFE],
    ));
    out.push(Fixture::file(
        "containers/zip-duplicate-name.pt",
        zip(&[
            ("archive/data.pkl", BENIGN_PICKLE),
            ("archive/DATA.pkl", evil),
        ]),
        &["zip-duplicate-name", UNSAFE],
    ));
    out.push(Fixture::file(
        "containers/zip-dotdot.zip",
        zip(&[("../../evil.pkl", evil)]),
        &["zip-path-traversal", UNSAFE],
    ));
    out.push(Fixture::file(
        "containers/zip-absolute.zip",
        zip(&[("/tmp/evil.pkl", BENIGN_PICKLE)]),
        &["zip-path-traversal"],
    ));
    let mut m = ZipMember::stored("archive/data.pkl", BENIGN_PICKLE);
    m.trailing = evil.to_vec();
    out.push(Fixture::file(
        "containers/zip-data-between-entries.pt",
        ZipWriter::new(vec![m, ZipMember::stored("archive/version", b"3\n")]).finish(),
        &["zip-data-outside-entries"],
    ));
    let mut w = ZipWriter::new(vec![ZipMember::stored("archive/data.pkl", evil)]);
    w.prefix = BENIGN_PICKLE.to_vec();
    out.push(Fixture::file(
        "containers/benign-pickle-then-evil-zip.pt",
        w.finish(),
        &[
            "zip-polyglot",
            "zip-data-outside-entries",
            "pickle-trailing-data",
            UNSAFE,
        ],
    ));
    let mut w = ZipWriter::new(vec![ZipMember::stored("archive/data.pkl", BENIGN_PICKLE)]);
    w.prefix = evil.to_vec();
    out.push(Fixture::file(
        "containers/evil-pickle-then-benign-zip.pkl",
        w.finish(),
        &[
            "zip-polyglot",
            "zip-data-outside-entries",
            "pickle-trailing-data",
            UNSAFE,
        ],
    ));
    let mut w = ZipWriter::new(vec![ZipMember::stored("archive/data.pkl", evil)]);
    w.prefix = b"\x00\x01junk that is no format at all\xff".to_vec();
    out.push(Fixture::file(
        "containers/zip-junk-prepended.zip",
        w.finish(),
        &["zip-data-outside-entries", UNSAFE],
    ));
    out.push(Fixture::file(
        "containers/zip-bomb.zip",
        ZipWriter::new(vec![ZipMember::deflated("zeros.bin", &vec![0u8; 32 << 20])]).finish(),
        &["compress-bomb"],
    ));
    let mut nested = zip(&[("inner/data.pkl", evil)]);
    for level in 0..5 {
        nested = zip(&[(&format!("level{level}.zip"), &nested)]);
    }
    out.push(Fixture::file(
        "containers/zip-nested-too-deep.zip",
        nested,
        &["archive-depth-limit"],
    ));
    out.push(Fixture::file(
        "containers/zip-nested-evil.zip",
        zip(&[("outer/inner.zip", &zip(&[("x/data.pkl", evil)]))]),
        &[UNSAFE],
    ));
    out.push(Fixture::file(
        "containers/legacy-torch.tar",
        legacy_torch_tar(evil),
        &[UNSAFE],
    ));
    out.push(Fixture::file(
        "containers/legacy-torch-evil-storages.tar",
        legacy_torch_tar_evil_storages(),
        &[UNSAFE, "pickle-legacy-storage-mismatch"],
    ));
    out.push(Fixture::file(
        "containers/legacy-torch-benign.tar",
        legacy_torch_tar(BENIGN_PICKLE),
        &[],
    ));
    out.push(Fixture::file(
        "containers/tar-dotdot.tar",
        tar_files(&[("../evil.pkl", BENIGN_PICKLE)]),
        &["tar-path-traversal"],
    ));
    out.push(Fixture::file(
        "containers/tar-pickle-named-npy.tar",
        tar_files(&[("arrays/x.npy", evil)]),
        &["scan-extension-mismatch", UNSAFE],
    ));
    for (name, wrapper) in [
        ("gz", Wrapper::Gzip),
        ("z", Wrapper::Zlib),
        ("bz2", Wrapper::Bzip2),
        ("xz", Wrapper::Xz),
        ("lz4", Wrapper::Lz4),
        ("lzma", Wrapper::Lzma),
    ] {
        out.push(Fixture::file(
            format!("containers/joblib-evil.joblib.{name}"),
            compress(wrapper, evil),
            &[UNSAFE],
        ));
        out.push(Fixture::file(
            format!("containers/joblib-benign.joblib.{name}"),
            compress(wrapper, BENIGN_PICKLE),
            &[],
        ));
    }
    out
}
