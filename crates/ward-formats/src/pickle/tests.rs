//! Tests of the machine against pickles written by CPython's own pickler.

use super::*;
use crate::{Budget, Limits};

fn parse_with(bytes: &[u8], limits: &Limits) -> Pickle {
    let budget = Budget::unlimited();
    let opts = Options {
        limits,
        budget: &budget,
        nesting: 0,
    };
    parse_slice(bytes, &opts)
}

fn parse(bytes: &[u8]) -> Pickle {
    parse_with(bytes, &Limits::default())
}

fn names(p: &Pickle) -> Vec<String> {
    p.imports.iter().filter_map(Import::full_name).collect()
}

/// `pickle.dumps` of an object whose `__reduce__` returns `(os.system, ('echo ward-fixture',))`
/// at protocols 0 to 5, as CPython 3 writes them.
const SYSTEM: [&[u8]; 6] = [
    b"cposix\nsystem\np0\n(Vecho ward-fixture\np1\ntp2\nRp3\n.",
    b"cposix\nsystem\nq\x00(X\x11\x00\x00\x00echo ward-fixtureq\x01tq\x02Rq\x03.",
    b"\x80\x02cposix\nsystem\nq\x00X\x11\x00\x00\x00echo ward-fixtureq\x01\x85q\x02Rq\x03.",
    b"\x80\x03cposix\nsystem\nq\x00X\x11\x00\x00\x00echo ward-fixtureq\x01\x85q\x02Rq\x03.",
    b"\x80\x04\x95,\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x11echo ward-fixture\x94\x85\x94R\x94.",
    b"\x80\x05\x95,\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x11echo ward-fixture\x94\x85\x94R\x94.",
];

#[test]
fn every_protocol_records_the_import_and_the_call() {
    for (proto, bytes) in SYSTEM.iter().enumerate() {
        let p = parse(bytes);
        assert_eq!(p.error, None, "protocol {proto}");
        assert_eq!(names(&p), ["posix.system"], "protocol {proto}");
        assert_eq!(p.calls.len(), 1);
        assert_eq!(p.calls[0].callable.as_deref(), Some("posix.system"));
        assert_eq!(p.end, bytes.len() as u64);
        assert!(sniff(bytes), "protocol {proto} is sniffed");
    }
}

#[test]
fn stack_global_names_come_from_the_memo() {
    // Module and name are memoised strings fetched back with BINGET.
    let bytes = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93\x8c\x04echo\x85R.";
    let p = parse(bytes);
    assert_eq!(p.error, None);
    assert_eq!(names(&p), ["os.system"]);
}

#[test]
fn protocol_two_maps_python2_names_but_protocol_three_does_not() {
    let p = parse(b"\x80\x02c__builtin__\neval\n.");
    assert_eq!(names(&p), ["builtins.eval"]);
    let p = parse(b"\x80\x03c__builtin__\neval\n.");
    assert_eq!(names(&p), ["__builtin__.eval"]);
}

#[test]
fn a_dangerous_call_before_a_parse_error_is_kept() {
    let mut bytes = SYSTEM[2][..SYSTEM[2].len() - 1].to_vec();
    bytes.push(0xff);
    let p = parse(&bytes);
    assert!(matches!(p.error, Some(PickleError::Invalid { .. })));
    assert_eq!(p.calls[0].callable.as_deref(), Some("posix.system"));
}

#[test]
fn truncation_and_missing_memo_entries_are_errors() {
    let p = parse(&SYSTEM[3][..10]);
    assert!(matches!(p.error, Some(PickleError::Truncated { .. })));
    let p = parse(b"\x80\x02h\x05.");
    assert!(matches!(p.error, Some(PickleError::Invalid { .. })));
}

#[test]
fn text_int_base_zero_does_not_desynchronise() {
    // `I0x10\n` is 16 for `_pickle`; then a GLOBAL that a reader which rejected the line
    // would never see.
    let p = parse(b"I0x10\n0cos\nsystem\n(S'echo ward-fixture'\ntR.");
    assert_eq!(p.error, None);
    assert_eq!(names(&p), ["os.system"]);
}

