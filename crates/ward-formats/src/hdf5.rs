//! A minimal, bounded HDF5 reader: just enough to read the attributes of the root group,
//! where Keras stores `model_config` and `training_config` in a legacy `.h5` model.
//!
//! It reads the superblock (versions 0 to 3), the root group's object header (version 1,
//! or version 2 with its `OHDR` signature), follows continuation blocks, and decodes
//! attribute messages (versions 1 to 3) whose value is a fixed-length string or a
//! variable-length string stored in a global heap collection (`GCOL`), the form h5py
//! writes. Nothing else of the file is read: datasets and weights are never touched.
//!
//! Every address read from the file is checked against the file length, every block is
//! bounded by `Limits::max_header_bytes`, continuation blocks are visited at most once,
//! and anything the reader does not understand is returned as an error for the caller to
//! report, never skipped.

use std::collections::BTreeSet;
use std::io::SeekFrom;

use crate::protobuf::ReadSeek;
use crate::{Limits, Reader};

/// The HDF5 signature.
pub const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Offsets at which a superblock may start (after a user block of 512 bytes, 1 KiB, ...).
const SUPERBLOCK_OFFSETS: [u64; 5] = [0, 512, 1024, 2048, 4096];

/// Continuation blocks followed in one object header at most: each costs a read, and a
/// loop of continuations must end.
pub const MAX_CONTINUATIONS: usize = 4096;

/// Message types this reader uses.
const MSG_ATTRIBUTE: u16 = 0x000c;
const MSG_CONTINUATION: u16 = 0x0010;
const MSG_ATTRIBUTE_INFO: u16 = 0x0015;

/// The "undefined address" value: all bits set.
const UNDEFINED: u64 = u64::MAX;

/// Why an HDF5 file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Hdf5Error {
    /// No superblock signature at any of the places HDF5 looks.
    #[error("no HDF5 superblock signature at offsets 0, 512, 1024, 2048 or 4096")]
    NoSignature,
    /// A structure ends before its fields do.
    #[error("truncated {what} at offset {offset}")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// Where it starts.
        offset: u64,
    },
    /// A version, size or signature this reader does not support.
    #[error("unsupported {what} `{value}` at offset {offset}")]
    Unsupported {
        /// What was unsupported.
        what: &'static str,
        /// The value found.
        value: u64,
        /// Where.
        offset: u64,
    },
    /// An address or length that points outside the file.
    #[error(
        "{what} at offset {offset} points outside the file (address {address}, file length {len})"
    )]
    OutOfBounds {
        /// What the address is for.
        what: &'static str,
        /// Where the address was read.
        offset: u64,
        /// The address.
        address: u64,
        /// The file's length.
        len: u64,
    },
    /// More bytes would be read into memory than `Limits::max_header_bytes` allows.
    #[error("{what} at offset {offset} needs {needed} bytes, above the limit of {limit}")]
    TooLarge {
        /// What was being read.
        what: &'static str,
        /// Where.
        offset: u64,
        /// Bytes needed.
        needed: u64,
        /// The limit.
        limit: u64,
    },
    /// More continuation blocks than [`MAX_CONTINUATIONS`], or one visited twice.
    #[error(
        "object header continuation loop or more than {limit} continuation blocks at offset {offset}"
    )]
    Continuations {
        /// Where the offending continuation points.
        offset: u64,
        /// The limit.
        limit: usize,
    },
    /// Attributes kept in dense storage (a fractal heap), which this reader does not walk.
    #[error("attributes in dense storage (fractal heap at address {address}) are not read")]
    DenseAttributes {
        /// The fractal heap's address.
        address: u64,
    },
    /// The underlying reader failed.
    #[error("read error at offset {offset}: {message}")]
    Io {
        /// Where.
        offset: u64,
        /// The error as text.
        message: String,
    },
}

/// One attribute of the root group that the caller asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute's name.
    pub name: String,
    /// Its value as bytes (a string attribute), or why it could not be decoded.
    pub value: Result<Vec<u8>, Hdf5Error>,
}

