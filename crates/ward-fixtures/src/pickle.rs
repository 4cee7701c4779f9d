//! Pickle, NumPy, joblib and legacy PyTorch fixtures, built from bytes with a small pickle
//! assembler.
//!
//! Every malicious fixture names a dangerous callable but passes it a harmless argument
//! (`echo ward-fixture`, a module name, a `print`), so loading one by mistake does nothing
//! worse than print a line. Each fixture is one evasion class that blocklist scanners miss
//! or misread.

use crate::Fixture;
use crate::containers::{Wrapper, compress, zip};

const DANGEROUS: &str = "pickle-dangerous-global";
const PAYLOAD: &str = "echo ward-fixture";

/// A pickle assembler: one method per opcode (or short idiom), in stream order.
#[derive(Debug, Clone, Default)]
pub struct Asm {
    out: Vec<u8>,
}

impl Asm {
    /// An empty stream (no `PROTO`, as protocols 0 and 1 write).
    pub fn new() -> Self {
        Self::default()
    }

    /// A stream opening with `PROTO n`.
    pub fn proto(n: u8) -> Self {
        Self { out: vec![0x80, n] }
    }

    /// Raw bytes.
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.out.extend_from_slice(bytes);
        self
    }

    /// `GLOBAL module name` (text form).
    pub fn global(self, module: &str, name: &str) -> Self {
        self.raw(format!("c{module}\n{name}\n").as_bytes())
    }

    /// `SHORT_BINUNICODE` (or `BINUNICODE` when longer than 255 bytes).
    pub fn str(mut self, s: &str) -> Self {
        match u8::try_from(s.len()) {
            Ok(n) => self.out.extend_from_slice(&[0x8c, n]),
            Err(_) => {
                self.out.push(b'X');
                let n = u32::try_from(s.len()).unwrap_or(u32::MAX);
                self.out.extend_from_slice(&n.to_le_bytes());
            }
        }
        self.raw(s.as_bytes())
    }

    /// `BINUNICODE` (protocol 1 to 3 strings).
    pub fn binunicode(mut self, s: &str) -> Self {
        self.out.push(b'X');
        let n = u32::try_from(s.len()).unwrap_or(u32::MAX);
        self.out.extend_from_slice(&n.to_le_bytes());
        self.raw(s.as_bytes())
    }

    /// `BINBYTES`.
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.out.push(b'B');
        let n = u32::try_from(b.len()).unwrap_or(u32::MAX);
        self.out.extend_from_slice(&n.to_le_bytes());
        self.raw(b)
    }

    /// `module`, `name` as strings, then `STACK_GLOBAL`.
    pub fn stack_global(self, module: &str, name: &str) -> Self {
        self.str(module).str(name).op(0x93)
    }

    /// One opcode byte.
    pub fn op(mut self, op: u8) -> Self {
        self.out.push(op);
        self
    }

    /// `callable(arg)`: `TUPLE1`, `REDUCE`.
    pub fn call1(self) -> Self {
        self.op(0x85).op(b'R')
    }

    /// `STOP`, and the bytes.
    pub fn stop(self) -> Vec<u8> {
        self.op(b'.').out
    }
}

/// `module.name(arg)` at protocol 2 with a text `GLOBAL`.
pub fn call(module: &str, name: &str, arg: &str) -> Vec<u8> {
    Asm::proto(2)
        .global(module, name)
        .binunicode(arg)
        .call1()
        .stop()
}

