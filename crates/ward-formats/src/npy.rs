//! NumPy `.npy` headers, parsed strictly and never evaluated.
//!
//! Layout: the magic `\x93NUMPY`, a major and minor version byte, a header length
//! (`u16` little-endian for version 1, `u32` for versions 2 and 3), then a Python dict
//! literal such as `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }` padded
//! with spaces and ended by `\n`. The array data follows. NumPy reads the literal with
//! `ast.literal_eval`; this module reads it with a small bounded parser that accepts only
//! strings, numbers, booleans, `None`, tuples and lists, and only the three keys NumPy
//! itself requires. An object dtype (`|O`) means the data is a pickle, which the caller
//! must scan: `numpy.load(..., allow_pickle=True)` runs it.

use std::io::Read;

/// The first six bytes of every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Why a header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    /// The input ended inside the header.
    #[error("npy header truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// Bytes needed.
        expected: u64,
        /// Bytes available.
        found: u64,
    },
    /// The magic or version is wrong.
    #[error("not an npy file: {0}")]
    BadMagic(String),
    /// The header is longer than the configured limit.
    #[error("npy header of {len} bytes exceeds `max_header_bytes` of {limit}")]
    TooLong {
        /// Declared length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// The dict literal is malformed or lacks a required key.
    #[error("invalid npy header at byte {offset}: {what}")]
    Invalid {
        /// Offset in the file.
        offset: u64,
        /// What was expected.
        what: String,
    },
    /// The reader failed.
    #[error("read error: {0}")]
    Io(String),
}

/// The element type named by `descr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Descr {
    /// A plain type such as `<f8` or `|S5`, with its item size in bytes.
    Plain {
        /// The descr string.
        text: String,
        /// Bytes per item.
        itemsize: u64,
    },
    /// `|O`: Python objects, stored as a pickle after the header.
    Object,
    /// A structured type (a list of fields); the item size is not computed.
    Structured,
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// `(major, minor)`.
    pub version: (u8, u8),
    /// Offset of the first data byte (magic, version, length and dict included).
    pub data_offset: u64,
    /// The element type.
    pub descr: Descr,
    /// Whether the data is in Fortran order.
    pub fortran_order: bool,
    /// The array shape.
    pub shape: Vec<u64>,
}

impl NpyHeader {
    /// Bytes of data the header promises for a plain dtype, or `None` for object and
    /// structured dtypes or when the product overflows.
    pub fn data_len(&self) -> Option<u64> {
        let Descr::Plain { itemsize, .. } = &self.descr else {
            return None;
        };
        self.shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))?
            .checked_mul(*itemsize)
    }
}

/// Reads and parses the header from the start of `r`, leaving `r` at the first data byte.
/// `max_header` bounds the dict literal (`Limits::max_header_bytes`), `max_nesting` the
/// nesting of tuples and lists in it.
pub fn read_header(
    r: &mut dyn Read,
    max_header: u64,
    max_nesting: usize,
) -> Result<NpyHeader, NpyError> {
    let mut fixed = [0u8; 8];
    read_exact(r, &mut fixed, 0)?;
    let (magic, version) = fixed.split_at(6);
    if magic != MAGIC {
        return Err(NpyError::BadMagic("missing `\\x93NUMPY` magic".to_owned()));
    }
    let (major, minor) = match version {
        [major, minor] => (*major, *minor),
        _ => return Err(NpyError::BadMagic("missing version".to_owned())),
    };
    if !(1..=3).contains(&major) || minor != 0 {
        return Err(NpyError::BadMagic(format!(
            "unsupported version `{major}.{minor}` (expected 1.0, 2.0 or 3.0)"
        )));
    }
    let (len, start) = if major == 1 {
        let mut b = [0u8; 2];
        read_exact(r, &mut b, 8)?;
        (u64::from(u16::from_le_bytes(b)), 10u64)
    } else {
        let mut b = [0u8; 4];
        read_exact(r, &mut b, 8)?;
        (u64::from(u32::from_le_bytes(b)), 12u64)
    };
    if len > max_header {
        return Err(NpyError::TooLong {
            len,
            limit: max_header,
        });
    }
    let mut header = vec![
        0u8;
        usize::try_from(len).map_err(|_| NpyError::TooLong {
            len,
            limit: max_header
        })?
    ];
    read_exact(r, &mut header, start)?;
    let text: String = if major == 3 {
        String::from_utf8(header).map_err(|_| NpyError::Invalid {
            offset: start,
            what: "version 3 header is not UTF-8".to_owned(),
        })?
    } else {
        // Versions 1 and 2 are Latin-1.
        header.iter().map(|&b| char::from(b)).collect()
    };
    let data_offset = start.checked_add(len).ok_or(NpyError::TooLong {
        len,
        limit: max_header,
    })?;
    parse_dict(&text, start, max_nesting).map(|(descr, fortran_order, shape)| NpyHeader {
        version: (major, minor),
        data_offset,
        descr,
        fortran_order,
        shape,
    })
}