/// What was read of the root group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootAttributes {
    /// The wanted attributes that were found.
    pub found: Vec<Attribute>,
    /// Names of every attribute of the root group that was seen.
    pub names: Vec<String>,
    /// The superblock version.
    pub superblock_version: u8,
}

/// Reads the root group's attributes named in `wanted` from the HDF5 file in the first
/// `len` bytes of `src`.
pub fn root_attributes(
    src: &mut dyn ReadSeek,
    len: u64,
    limits: &Limits,
    wanted: &[&str],
) -> Result<RootAttributes, Hdf5Error> {
    let mut file = File {
        src,
        len,
        limits,
        offset_size: 8,
        length_size: 8,
        base: 0,
    };
    let (version, root) = file.superblock()?;
    let mut out = RootAttributes {
        superblock_version: version,
        ..RootAttributes::default()
    };
    let messages = file.object_header(root)?;
    let mut dense = None;
    for (kind, data, at) in messages {
        match kind {
            MSG_ATTRIBUTE => {
                let (name, value) = file.attribute(&data, at)?;
                if wanted.contains(&name.as_str()) {
                    out.found.push(Attribute {
                        name: name.clone(),
                        value: value(),
                    });
                }
                out.names.push(name);
            }
            MSG_ATTRIBUTE_INFO => {
                let address = file.attribute_info(&data, at)?;
                if address != UNDEFINED {
                    dense = Some(address);
                }
            }
            _ => {}
        }
    }
    // Attributes in dense storage could include a wanted one: fail closed unless every
    // wanted attribute was already found in the header.
    if let Some(address) = dense
        && out.found.len() < wanted.len()
    {
        return Err(Hdf5Error::DenseAttributes { address });
    }
    Ok(out)
}

struct File<'a> {
    src: &'a mut dyn ReadSeek,
    len: u64,
    limits: &'a Limits,
    offset_size: u8,
    length_size: u8,
    base: u64,
}

/// A deferred decoding of an attribute value.
type Decode<'f> = Box<dyn FnOnce() -> Result<Vec<u8>, Hdf5Error> + 'f>;