#[test]
fn nested_loads_are_parsed() {
    let inner = SYSTEM[2];
    let mut bytes = b"\x80\x03cpickle\nloads\nC".to_vec();
    bytes.push(inner.len() as u8);
    bytes.extend_from_slice(inner);
    bytes.extend_from_slice(b"\x85R.");
    let p = parse(&bytes);
    assert_eq!(p.error, None);
    assert_eq!(p.nested.len(), 1);
    let inner = p.nested[0].pickle.as_ref().expect("inner pickle parsed");
    assert_eq!(names(inner), ["posix.system"]);
}

#[test]
fn nesting_limit_stops_recursion() {
    let inner = SYSTEM[2];
    let mut bytes = b"\x80\x03cpickle\nloads\nC".to_vec();
    bytes.push(inner.len() as u8);
    bytes.extend_from_slice(inner);
    bytes.extend_from_slice(b"\x85R.");
    let limits = Limits {
        max_pickle_nesting: 0,
        ..Limits::default()
    };
    let p = parse_with(&bytes, &limits);
    assert!(p.nested[0].pickle.is_none());
    assert!(p.nested[0].not_parsed.is_some());
}

#[test]
fn joblib_array_bytes_are_skipped() {
    // `joblib.dump({'a': numpy.arange(3, dtype='f8')})` with joblib 1.5.
    let bytes = b"\x80\x04\x95\xd7\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94\x8c\x13joblib.numpy_pickle\x94\x8c\x11NumpyArrayWrapper\x94\x93\x94)\x81\x94}\x94(\x8c\x08subclass\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94\x8c\x05shape\x94K\x03\x85\x94\x8c\x05order\x94\x8c\x01C\x94\x8c\x05dtype\x94h\x08\x8c\x05dtype\x94\x93\x94\x8c\x02f8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x8c\nallow_mmap\x94\x88\x8c\x1bnumpy_array_alignment_bytes\x94K\x10ub\r\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0?\x00\x00\x00\x00\x00\x00\x00@s.";
    let p = parse(bytes);
    assert_eq!(p.error, None);
    assert_eq!(p.end, bytes.len() as u64);
    assert_eq!(p.joblib_arrays.len(), 1);
    assert_eq!(p.joblib_arrays[0].shape, [3]);
    assert_eq!(p.joblib_arrays[0].data_bytes, 14 + 24);
    assert_eq!(
        names(&p),
        [
            "joblib.numpy_pickle.NumpyArrayWrapper",
            "numpy.ndarray",
            "numpy.dtype"
        ]
    );
}

#[test]
fn torch_storage_persistent_ids_are_read() {
    // `('storage', torch.FloatStorage, '0', 'cpu', 6)` then BINPERSID.
    let bytes = b"\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ.";
    let p = parse(bytes);
    assert_eq!(p.error, None);
    let s = p.persistent_ids[0].storage.as_ref().expect("storage ref");
    assert_eq!(s.storage_type.as_deref(), Some("torch.FloatStorage"));
    assert_eq!(
        (s.key.as_str(), s.location.as_str(), s.numel),
        ("0", "cpu", Some(6))
    );
}

#[test]
fn build_on_a_global_or_with_dunder_state_is_suspicious() {
    let p = parse(b"\x80\x02cnumpy\ntesting\n}X\x0c\x00\x00\x00__builtins__Nsb.");
    assert_eq!(p.suspicious_builds.len(), 2);
}

#[test]
fn every_limit_stops_the_machine() {
    let cases: [(Limits, LimitKind, &[u8]); 3] = [
        (
            Limits {
                max_pickle_opcodes: 2,
                ..Limits::default()
            },
            LimitKind::Opcodes,
            b"NNNN.",
        ),
        (
            Limits {
                max_pickle_memo: 1,
                ..Limits::default()
            },
            LimitKind::Memo,
            b"Nq\x00q\x01.",
        ),
        (
            Limits {
                max_pickle_stack: 2,
                ..Limits::default()
            },
            LimitKind::Stack,
            b"NNNN.",
        ),
    ];
    for (limits, want, bytes) in cases {
        let p = parse_with(bytes, &limits);
        assert!(
            matches!(p.error, Some(PickleError::Limit { kind, .. }) if kind == want),
            "{want:?}: {:?}",
            p.error
        );
    }
    let budget = Budget::new(std::time::Duration::ZERO);
    let limits = Limits::default();
    let opts = Options {
        limits: &limits,
        budget: &budget,
        nesting: 0,
    };
    let p = parse_slice(&b"N0".repeat(5000), &opts);
    assert!(matches!(
        p.error,
        Some(PickleError::Limit {
            kind: LimitKind::Time,
            ..
        })
    ));
}