/// `pickle.dumps(obj)` at protocols 0 to 5 for a dict holding a list, an `OrderedDict`
/// and a boolean, as CPython writes them.
pub const BENIGN_BY_PROTOCOL: [&[u8]; 6] = [
    b"(dp0\nVweights\np1\n(lp2\nI1\naF2.5\naVx\np3\nasVconfig\np4\nccollections\nOrderedDict\np5\n(tRp6\nVlayers\np7\nI2\nsVname\np8\nVnet\np9\nssVflag\np10\nI01\ns.",
    b"}q\x00(X\x07\x00\x00\x00weightsq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03eX\x06\x00\x00\x00configq\x04ccollections\nOrderedDict\nq\x05)Rq\x06(X\x06\x00\x00\x00layersq\x07K\x02X\x04\x00\x00\x00nameq\x08X\x03\x00\x00\x00netq\x09uX\x04\x00\x00\x00flagq\nI01\nu.",
    b"\x80\x02}q\x00(X\x07\x00\x00\x00weightsq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03eX\x06\x00\x00\x00configq\x04ccollections\nOrderedDict\nq\x05)Rq\x06(X\x06\x00\x00\x00layersq\x07K\x02X\x04\x00\x00\x00nameq\x08X\x03\x00\x00\x00netq\x09uX\x04\x00\x00\x00flagq\n\x88u.",
    b"\x80\x03}q\x00(X\x07\x00\x00\x00weightsq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03eX\x06\x00\x00\x00configq\x04ccollections\nOrderedDict\nq\x05)Rq\x06(X\x06\x00\x00\x00layersq\x07K\x02X\x04\x00\x00\x00nameq\x08X\x03\x00\x00\x00netq\x09uX\x04\x00\x00\x00flagq\n\x88u.",
    b"\x80\x04\x95n\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x07weights\x94]\x94(K\x01G@\x04\x00\x00\x00\x00\x00\x00\x8c\x01x\x94e\x8c\x06config\x94\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94(\x8c\x06layers\x94K\x02\x8c\x04name\x94\x8c\x03net\x94u\x8c\x04flag\x94\x88u.",
    b"\x80\x05\x95n\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x07weights\x94]\x94(K\x01G@\x04\x00\x00\x00\x00\x00\x00\x8c\x01x\x94e\x8c\x06config\x94\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94(\x8c\x06layers\x94K\x02\x8c\x04name\x94\x8c\x03net\x94u\x8c\x04flag\x94\x88u.",
];

/// `os.system('echo ward-fixture')` written the way each protocol writes it.
pub fn malicious_by_protocol(proto: u8) -> Vec<u8> {
    match proto {
        0 => b"cposix\nsystem\np0\n(Vecho ward-fixture\np1\ntp2\nRp3\n.".to_vec(),
        1 => Asm::new()
            .global("posix", "system")
            .op(b'(')
            .binunicode(PAYLOAD)
            .op(b't')
            .op(b'R')
            .stop(),
        2 | 3 => Asm::proto(proto)
            .global("posix", "system")
            .binunicode(PAYLOAD)
            .call1()
            .stop(),
        _ => Asm::proto(proto)
            .stack_global("posix", "system")
            .str(PAYLOAD)
            .call1()
            .stop(),
    }
}

