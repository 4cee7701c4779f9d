//! Rules for pickle streams: raw pickles, stacked pickles, legacy PyTorch files, joblib
//! files, and the pickles inside NumPy object arrays.
//!
//! Data flow: [`scan_stream`] runs every pickle of a stream through the symbolic machine
//! of `ward_formats::pickle`, one after another, and turns what each recorded into
//! findings through the default-deny policy of [`callables`]. It also returns the PyTorch
//! storage references it saw, so that the engine can tell tensor-storage members of a zip
//! checkpoint (raw bytes to `torch.load`) from members it must sniff and scan.

pub mod callables;
pub mod numpy;

use std::collections::BTreeMap;
use std::io::{Read, SeekFrom};

use ward_formats::pickle::{
    self, CallOp, Options, Pickle, PickleError, StorageRef, Stream, TopValue,
};

use crate::finding::{Code, Finding, Location, Severity};
use crate::{Context, Source};
use callables::Verdict;

/// A callable known to run code, reach files or the network, or unpickle more data.
pub const DANGEROUS_GLOBAL: Code = Code {
    id: "pickle-dangerous-global",
    severity: Severity::Critical,
    title: "pickle imports a callable known to run code or reach the system",
    remedy: "do not load this file; obtain the model from a trusted source or in a data-only format such as safetensors",
};

/// A callable that is not on the allowlist.
pub const UNKNOWN_GLOBAL: Code = Code {
    id: "pickle-unknown-global",
    severity: Severity::High,
    title: "pickle imports a callable that is not on the allowlist",
    remedy: "check that the callable is expected for this model; if it is, add it to `[pickle] allow` in the policy file",
};

/// A `STACK_GLOBAL` whose names could not be read.
pub const UNRESOLVED_GLOBAL: Code = Code {
    id: "pickle-unresolved-global",
    severity: Severity::High,
    title: "pickle imports a callable whose name is computed or hidden",
    remedy: "do not load this file: benign pickles name their callables with plain strings",
};

/// A call of something that is not a named global.
pub const INDIRECT_CALL: Code = Code {
    id: "pickle-indirect-call",
    severity: Severity::High,
    title: "pickle calls a value that is not a named callable",
    remedy: "do not load this file: the called object is the result of another call, a persistent id or an extension code",
};

/// A `BUILD` that rewrites a class, module or special attribute.
pub const BUILD_INJECTION: Code = Code {
    id: "pickle-build-injection",
    severity: Severity::Critical,
    title: "pickle BUILD sets attributes on a class or module, or special attributes",
    remedy: "do not load this file: restoring data never needs to modify classes, modules or dunder attributes",
};

/// `EXT1`/`EXT2`/`EXT4`.
pub const EXTENSION_CODE: Code = Code {
    id: "pickle-extension-code",
    severity: Severity::High,
    title: "pickle imports a callable through the copyreg extension registry",
    remedy: "do not load this file unless you know which callable the extension code names in the loading process",
};

/// A persistent id that is not a PyTorch storage reference.
pub const UNKNOWN_PERSISTENT_ID: Code = Code {
    id: "pickle-unknown-persistent-id",
    severity: Severity::Medium,
    title: "pickle hands an unrecognised persistent id to the loader",
    remedy: "check which loader reads this file and what its `persistent_load` does with the id",
};

/// `NEXT_BUFFER`.
pub const OUT_OF_BAND_BUFFER: Code = Code {
    id: "pickle-out-of-band-buffer",
    severity: Severity::Medium,
    title: "pickle refers to out-of-band buffers that are not in the file",
    remedy: "the data these buffers hold was not inspected; obtain the complete model",
};

/// The pickle could not be read to its end.
pub const PARSE_ERROR: Code = Code {
    id: "pickle-parse-error",
    severity: Severity::Medium,
    title: "pickle could not be read to its end",
    remedy: "the rest of the stream was not inspected; re-export the model or obtain an intact copy",
};

/// A limit stopped the scan.
pub const LIMIT_EXCEEDED: Code = Code {
    id: "pickle-limit-exceeded",
    severity: Severity::Medium,
    title: "pickle scan stopped at a limit",
    remedy: "the rest was not inspected; raise the limit in the policy if the file is expected to be this large",
};