/// `n` dicts of 32 small int pairs, each memoised (`memoise`) or popped right away.
fn dicts(n: usize, memoise: bool) -> Vec<u8> {
    let mut one = b"}(".to_vec();
    for i in 0..32u8 {
        one.extend_from_slice(&[b'K', i, b'K', i]);
    }
    one.push(b'u');
    if memoise {
        one.push(0x94);
    }
    one.push(b'0');
    let mut bytes = b"\x80\x04".to_vec();
    bytes.extend(one.repeat(n));
    bytes.extend_from_slice(b"N.");
    bytes
}

fn assert_invalid(p: &Pickle) {
    assert!(
        matches!(p.error, Some(PickleError::Invalid { .. })),
        "{:?}",
        p.error
    );
}

fn assert_truncated(p: &Pickle) {
    assert!(
        matches!(p.error, Some(PickleError::Truncated { .. })),
        "{:?}",
        p.error
    );
}

fn assert_memory_limit(p: &Pickle) {
    assert!(
        matches!(
            p.error,
            Some(PickleError::Limit {
                kind: LimitKind::Memory,
                ..
            })
        ),
        "{:?}",
        p.error
    );
}

#[test]
fn memory_held_for_a_pickle_is_bounded() {
    let limits = Limits {
        max_pickle_memory: 4 << 20,
        ..Limits::default()
    };
    // Memoised dicts stay alive: about 2 KiB each is charged, so 10,000 pass 4 MiB.
    let p = parse_with(&dicts(10_000, true), &limits);
    assert_memory_limit(&p);
    // The same dicts dropped as they are made hold nothing: the charge is given back.
    let p = parse_with(&dicts(50_000, false), &limits);
    assert_eq!(p.error, None);
    // With the default limit both are fine, and nothing stays charged after a run.
    let before = super::vm::held_now();
    assert_eq!(parse(&dicts(10_000, true)).error, None);
    assert_eq!(super::vm::held_now(), before);
    // The memo's own slots count too: 200,000 memoised `None`s are over 4 MiB.
    let mut bytes = b"\x80\x04".to_vec();
    bytes.extend(b"N\x940".repeat(200_000));
    bytes.extend_from_slice(b"N.");
    let p = parse_with(&bytes, &limits);
    assert_memory_limit(&p);
}

#[test]
fn memo_indices_past_the_dense_range_are_kept_in_order_and_out_of_order() {
    // A global stored far out of order (index 100,000), then 99,999 memoised ints at
    // indices 1 to 99,999, read back from both ends.
    let mut bytes = b"\x80\x04cos\nsystem\nr\xa0\x86\x01\x000".to_vec();
    for i in 0..99_999u32 {
        bytes.push(b'J');
        bytes.extend_from_slice(&i.to_le_bytes());
        bytes.extend_from_slice(b"\x940");
    }
    bytes.extend_from_slice(b"j\x01\x00\x00\x000j\x9f\x86\x01\x000");
    // The global is still found, and called.
    bytes.extend_from_slice(b"j\xa0\x86\x01\x00)R0");
    // The vector now reaches index 100,000: a newer value there replaces the global.
    bytes.extend_from_slice(b"Nr\xa0\x86\x01\x000j\xa0\x86\x01\x00)R.");
    let p = parse(&bytes);
    assert_eq!(p.error, None);
    let calls: Vec<Option<&str>> = p.calls.iter().map(|c| c.callable.as_deref()).collect();
    assert_eq!(calls, [Some("os.system"), None]);
    // A missing index in the sparse range is still an error.
    let p = parse(b"\x80\x04j\x40\x42\x0f\x00.");
    assert_invalid(&p);
}