/// A NumPy `.npy` v1 file with the given header fields and data.
pub fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // NumPy pads the header with spaces so that the data starts 64-byte aligned.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    let len = u16::try_from(header.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A joblib file: `{'w': NumpyArrayWrapper(...)}` whose array (three float64) follows the
/// wrapper's `BUILD`, then `payload` stored under a second key.
fn joblib(payload: Option<(&str, &str)>) -> Vec<u8> {
    let mut a = Asm::proto(4)
        .op(b'}')
        .op(b'(')
        .str("w")
        .stack_global("joblib.numpy_pickle", "NumpyArrayWrapper")
        .op(b')')
        .op(0x81)
        .op(b'}')
        .op(b'(')
        .str("subclass")
        .stack_global("numpy", "ndarray")
        .str("shape")
        .raw(b"K\x03")
        .op(0x85)
        .str("order")
        .str("C")
        .str("dtype")
        .stack_global("numpy", "dtype")
        .str("f8")
        .op(0x89)
        .op(0x88)
        .op(0x87)
        .op(b'R')
        .raw(b"(K\x03")
        .str("<")
        .raw(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t")
        .op(b'b')
        .str("allow_mmap")
        .op(0x88)
        .str("numpy_array_alignment_bytes")
        .raw(b"K\x10")
        .op(b'u')
        .op(b'b');
    // Padding-length byte, padding, then 24 bytes of data, as joblib writes them.
    a = a.raw(&[3, 0xff, 0xff, 0xff]).raw(&[0u8; 24]);
    if let Some((module, name)) = payload {
        a = a.str("p").stack_global(module, name).str(PAYLOAD).call1();
    }
    a.op(b'u').stop()
}

/// A legacy (non-zip) `torch.save` file: magic number, protocol version, system info, the
/// model pickle, the storage keys, then each storage's element count and data.
fn legacy_torch(payload: bool) -> Vec<u8> {
    let mut out = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.".to_vec();
    out.extend_from_slice(b"\x80\x02M\xe9\x03.");
    out.extend(
        Asm::proto(2)
            .op(b'}')
            .binunicode("protocol_version")
            .raw(b"M\xe9\x03")
            .op(b's')
            .stop(),
    );
    let mut model = Asm::proto(2)
        .op(b'}')
        .binunicode("weight")
        .global("torch._utils", "_rebuild_tensor_v2")
        .op(b'(')
        .op(b'(')
        .binunicode("storage")
        .global("torch", "FloatStorage")
        .binunicode("0")
        .binunicode("cpu")
        .raw(b"K\x02N")
        .op(b't')
        .op(b'Q')
        .raw(b"K\x00K\x02\x85K\x01\x85\x89")
        .global("collections", "OrderedDict")
        .op(b')')
        .op(b'R')
        .op(b't')
        .op(b'R')
        .op(b's');
    if payload {
        model = model
            .binunicode("hook")
            .global("posix", "system")
            .binunicode(PAYLOAD)
            .call1()
            .op(b's');
    }
    out.extend(model.stop());
    out.extend(Asm::proto(2).op(b']').binunicode("0").op(b'a').stop());
    out.extend_from_slice(&2u64.to_le_bytes());
    out.extend_from_slice(&[0u8; 8]);
    out
}

/// Every pickle, NumPy, joblib and legacy PyTorch fixture.
pub fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    // Gadget callables that blocklists miss, each called with a harmless argument.
    let gadgets: &[(&str, &str, &str)] = &[
        ("importlib", "import_module", "os"),
        ("inspect", "getattr_static", "os"),
        ("pkgutil", "resolve_name", "os:system"),
        ("operator", "methodcaller", "system"),
        ("functools", "partial", "print"),
        ("timeit", "timeit", "print('ward-fixture')"),
        ("cProfile", "run", "print('ward-fixture')"),
        ("runpy", "_run_code", "print('ward-fixture')"),
        ("code", "InteractiveInterpreter", "ward-fixture"),
        ("pip", "main", "--version"),
        ("torch.utils.collect_env", "run", PAYLOAD),
        ("uuid", "_get_command_stdout", "echo"),
        ("logging", "FileHandler", "/dev/null"),
        ("_io", "FileIO", "/dev/null"),
        ("marshal", "loads", "ward-fixture"),
        ("ctypes", "CDLL", "libc.so.6"),
        ("webbrowser", "open", "http://127.0.0.1:9/"),
        ("socket", "create_connection", "127.0.0.1"),
    ];
    for (module, name, arg) in gadgets {
        out.push(Fixture::file(
            format!("pickle/gadget-{module}.{name}.pkl"),
            call(module, name, arg),
            &[DANGEROUS],
        ));
    }
    // A dotted qualname that `find_class` walks attribute by attribute.
    out.push(Fixture::file(
        "pickle/gadget-asyncio-subprocess-transport.pkl",
        Asm::proto(4)
            .stack_global("asyncio.unix_events", "_UnixSubprocessTransport._start")
            .str(PAYLOAD)
            .call1()
            .stop(),
        &[DANGEROUS],
    ));
    // Nested `pickle.loads` of a malicious inner pickle.
    out.push(Fixture::file(
        "pickle/nested-pickle-loads.pkl",
        Asm::proto(3)
            .global("pickle", "loads")
            .bytes(&malicious_by_protocol(2))
            .call1()
            .stop(),
        &[DANGEROUS],
    ));
    // Names fetched from the memo.
    out.push(Fixture::file(
        "pickle/names-from-memo.pkl",
        Asm::proto(4)
            .str("os")
            .raw(b"q\x07")
            .op(b'0')
            .str("system")
            .raw(b"q\x09")
            .op(b'0')
            .raw(b"h\x07h\x09")
            .op(0x93)
            .str(PAYLOAD)
            .call1()
            .stop(),
        &[DANGEROUS],
    ));
    // STACK_GLOBAL with no PROTO before it: the first opcodes are protocol 4 ones.
    out.push(Fixture::file(
        "pickle/stack-global-first.pkl",
        Asm::new()
            .stack_global("os", "system")
            .str(PAYLOAD)
            .call1()
            .stop(),
        &[DANGEROUS],
    ));
    // `I0x10\n` and `I010\n` are 16 and 8 for `_pickle`, errors for `pickletools`.
    out.push(Fixture::file(
        "pickle/int-base0-desync.pkl",
        b"I0x10\n0I010\n0cos\nsystem\n(S'echo ward-fixture'\ntR.".to_vec(),
        &[DANGEROUS],
    ));
    // BUILD on an allowed global sets `__builtins__` on it: no dangerous import at all.
    out.push(Fixture::file(
        "pickle/numpy-builtins-build.pkl",
        Asm::proto(2)
            .global("numpy.core.multiarray", "_reconstruct")
            .op(b'N')
            .op(b'}')
            .binunicode("__builtins__")
            .op(b'}')
            .op(b's')
            .op(0x86)
            .op(b'b')
            .stop(),
        &["pickle-build-injection"],
    ));
    // The payload in the 2nd to 5th pickle of a stacked stream.
    for position in 1..5 {
        let mut bytes = Vec::new();
        for i in 0..5 {
            if i == position {
                bytes.extend(malicious_by_protocol(2));
            } else {
                bytes.extend_from_slice(BENIGN_BY_PROTOCOL[2]);
            }
        }
        out.push(Fixture::file(
            format!("pickle/stacked-payload-in-{}.pkl", position + 1),
            bytes,
            &[DANGEROUS],
        ));
    }
    let mut garbage = malicious_by_protocol(2);
    garbage.extend_from_slice(b"\x00\xffnot a pickle");
    out.push(Fixture::file(
        "pickle/payload-then-garbage.pkl",
        garbage,
        &[DANGEROUS, "pickle-trailing-data"],
    ));
    // A pickle is scanned by content whatever its name; a name that promises a safe format
    // is reported as well (`.bin` promises nothing, `.pt` may hold a pickle).
    let misnamed: [(&str, &[&'static str]); 3] = [
        ("bin", &[DANGEROUS]),
        ("pt", &[DANGEROUS]),
        ("safetensors", &[DANGEROUS, "scan-extension-mismatch"]),
    ];
    for (ext, expect) in misnamed {
        out.push(Fixture::file(
            format!("pickle/misnamed.{ext}"),
            malicious_by_protocol(2),
            expect,
        ));
    }
    for proto in 0..=5u8 {
        out.push(Fixture::file(
            format!("pickle/benign-protocol-{proto}.pkl"),
            BENIGN_BY_PROTOCOL[usize::from(proto)].to_vec(),
            &[],
        ));
        out.push(Fixture::file(
            format!("pickle/malicious-protocol-{proto}.pkl"),
            malicious_by_protocol(proto),
            &[DANGEROUS],
        ));
    }
    // NumPy.
    let evil_npy = npy("|O", "(1,)", &malicious_by_protocol(2));
    out.push(Fixture::tree(
        "numpy/object-npy-in-directory",
        vec![
            ("arrays/evil.npy".to_owned(), evil_npy.clone()),
            (
                "arrays/plain.npy".to_owned(),
                npy("<f8", "(2,)", &[0u8; 16]),
            ),
        ],
        &["npy-object-array", DANGEROUS],
    ));
    out.push(Fixture::file(
        "numpy/object-npy-in.npz",
        zip(&[
            ("evil.npy", &evil_npy),
            ("plain.npy", &npy("<i4", "(3,)", &[0u8; 12])),
        ]),
        &["npy-object-array", DANGEROUS],
    ));
    out.push(Fixture::file(
        "numpy/plain.npy",
        npy("<f4", "(2, 2)", &[0u8; 16]),
        &[],
    ));
    out.push(Fixture::file(
        "numpy/short-data.npy",
        npy("<f4", "(2, 2)", &[0u8; 12]),
        &["npy-size-mismatch"],
    ));
    // joblib.
    out.push(Fixture::file("joblib/benign.joblib", joblib(None), &[]));
    out.push(Fixture::file(
        "joblib/malicious.joblib",
        joblib(Some(("os", "system"))),
        &[DANGEROUS],
    ));
    out.push(Fixture::file(
        "joblib/malicious-zlib.joblib",
        compress(Wrapper::Zlib, &joblib(Some(("subprocess", "getoutput")))),
        &[DANGEROUS],
    ));
    // Legacy PyTorch stacked pickles.
    out.push(Fixture::file(
        "torch/legacy-benign.pt",
        legacy_torch(false),
        &[],
    ));
    out.push(Fixture::file(
        "torch/legacy-payload.pt",
        legacy_torch(true),
        &[DANGEROUS],
    ));
    out
}