impl File<'_> {
    fn read_at(&mut self, offset: u64, n: u64, what: &'static str) -> Result<Vec<u8>, Hdf5Error> {
        if n > self.limits.max_header_bytes {
            return Err(Hdf5Error::TooLarge {
                what,
                offset,
                needed: n,
                limit: self.limits.max_header_bytes,
            });
        }
        let end = offset.checked_add(n).filter(|&e| e <= self.len);
        if end.is_none() {
            return Err(Hdf5Error::OutOfBounds {
                what,
                offset,
                address: offset,
                len: self.len,
            });
        }
        let io = |e: std::io::Error| Hdf5Error::Io {
            offset,
            message: e.to_string(),
        };
        self.src.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
        self.src.read_exact(&mut buf).map_err(io)?;
        Ok(buf)
    }

    /// Turns a file address into an absolute offset, checking it is inside the file.
    fn address(&self, address: u64, what: &'static str, offset: u64) -> Result<u64, Hdf5Error> {
        self.base
            .checked_add(address)
            .filter(|&a| a < self.len)
            .ok_or(Hdf5Error::OutOfBounds {
                what,
                offset,
                address,
                len: self.len,
            })
    }

    fn sized(&self, r: &mut Reader<'_>, size: u8, what: &'static str) -> Result<u64, Hdf5Error> {
        let offset = r.offset();
        let v = match size {
            2 => r.u16_le().map(u64::from),
            4 => r.u32_le().map(u64::from),
            8 => r.u64_le(),
            _ => None,
        };
        v.ok_or(Hdf5Error::Truncated { what, offset })
    }

    fn offset_field(&self, r: &mut Reader<'_>, what: &'static str) -> Result<u64, Hdf5Error> {
        self.sized(r, self.offset_size, what)
    }

    fn length_field(&self, r: &mut Reader<'_>, what: &'static str) -> Result<u64, Hdf5Error> {
        self.sized(r, self.length_size, what)
    }

    /// Finds and reads the superblock; returns its version and the absolute address of the
    /// root group's object header.
    fn superblock(&mut self) -> Result<(u8, u64), Hdf5Error> {
        let mut at = None;
        for offset in SUPERBLOCK_OFFSETS {
            if offset.saturating_add(8) > self.len {
                break;
            }
            if self.read_at(offset, 8, "superblock signature")? == SIGNATURE {
                at = Some(offset);
                break;
            }
        }
        let at = at.ok_or(Hdf5Error::NoSignature)?;
        let head_len = 256u64.min(self.len.saturating_sub(at));
        let head = self.read_at(at, head_len, "superblock")?;
        let mut r = Reader::with_base(&head, at);
        let truncated = |what| Hdf5Error::Truncated { what, offset: at };
        r.skip(8).ok_or(truncated("superblock"))?;
        let version = r.u8().ok_or(truncated("superblock version"))?;
        match version {
            0 | 1 => {
                // Free-space, root symbol table entry and shared header versions, reserved.
                r.skip(4).ok_or(truncated("superblock"))?;
                self.offset_size = r.u8().ok_or(truncated("size of offsets"))?;
                self.length_size = r.u8().ok_or(truncated("size of lengths"))?;
                self.check_sizes(at)?;
                // Reserved, two B-tree K values, consistency flags.
                r.skip(1 + 2 + 2 + 4).ok_or(truncated("superblock"))?;
                if version == 1 {
                    r.skip(4).ok_or(truncated("superblock"))?;
                }
                let base = self.offset_field(&mut r, "base address")?;
                self.base = if base == 0 { at } else { base };
                // Free-space info, end of file and driver information addresses.
                for _ in 0..3 {
                    self.offset_field(&mut r, "superblock address")?;
                }
                // Root group symbol table entry: link name offset, then object header.
                self.offset_field(&mut r, "root link name offset")?;
                let offset = r.offset();
                let root = self.offset_field(&mut r, "root object header address")?;
                Ok((version, self.address(root, "root object header", offset)?))
            }
            2 | 3 => {
                self.offset_size = r.u8().ok_or(truncated("size of offsets"))?;
                self.length_size = r.u8().ok_or(truncated("size of lengths"))?;
                self.check_sizes(at)?;
                r.skip(1).ok_or(truncated("superblock flags"))?;
                let base = self.offset_field(&mut r, "base address")?;
                self.base = if base == 0 { at } else { base };
                // Superblock extension and end of file addresses.
                self.offset_field(&mut r, "superblock extension address")?;
                self.offset_field(&mut r, "end of file address")?;
                let offset = r.offset();
                let root = self.offset_field(&mut r, "root object header address")?;
                Ok((version, self.address(root, "root object header", offset)?))
            }
            v => Err(Hdf5Error::Unsupported {
                what: "superblock version",
                value: u64::from(v),
                offset: at,
            }),
        }
    }

    fn check_sizes(&self, at: u64) -> Result<(), Hdf5Error> {
        for (what, size) in [
            ("size of offsets", self.offset_size),
            ("size of lengths", self.length_size),
        ] {
            if !matches!(size, 2 | 4 | 8) {
                return Err(Hdf5Error::Unsupported {
                    what,
                    value: u64::from(size),
                    offset: at,
                });
            }
        }
        Ok(())
    }

    /// Reads every message of the object header at absolute address `at`, following
    /// continuation blocks. Returns `(type, data, offset of data)`.
    fn object_header(&mut self, at: u64) -> Result<Vec<(u16, Vec<u8>, u64)>, Hdf5Error> {
        let mut out = Vec::new();
        let mut total = 0u64;
        let mut visited = BTreeSet::new();
        let probe = self.read_at(at, 16.min(self.len.saturating_sub(at)), "object header")?;
        let v2 = probe.starts_with(b"OHDR");
        // Version 2 header flags (bit 2: messages carry a creation order).
        let mut header_flags = 0u8;
        // Blocks to read: (absolute address, length, is the first block).
        let mut blocks: Vec<(u64, u64, bool)> = Vec::new();
        let mut r = Reader::with_base(&probe, at);
        if v2 {
            // The first block's length depends on the flags; read its prefix first.
            r.skip(4).ok_or(Hdf5Error::Truncated {
                what: "object header",
                offset: at,
            })?;
            let version = r.u8().unwrap_or(0);
            if version != 2 {
                return Err(Hdf5Error::Unsupported {
                    what: "object header version",
                    value: u64::from(version),
                    offset: at,
                });
            }
            let flags = r.u8().ok_or(Hdf5Error::Truncated {
                what: "object header",
                offset: at,
            })?;
            header_flags = flags;
            let mut prefix = 6u64;
            if flags & 0x20 != 0 {
                prefix = prefix.saturating_add(16);
            }
            if flags & 0x10 != 0 {
                prefix = prefix.saturating_add(4);
            }
            let size_len = 1u64 << (flags & 0x03);
            let head = self.read_at(at, prefix.saturating_add(size_len), "object header")?;
            let mut h = Reader::with_base(&head, at);
            h.skip(usize::try_from(prefix).unwrap_or(usize::MAX))
                .ok_or(Hdf5Error::Truncated {
                    what: "object header",
                    offset: at,
                })?;
            let chunk = match size_len {
                1 => h.u8().map(u64::from),
                2 => h.u16_le().map(u64::from),
                4 => h.u32_le().map(u64::from),
                _ => h.u64_le(),
            }
            .ok_or(Hdf5Error::Truncated {
                what: "object header chunk size",
                offset: at,
            })?;
            let start = at.saturating_add(prefix).saturating_add(size_len);
            blocks.push((start, chunk, true));
        } else {
            let version = r.u8().ok_or(Hdf5Error::Truncated {
                what: "object header",
                offset: at,
            })?;
            if version != 1 {
                return Err(Hdf5Error::Unsupported {
                    what: "object header version",
                    value: u64::from(version),
                    offset: at,
                });
            }
            // Reserved, message count, reference count, then the header size; messages
            // start at the next multiple of 8 (offset 16).
            r.skip(1 + 2 + 4).ok_or(Hdf5Error::Truncated {
                what: "object header",
                offset: at,
            })?;
            let size = r.u32_le().ok_or(Hdf5Error::Truncated {
                what: "object header",
                offset: at,
            })?;
            blocks.push((at.saturating_add(16), u64::from(size), true));
        }
        while let Some((start, size, first)) = blocks.pop() {
            if !visited.insert(start) || visited.len() > MAX_CONTINUATIONS {
                return Err(Hdf5Error::Continuations {
                    offset: start,
                    limit: MAX_CONTINUATIONS,
                });
            }
            total = total.saturating_add(size);
            if total > self.limits.max_header_bytes {
                return Err(Hdf5Error::TooLarge {
                    what: "object header",
                    offset: start,
                    needed: total,
                    limit: self.limits.max_header_bytes,
                });
            }
            let block = self.read_at(start, size, "object header block")?;
            let mut r = Reader::with_base(&block, start);
            if v2 && !first {
                let sig = r.take(4).ok_or(Hdf5Error::Truncated {
                    what: "continuation block",
                    offset: start,
                })?;
                if sig != b"OCHK" {
                    return Err(Hdf5Error::Unsupported {
                        what: "continuation block signature",
                        value: 0,
                        offset: start,
                    });
                }
            }
            // Version 2 blocks end with a 4-byte checksum.
            let end = if v2 {
                block.len().saturating_sub(4)
            } else {
                block.len()
            };
            while r.offset().saturating_sub(start) < end as u64 {
                let msg_at = r.offset();
                let (kind, msize) = if v2 {
                    // Fewer bytes than a message header left: the gap before the checksum.
                    if (end as u64).saturating_sub(msg_at.saturating_sub(start)) < 4 {
                        break;
                    }
                    let kind = u16::from(r.u8().unwrap_or(0));
                    let msize = r.u16_le().ok_or(Hdf5Error::Truncated {
                        what: "header message",
                        offset: msg_at,
                    })?;
                    // Message flags (shared, constant, ...) do not change the layout.
                    r.u8().ok_or(Hdf5Error::Truncated {
                        what: "header message",
                        offset: msg_at,
                    })?;
                    // A creation order follows when the header tracks attribute order.
                    if header_flags & 0x04 != 0 {
                        r.skip(2).ok_or(Hdf5Error::Truncated {
                            what: "header message",
                            offset: msg_at,
                        })?;
                    }
                    (kind, msize)
                } else {
                    let kind = r.u16_le().ok_or(Hdf5Error::Truncated {
                        what: "header message",
                        offset: msg_at,
                    })?;
                    let msize = r.u16_le().ok_or(Hdf5Error::Truncated {
                        what: "header message",
                        offset: msg_at,
                    })?;
                    // Flags and three reserved bytes.
                    r.skip(4).ok_or(Hdf5Error::Truncated {
                        what: "header message",
                        offset: msg_at,
                    })?;
                    (kind, msize)
                };
                let data_at = r.offset();
                let data = r.take(usize::from(msize)).ok_or(Hdf5Error::Truncated {
                    what: "header message data",
                    offset: msg_at,
                })?;
                if kind == MSG_CONTINUATION {
                    let mut d = Reader::with_base(data, data_at);
                    let offset = self.offset_field(&mut d, "continuation address")?;
                    let length = self.length_field(&mut d, "continuation length")?;
                    let abs = self.address(offset, "continuation block", data_at)?;
                    blocks.push((abs, length, false));
                } else {
                    out.push((kind, data.to_vec(), data_at));
                }
            }
        }
        Ok(out)
    }

    /// The attribute info message: returns the fractal heap address of dense attribute
    /// storage (undefined when attributes are compact).
    fn attribute_info(&self, data: &[u8], at: u64) -> Result<u64, Hdf5Error> {
        let mut r = Reader::with_base(data, at);
        let truncated = Hdf5Error::Truncated {
            what: "attribute info message",
            offset: at,
        };
        r.u8().ok_or(truncated.clone())?;
        let flags = r.u8().ok_or(truncated)?;
        if flags & 0x01 != 0 {
            r.skip(2).ok_or(Hdf5Error::Truncated {
                what: "attribute info message",
                offset: at,
            })?;
        }
        self.offset_field(&mut r, "fractal heap address")
    }

    /// Decodes an attribute message: its name now, its value on demand (a string value
    /// may need a read of the global heap).
    fn attribute<'s>(
        &'s mut self,
        data: &[u8],
        at: u64,
    ) -> Result<(String, Decode<'s>), Hdf5Error> {
        let mut r = Reader::with_base(data, at);
        let t = |what| Hdf5Error::Truncated { what, offset: at };
        let version = r.u8().ok_or(t("attribute message"))?;
        let flags = r.u8().ok_or(t("attribute message"))?;
        let name_size = r.u16_le().ok_or(t("attribute name size"))?;
        let type_size = r.u16_le().ok_or(t("attribute datatype size"))?;
        let space_size = r.u16_le().ok_or(t("attribute dataspace size"))?;
        let pad = |n: u16| -> usize {
            let n = usize::from(n);
            if version == 1 {
                n.div_ceil(8).saturating_mul(8)
            } else {
                n
            }
        };
        match version {
            1 | 2 => {}
            3 => {
                r.skip(1).ok_or(t("attribute name encoding"))?;
            }
            v => {
                return Err(Hdf5Error::Unsupported {
                    what: "attribute message version",
                    value: u64::from(v),
                    offset: at,
                });
            }
        }
        let name = r.take(pad(name_size)).ok_or(t("attribute name"))?;
        let name = name.get(..usize::from(name_size)).unwrap_or(name);
        let name = String::from_utf8_lossy(name)
            .trim_end_matches('\0')
            .to_string();
        let datatype = r
            .take(pad(type_size))
            .ok_or(t("attribute datatype"))?
            .to_vec();
        let dataspace = r
            .take(pad(space_size))
            .ok_or(t("attribute dataspace"))?
            .to_vec();
        let value = r.rest().to_vec();
        let shared_type = flags & 0x01 != 0;
        let decode: Decode<'s> = Box::new(move || {
            if shared_type {
                return Err(Hdf5Error::Unsupported {
                    what: "shared attribute datatype",
                    value: 1,
                    offset: at,
                });
            }
            self.string_value(&datatype, &dataspace, &value, at)
        });
        Ok((name, decode))
    }

    /// The value of a string attribute: a scalar (or one-element) fixed-length string, or a
    /// variable-length string in a global heap.
    fn string_value(
        &mut self,
        datatype: &[u8],
        dataspace: &[u8],
        value: &[u8],
        at: u64,
    ) -> Result<Vec<u8>, Hdf5Error> {
        let elements = dataspace_elements(dataspace, self.length_size, at)?;
        if elements != 1 {
            return Err(Hdf5Error::Unsupported {
                what: "attribute element count",
                value: elements,
                offset: at,
            });
        }
        let mut t = Reader::with_base(datatype, at);
        let class_version = t.u8().ok_or(Hdf5Error::Truncated {
            what: "datatype",
            offset: at,
        })?;
        let bits0 = t.u8().ok_or(Hdf5Error::Truncated {
            what: "datatype",
            offset: at,
        })?;
        t.skip(2).ok_or(Hdf5Error::Truncated {
            what: "datatype",
            offset: at,
        })?;
        let size = t.u32_le().ok_or(Hdf5Error::Truncated {
            what: "datatype size",
            offset: at,
        })?;
        match class_version & 0x0f {
            // Fixed-length string.
            3 => {
                let n = usize::try_from(size).unwrap_or(usize::MAX);
                let s = value.get(..n).ok_or(Hdf5Error::Truncated {
                    what: "string attribute value",
                    offset: at,
                })?;
                let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
                Ok(s.get(..end).unwrap_or_default().to_vec())
            }
            // Variable-length: type 1 in the low bits is a string.
            9 if bits0 & 0x0f == 1 => {
                let mut v = Reader::with_base(value, at);
                let length = v.u32_le().ok_or(Hdf5Error::Truncated {
                    what: "variable-length value",
                    offset: at,
                })?;
                let collection = self.offset_field(&mut v, "global heap address")?;
                let index = v.u32_le().ok_or(Hdf5Error::Truncated {
                    what: "global heap index",
                    offset: at,
                })?;
                let mut s = self.global_heap_object(collection, index, at)?;
                s.truncate(usize::try_from(length).unwrap_or(usize::MAX));
                Ok(s)
            }
            class => Err(Hdf5Error::Unsupported {
                what: "attribute datatype class",
                value: u64::from(class),
                offset: at,
            }),
        }
    }

    /// Reads object `index` of the global heap collection at `address`.
    fn global_heap_object(
        &mut self,
        address: u64,
        index: u32,
        at: u64,
    ) -> Result<Vec<u8>, Hdf5Error> {
        let abs = self.address(address, "global heap collection", at)?;
        let head_len = 8u64.saturating_add(u64::from(self.length_size));
        let head = self.read_at(abs, head_len, "global heap collection")?;
        let mut r = Reader::with_base(&head, abs);
        if r.take(4) != Some(b"GCOL") {
            return Err(Hdf5Error::Unsupported {
                what: "global heap signature",
                value: 0,
                offset: abs,
            });
        }
        r.skip(4).ok_or(Hdf5Error::Truncated {
            what: "global heap collection",
            offset: abs,
        })?;
        let size = self.length_field(&mut r, "global heap collection size")?;
        let size = size.min(self.len.saturating_sub(abs));
        let body = self.read_at(abs, size, "global heap collection")?;
        let mut r = Reader::with_base(&body, abs);
        r.skip(usize::try_from(head_len).unwrap_or(usize::MAX))
            .ok_or(Hdf5Error::Truncated {
                what: "global heap collection",
                offset: abs,
            })?;
        // Objects: index (2), reference count (2), reserved (4), size (L), data padded
        // to 8 bytes. Index 0 is the free space at the end.
        while r.remaining() >= 8usize.saturating_add(usize::from(self.length_size)) {
            let obj_at = r.offset();
            let id = r.u16_le().unwrap_or(0);
            r.skip(6).ok_or(Hdf5Error::Truncated {
                what: "global heap object",
                offset: obj_at,
            })?;
            let osize = self.length_field(&mut r, "global heap object size")?;
            if id == 0 {
                break;
            }
            let n = usize::try_from(osize)
                .ok()
                .filter(|&n| n <= r.remaining())
                .ok_or(Hdf5Error::Truncated {
                    what: "global heap object",
                    offset: obj_at,
                })?;
            let data = r.take(n).ok_or(Hdf5Error::Truncated {
                what: "global heap object",
                offset: obj_at,
            })?;
            if u32::from(id) == index {
                return Ok(data.to_vec());
            }
            let padding = n.next_multiple_of(8).saturating_sub(n);
            if r.skip(padding).is_none() {
                break;
            }
        }
        Err(Hdf5Error::OutOfBounds {
            what: "global heap object index",
            offset: at,
            address: u64::from(index),
            len: self.len,
        })
    }
}

