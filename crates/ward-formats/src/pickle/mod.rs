//! A symbolic pickle virtual machine that never executes anything.
//!
//! Data flow: a [`Stream`] wraps a reader (a file, an archive member, a byte slice) and
//! [`Stream::next_pickle`] runs one pickle, from its first opcode to `STOP`, through a
//! model of CPython's C unpickler (`Modules/_pickle.c`). Instead of importing and calling,
//! the machine records what the real unpickler would do: every import (`GLOBAL`,
//! `STACK_GLOBAL`, `INST`, `OBJ`) with its byte offset, every call site, every persistent
//! id, every extension code and out-of-band buffer, the pickles passed as bytes to
//! `pickle.loads` and friends (parsed recursively), and the raw array data joblib writes
//! after a `NumpyArrayWrapper`. The caller (`ward-scan`) decides what is dangerous.
//!
//! The machine accepts what `_pickle` accepts: every opcode of protocols 0 to 5 in any
//! order (the C unpickler does not check opcodes against the declared protocol), text
//! integers read with `strtol(.., 0)` then `int(.., 0)`, the Python 2 name mapping of
//! protocols 0-2, the mark stack with its fence, and memo semantics including `MEMOIZE`
//! numbering by entry count. Payloads longer than [`Limits::max_inspected_bytes`] are
//! skipped by length, so memory stays bounded on pickles of any size.
//!
//! [`Limits::max_inspected_bytes`]: crate::Limits::max_inspected_bytes

mod compat;
mod input;
mod text;
mod vm;

use std::io::Read;

use crate::{Budget, Limits};
use input::{Input, ReadError};

/// The highest pickle protocol CPython knows; `PROTO` above it is an error.
pub const HIGHEST_PROTOCOL: u8 = 5;

/// What the machine may spend, and how deep in nested pickles it already is.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Resource bounds.
    pub limits: &'a Limits,
    /// The deadline of the whole top-level input.
    pub budget: &'a Budget,
    /// How many pickles this one is nested in (0 for a pickle read from a file).
    pub nesting: usize,
}

/// How an import reached `find_class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOp {
    /// `GLOBAL` (`c`), names from two text lines.
    Global,
    /// `STACK_GLOBAL`, names popped from the stack.
    StackGlobal,
    /// `INST` (`i`), names from two text lines, instantiated at once.
    Inst,
}

/// One call of `find_class`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Offset of the opcode.
    pub offset: u64,
    /// The opcode.
    pub op: ImportOp,
    /// The module and name as the unpickler resolves them (after the Python 2 mapping for
    /// protocols below 3), or `None` when the names were not strings the machine could
    /// read (a name built by a call, or a string too long to keep).
    pub name: Option<(String, String)>,
}

impl Import {
    /// The full dotted name, `module.name`, when known.
    pub fn full_name(&self) -> Option<String> {
        self.name.as_ref().map(|(m, n)| format!("{m}.{n}"))
    }
}

/// The opcode of a call site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOp {
    /// `REDUCE`: `callable(*args)`.
    Reduce,
    /// `NEWOBJ`: `cls.__new__(cls, *args)`.
    NewObj,
    /// `NEWOBJ_EX`: `cls.__new__(cls, *args, **kwargs)`.
    NewObjEx,
    /// `INST`: `cls(*args)` for a class named in the opcode.
    Inst,
    /// `OBJ`: `cls(*args)` for a class on the stack.
    Obj,
    /// `BUILD`: `obj.__setstate__(state)` or an attribute update.
    Build,
}

/// One call site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Offset of the opcode.
    pub offset: u64,
    /// The opcode.
    pub op: CallOp,
    /// The full name of the callable (for `BUILD`, of the class that made the object) when
    /// it is a global the machine saw imported; `None` when the callable is itself the
    /// result of a call, a persistent id or an extension code.
    pub callable: Option<String>,
}

/// A PyTorch storage reference: the persistent id `('storage', type, key, location,
/// numel, ...)` that `torch.save` writes for every tensor storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageRef {
    /// Full name of the storage type global (`torch.FloatStorage`), when it was one.
    pub storage_type: Option<String>,
    /// The key of the storage: the member `data/<key>` of a zip checkpoint, or the key in
    /// the legacy format's key list.
    pub key: String,
    /// Device location string (`cpu`, `cuda:0`).
    pub location: String,
    /// Number of elements, when it was an integer.
    pub numel: Option<u64>,
}

/// A persistent id, handed by the unpickler to the loader's `persistent_load`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistentId {
    /// Offset of the `PERSID`/`BINPERSID` opcode.
    pub offset: u64,
    /// The storage reference, when the id has PyTorch's shape.
    pub storage: Option<StorageRef>,
}