#[test]
fn long_payloads_are_skipped_not_kept() {
    let limits = Limits {
        max_inspected_bytes: 4,
        ..Limits::default()
    };
    let mut bytes = b"\x80\x03B\x00\x00\x01\x00".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 65536));
    bytes.push(b'.');
    let p = parse_with(&bytes, &limits);
    assert_eq!(p.error, None);
    assert_eq!(p.end, bytes.len() as u64);
}

#[test]
fn stacked_pickles_are_read_one_after_another() {
    let mut bytes = SYSTEM[2].to_vec();
    bytes.extend_from_slice(SYSTEM[0]);
    bytes.extend_from_slice(b"garbage");
    let mut reader = &bytes[..];
    let mut stream = Stream::new(&mut reader, 0, Some(bytes.len() as u64));
    let limits = Limits::default();
    let budget = Budget::unlimited();
    let opts = Options {
        limits: &limits,
        budget: &budget,
        nesting: 0,
    };
    assert_eq!(stream.next_pickle(&opts).error, None);
    let second = stream.next_pickle(&opts);
    assert_eq!(names(&second), ["posix.system"]);
    assert_eq!(stream.peek(3).unwrap(), b"gar");
    assert_eq!(stream.skip_rest().unwrap(), 7);
    assert!(stream.at_end().unwrap());
}

#[test]
fn sniff_accepts_pickles_and_rejects_text() {
    assert!(sniff(b"\x80\x02}q\x00."));
    assert!(sniff(b"(dp0\nS'a'\np1\nI1\ns."));
    assert!(!sniff(b"class Foo:\n    x = 1\n"));
    assert!(!sniff(b"Hello, world\n"));
    assert!(!sniff(b"{\"a\": 1}"));
    assert!(!sniff(b"# title\n"));
    assert!(!sniff(b"\x80\x09"));
    assert!(!sniff(b""));
}

#[test]
fn dunder_keys_are_seen_past_the_container_cap() {
    let mut bytes = b"\x80\x02cnumpy\ndtype\n)R}(".to_vec();
    for i in 0..40u8 {
        bytes.extend_from_slice(&[0x8c, 1, b'a' + (i % 26), b'K', i]);
    }
    bytes.extend_from_slice(b"\x8c\x0c__builtins__Nub.");
    let p = parse(&bytes);
    assert_eq!(p.error, None);
    assert_eq!(p.suspicious_builds.len(), 1);
}

#[test]
fn items_added_to_a_full_container_are_still_checked() {
    // The first SETITEMS fills the dict past the cap; a later one, which no longer stores
    // anything, still brings the dunder key that BUILD must see.
    let mut bytes = b"\x80\x02cnumpy\ndtype\n)R}(".to_vec();
    for i in 0..40u8 {
        bytes.extend_from_slice(&[0x8c, 2, b'a' + (i % 26), b'a' + (i / 26), b'K', i]);
    }
    bytes.extend_from_slice(b"u(\x8c\x01zK\x00\x8c\x0c__builtins__Nub.");
    let p = parse(&bytes);
    assert_eq!(p.error, None);
    assert_eq!(p.suspicious_builds.len(), 1);
    // APPENDS onto a full list, onto an object, and with a missing target.
    let mut bytes = b"\x80\x04](".to_vec();
    bytes.extend(std::iter::repeat_n(b'N', 40));
    bytes.extend_from_slice(b"e(NNe.");
    assert_eq!(parse(&bytes).error, None);
    let p = parse(b"\x80\x04cbuiltins\nobject\n)R(NNe.");
    assert_eq!(p.error, None);
    let p = parse(b"\x80\x04(NNe.");
    assert_invalid(&p);
    let p = parse(b"\x80\x04}(NNNu.");
    assert_invalid(&p);
}