/// The number of elements a dataspace message describes (1 for a scalar).
fn dataspace_elements(data: &[u8], length_size: u8, at: u64) -> Result<u64, Hdf5Error> {
    let mut r = Reader::with_base(data, at);
    let t = Hdf5Error::Truncated {
        what: "dataspace",
        offset: at,
    };
    let version = r.u8().ok_or(t.clone())?;
    let rank = r.u8().ok_or(t.clone())?;
    let _flags = r.u8().ok_or(t.clone())?;
    match version {
        1 => {
            r.skip(5).ok_or(t.clone())?;
        }
        2 => {
            let kind = r.u8().ok_or(t.clone())?;
            if kind == 2 {
                return Ok(0);
            }
        }
        v => {
            return Err(Hdf5Error::Unsupported {
                what: "dataspace version",
                value: u64::from(v),
                offset: at,
            });
        }
    }
    let mut count: u64 = 1;
    for _ in 0..rank {
        let dim = match length_size {
            2 => r.u16_le().map(u64::from),
            4 => r.u32_le().map(u64::from),
            _ => r.u64_le(),
        }
        .ok_or(t.clone())?;
        count = count.checked_mul(dim).ok_or(t.clone())?;
    }
    Ok(count)
}

/// Builds small HDF5 files from bytes, for tests and fixture generators: superblock
/// version 0 and a root group whose version 1 object header holds fixed-length string
/// attributes (the layout older h5py versions wrote).
pub mod build {
    fn pad8(v: &mut Vec<u8>) {
        while !v.len().is_multiple_of(8) {
            v.push(0);
        }
    }