/// Bytes after the last pickle that are not a pickle.
pub const TRAILING_DATA: Code = Code {
    id: "pickle-trailing-data",
    severity: Severity::Medium,
    title: "data follows the last pickle in the stream",
    remedy: "loaders ignore these bytes but another tool may read them; re-export the model to drop them",
};

/// Legacy PyTorch storage data disagrees with the storage keys.
pub const LEGACY_STORAGE_MISMATCH: Code = Code {
    id: "pickle-legacy-storage-mismatch",
    severity: Severity::Medium,
    title: "legacy PyTorch storage data does not match the storages the pickle declares",
    remedy: "re-save the model with a current PyTorch (zip format) from a trusted copy",
};

/// Every code of this module.
pub const CODES: &[Code] = &[
    DANGEROUS_GLOBAL,
    UNKNOWN_GLOBAL,
    UNRESOLVED_GLOBAL,
    INDIRECT_CALL,
    BUILD_INJECTION,
    EXTENSION_CODE,
    UNKNOWN_PERSISTENT_ID,
    OUT_OF_BAND_BUFFER,
    PARSE_ERROR,
    LIMIT_EXCEEDED,
    TRAILING_DATA,
    LEGACY_STORAGE_MISMATCH,
    numpy::OBJECT_ARRAY,
    numpy::HEADER_INVALID,
    numpy::SIZE_MISMATCH,
];