#[test]
fn short_strings_are_read_exactly_on_the_fast_path() {
    // A non-ASCII module name still resolves, and a truncated string is truncation.
    let p = parse(b"\x80\x04\x8c\x03m\xc3\xa9\x8c\x01f\x93.");
    assert_eq!(p.error, None);
    assert_eq!(names(&p), ["m\u{e9}.f"]);
    let p = parse(b"\x80\x04\x8c\x05abc");
    assert_truncated(&p);
    let p = parse(b"\x80\x04J\x01\x00");
    assert_truncated(&p);
    let p = parse(b"\x80\x04\x8c\x02\xff\xfe.");
    assert_invalid(&p);
}

#[test]
fn self_referencing_containers_do_not_break_the_machine() {
    // A list appended to itself, a dict set into itself, an object whose state is itself.
    let p = parse(
        b"\x80\x02]q\x00h\x00a}q\x01X\x01\x00\x00\x00kh\x01s0cbuiltins\nobject\n)Rq\x02h\x02b0.",
    );
    assert_eq!(p.error, None);
    let p = parse(b"\x80\x02]q\x00h\x00a.");
    assert_eq!(p.error, None);
}

#[test]
fn reference_cycles_are_freed() {
    // Every container's charge is given back when it is freed, so a cycle left behind
    // would show as bytes still held after the run.
    let cycles: &[&[u8]] = &[
        // A list appended to itself; a dict set into itself, as value and as key.
        b"\x80\x02]q\x00h\x00a.",
        b"\x80\x02}q\x00X\x01\x00\x00\x00kh\x00s.",
        b"\x80\x02}q\x00h\x00K\x00s.",
        // An object whose state is itself, and one whose arguments hold a list that later
        // receives the object.
        b"\x80\x02cbuiltins\nobject\n)Rq\x00h\x00b.",
        b"\x80\x02]q\x00cbuiltins\nobject\nh\x00\x85Rq\x01h\x00h\x01a0.",
        // A fresh list stored into a dict, then the dict appended to that list (reached
        // through the memo): the cycle closes on the second store.
        b"\x80\x02}q\x00]q\x01X\x01\x00\x00\x00kh\x01s0h\x01h\x00a.",
        // A dict inside a list inside a dict, closed from the innermost dict.
        b"\x80\x02}q\x00]q\x01}q\x02ah\x00X\x01\x00\x00\x00kh\x01s0h\x02X\x01\x00\x00\x00bh\x00s.",
    ];
    for bytes in cycles {
        let before = super::vm::held_now();
        let p = parse(bytes);
        assert_eq!(p.error, None, "{bytes:?}");
        assert_eq!(super::vm::held_now(), before, "a cycle leaked: {bytes:?}");
    }
}

#[test]
fn deeply_nested_values_are_dropped_without_recursion() {
    // A million nested one-tuples, a long chain of objects and of lists built via the memo.
    let mut bytes = b"\x80\x02)".to_vec();
    bytes.extend(std::iter::repeat_n(0x85u8, 1_000_000));
    bytes.extend_from_slice(b".");
    assert_eq!(parse(&bytes).error, None);
    let mut bytes = b"\x80\x02N".to_vec();
    for _ in 0..200_000 {
        bytes.extend_from_slice(b"\x85cbuiltins\nstr\n");
        // Swap the tuple and the callable through the memo: PUT 0, POP, ..., GET 0.
        bytes.extend_from_slice(b"q\x010q\x020h\x01h\x02R");
    }
    bytes.extend_from_slice(b".");
    let p = parse(&bytes);
    assert_eq!(p.error, None);
    // Each new list holds the previous one, which is fetched back from memo slot 0.
    let mut bytes = b"\x80\x02]q\x000".to_vec();
    for _ in 0..200_000 {
        bytes.extend_from_slice(b"]h\x00aq\x000");
    }
    bytes.extend_from_slice(b"h\x00.");
    assert_eq!(parse(&bytes).error, None);
}

#[test]
fn sniff_accepts_proto_zero_before_names_it_would_not_guess() {
    // Found by fuzzing: `PROTO 0` then a GLOBAL whose names are not identifiers.
    let bytes = b"\x80\x00c.x\n-y\n.";
    assert_eq!(parse(bytes).error, None);
    assert!(sniff(bytes));
}