fn read_exact(r: &mut dyn Read, buf: &mut [u8], at: u64) -> Result<(), NpyError> {
    let mut filled = 0usize;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        match r.read(rest) {
            Ok(0) => {
                return Err(NpyError::Truncated {
                    expected: at.saturating_add(buf.len() as u64),
                    found: at.saturating_add(filled as u64),
                });
            }
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(NpyError::Io(e.to_string())),
        }
    }
    Ok(())
}

/// A Python literal as the header may hold it.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Seq(Vec<Lit>),
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    base: u64,
    max_nesting: usize,
}

impl Parser<'_> {
    fn err(&mut self, what: &str) -> NpyError {
        let at = self.chars.peek().map_or(0, |(i, _)| *i);
        NpyError::Invalid {
            offset: self.base.saturating_add(at as u64),
            what: what.to_owned(),
        }
    }

    fn ws(&mut self) {
        while self
            .chars
            .next_if(|(_, c)| matches!(c, ' ' | '\t' | '\n' | '\r'))
            .is_some()
        {}
    }

    fn eat(&mut self, want: char) -> bool {
        self.ws();
        self.chars.next_if(|(_, c)| *c == want).is_some()
    }

    fn value(&mut self, depth: usize) -> Result<Lit, NpyError> {
        if depth > self.max_nesting {
            return Err(self.err("literal nested too deeply"));
        }
        self.ws();
        match self.chars.peek().map(|(_, c)| *c) {
            Some(q @ ('\'' | '"')) => {
                self.chars.next();
                let mut s = String::new();
                loop {
                    match self.chars.next() {
                        Some((_, c)) if c == q => return Ok(Lit::Str(s)),
                        Some((_, '\\')) => {
                            return Err(self.err("escapes are not allowed in npy header strings"));
                        }
                        Some((_, c)) => s.push(c),
                        None => return Err(self.err("unterminated string")),
                    }
                }
            }
            Some(open @ ('(' | '[')) => {
                self.chars.next();
                let close = if open == '(' { ')' } else { ']' };
                let mut items = Vec::new();
                loop {
                    if self.eat(close) {
                        return Ok(Lit::Seq(items));
                    }
                    items.push(self.value(depth.saturating_add(1))?);
                    if self.eat(',') {
                        continue;
                    }
                    if self.eat(close) {
                        return Ok(Lit::Seq(items));
                    }
                    return Err(self.err("expected `,` or a closing bracket"));
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let mut s = String::new();
                while let Some((_, c)) =
                    self.chars.next_if(|(_, c)| c.is_ascii_digit() || *c == '-')
                {
                    s.push(c);
                }
                s.parse::<i128>()
                    .map(Lit::Int)
                    .map_err(|_| self.err("invalid integer"))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let mut s = String::new();
                while let Some((_, c)) = self.chars.next_if(|(_, c)| c.is_ascii_alphanumeric()) {
                    s.push(c);
                }
                match s.as_str() {
                    "True" => Ok(Lit::Bool(true)),
                    "False" => Ok(Lit::Bool(false)),
                    "None" => Ok(Lit::None),
                    "L" => Err(self.err("unexpected name")),
                    _ => Err(self.err("only True, False and None are allowed as names")),
                }
            }
            _ => Err(self.err("expected a literal")),
        }
    }
}