    /// An attribute message (version 1) with a scalar fixed-length string value.
    fn attribute(name: &str, value: &[u8]) -> Vec<u8> {
        let mut name_bytes = name.as_bytes().to_vec();
        name_bytes.push(0);
        let size = value.len().max(1);
        // Datatype: class 3 (string), version 1, null-terminated ASCII; then its size.
        let mut datatype = vec![0x13, 0x00, 0x00, 0x00];
        datatype.extend_from_slice(&(size as u32).to_le_bytes());
        // Dataspace version 1, rank 0 (scalar).
        let dataspace = vec![1u8, 0, 0, 0, 0, 0, 0, 0];
        let mut m = vec![1u8, 0];
        m.extend_from_slice(&(name_bytes.len() as u16).to_le_bytes());
        m.extend_from_slice(&(datatype.len() as u16).to_le_bytes());
        m.extend_from_slice(&(dataspace.len() as u16).to_le_bytes());
        m.extend_from_slice(&name_bytes);
        pad8(&mut m);
        m.extend_from_slice(&datatype);
        pad8(&mut m);
        m.extend_from_slice(&dataspace);
        pad8(&mut m);
        m.extend_from_slice(value);
        if value.is_empty() {
            m.push(0);
        }
        pad8(&mut m);
        m
    }