/// What an `EXT1`/`EXT2`/`EXT4` opcode asked the copyreg extension registry for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension {
    /// Offset of the opcode.
    pub offset: u64,
    /// The extension code.
    pub code: u32,
}

/// Why a `BUILD` looks like an attempt to rewrite code rather than restore data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuspiciousBuild {
    /// Offset of the `BUILD` opcode.
    pub offset: u64,
    /// The object being updated, as far as known (`class os`, `instance of x.Y`).
    pub target: String,
    /// What is wrong.
    pub reason: String,
}

/// A pickle passed as bytes to a loader such as `pickle.loads`.
#[derive(Debug, Clone, PartialEq)]
pub struct Nested {
    /// Offset of the call.
    pub offset: u64,
    /// The loader.
    pub via: String,
    /// The inner pickle, when its bytes were kept and the nesting limit allowed it.
    pub pickle: Option<Box<Pickle>>,
    /// Why the inner pickle was not parsed.
    pub not_parsed: Option<String>,
}

/// Raw array bytes that joblib wrote after a `NumpyArrayWrapper` `BUILD`.
#[derive(Debug, Clone, PartialEq)]
pub struct JoblibArray {
    /// Offset of the `BUILD` opcode.
    pub offset: u64,
    /// The array shape.
    pub shape: Vec<u64>,
    /// The dtype string (`f8`, `O8`).
    pub dtype: String,
    /// Raw bytes skipped (padding included), for plain arrays.
    pub data_bytes: u64,
    /// The pickle joblib wrote for an object array, scanned like any other.
    pub object_pickle: Option<Box<Pickle>>,
}

/// The final value a pickle returned, summarised for callers that read stacked pickles
/// (the legacy PyTorch format stores its magic number and storage keys this way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopValue {
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A `LONG1`/`LONG4` integer's little-endian two's complement bytes (up to 16).
    LongBytes(Vec<u8>),
    /// A list or tuple of strings (strings that were skipped as too long are omitted, and
    /// the summary is then `Other`).
    Strings(Vec<String>),
    /// Anything else.
    Other,
}

/// Which limit stopped the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// [`Limits::max_pickle_opcodes`].
    Opcodes,
    /// [`Limits::max_pickle_memo`].
    Memo,
    /// [`Limits::max_pickle_stack`].
    Stack,
    /// [`Limits::max_pickle_nesting`].
    Nesting,
    /// [`Limits::max_pickle_memory`].
    Memory,
    /// The time budget.
    Time,
}

impl LimitKind {
    /// What the limit counts, for messages.
    pub fn unit(self) -> &'static str {
        match self {
            LimitKind::Opcodes => "opcodes",
            LimitKind::Memo => "entries",
            LimitKind::Stack => "values",
            LimitKind::Nesting => "levels",
            LimitKind::Memory => "bytes",
            LimitKind::Time => "seconds",
        }
    }

    /// The name of the limit as users configure it.
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::Opcodes => "max_pickle_opcodes",
            LimitKind::Memo => "max_pickle_memo",
            LimitKind::Stack => "max_pickle_stack",
            LimitKind::Nesting => "max_pickle_nesting",
            LimitKind::Memory => "max_pickle_memory",
            LimitKind::Time => "time_budget",
        }
    }
}

/// Why a pickle could not be read to its `STOP`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickleError {
    /// The input ended inside the pickle.
    #[error("pickle data was truncated at offset {offset}")]
    Truncated {
        /// Where reading stopped.
        offset: u64,
    },
    /// A byte that is not an opcode, or an opcode whose argument CPython rejects.
    #[error("invalid pickle at offset {offset}: {what}")]
    Invalid {
        /// Offset of the opcode.
        offset: u64,
        /// What CPython would complain about.
        what: String,
    },
    /// A limit was hit.
    #[error("pickle limit `{}` of {value} {} reached at offset {offset}", kind.name(), kind.unit())]
    Limit {
        /// Which limit.
        kind: LimitKind,
        /// Its value.
        value: u64,
        /// Where.
        offset: u64,
    },
    /// The reader failed.
    #[error("read error at offset {offset}: {message}")]
    Io {
        /// Where.
        offset: u64,
        /// The I/O error.
        message: String,
    },
}

impl PickleError {
    /// The offset the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            PickleError::Truncated { offset }
            | PickleError::Invalid { offset, .. }
            | PickleError::Limit { offset, .. }
            | PickleError::Io { offset, .. } => *offset,
        }
    }
}