/// The legacy PyTorch magic number `0x1950a86a20f9469cfc6c`, as `LONG1` writes it.
const TORCH_LEGACY_MAGIC: &[u8] = &[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// What scanning a pickle stream found.
#[derive(Debug, Clone, Default)]
pub struct StreamScan {
    /// Findings, in stream order.
    pub findings: Vec<Finding>,
    /// Storage references from persistent ids (PyTorch), in order.
    pub storages: Vec<StorageRef>,
    /// Pickles read.
    pub pickles: usize,
    /// Whether the stream is a legacy (non-zip) PyTorch file.
    pub legacy_torch: bool,
}

/// The format rule: scans a pickle stream and returns its findings.
pub fn scan(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Vec<Finding> {
    scan_stream(src, len, loc, ctx).findings
}

/// Scans every pickle of the stream in `src` (from its start), stacked pickles and the
/// legacy PyTorch layout included, and returns findings plus the storage references seen.
pub fn scan_stream(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> StreamScan {
    scan_from(src, 0, len, loc, ctx)
}

/// Scans the pickle stream that starts at `start` in `src` (a `.npy` object array starts
/// after its header).
pub fn scan_from(
    src: &mut dyn Source,
    start: u64,
    len: u64,
    loc: &Location,
    ctx: &Context,
) -> StreamScan {
    let mut out = StreamScan::default();
    if let Err(e) = src.seek(SeekFrom::Start(start)) {
        out.findings.push(Finding::new(
            PARSE_ERROR,
            loc.at(start),
            format!("cannot seek to offset {start}: {e}"),
        ));
        return out;
    }
    let mut reader: &mut dyn Read = src;
    let mut stream = Stream::new(&mut reader, start, Some(len.saturating_sub(start)));
    let opts = Options {
        limits: &ctx.limits,
        budget: &ctx.budget,
        nesting: 0,
    };
    let mut tops = Vec::new();
    loop {
        let p = stream.next_pickle(&opts);
        out.pickles = out.pickles.saturating_add(1);
        report(&p, loc, ctx, None, &mut out.findings);
        out.storages
            .extend(p.persistent_ids.iter().filter_map(|id| id.storage.clone()));
        if p.error.is_some() {
            return out;
        }
        tops.push(p.top.clone());
        if out.pickles == 1 && p.top == Some(TopValue::LongBytes(TORCH_LEGACY_MAGIC.to_vec())) {
            out.legacy_torch = true;
        }
        if out.legacy_torch && out.pickles == 5 {
            legacy_storages(&mut stream, tops.last().cloned().flatten(), loc, &mut out);
            return out;
        }
        match stream.at_end() {
            Ok(true) => return out,
            Ok(false) => {}
            Err(e) => {
                out.findings.push(error_finding(&e, loc, None));
                return out;
            }
        }
        let next = stream.peek(256).unwrap_or_default();
        if !pickle::sniff(&next) {
            trailing(&mut stream, loc, &mut out);
            return out;
        }
        if out.pickles >= ctx.limits.max_stacked_pickles {
            out.findings.push(Finding::new(
                LIMIT_EXCEEDED,
                loc.at(stream.offset()),
                format!(
                    "stopped after {} stacked pickles (limit `max_stacked_pickles`); the rest of the stream was not inspected",
                    out.pickles
                ),
            ));
            return out;
        }
    }
}

fn trailing(stream: &mut Stream<'_>, loc: &Location, out: &mut StreamScan) {
    let at = stream.offset();
    let n = stream.skip_rest().unwrap_or(0);
    out.findings.push(Finding::new(
        TRAILING_DATA,
        loc.at(at),
        format!("{n} bytes after the last pickle are not a pickle\nhint: a payload may hide there for another reader"),
    ));
}

/// The storage data of a legacy PyTorch file: for each key of the fifth pickle, an
/// element count (`u64` little-endian) and that many elements of the storage's type.
fn legacy_storages(
    stream: &mut Stream<'_>,
    keys: Option<TopValue>,
    loc: &Location,
    out: &mut StreamScan,
) {
    let Some(TopValue::Strings(keys)) = keys else {
        out.findings.push(Finding::new(
            LEGACY_STORAGE_MISMATCH,
            loc.at(stream.offset()),
            "the fifth pickle of a legacy PyTorch file is not a list of storage keys",
        ));
        return;
    };
    let declared: BTreeMap<&str, &StorageRef> =
        out.storages.iter().map(|s| (s.key.as_str(), s)).collect();
    let mut findings = Vec::new();
    let mut mismatch = |at: u64, message: String| {
        findings.push(Finding::new(LEGACY_STORAGE_MISMATCH, loc.at(at), message));
    };
    // Reads every storage in key order; stops at the first one whose size is unknown,
    // since the stream cannot be followed past it.
    let complete = keys.iter().all(|key| {
        let at = stream.offset();
        let Some(storage) = declared.get(key.as_str()) else {
            mismatch(
                at,
                format!("storage key `{key}` is not referenced by the model pickle"),
            );
            return false;
        };
        let Some(elsize) = storage
            .storage_type
            .as_deref()
            .and_then(callables::storage_element_size)
        else {
            mismatch(at, format!("storage `{key}` has an unknown storage type"));
            return false;
        };
        let numel = match stream.read_u64_le() {
            Ok(n) => n,
            Err(e) => {
                mismatch(at, format!("storage `{key}`: {e}"));
                return false;
            }
        };
        if let Some(declared) = storage.numel.filter(|&n| n != numel) {
            mismatch(
                at,
                format!(
                    "storage `{key}` holds {numel} elements but the pickle declares {declared}"
                ),
            );
        }
        let Some(bytes) = numel.checked_mul(elsize) else {
            mismatch(at, format!("storage `{key}` size overflows"));
            return false;
        };
        if let Err(e) = stream.skip(bytes) {
            mismatch(at, format!("storage `{key}` data: {e}"));
            return false;
        }
        true
    });
    out.findings.extend(findings);
    if complete && !matches!(stream.at_end(), Ok(true)) {
        trailing(stream, loc, out);
    }
}

fn error_finding(e: &PickleError, loc: &Location, within: Option<&str>) -> Finding {
    let prefix = within.map(|w| format!("{w}: ")).unwrap_or_default();
    match e {
        PickleError::Limit { .. } => Finding::new(
            LIMIT_EXCEEDED,
            loc.at(e.offset()),
            format!("{prefix}{e}; the rest of the pickle was not inspected"),
        ),
        _ => Finding::new(
            PARSE_ERROR,
            loc.at(e.offset()),
            format!(
                "{prefix}{e}; the rest of the pickle was not inspected\nhint: `pickle.load` fails here too, but only after running what came before"
            ),
        ),
    }
}

/// Turns what the machine recorded in one pickle into findings. `within` names the
/// enclosing context for nested pickles (their offsets are relative to their own bytes,
/// so findings point at the enclosing call and say where inside).
fn report(
    p: &Pickle,
    loc: &Location,
    ctx: &Context,
    within: Option<(&str, u64)>,
    out: &mut Vec<Finding>,
) {
    let label = within.map(|(w, _)| w);
    let at = |offset: u64| within.map_or_else(|| loc.at(offset), |(_, o)| loc.at(o));
    let prefix = |offset: u64| match label {
        Some(w) => format!("{w}, at offset {offset}: "),
        None => String::new(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for import in &p.imports {
        match &import.name {
            Some(_) => {
                let full = import.full_name().unwrap_or_default();
                if !seen.insert(full.clone()) {
                    continue;
                }
                match callables::judge(&full, &ctx.allowed_globals) {
                    Verdict::Allowed => {}
                    Verdict::Dangerous => out.push(Finding::new(
                        DANGEROUS_GLOBAL,
                        at(import.offset),
                        format!("{}pickle imports `{full}`, which can run code or reach files, processes or the network", prefix(import.offset)),
                    )),
                    Verdict::Unknown => out.push(Finding::new(
                        UNKNOWN_GLOBAL,
                        at(import.offset),
                        format!("{}pickle imports `{full}`, which is not on the allowlist\nhint: if this callable is expected, allow it in the policy file under `[pickle] allow`", prefix(import.offset)),
                    )),
                }
            }
            None => out.push(Finding::new(
                UNRESOLVED_GLOBAL,
                at(import.offset),
                format!("{}STACK_GLOBAL takes its module or name from a value that is not a plain string", prefix(import.offset)),
            )),
        }
    }
    if let Some(call) = p
        .calls
        .iter()
        .find(|c| c.callable.is_none() && c.op != CallOp::Build)
    {
        out.push(Finding::new(
            INDIRECT_CALL,
            at(call.offset),
            format!(
                "{}{:?} calls a value that is not a named global",
                prefix(call.offset),
                call.op
            ),
        ));
    }
    for b in &p.suspicious_builds {
        out.push(Finding::new(
            BUILD_INJECTION,
            at(b.offset),
            format!("{}{} on {}", prefix(b.offset), b.reason, b.target),
        ));
    }
    for ext in &p.extensions {
        out.push(Finding::new(
            EXTENSION_CODE,
            at(ext.offset),
            format!(
                "{}extension code `{}` names a callable registered in the loading process",
                prefix(ext.offset),
                ext.code
            ),
        ));
    }
    if let Some(id) = p.persistent_ids.iter().find(|id| id.storage.is_none()) {
        out.push(Finding::new(
            UNKNOWN_PERSISTENT_ID,
            at(id.offset),
            format!(
                "{}persistent id is not a PyTorch `('storage', ...)` reference",
                prefix(id.offset)
            ),
        ));
    }
    if let Some(&offset) = p.out_of_band.first() {
        out.push(Finding::new(
            OUT_OF_BAND_BUFFER,
            at(offset),
            format!(
                "{}{} NEXT_BUFFER opcodes refer to data outside the file",
                prefix(offset),
                p.out_of_band.len()
            ),
        ));
    }
    for nested in &p.nested {
        let outer = within.map_or(nested.offset, |(_, o)| o);
        let label = format!(
            "in the pickle passed to `{}` at offset {}",
            nested.via, nested.offset
        );
        match (&nested.pickle, &nested.not_parsed) {
            (Some(inner), _) => report(inner, loc, ctx, Some((&label, outer)), out),
            (None, Some(why))
                if why.contains("max_pickle_nesting") || why.contains("max_inspected_bytes") =>
            {
                out.push(Finding::new(
                    LIMIT_EXCEEDED,
                    at(nested.offset),
                    format!(
                        "{}{label}: {why}; the inner pickle was not inspected",
                        prefix(nested.offset)
                    ),
                ))
            }
            _ => {}
        }
    }
    for array in &p.joblib_arrays {
        if let Some(inner) = &array.object_pickle {
            let outer = within.map_or(array.offset, |(_, o)| o);
            let label = format!(
                "in the object array joblib stored after offset {}",
                array.offset
            );
            report(inner, loc, ctx, Some((&label, outer)), out);
        }
    }
    if let Some(e) = &p.error {
        let mut f = error_finding(e, loc, label);
        if within.is_some() {
            f.location = at(e.offset());
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests;