fn parse_dict(
    text: &str,
    base: u64,
    max_nesting: usize,
) -> Result<(Descr, bool, Vec<u64>), NpyError> {
    let mut p = Parser {
        chars: text.char_indices().peekable(),
        base,
        max_nesting,
    };
    if !p.eat('{') {
        return Err(p.err("header must be a dict literal"));
    }
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    loop {
        if p.eat('}') {
            break;
        }
        let Lit::Str(key) = p.value(0)? else {
            return Err(p.err("dict keys must be strings"));
        };
        if !p.eat(':') {
            return Err(p.err("expected `:`"));
        }
        let value = p.value(0)?;
        let slot = match key.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran,
            "shape" => &mut shape,
            other => {
                return Err(p.err(&format!(
                    "unexpected key `{other}` (numpy accepts only descr, fortran_order, shape)"
                )));
            }
        };
        if slot.replace(value).is_some() {
            return Err(p.err(&format!("duplicate key `{key}`")));
        }
        if p.eat(',') {
            continue;
        }
        if p.eat('}') {
            break;
        }
        return Err(p.err("expected `,` or `}`"));
    }
    p.ws();
    if p.chars.peek().is_some() {
        return Err(p.err("unexpected data after the header dict"));
    }
    let (Some(descr), Some(fortran), Some(shape)) = (descr, fortran, shape) else {
        return Err(p.err("header lacks one of the keys descr, fortran_order, shape"));
    };
    let Lit::Bool(fortran) = fortran else {
        return Err(p.err("`fortran_order` must be True or False"));
    };
    let Lit::Seq(dims) = shape else {
        return Err(p.err("`shape` must be a tuple"));
    };
    let shape = dims
        .into_iter()
        .map(|d| match d {
            Lit::Int(n) => u64::try_from(n).ok(),
            _ => None,
        })
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| p.err("`shape` must hold non-negative integers"))?;
    let descr = match descr {
        Lit::Str(s) => {
            parse_descr(&s).ok_or_else(|| p.err(&format!("unsupported `descr` `{s}`")))?
        }
        Lit::Seq(_) => Descr::Structured,
        _ => return Err(p.err("`descr` must be a string or a list")),
    };
    Ok((descr, fortran, shape))
}

/// A descr string: byte order, kind, size (with a `[unit]` for datetimes).
fn parse_descr(s: &str) -> Option<Descr> {
    let body = s.strip_prefix(['<', '>', '|', '=']).unwrap_or(s);
    let mut chars = body.chars();
    let kind = chars.next()?;
    let rest: String = chars.collect();
    let digits = rest.split('[').next().unwrap_or_default();
    if kind == 'O' {
        return (digits.is_empty() || digits == "8").then_some(Descr::Object);
    }
    let n: u64 = digits.parse().ok()?;
    let itemsize = match kind {
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'a' | 'V' | 'M' | 'm' => n,
        'U' => n.checked_mul(4)?,
        _ => return None,
    };
    Some(Descr::Plain {
        text: s.to_owned(),
        itemsize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out
    }

    #[test]
    fn plain_and_object_headers_parse() {
        let bytes = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }   \n");
        let h = read_header(&mut &bytes[..], 1 << 20, 8).unwrap();
        assert_eq!(h.shape, [3, 4]);
        assert_eq!(h.data_len(), Some(96));
        assert_eq!(h.data_offset, bytes.len() as u64);
        let bytes = npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }\n");
        let h = read_header(&mut &bytes[..], 1 << 20, 8).unwrap();
        assert_eq!(h.descr, Descr::Object);
        let bytes = npy("{'descr': '<U3', 'fortran_order': True, 'shape': (), }\n");
        assert_eq!(
            read_header(&mut &bytes[..], 1 << 20, 8).unwrap().data_len(),
            Some(12)
        );
    }

    #[test]
    fn anything_but_the_three_literal_keys_is_rejected() {
        for header in [
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}\n",
            "{'descr': '<f8', 'fortran_order': False}\n",
            "{'descr': __import__('os'), 'fortran_order': False, 'shape': ()}\n",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}\n",
            "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': ()}\n",
            "{'descr': '<q9', 'fortran_order': False, 'shape': ()}\n",
        ] {
            let bytes = npy(header);
            assert!(
                read_header(&mut &bytes[..], 1 << 20, 8).is_err(),
                "{header}"
            );
        }
        let deep = format!(
            "{{'descr': '<f8', 'fortran_order': False, 'shape': {}{}}}\n",
            "(".repeat(20),
            ")".repeat(20)
        );
        assert!(read_header(&mut &npy(&deep)[..], 1 << 20, 8).is_err());
        assert!(matches!(
            read_header(&mut &b"\x93NUMPY\x09\x00"[..], 10, 8),
            Err(NpyError::BadMagic(_))
        ));
        let bytes = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n");
        assert!(matches!(
            read_header(&mut &bytes[..], 4, 8),
            Err(NpyError::TooLong { .. })
        ));
        assert!(matches!(
            read_header(&mut &bytes[..20], 1 << 20, 8),
            Err(NpyError::Truncated { .. })
        ));
    }
}