    /// An HDF5 file whose root group has the given string attributes.
    pub fn root_with_attributes(attrs: &[(&str, &[u8])]) -> Vec<u8> {
        let mut messages = Vec::new();
        for (name, value) in attrs {
            let body = attribute(name, value);
            messages.extend_from_slice(&0x000cu16.to_le_bytes());
            messages.extend_from_slice(&(body.len() as u16).to_le_bytes());
            messages.extend_from_slice(&[0, 0, 0, 0]);
            messages.extend_from_slice(&body);
        }
        let header_at: u64 = 96;
        let mut out = Vec::new();
        out.extend_from_slice(super::SIGNATURE);
        // Versions (superblock, free space, root entry, reserved, shared header), sizes
        // of offsets and lengths, reserved, leaf and internal K, flags.
        out.extend_from_slice(&[0, 0, 0, 0, 0, 8, 8, 0, 4, 0, 16, 0, 0, 0, 0, 0]);
        let eof = header_at + 16 + messages.len() as u64;
        for addr in [0u64, u64::MAX, eof, u64::MAX] {
            out.extend_from_slice(&addr.to_le_bytes());
        }
        // Root symbol table entry: link name offset, object header address, cache type 0,
        // reserved, 16-byte scratch pad.
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&header_at.to_le_bytes());
        out.extend_from_slice(&[0u8; 24]);
        out.resize(header_at as usize, 0);
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(attrs.len() as u16).to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(messages.len() as u32).to_le_bytes());
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(&messages);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn read(bytes: &[u8], limits: &Limits) -> Result<RootAttributes, Hdf5Error> {
        let mut cur = Cursor::new(bytes.to_vec());
        root_attributes(
            &mut cur,
            bytes.len() as u64,
            limits,
            &["model_config", "training_config"],
        )
    }

    #[test]
    fn reads_fixed_length_string_attributes() {
        let bytes =
            build::root_with_attributes(&[("backend", b"jax"), ("model_config", b"{\"a\": 1}")]);
        let got = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(got.names, ["backend", "model_config"]);
        assert_eq!(got.found.len(), 1);
        assert_eq!(got.found[0].value.as_deref(), Ok(&b"{\"a\": 1}"[..]));
        assert_eq!(got.superblock_version, 0);
    }

    #[test]
    fn truncation_bad_versions_and_limits_are_errors() {
        let bytes = build::root_with_attributes(&[("model_config", b"{}")]);
        assert!(read(&bytes[..bytes.len() - 4], &Limits::default()).is_err());
        assert_eq!(
            read(b"not hdf5 at all", &Limits::default()),
            Err(Hdf5Error::NoSignature)
        );
        let mut bad = bytes.clone();
        bad[8] = 7;
        assert!(matches!(
            read(&bad, &Limits::default()),
            Err(Hdf5Error::Unsupported {
                what: "superblock version",
                ..
            })
        ));
        let small = Limits {
            max_header_bytes: 16,
            ..Limits::default()
        };
        assert!(matches!(
            read(&bytes, &small),
            Err(Hdf5Error::TooLarge { .. })
        ));
    }

    #[test]
    fn continuation_loops_are_refused() {
        // A header whose only message is a continuation pointing back at its own block.
        let mut bytes = build::root_with_attributes(&[]);
        let mut msg = Vec::new();
        msg.extend_from_slice(&0x0010u16.to_le_bytes());
        msg.extend_from_slice(&16u16.to_le_bytes());
        msg.extend_from_slice(&[0; 4]);
        msg.extend_from_slice(&112u64.to_le_bytes());
        msg.extend_from_slice(&24u64.to_le_bytes());
        bytes.truncate(96 + 8);
        bytes.extend_from_slice(&24u32.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&msg);
        let err = read(&bytes, &Limits::default()).unwrap_err();
        assert!(matches!(err, Hdf5Error::Continuations { .. }), "{err:?}");
    }
}
