//! Read-only windows of a file mapped into memory.
//!
//! Hashing a file through `read(2)` copies every byte from the page cache into a buffer
//! before the hash reads it again; on a warm multi-gigabyte model that copy costs about a
//! sixth of the CPU time, which is the difference between hashing at the machine's SHA-256
//! limit and falling short of it. Mapping the file lets the hash read the page cache
//! directly.
//!
//! # Why this crate may use `unsafe`
//!
//! Every other ward crate forbids `unsafe`. Mapping a file cannot be done without it,
//! because the bytes behind a mapping can change while Rust holds a `&[u8]` to them. The
//! one `unsafe` block is in [`Window::map`], and it is sound for ward's use because:
//!
//! - the mapping is read-only and private (`PROT_READ`, `MAP_PRIVATE`): ward never
//!   writes through it, and nothing ward does can change the file;
//! - the bytes are only ever fed to a hash function, which reads each byte once and takes
//!   no decision from it: no pointer, length or branch of ours depends on mapped bytes, so a
//!   concurrent writer can only change the digest, exactly as it could with `read(2)`;
//! - the window is checked against the file's length just before it is mapped, so no page
//!   of it lies past the end of the file at the time of mapping;
//! - windows are small ([`WINDOW`]) and unmapped as soon as they are hashed, so memory
//!   stays bounded and no mapping outlives the call that made it.
//!
//! What remains is a denial of service, not memory unsafety: if another process truncates
//! the file while ward hashes it, touching a page past the new end raises `SIGBUS` and the
//! process stops. That fails closed: no signature is written and no verification passes.
//! Callers that must survive such files can keep using `read(2)`; the parsers that
//! interpret untrusted bytes never use this crate.

use std::fs::File;
use std::io;

/// The largest window mapped at once: large enough that the cost of `mmap`/`munmap` is
/// lost in the hashing, small enough that a thread's mapped memory stays modest.
pub const WINDOW: u64 = 16 << 20;

/// Files shorter than this are read rather than mapped: for small files, setting up a
/// mapping costs more than copying the bytes.
pub const MIN_FILE: u64 = 4 << 20;

/// A read-only window `offset..offset + len` of an open file.
pub struct Window {
    map: memmap2::Mmap,
}

impl Window {
    /// Maps `len` bytes of `file` from `offset`, after checking that the file currently
    /// holds all of them. A window of zero bytes is refused (`InvalidInput`), since an
    /// empty mapping is an error on most systems.
    pub fn map(file: &File, offset: u64, len: u64) -> io::Result<Self> {
        let end = offset
            .checked_add(len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "window end overflows"))?;
        let size = file.metadata()?.len();
        if end > size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("window {offset}..{end} ends past the file's {size} bytes"),
            ));
        }
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "window too large"))?;
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty window"));
        }
        let mut options = memmap2::MmapOptions::new();
        options.offset(offset).len(len);
        // SAFETY: read-only private mapping of a range checked above to lie inside the
        // file; the bytes are only hashed (see the crate documentation for the argument).
        #[allow(unsafe_code)]
        let map = unsafe { options.map(file)? };
        // Advice only: a failure changes speed, never results.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Window { map })
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }
}

/// Calls `each` with consecutive mapped windows covering `offset..offset + len` of
/// `file`, each at most [`WINDOW`] bytes, unmapping each before mapping the next.
pub fn for_each_window(
    file: &File,
    offset: u64,
    len: u64,
    mut each: impl FnMut(&[u8]),
) -> io::Result<()> {
    let mut at = offset;
    let end = offset
        .checked_add(len)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "window end overflows"))?;
    while at < end {
        let take = (end - at).min(WINDOW);
        let window = Window::map(file, at, take)?;
        each(window.bytes());
        at += take;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        f.flush().unwrap();
        (f, data)
    }

    #[test]
    fn windows_cover_the_range_exactly() {
        let (f, data) = file_of(3 * 4096 + 17);
        let file = File::open(f.path()).unwrap();
        let mut seen = Vec::new();
        for_each_window(&file, 5, data.len() as u64 - 9, |b| {
            seen.extend_from_slice(b)
        })
        .unwrap();
        assert_eq!(seen, data[5..data.len() - 4]);
    }

    #[test]
    fn a_range_past_the_end_is_refused_before_mapping() {
        let (f, data) = file_of(100);
        let file = File::open(f.path()).unwrap();
        let err = Window::map(&file, 50, data.len() as u64).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(Window::map(&file, u64::MAX, 2).is_err());
        assert_eq!(
            Window::map(&file, 0, 0).err().unwrap().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn an_empty_range_calls_nothing() {
        let (f, _) = file_of(10);
        let file = File::open(f.path()).unwrap();
        let mut calls = 0;
        for_each_window(&file, 10, 0, |_| calls += 1).unwrap();
        assert_eq!(calls, 0);
    }
}