/// Everything the machine saw in one pickle.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pickle {
    /// Offset of the first opcode.
    pub start: u64,
    /// Offset just after `STOP`, or where the machine stopped.
    pub end: u64,
    /// The protocol from `PROTO`, if present.
    pub protocol: Option<u8>,
    /// Opcodes executed.
    pub opcodes: u64,
    /// Every import, in order.
    pub imports: Vec<Import>,
    /// Every call site, in order.
    pub calls: Vec<Call>,
    /// Every persistent id.
    pub persistent_ids: Vec<PersistentId>,
    /// Every extension-registry lookup.
    pub extensions: Vec<Extension>,
    /// Offsets of `NEXT_BUFFER` opcodes (out-of-band data the loader must supply).
    pub out_of_band: Vec<u64>,
    /// `BUILD`s that update classes, modules or dunder attributes.
    pub suspicious_builds: Vec<SuspiciousBuild>,
    /// Pickles passed as bytes to loaders.
    pub nested: Vec<Nested>,
    /// joblib array data that followed `NumpyArrayWrapper` objects.
    pub joblib_arrays: Vec<JoblibArray>,
    /// The value `STOP` returned, summarised.
    pub top: Option<TopValue>,
    /// Why the pickle did not reach `STOP`; what was recorded before still counts.
    pub error: Option<PickleError>,
}

/// A stream holding one or more pickles one after another.
pub struct Stream<'r> {
    input: Input<'r>,
}

impl<'r> Stream<'r> {
    /// A stream over `reader`, whose first byte is at absolute offset `start`; `len` is how
    /// many bytes the reader holds, when known (it lets truncation be seen early).
    pub fn new(reader: &'r mut dyn Read, start: u64, len: Option<u64>) -> Self {
        Self {
            input: Input::new(reader, start, len),
        }
    }

    /// Absolute offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.input.offset()
    }

    /// Runs the next pickle to its `STOP` (or to the first error).
    pub fn next_pickle(&mut self, opts: &Options<'_>) -> Pickle {
        vm::run(&mut self.input, opts)
    }

    /// Up to `n` next bytes, not consumed (fewer at the end of the input).
    pub fn peek(&mut self, n: usize) -> Result<Vec<u8>, PickleError> {
        let offset = self.offset();
        self.input
            .peek_n(n)
            .map(<[u8]>::to_vec)
            .map_err(|e| read_error(e, offset))
    }

    /// Whether every byte has been read.
    pub fn at_end(&mut self) -> Result<bool, PickleError> {
        let offset = self.offset();
        self.input
            .peek()
            .map(|b| b.is_none())
            .map_err(|e| read_error(e, offset))
    }

    /// Reads a little-endian `u64`.
    pub fn read_u64_le(&mut self) -> Result<u64, PickleError> {
        let offset = self.offset();
        self.input
            .array::<8>()
            .map(u64::from_le_bytes)
            .map_err(|e| read_error(e, offset))
    }

    /// Skips `n` bytes without keeping them.
    pub fn skip(&mut self, n: u64) -> Result<(), PickleError> {
        let offset = self.offset();
        self.input.skip(n).map_err(|e| read_error(e, offset))
    }

    /// Skips to the end and returns how many bytes were left.
    pub fn skip_rest(&mut self) -> Result<u64, PickleError> {
        let mut total = 0u64;
        loop {
            let offset = self.offset();
            let n = self
                .input
                .peek_n(64 * 1024)
                .map_err(|e| read_error(e, offset))?
                .len();
            if n == 0 {
                return Ok(total);
            }
            self.skip(n as u64)?;
            total = total.saturating_add(n as u64);
        }
    }
}

fn read_error(e: ReadError, offset: u64) -> PickleError {
    match e {
        ReadError::Eof => PickleError::Truncated { offset },
        ReadError::Io(e) => PickleError::Io {
            offset,
            message: e.to_string(),
        },
    }
}

/// Parses one pickle held in memory.
pub fn parse_slice(bytes: &[u8], opts: &Options<'_>) -> Pickle {
    let mut reader = bytes;
    let mut stream = Stream::new(&mut reader, 0, Some(bytes.len() as u64));
    stream.next_pickle(opts)
}

/// Whether `prefix` (the first bytes of an input) looks like the start of a pickle.
///
/// Pickles that start with `PROTO` (a known version, then an opcode) are accepted. Protocol
/// 0 and 1 pickles have no magic number, so the prefix is run through the machine: it must
/// reach `STOP`, or the end of the prefix, without an invalid opcode, having executed at
/// least one opcode that builds a value or imports a name. Plain text almost never passes
/// (its first bytes are rarely a valid opcode sequence that ends cleanly).
pub fn sniff(prefix: &[u8]) -> bool {
    match prefix {
        // `PROTO` is a binary opcode no text starts with; CPython accepts any version up to
        // its highest, 0 and 1 included.
        [0x80, proto, next, ..] if *proto <= HIGHEST_PROTOCOL => vm::is_opcode(*next),
        [0x80, proto] => *proto <= HIGHEST_PROTOCOL,
        [first, ..] if vm::is_opcode(*first) => vm::trial_parse(prefix),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
