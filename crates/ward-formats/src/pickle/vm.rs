//! The machine itself: opcodes, stack, mark stack, memo and symbolic values.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use super::input::{Input, Line, ReadError};
use super::text::{self, IntArg};
use super::{
    Call, CallOp, Extension, HIGHEST_PROTOCOL, Import, ImportOp, JoblibArray, LimitKind, Nested,
    Options, PersistentId, Pickle, PickleError, StorageRef, SuspiciousBuild, TopValue,
};

/// Items one list, dict (pairs) or tuple keeps. The machine only needs small structures
/// (call arguments, persistent ids, joblib wrapper state, `BUILD` state); longer ones are
/// counted by the opcodes that fill them but not stored, so a list of a million floats
/// costs nothing.
const CONTAINER_CAP: usize = 32;
/// Stores of a value that can reference containers (a list, a dict, or a tuple or object
/// holding one) into another container or object, per pickle. Only such stores can build
/// reference cycles, which reference counting never frees; past this budget they store an
/// opaque placeholder instead, so a hostile pickle cannot grow memory without bound.
const MAX_CONTAINER_STORES: usize = 1 << 18;
/// Longest string held inline in a [`Value`].
const SMALL: usize = 22;
/// Strings up to this length (every module and qualified name) are always kept.
const ALWAYS_KEPT: usize = 128;
/// Bytes of longer strings kept across one pickle, beyond which they are skipped like
/// payloads longer than `max_inspected_bytes`.
const MAX_RETAINED_BYTES: usize = 32 << 20;
/// The budget is checked every this many opcodes.
const BUDGET_INTERVAL: u64 = 4096;
/// Longest text line kept for protocol 0 opcodes (names, numbers, quoted strings).
const MAX_LINE: usize = 60 * 1024;
/// Memo indices below this are held in a vector, and so is every index that extends it by
/// one (the pickler numbers its memo in order); other large ones go in a map.
const DENSE_MEMO: u64 = 1 << 16;
/// Bytes charged for one value held in a container or the memo (the value itself plus the
/// allocator's share), on top of the bytes of a string or bytes payload it owns.
const VALUE_COST: u64 = 32;
/// Bytes charged for a list, dict, tuple or object itself.
const CONTAINER_COST: u64 = 96;
/// Bytes charged per entry of the sparse memo map.
const SPARSE_MEMO_COST: u64 = 48;

thread_local! {
    /// Bytes held by the containers alive on this thread (see [`Charge`]). Machines run
    /// on one thread, nested ones on their parent's, so each compares this with the value
    /// it started from.
    static HELD: Cell<u64> = const { Cell::new(0) };
}

fn held() -> u64 {
    HELD.with(Cell::get)
}

/// Bytes charged on this thread now, for tests that check every charge is given back.
#[cfg(test)]
pub(crate) fn held_now() -> u64 {
    held()
}

/// What one container holds, charged to [`HELD`] for as long as it lives. Together with
/// the memo this is what a pickle can make the machine keep, so it is what
/// `max_pickle_memory` bounds: a small hostile pickle of memoised dicts cannot grow memory
/// without bound.
#[derive(Debug)]
struct Charge(u64);

impl Charge {
    fn new() -> Self {
        HELD.with(|h| h.set(h.get().saturating_add(CONTAINER_COST)));
        Self(CONTAINER_COST)
    }

    fn add(&mut self, v: &Value) {
        let c = cost(v);
        self.0 = self.0.saturating_add(c);
        HELD.with(|h| h.set(h.get().saturating_add(c)));
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        HELD.with(|h| h.set(h.get().saturating_sub(self.0)));
    }
}

/// Bytes charged for holding `v`.
fn cost(v: &Value) -> u64 {
    let owned = match v {
        Value::Str(s) | Value::Global(s) => s.len(),
        Value::Bytes(b) | Value::BigInt(b) => b.len(),
        _ => 0,
    };
    VALUE_COST.saturating_add(owned as u64)
}

/// Loaders that unpickle a bytes argument. A pickle passed to one is parsed recursively.
const NESTED_LOADERS: &[&str] = &[
    "pickle.loads",
    "pickle._loads",
    "_pickle.loads",
    "dill.loads",
    "dill._dill.loads",
    "cloudpickle.loads",
    "cloudpickle.cloudpickle.loads",
    "joblib.numpy_pickle.loads",
    "pickle.load",
    "pickle._load",
    "_pickle.load",
    "dill.load",
    "dill._dill.load",
    "torch.load",
    "numpy.load",
];

/// The joblib class whose `BUILD` is followed by raw array bytes.
const JOBLIB_WRAPPER: &str = "joblib.numpy_pickle.NumpyArrayWrapper";

/// A symbolic value: enough of the real object to follow names, arguments and state.
#[derive(Debug, Clone)]
enum Value {
    None,
    Bool,
    Int(i64),
    BigInt(Rc<[u8]>),
    Float,
    Str(Rc<str>),
    /// A string of at most [`SMALL`] bytes, held inline: most strings in large pickles are
    /// short dict keys and names, and this keeps them off the allocator.
    Small(u8, [u8; SMALL]),
    Bytes(Rc<[u8]>),
    /// A string or bytes payload too long to keep.
    Skipped,
    Tuple(Rc<Tuple>),
    List(Rc<RefCell<List>>),
    Dict(Rc<RefCell<Dict>>),
    Set,
    /// A class, function or module returned by `find_class`, by its full name.
    Global(Rc<str>),
    /// The result of a call.
    Object(Rc<RefCell<Object>>),
    /// Something the machine cannot follow (persistent ids, extension codes, buffers).
    Opaque,
}

#[derive(Debug)]
struct List {
    /// The first [`CONTAINER_CAP`] items.
    items: Vec<Value>,
    charge: Charge,
}

impl List {
    fn new() -> Self {
        Self {
            items: Vec::new(),
            charge: Charge::new(),
        }
    }
}

#[derive(Debug)]
struct Tuple {
    /// The first [`CONTAINER_CAP`] items.
    items: Vec<Value>,
    /// Whether no list, dict or object is reachable from it (then it cannot be part
    /// of a reference cycle).
    pure: bool,
    /// Held for its `Drop`: a tuple never grows.
    _charge: Charge,
}

#[derive(Debug)]
struct Dict {
    /// The first [`CONTAINER_CAP`] pairs.
    pairs: Vec<(Value, Value)>,
    /// The first dunder string key ever set, stored or not: `BUILD` checks it.
    dunder: Option<Rc<str>>,
    charge: Charge,
}

impl Dict {
    fn new() -> Self {
        Self {
            pairs: Vec::new(),
            dunder: None,
            charge: Charge::new(),
        }
    }
}

#[derive(Debug)]
struct Object {
    /// Full name of the callable that made it, when it was a global.
    callable: Option<Rc<str>>,
    args: Value,
    state: Option<Value>,
    charge: Charge,
}

// Values can nest as deep as the opcode limit allows (`TUPLE1` applied a million times),
// so dropping them must not recurse: each container hands its children to a work list,
// and a child is only taken apart there when nothing else references it.
//
// The work list is kept per thread between calls, so that dropping a container does not
// allocate one. A drop that starts while another runs (a container's own `Drop` once its
// items were handed over) finds it taken and uses an empty one.
thread_local! {
    static DROP_WORK: Cell<Vec<Value>> = const { Cell::new(Vec::new()) };
}

/// Longest work list kept between drops.
const KEPT_DROP_WORK: usize = 1 << 12;

fn drop_iteratively(values: impl IntoIterator<Item = Value>) {
    let mut work = DROP_WORK.try_with(Cell::take).unwrap_or_default();
    work.extend(values);
    drain_work(&mut work);
    if work.capacity() <= KEPT_DROP_WORK {
        // After the thread's locals are gone, the list is simply freed.
        let _ = DROP_WORK.try_with(|cell| cell.set(work));
    }
}

fn drain_work(work: &mut Vec<Value>) {
    while let Some(v) = work.pop() {
        match v {
            Value::Tuple(rc) => {
                if let Ok(mut t) = Rc::try_unwrap(rc) {
                    work.append(&mut t.items);
                }
            }
            Value::List(rc) => {
                if let Ok(cell) = Rc::try_unwrap(rc) {
                    work.append(&mut cell.into_inner().items);
                }
            }
            Value::Dict(rc) => {
                if let Ok(cell) = Rc::try_unwrap(rc) {
                    let mut d = cell.into_inner();
                    for (k, v) in std::mem::take(&mut d.pairs) {
                        work.push(k);
                        work.push(v);
                    }
                }
            }
            Value::Object(rc) => {
                if let Ok(cell) = Rc::try_unwrap(rc) {
                    let mut o = cell.into_inner();
                    work.push(std::mem::replace(&mut o.args, Value::None));
                    if let Some(state) = o.state.take() {
                        work.push(state);
                    }
                }
            }
            _ => {}
        }
    }
}

impl Drop for List {
    fn drop(&mut self) {
        drop_iteratively(std::mem::take(&mut self.items));
    }
}

impl Drop for Tuple {
    fn drop(&mut self) {
        drop_iteratively(std::mem::take(&mut self.items));
    }
}

impl Drop for Dict {
    fn drop(&mut self) {
        // Most dicts hold only scalars: drop them in place without a work list.
        if self.pairs.iter().all(|(k, v)| is_leaf(k) && is_leaf(v)) {
            return;
        }
        drop_iteratively(
            std::mem::take(&mut self.pairs)
                .into_iter()
                .flat_map(|(k, v)| [k, v]),
        );
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        let args = std::mem::replace(&mut self.args, Value::None);
        drop_iteratively(std::iter::once(args).chain(self.state.take()));
    }
}

/// A container that received a value able to reach other containers: the only places a
/// reference cycle can close. The machine empties them when it finishes, so that cycles
/// built by a pickle are freed rather than leaked.
enum CycleCandidate {
    List(Weak<RefCell<List>>),
    Dict(Weak<RefCell<Dict>>),
    Object(Weak<RefCell<Object>>),
}

impl CycleCandidate {
    fn clear(self) {
        let mut work = Vec::new();
        match self {
            CycleCandidate::List(w) => {
                if let Some(rc) = w.upgrade()
                    && let Ok(mut l) = rc.try_borrow_mut()
                {
                    work.append(&mut l.items);
                }
            }
            CycleCandidate::Dict(w) => {
                if let Some(rc) = w.upgrade()
                    && let Ok(mut d) = rc.try_borrow_mut()
                {
                    for (k, v) in std::mem::take(&mut d.pairs) {
                        work.push(k);
                        work.push(v);
                    }
                }
            }
            CycleCandidate::Object(w) => {
                if let Some(rc) = w.upgrade()
                    && let Ok(mut o) = rc.try_borrow_mut()
                {
                    work.push(std::mem::replace(&mut o.args, Value::None));
                    work.extend(o.state.take());
                }
            }
        }
        drop_iteratively(work);
    }
}

/// A string value, inline when short.
fn str_value(s: &str) -> Value {
    if s.len() <= SMALL {
        return small_value(s.as_bytes());
    }
    Value::Str(Rc::from(s))
}

/// An inline string of at most [`SMALL`] bytes of UTF-8 (checked by the caller).
#[inline]
fn small_value(bytes: &[u8]) -> Value {
    let mut inline = [0u8; SMALL];
    let len = bytes.len().min(SMALL);
    if let (Some(dst), Some(src)) = (inline.get_mut(..len), bytes.get(..len)) {
        dst.copy_from_slice(src);
    }
    // `len` is at most `SMALL`, which fits in a `u8`.
    Value::Small(len as u8, inline)
}

/// Whether a value owns no allocation.
#[inline(always)]
fn is_scalar(v: &Value) -> bool {
    matches!(
        v,
        Value::None
            | Value::Bool
            | Value::Int(_)
            | Value::Float
            | Value::Small(..)
            | Value::Skipped
            | Value::Set
            | Value::Opaque
    )
}

/// Whether dropping a value cannot recurse.
fn is_leaf(v: &Value) -> bool {
    !matches!(
        v,
        Value::Tuple(_) | Value::List(_) | Value::Dict(_) | Value::Object(_)
    )
}

/// Whether a value cannot reach a list, dict or object.
fn is_pure(v: &Value) -> bool {
    match v {
        Value::List(_) | Value::Dict(_) => false,
        Value::Tuple(t) => t.pure,
        // Objects are mutable through `BUILD`, even into themselves.
        Value::Object(_) => false,
        _ => true,
    }
}

fn is_dunder(s: &[u8]) -> bool {
    s.len() > 4 && s.starts_with(b"__") && s.ends_with(b"__")
}

/// Whether `v` is a list, dict or object all of whose contents are pure (see `is_pure`):
/// it reaches no container but itself.
fn holds_only_pure(v: &Value) -> bool {
    match v {
        Value::List(l) => l.try_borrow().is_ok_and(|l| l.items.iter().all(is_pure)),
        Value::Dict(d) => d
            .try_borrow()
            .is_ok_and(|d| d.pairs.iter().all(|(k, v)| is_pure(k) && is_pure(v))),
        Value::Object(o) => o
            .try_borrow()
            .is_ok_and(|o| is_pure(&o.args) && o.state.as_ref().is_none_or(is_pure)),
        _ => false,
    }
}

/// The address of the container `v` refers to, for identity checks.
fn container_ptr(v: &Value) -> Option<*const ()> {
    match v {
        Value::List(l) => Some(Rc::as_ptr(l).cast()),
        Value::Dict(d) => Some(Rc::as_ptr(d).cast()),
        Value::Object(o) => Some(Rc::as_ptr(o).cast()),
        Value::Tuple(t) => Some(Rc::as_ptr(t).cast()),
        _ => None,
    }
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::Global(name) => format!("global `{name}`"),
            Value::Object(o) => match &o.borrow().callable {
                Some(c) => format!("object made by `{c}`"),
                None => "object of unknown type".to_owned(),
            },
            _ => "value".to_owned(),
        }
    }

    /// The bytes of a string value (valid UTF-8).
    fn str_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s.as_bytes()),
            Value::Small(len, bytes) => bytes.get(..usize::from(*len)),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Small(len, bytes) => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok()),
            _ => None,
        }
    }
}

enum Step {
    Continue,
    Stop,
}

/// What [`Machine::step_hot`] did with an opcode.
enum Hot {
    Done,
    Failed,
    /// Not one of its opcodes, or not in the form it handles: [`Machine::step`] runs it.
    No,
}

type OpResult = Result<Step, PickleError>;

struct Machine<'o> {
    opts: &'o Options<'o>,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo_dense: Vec<Option<Value>>,
    memo_sparse: HashMap<u64, Value>,
    memo_len: u64,
    /// Bytes of strings and payloads the memo owns (its slots are counted from their
    /// capacity when the budget is checked).
    memo_owned: u64,
    /// [`HELD`] when this machine started.
    held_base: u64,
    proto: u8,
    container_stores: usize,
    cycle_candidates: Vec<CycleCandidate>,
    /// A reused buffer for the items of `APPENDS`, `SETITEMS` and friends, so that hot
    /// opcodes do not allocate.
    scratch: Vec<Value>,
    retained_bytes: usize,
    /// Offset of the opcode being run.
    op_offset: u64,
    out: Pickle,
    /// In sniff mode, `GLOBAL` names must look like Python identifiers.
    sniff: bool,
}

/// Runs one pickle from the current position of `input`.
pub(crate) fn run(input: &mut Input<'_>, opts: &Options<'_>) -> Pickle {
    let mut m = Machine::new(opts, input.offset(), false);
    m.run(input);
    std::mem::take(&mut m.out)
}

/// Runs the machine over a prefix in sniff mode; see [`super::sniff`].
pub(crate) fn trial_parse(prefix: &[u8]) -> bool {
    let limits = crate::Limits::default();
    let budget = crate::Budget::unlimited();
    let opts = Options {
        limits: &limits,
        budget: &budget,
        nesting: limits.max_pickle_nesting,
    };
    let mut reader = prefix;
    let mut input = Input::new(&mut reader, 0, Some(prefix.len() as u64));
    let mut m = Machine::new(&opts, 0, true);
    m.run(&mut input);
    match &m.out.error {
        None => true,
        // Running out of prefix is fine if enough was understood.
        Some(PickleError::Truncated { .. }) => m.out.opcodes >= 3,
        Some(_) => false,
    }
}

/// Whether `b` is an opcode of protocols 0 to 5.
pub(crate) fn is_opcode(b: u8) -> bool {
    matches!(
        b,
        b'(' | b'.'
            | b'0'
            | b'1'
            | b'2'
            | b'F'
            | b'I'
            | b'J'
            | b'K'
            | b'L'
            | b'M'
            | b'N'
            | b'P'
            | b'Q'
            | b'R'
            | b'S'
            | b'T'
            | b'U'
            | b'V'
            | b'X'
            | b'a'
            | b'b'
            | b'c'
            | b'd'
            | b'}'
            | b'e'
            | b'g'
            | b'h'
            | b'i'
            | b'j'
            | b'l'
            | b']'
            | b'o'
            | b'p'
            | b'q'
            | b'r'
            | b's'
            | b't'
            | b')'
            | b'u'
            | b'G'
            | b'B'
            | b'C'
            | 0x80..=0x98
    )
}

impl Drop for Machine<'_> {
    fn drop(&mut self) {
        for candidate in std::mem::take(&mut self.cycle_candidates) {
            candidate.clear();
        }
    }
}

impl<'o> Machine<'o> {
    fn new(opts: &'o Options<'o>, start: u64, sniff: bool) -> Self {
        Self {
            opts,
            stack: Vec::with_capacity(64),
            marks: Vec::new(),
            memo_dense: Vec::new(),
            memo_sparse: HashMap::new(),
            memo_len: 0,
            memo_owned: 0,
            held_base: held(),
            proto: 0,
            container_stores: 0,
            cycle_candidates: Vec::new(),
            scratch: Vec::new(),
            retained_bytes: 0,
            op_offset: start,
            out: Pickle {
                start,
                end: start,
                ..Pickle::default()
            },
            sniff,
        }
    }

    fn run(&mut self, input: &mut Input<'_>) {
        let limits = self.opts.limits;
        loop {
            self.op_offset = input.offset();
            if self.out.opcodes >= limits.max_pickle_opcodes {
                self.out.error = Some(PickleError::Limit {
                    kind: LimitKind::Opcodes,
                    value: limits.max_pickle_opcodes,
                    offset: self.op_offset,
                });
                break;
            }
            if self.out.opcodes % BUDGET_INTERVAL == BUDGET_INTERVAL - 1 {
                if self.opts.budget.check().is_err() {
                    self.out.error = Some(PickleError::Limit {
                        kind: LimitKind::Time,
                        value: limits.time_budget.as_secs(),
                        offset: self.op_offset,
                    });
                    break;
                }
                if let Err(e) = self.check_memory() {
                    self.out.error = Some(e);
                    break;
                }
            }
            let op = match input.byte() {
                Ok(op) => op,
                Err(e) => {
                    self.out.error = Some(self.read_err(e, input));
                    break;
                }
            };
            self.out.opcodes = self.out.opcodes.saturating_add(1);
            let stepped = match self.step_hot(op, input) {
                Hot::Done => Ok(Step::Continue),
                Hot::Failed => break,
                Hot::No => self.step(op, input),
            };
            match stepped {
                Ok(Step::Continue) => {}
                Ok(Step::Stop) => break,
                Err(e) => {
                    self.out.error = Some(e);
                    break;
                }
            }
            if self.stack.len().saturating_add(self.marks.len()) > limits.max_pickle_stack {
                self.out.error = Some(PickleError::Limit {
                    kind: LimitKind::Stack,
                    value: limits.max_pickle_stack as u64,
                    offset: self.op_offset,
                });
                break;
            }
        }
        self.out.end = input.offset();
    }

    fn read_err(&self, e: ReadError, input: &Input<'_>) -> PickleError {
        match e {
            ReadError::Eof => PickleError::Truncated {
                offset: input.offset(),
            },
            ReadError::Io(e) => PickleError::Io {
                offset: input.offset(),
                message: e.to_string(),
            },
        }
    }

    fn invalid(&self, what: impl Into<String>) -> PickleError {
        PickleError::Invalid {
            offset: self.op_offset,
            what: what.into(),
        }
    }

    #[inline]
    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    #[inline(always)]
    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    #[inline]
    fn pop(&mut self) -> Result<Value, PickleError> {
        if self.stack.len() <= self.fence() {
            return Err(self.invalid("unpickling stack underflow"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.invalid("unpickling stack underflow"))
    }

    #[inline]
    fn top(&self) -> Result<&Value, PickleError> {
        if self.stack.len() <= self.fence() {
            return Err(self.invalid("unpickling stack underflow"));
        }
        self.stack
            .last()
            .ok_or_else(|| self.invalid("unpickling stack underflow"))
    }

    /// Pops the top mark and returns the stack length it recorded.
    fn marker(&mut self) -> Result<usize, PickleError> {
        self.marks
            .pop()
            .ok_or_else(|| self.invalid("could not find MARK"))
    }

    /// Pops everything above the top mark into the scratch buffer; hand it back with
    /// [`Machine::recycle`].
    fn pop_mark_scratch(&mut self) -> Result<Vec<Value>, PickleError> {
        let at = self.marker()?;
        if at > self.stack.len() {
            return Err(self.invalid("unpickling stack underflow"));
        }
        let mut items = std::mem::take(&mut self.scratch);
        items.extend(self.stack.drain(at..));
        Ok(items)
    }

    /// Returns the scratch buffer, emptied.
    fn recycle(&mut self, mut items: Vec<Value>) {
        items.clear();
        self.scratch = items;
    }

    /// The scratch buffer holding `values`.
    fn scratch_with<const N: usize>(&mut self, values: [Value; N]) -> Vec<Value> {
        let mut items = std::mem::take(&mut self.scratch);
        items.extend(values);
        items
    }

    /// Pops everything above the top mark.
    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let at = self.marker()?;
        if at > self.stack.len() {
            return Err(self.invalid("unpickling stack underflow"));
        }
        Ok(self.stack.split_off(at))
    }

    /// Whether `v` may be stored inside the container or object at `target` (see
    /// [`MAX_CONTAINER_STORES`]).
    ///
    /// A store closes a reference cycle only if the stored value reaches the target. A
    /// value that reaches no container (`is_pure`), or a container holding only such
    /// values that is not the target itself, cannot, so only the other stores record the
    /// target as a candidate: most pickles (a dict of lists of strings) record none.
    fn may_store(
        &mut self,
        v: &Value,
        target: *const (),
        candidate: impl FnOnce() -> CycleCandidate,
    ) -> bool {
        if is_pure(v) || (holds_only_pure(v) && container_ptr(v) != Some(target)) {
            return true;
        }
        if self.container_stores < MAX_CONTAINER_STORES {
            self.container_stores += 1;
            self.cycle_candidates.push(candidate());
            return true;
        }
        false
    }

    /// `v`, or an opaque placeholder when the store budget is spent.
    fn storable(
        &mut self,
        v: Value,
        target: *const (),
        candidate: impl FnOnce() -> CycleCandidate,
    ) -> Value {
        if self.may_store(&v, target, candidate) {
            v
        } else {
            Value::Opaque
        }
    }

    fn tuple(&mut self, mut items: Vec<Value>) -> Value {
        items.truncate(CONTAINER_CAP);
        let pure = items.iter().all(is_pure);
        let mut charge = Charge::new();
        for item in &items {
            charge.add(item);
        }
        Value::Tuple(Rc::new(Tuple {
            items,
            pure,
            _charge: charge,
        }))
    }

    fn dict(&mut self, items: &mut Vec<Value>) -> Value {
        let rc = Rc::new(RefCell::new(Dict::new()));
        if let Ok(mut d) = rc.try_borrow_mut() {
            self.dict_insert(&mut d, items, &rc);
        }
        Value::Dict(rc)
    }

    fn dict_insert(&mut self, d: &mut Dict, items: &mut Vec<Value>, rc: &Rc<RefCell<Dict>>) {
        if d.pairs.len() < CONTAINER_CAP {
            d.pairs
                .reserve((items.len() / 2).min(CONTAINER_CAP - d.pairs.len()));
        }
        let target = Rc::as_ptr(rc).cast::<()>();
        let mut it = items.drain(..);
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            if d.dunder.is_none()
                && k.str_bytes().is_some_and(is_dunder)
                && let Some(key) = k.as_str()
            {
                d.dunder = Some(Rc::from(key));
            }
            if d.pairs.len() < CONTAINER_CAP
                // Keys can close a cycle as well as values (`d[d] = 0`).
                && self.may_store(&k, target, || CycleCandidate::Dict(Rc::downgrade(rc)))
                && self.may_store(&v, target, || CycleCandidate::Dict(Rc::downgrade(rc)))
            {
                d.charge.add(&k);
                d.charge.add(&v);
                d.pairs.push((k, v));
            }
        }
    }

    fn list_extend(&mut self, l: &mut List, items: &mut Vec<Value>, rc: &Rc<RefCell<List>>) {
        let target = Rc::as_ptr(rc).cast::<()>();
        for v in items.drain(..) {
            if l.items.len() >= CONTAINER_CAP {
                break;
            }
            if self.may_store(&v, target, || CycleCandidate::List(Rc::downgrade(rc))) {
                l.charge.add(&v);
                l.items.push(v);
            }
        }
    }

    fn err_from(&self, e: ReadError, input: &Input<'_>) -> PickleError {
        self.read_err(e, input)
    }

    fn line<'i>(&self, input: &'i mut Input<'_>) -> Result<Line<'i>, PickleError> {
        let offset = input.offset();
        input.line(MAX_LINE).map_err(|e| match e {
            ReadError::Eof => PickleError::Truncated { offset },
            ReadError::Io(e) => PickleError::Io {
                offset,
                message: e.to_string(),
            },
        })
    }

    /// A short text line (newline included); an overlong one is invalid where CPython
    /// needs its value (names, numbers, memo indices).
    fn short_line(&self, input: &mut Input<'_>, what: &str) -> Result<Vec<u8>, PickleError> {
        match self.line(input)? {
            Line::Short(l) => Ok(l.to_vec()),
            Line::Long(n) => Err(self.invalid(format!("{what} line of {n} bytes is too long"))),
        }
    }

    /// Reads a length-prefixed payload, keeping it when short enough.
    fn payload(&mut self, input: &mut Input<'_>, len: u64) -> Result<Option<Vec<u8>>, PickleError> {
        if self.keep(len) {
            let bytes = input.read_vec(len).map_err(|e| self.err_from(e, input))?;
            Ok(Some(bytes))
        } else {
            input.skip(len).map_err(|e| self.err_from(e, input))?;
            Ok(None)
        }
    }

    /// Whether a payload of `len` bytes is kept (and accounts for it).
    fn keep(&mut self, len: u64) -> bool {
        if len <= ALWAYS_KEPT as u64 {
            return true;
        }
        let keep = len <= self.opts.limits.max_inspected_bytes as u64
            && (len as usize).saturating_add(self.retained_bytes) <= MAX_RETAINED_BYTES;
        if keep {
            self.retained_bytes = self.retained_bytes.saturating_add(len as usize);
        }
        keep
    }

    /// A UTF-8 string payload (`BINUNICODE` and friends). Short strings are decoded
    /// straight from the read buffer: this is the hot path of large pickles.
    fn str_payload(&mut self, input: &mut Input<'_>, len: u64) -> Result<Value, PickleError> {
        if len <= ALWAYS_KEPT as u64 {
            // `len` is at most `ALWAYS_KEPT`, which fits in `usize`.
            let offset = input.offset();
            let bytes = input.take(len as usize).map_err(|e| match e {
                ReadError::Eof => PickleError::Truncated { offset },
                ReadError::Io(e) => PickleError::Io {
                    offset,
                    message: e.to_string(),
                },
            })?;
            if bytes.len() <= SMALL && bytes.is_ascii() {
                return Ok(small_value(bytes));
            }
            return match std::str::from_utf8(bytes) {
                Ok(s) => Ok(str_value(s)),
                Err(_) => match decode_utf8_surrogatepass(bytes) {
                    Some(s) => Ok(str_value(&s)),
                    None => Err(self.invalid("string is not valid UTF-8")),
                },
            };
        }
        let bytes = self.payload(input, len)?;
        self.str_value(bytes)
    }

    fn str_value(&mut self, bytes: Option<Vec<u8>>) -> Result<Value, PickleError> {
        match bytes {
            None => Ok(Value::Skipped),
            Some(b) => match decode_utf8_surrogatepass(&b) {
                Some(s) => Ok(str_value(&s)),
                None => Err(self.invalid("string is not valid UTF-8")),
            },
        }
    }

    /// Fails with `max_pickle_memory` once the containers this machine made and its memo
    /// hold more than the limit.
    fn check_memory(&self) -> Result<(), PickleError> {
        let slot = std::mem::size_of::<Option<Value>>() as u64;
        let memo = (self.memo_dense.capacity() as u64)
            .saturating_mul(slot)
            .saturating_add((self.memo_sparse.capacity() as u64).saturating_mul(SPARSE_MEMO_COST))
            .saturating_add(self.memo_owned);
        let used = held().saturating_sub(self.held_base).saturating_add(memo);
        let limit = self.opts.limits.max_pickle_memory;
        if used > limit {
            return Err(PickleError::Limit {
                kind: LimitKind::Memory,
                value: limit,
                offset: self.op_offset,
            });
        }
        Ok(())
    }

    fn memo_put(&mut self, idx: u64, v: Value) -> Result<(), PickleError> {
        self.memo_owned = self
            .memo_owned
            .saturating_add(cost(&v).saturating_sub(VALUE_COST));
        let dense_len = self.memo_dense.len() as u64;
        let existed = if idx < DENSE_MEMO.max(dense_len.saturating_add(1)) {
            // `idx` is at most the dense memo's length or below `DENSE_MEMO`: a `usize`.
            let i = idx as usize;
            if self.memo_dense.len() <= i {
                self.memo_dense.resize(i + 1, None);
                self.check_memory()?;
            }
            let replaced = match self.memo_dense.get_mut(i) {
                Some(slot) => slot.replace(v).is_some(),
                None => false,
            };
            // An index first stored out of order lives in the map until the vector reaches
            // it; the newer value replaces it.
            replaced || (!self.memo_sparse.is_empty() && self.memo_sparse.remove(&idx).is_some())
        } else {
            self.memo_sparse.insert(idx, v).is_some()
        };
        if !existed {
            self.memo_len = self.memo_len.saturating_add(1);
            if self.memo_len > self.opts.limits.max_pickle_memo as u64 {
                return Err(PickleError::Limit {
                    kind: LimitKind::Memo,
                    value: self.opts.limits.max_pickle_memo as u64,
                    offset: self.op_offset,
                });
            }
        }
        Ok(())
    }

    fn memo_get(&self, idx: u64) -> Result<Value, PickleError> {
        let found = usize::try_from(idx)
            .ok()
            .and_then(|i| self.memo_dense.get(i))
            .and_then(Option::as_ref)
            .or_else(|| self.memo_sparse.get(&idx));
        found
            .cloned()
            .ok_or_else(|| self.invalid(format!("memo value not found at index {idx}")))
    }

    fn put_top(&mut self, idx: u64) -> Result<Step, PickleError> {
        let v = self.top()?.clone();
        self.memo_put(idx, v)?;
        Ok(Step::Continue)
    }

    fn get(&mut self, idx: u64) -> Result<Step, PickleError> {
        let v = self.memo_get(idx)?;
        self.push(v);
        Ok(Step::Continue)
    }

    fn import(&mut self, op: ImportOp, module: Option<&str>, name: Option<&str>) -> Value {
        let resolved = match (module, name) {
            (Some(m), Some(n)) => {
                let (m, n) = if self.proto < 3 {
                    super::compat::map_py2(m, n)
                } else {
                    (m, n)
                };
                Some((m.to_owned(), n.to_owned()))
            }
            _ => None,
        };
        let value = match &resolved {
            Some((m, n)) => Value::Global(Rc::from(format!("{m}.{n}"))),
            None => Value::Opaque,
        };
        self.out.imports.push(Import {
            offset: self.op_offset,
            op,
            name: resolved,
        });
        value
    }

    fn callable_name(v: &Value) -> Option<Rc<str>> {
        match v {
            Value::Global(name) => Some(name.clone()),
            _ => None,
        }
    }

    fn record_call(&mut self, op: CallOp, callable: Option<&Rc<str>>) {
        self.out.calls.push(Call {
            offset: self.op_offset,
            op,
            callable: callable.map(|c| c.to_string()),
        });
    }

    fn object(&mut self, callable: Option<Rc<str>>, args: Value) -> Value {
        let rc = Rc::new(RefCell::new(Object {
            callable,
            args: Value::None,
            state: None,
            charge: Charge::new(),
        }));
        let target = Rc::as_ptr(&rc).cast::<()>();
        let args = self.storable(args, target, || CycleCandidate::Object(Rc::downgrade(&rc)));
        if let Ok(mut o) = rc.try_borrow_mut() {
            o.charge.add(&args);
            o.args = args;
        }
        Value::Object(rc)
    }

    /// `REDUCE` and the calls that behave like it: records the call, follows the values
    /// some callables return, and parses pickles passed to loaders.
    fn call(
        &mut self,
        op: CallOp,
        callable: &Value,
        args: Value,
        input: &mut Input<'_>,
    ) -> Result<Value, PickleError> {
        let name = Self::callable_name(callable);
        self.record_call(op, name.as_ref());
        let Some(name) = name else {
            return Ok(self.object(None, args));
        };
        let first = match &args {
            Value::Tuple(t) => t.items.first().cloned(),
            _ => None,
        };
        if NESTED_LOADERS.contains(&&*name) {
            self.nested(&name, first.as_ref(), input);
        }
        // `_codecs.encode(text, 'latin1')` is how protocol 2 writes bytes; follow it so that
        // bytes passed to a loader this way are still inspected.
        if &*name == "_codecs.encode"
            && let Value::Tuple(t) = &args
            && let (Some(s), Some(enc)) = (
                t.items.first().and_then(Value::as_str),
                t.items.get(1).and_then(Value::as_str),
            )
            && matches!(enc, "latin1" | "latin-1" | "iso-8859-1")
        {
            let bytes: Option<Vec<u8>> =
                s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect();
            if let Some(b) = bytes {
                return Ok(Value::Bytes(Rc::from(b)));
            }
        }
        Ok(self.object(Some(name), args))
    }

    fn nested(&mut self, via: &str, arg: Option<&Value>, _input: &mut Input<'_>) {
        let bytes = match arg {
            Some(Value::Bytes(b)) => Some(b.clone()),
            // `pickle.load(io.BytesIO(data))`.
            Some(Value::Object(o)) => match &o.borrow().args {
                Value::Tuple(t) => match t.items.first() {
                    Some(Value::Bytes(b)) => Some(b.clone()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        let mut nested = Nested {
            offset: self.op_offset,
            via: via.to_owned(),
            pickle: None,
            not_parsed: None,
        };
        match bytes {
            None if matches!(arg, Some(Value::Skipped)) => {
                nested.not_parsed = Some(format!(
                    "the argument is longer than `max_inspected_bytes` ({} bytes)",
                    self.opts.limits.max_inspected_bytes
                ));
            }
            None => {
                nested.not_parsed =
                    Some("the argument is not a bytes value the scanner could keep".to_owned());
            }
            Some(_) if self.opts.nesting >= self.opts.limits.max_pickle_nesting => {
                nested.not_parsed = Some(format!(
                    "nesting limit `max_pickle_nesting` of {} reached",
                    self.opts.limits.max_pickle_nesting
                ));
            }
            Some(bytes) => {
                let inner = Options {
                    nesting: self.opts.nesting.saturating_add(1),
                    ..*self.opts
                };
                nested.pickle = Some(Box::new(super::parse_slice(&bytes, &inner)));
            }
        }
        self.out.nested.push(nested);
    }

    fn build(&mut self, input: &mut Input<'_>) -> OpResult {
        let state = self.pop()?;
        let target = self.top()?.clone();
        let class = match &target {
            Value::Object(o) => o.borrow().callable.clone(),
            _ => None,
        };
        self.record_call(CallOp::Build, class.as_ref());
        // A BUILD whose target is a class, function or module sets attributes on it
        // (`setattr` from the slot-state half of the state): this is how a pickle rewires
        // `__builtins__`, a module function or a class method that later code calls, and
        // it never happens when restoring plain data.
        if let Value::Global(name) = &target {
            self.out.suspicious_builds.push(SuspiciousBuild {
                offset: self.op_offset,
                target: format!("global `{name}`"),
                reason: "BUILD sets attributes on a class, function or module".to_owned(),
            });
        }
        if let Some(key) = dunder_key(&state) {
            self.out.suspicious_builds.push(SuspiciousBuild {
                offset: self.op_offset,
                target: target.describe(),
                reason: format!("BUILD state sets the special attribute `{key}`"),
            });
        }
        if let Value::Object(o) = &target {
            let target = Rc::as_ptr(o).cast::<()>();
            let stored = self.storable(state.clone(), target, || {
                CycleCandidate::Object(Rc::downgrade(o))
            });
            if let Ok(mut o) = o.try_borrow_mut() {
                o.charge.add(&stored);
                o.state = Some(stored);
            }
        }
        if class.as_deref() == Some(JOBLIB_WRAPPER) {
            self.joblib_array(&state, input)?;
        }
        Ok(Step::Continue)
    }

    /// Reads the array data joblib's `NumpyPickler` writes right after the `BUILD` of a
    /// `NumpyArrayWrapper`: a padding-length byte and padding (when the state names an
    /// alignment), then the raw items, or a protocol 2 pickle for object arrays.
    fn joblib_array(&mut self, state: &Value, input: &mut Input<'_>) -> Result<(), PickleError> {
        let Value::Dict(d) = state else {
            return Err(self.invalid("joblib array wrapper state is not a dict"));
        };
        let items = d.borrow();
        let field = |k: &str| {
            items
                .pairs
                .iter()
                .find(|(key, _)| key.as_str() == Some(k))
                .map(|(_, v)| v.clone())
        };
        let shape: Option<Vec<u64>> = match field("shape") {
            Some(Value::Tuple(t)) => t
                .items
                .iter()
                .map(|v| match v {
                    Value::Int(i) => u64::try_from(*i).ok(),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        let Some(shape) = shape else {
            return Err(self.invalid("joblib array wrapper has no readable `shape`"));
        };
        let Some((dtype, itemsize)) = field("dtype").as_ref().and_then(dtype_of) else {
            return Err(self.invalid("joblib array wrapper has no readable `dtype`"));
        };
        let aligned = matches!(field("numpy_array_alignment_bytes"), Some(Value::Int(_)));
        drop(items);
        let offset = self.op_offset;
        if dtype.starts_with('O') {
            if self.opts.nesting >= self.opts.limits.max_pickle_nesting {
                return Err(PickleError::Limit {
                    kind: LimitKind::Nesting,
                    value: self.opts.limits.max_pickle_nesting as u64,
                    offset,
                });
            }
            let inner = Options {
                nesting: self.opts.nesting.saturating_add(1),
                ..*self.opts
            };
            let pickle = run(input, &inner);
            let failed = pickle.error.clone();
            self.out.joblib_arrays.push(JoblibArray {
                offset,
                shape,
                dtype,
                data_bytes: 0,
                object_pickle: Some(Box::new(pickle)),
            });
            // The outer stream cannot be followed past an object array that did not end.
            return match failed {
                Some(e) => Err(e),
                None => Ok(()),
            };
        }
        let mut skipped = 0u64;
        if aligned {
            let pad = input.byte().map_err(|e| self.err_from(e, input))?;
            input
                .skip(u64::from(pad))
                .map_err(|e| self.err_from(e, input))?;
            skipped = 1 + u64::from(pad);
        }
        let count = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let Some(data) = count.and_then(|c| c.checked_mul(itemsize)) else {
            return Err(self.invalid("joblib array size overflows"));
        };
        input.skip(data).map_err(|e| self.err_from(e, input))?;
        self.out.joblib_arrays.push(JoblibArray {
            offset,
            shape,
            dtype,
            data_bytes: skipped.saturating_add(data),
            object_pickle: None,
        });
        Ok(())
    }

    fn persistent(&mut self, pid: &Value) {
        let storage = match pid {
            Value::Tuple(t) => storage_ref(&t.items),
            _ => None,
        };
        self.out.persistent_ids.push(PersistentId {
            offset: self.op_offset,
            storage,
        });
        self.push(Value::Opaque);
    }

    fn extension(&mut self, code: u32) -> OpResult {
        if code == 0 {
            return Err(self.invalid("EXT specifies code <= 0"));
        }
        self.out.extensions.push(Extension {
            offset: self.op_offset,
            code,
        });
        self.push(Value::Opaque);
        Ok(Step::Continue)
    }

    /// `APPENDS` and `SETITEMS`: adds everything above the top mark to the list or dict
    /// under it. A target that keeps no more items (a full list, a full dict whose dunder
    /// key is known, any other object) drops them where they are: this is the hot path of
    /// large pickles, which append in batches of a thousand.
    fn add_marked(&mut self, dict: bool) -> OpResult {
        let at = self.marker()?;
        if at > self.stack.len() || at == 0 || at <= self.fence() {
            return Err(self.invalid("unpickling stack underflow"));
        }
        let items = self.stack.get(at..).unwrap_or_default();
        if dict && !items.len().is_multiple_of(2) {
            return Err(self.invalid("odd number of items for SETITEMS"));
        }
        let saturated = match self.stack.get(at - 1) {
            Some(Value::List(l)) => l.try_borrow().is_ok_and(|l| l.items.len() >= CONTAINER_CAP),
            Some(Value::Dict(d)) => match d.try_borrow_mut() {
                Ok(mut d) if d.pairs.len() >= CONTAINER_CAP => {
                    if d.dunder.is_none() {
                        d.dunder = items
                            .iter()
                            .step_by(2)
                            .filter(|k| k.str_bytes().is_some_and(is_dunder))
                            .find_map(Value::as_str)
                            .map(Rc::from);
                    }
                    true
                }
                _ => false,
            },
            _ => true,
        };
        if saturated {
            for v in self.stack.drain(at..) {
                // Scalars own nothing: skip their drop glue, which runs out of line once
                // per item and is most of the cost of a thousand-item batch.
                if is_scalar(&v) {
                    std::mem::forget(v);
                }
            }
            return Ok(Step::Continue);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.extend(self.stack.drain(at..));
        self.add_items(at - 1, scratch, dict)
    }

    /// Adds the scratch buffer `items` to the list or dict at `target_at` (`APPEND`,
    /// `APPENDS`, `SETITEM`, `SETITEMS`), then recycles the buffer.
    fn add_items(&mut self, target_at: usize, mut items: Vec<Value>, dict: bool) -> OpResult {
        if dict && !items.len().is_multiple_of(2) {
            self.recycle(items);
            return Err(self.invalid("odd number of items for SETITEMS"));
        }
        let target = self.stack.get(target_at).cloned();
        match target {
            Some(Value::List(l)) => {
                // Nothing else borrows containers while opcodes run, so this succeeds.
                if let Ok(mut list) = l.try_borrow_mut() {
                    self.list_extend(&mut list, &mut items, &l);
                }
            }
            Some(Value::Dict(d)) => {
                if let Ok(mut dict) = d.try_borrow_mut() {
                    self.dict_insert(&mut dict, &mut items, &d);
                }
            }
            // Appending to another object calls its `append`/`extend`/`__setitem__`; the
            // class that made it was imported and is judged by policy like any other.
            Some(_) => {}
            None => {
                self.recycle(items);
                return Err(self.invalid("unpickling stack underflow"));
            }
        }
        self.recycle(items);
        Ok(Step::Continue)
    }

    /// The opcodes that make up most of a large pickle (numbers and short ASCII strings),
    /// run here in the machine's loop rather than in [`Machine::step`], each value written
    /// straight into its stack slot. On [`Hot::Failed`] the error is in `out.error`.
    #[inline(always)]
    fn step_hot(&mut self, op: u8, input: &mut Input<'_>) -> Hot {
        let read = match op {
            b'J' => input.array::<4>().map(|a| {
                self.stack
                    .push(Value::Int(i64::from(i32::from_le_bytes(a))))
            }),
            b'K' => input
                .array::<1>()
                .map(|[v]| self.stack.push(Value::Int(i64::from(v)))),
            b'M' => input.array::<2>().map(|a| {
                self.stack
                    .push(Value::Int(i64::from(u16::from_le_bytes(a))))
            }),
            b'G' => input.array::<8>().map(|_| self.stack.push(Value::Float)),
            0x8c => match input.peek_n(1) {
                Ok(&[n, ..]) if usize::from(n) <= SMALL => match input.peek_n(1 + usize::from(n)) {
                    Ok([_, text @ ..]) if text.len() == usize::from(n) && text.is_ascii() => {
                        self.stack.push(Value::Small(n, [0; SMALL]));
                        if let Some(Value::Small(_, slot)) = self.stack.last_mut()
                            && let Some(dst) = slot.get_mut(..text.len())
                        {
                            dst.copy_from_slice(text);
                        }
                        input.skip_buffered(1 + usize::from(n));
                        Ok(())
                    }
                    _ => return Hot::No,
                },
                _ => return Hot::No,
            },
            _ => return Hot::No,
        };
        match read {
            Ok(()) => Hot::Done,
            Err(e) => {
                self.out.error = Some(self.err_from(e, input));
                Hot::Failed
            }
        }
    }

    fn step(&mut self, op: u8, input: &mut Input<'_>) -> OpResult {
        macro_rules! arg {
            ($n:literal) => {
                input.array::<$n>().map_err(|e| self.err_from(e, input))?
            };
        }
        match op {
            b'(' => {
                self.marks.push(self.stack.len());
            }
            b'.' => {
                let v = self.pop()?;
                self.out.top = Some(summarise(&v));
                return Ok(Step::Stop);
            }
            b'0' => {
                let len = self.stack.len();
                if self.marks.last() == Some(&len) {
                    self.marks.pop();
                } else {
                    self.pop()?;
                }
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let v = self.top()?.clone();
                self.push(v);
            }
            b'F' => {
                let l = self.short_line(input, "FLOAT")?;
                if text::parse_float_line(&l).is_none() {
                    return Err(self.invalid("could not convert string to float"));
                }
                self.push(Value::Float);
            }
            b'I' => {
                let l = self.short_line(input, "INT")?;
                let v = match text::parse_int_line(&l) {
                    Some(IntArg::Bool(_)) => Value::Bool,
                    Some(IntArg::Small(i)) => Value::Int(i),
                    Some(IntArg::Big) => Value::BigInt(Rc::from(Vec::new())),
                    None => return Err(self.invalid("could not convert string to int")),
                };
                self.push(v);
            }
            b'J' => {
                let v = i32::from_le_bytes(arg!(4));
                self.push(Value::Int(i64::from(v)));
            }
            b'K' => {
                let [v] = arg!(1);
                self.push(Value::Int(i64::from(v)));
            }
            b'M' => {
                let v = u16::from_le_bytes(arg!(2));
                self.push(Value::Int(i64::from(v)));
            }
            b'L' => {
                let l = self.short_line(input, "LONG")?;
                let v = match text::parse_long_line(&l) {
                    Some(Some(i)) => Value::Int(i),
                    Some(None) => Value::BigInt(Rc::from(Vec::new())),
                    None => return Err(self.invalid("invalid literal for int()")),
                };
                self.push(v);
            }
            0x8a | 0x8b => {
                let n: u64 = if op == 0x8a {
                    let [n] = arg!(1);
                    u64::from(n)
                } else {
                    let n = i32::from_le_bytes(arg!(4));
                    u64::try_from(n)
                        .map_err(|_| self.invalid("LONG pickle has negative byte count"))?
                };
                let bytes = self.payload(input, n)?;
                let v = match bytes {
                    Some(b) if b.len() <= 8 => Value::Int(le_signed(&b)),
                    Some(b) if b.len() <= 16 => Value::BigInt(Rc::from(b)),
                    _ => Value::BigInt(Rc::from(Vec::new())),
                };
                self.push(v);
            }
            b'N' => self.push(Value::None),
            0x88 | 0x89 => self.push(Value::Bool),
            b'G' => {
                let _ = arg!(8);
                self.push(Value::Float);
            }
            b'P' => {
                let l = self.short_line(input, "PERSID")?;
                let body = l.strip_suffix(b"\n").unwrap_or(&l);
                if !body.is_ascii() {
                    return Err(self.invalid("persistent IDs in protocol 0 must be ASCII strings"));
                }
                let pid = str_value(&String::from_utf8_lossy(body));
                self.persistent(&pid);
            }
            b'Q' => {
                let pid = self.pop()?;
                self.persistent(&pid);
            }
            b'S' => {
                let v = match self.line(input)? {
                    Line::Short(l) => {
                        let l = l.to_vec();
                        let decoded = text::decode_string_line(&l).ok_or_else(|| {
                            self.invalid("the STRING opcode argument must be quoted")
                        })?;
                        self.bytes_as_str(decoded)
                    }
                    Line::Long(_) => Value::Skipped,
                };
                self.push(v);
            }
            b'T' => {
                let n = i32::from_le_bytes(arg!(4));
                let n = u64::try_from(n)
                    .map_err(|_| self.invalid("BINSTRING pickle has negative byte count"))?;
                let b = self.payload(input, n)?;
                let v = b.map_or(Value::Skipped, |b| self.bytes_as_str(b));
                self.push(v);
            }
            b'U' => {
                let [n] = arg!(1);
                let b = self.payload(input, u64::from(n))?;
                let v = b.map_or(Value::Skipped, |b| self.bytes_as_str(b));
                self.push(v);
            }
            b'V' => {
                let v = match self.line(input)? {
                    Line::Short(l) => {
                        let body = l.strip_suffix(b"\n").unwrap_or(l).to_vec();
                        let s = text::decode_raw_unicode_escape(&body).ok_or_else(|| {
                            self.invalid("invalid raw-unicode-escape in UNICODE argument")
                        })?;
                        str_value(&s)
                    }
                    Line::Long(_) => Value::Skipped,
                };
                self.push(v);
            }
            b'X' => {
                let n = u32::from_le_bytes(arg!(4));
                let v = self.str_payload(input, u64::from(n))?;
                self.push(v);
            }
            0x8c => {
                let [n] = arg!(1);
                let v = self.str_payload(input, u64::from(n))?;
                self.push(v);
            }
            0x8d => {
                let n = u64::from_le_bytes(arg!(8));
                self.check_size(n, "BINUNICODE8")?;
                let v = self.str_payload(input, n)?;
                self.push(v);
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                let n = match op {
                    b'B' => u64::from(u32::from_le_bytes(arg!(4))),
                    b'C' => {
                        let [n] = arg!(1);
                        u64::from(n)
                    }
                    _ => {
                        let n = u64::from_le_bytes(arg!(8));
                        self.check_size(n, "BINBYTES8")?;
                        n
                    }
                };
                let b = self.payload(input, n)?;
                self.push(b.map_or(Value::Skipped, |b| Value::Bytes(Rc::from(b))));
            }
            b'a' => {
                let v = self.pop()?;
                let at = self.stack.len();
                if at == 0 || at <= self.fence() {
                    return Err(self.invalid("unpickling stack underflow"));
                }
                let items = self.scratch_with([v]);
                return self.add_items(at - 1, items, false);
            }
            b'e' => return self.add_marked(false),
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                let at = self.stack.len();
                if at == 0 || at <= self.fence() {
                    return Err(self.invalid("unpickling stack underflow"));
                }
                let items = self.scratch_with([k, v]);
                return self.add_items(at - 1, items, true);
            }
            b'u' => return self.add_marked(true),
            0x90 => {
                let items = self.pop_mark_scratch()?;
                self.recycle(items);
                let at = self.stack.len();
                if at == 0 || at <= self.fence() {
                    return Err(self.invalid("unpickling stack underflow"));
                }
            }
            b'b' => return self.build(input),
            b'c' => {
                let module = self.short_line(input, "GLOBAL module")?;
                let name = self.short_line(input, "GLOBAL name")?;
                let module = self.name_line(&module)?;
                let name = self.name_line(&name)?;
                let v = self.import(ImportOp::Global, Some(&module), Some(&name));
                self.push(v);
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                for v in [&module, &name] {
                    if !matches!(
                        v,
                        Value::Str(_)
                            | Value::Small(..)
                            | Value::Skipped
                            | Value::Object(_)
                            | Value::Opaque
                    ) {
                        return Err(self.invalid("STACK_GLOBAL requires str"));
                    }
                }
                let v = self.import(ImportOp::StackGlobal, module.as_str(), name.as_str());
                self.push(v);
            }
            b'i' => {
                let args = self.pop_mark()?;
                let module = self.short_line(input, "INST module")?;
                let name = self.short_line(input, "INST name")?;
                let module = self.name_line(&module)?;
                let name = self.name_line(&name)?;
                let cls = self.import(ImportOp::Inst, Some(&module), Some(&name));
                let args = self.tuple(args);
                let v = self.call(CallOp::Inst, &cls, args, input)?;
                self.push(v);
            }
            b'o' => {
                let mut items = self.pop_mark()?;
                if items.is_empty() {
                    return Err(self.invalid("unpickling stack underflow"));
                }
                let cls = items.remove(0);
                let args = self.tuple(items);
                let v = self.call(CallOp::Obj, &cls, args, input)?;
                self.push(v);
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let v = self.call(CallOp::Reduce, &callable, args, input)?;
                self.push(v);
            }
            0x81 => {
                let args = self.pop()?;
                let cls = self.pop()?;
                let v = self.call(CallOp::NewObj, &cls, args, input)?;
                self.push(v);
            }
            0x92 => {
                let _kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                let v = self.call(CallOp::NewObjEx, &cls, args, input)?;
                self.push(v);
            }
            b't' => {
                let items = self.pop_mark()?;
                let v = self.tuple(items);
                self.push(v);
            }
            b'd' | b'l' | 0x91 => {
                let mut items = self.pop_mark_scratch()?;
                let v = match op {
                    b'd' => {
                        if !items.len().is_multiple_of(2) {
                            self.recycle(items);
                            return Err(self.invalid("odd number of items for DICT"));
                        }
                        self.dict(&mut items)
                    }
                    b'l' => {
                        let rc = Rc::new(RefCell::new(List::new()));
                        if let Ok(mut list) = rc.try_borrow_mut() {
                            self.list_extend(&mut list, &mut items, &rc);
                        }
                        Value::List(rc)
                    }
                    _ => Value::Set,
                };
                self.recycle(items);
                self.push(v);
            }
            b'}' => self.push(Value::Dict(Rc::new(RefCell::new(Dict::new())))),
            b']' => self.push(Value::List(Rc::new(RefCell::new(List::new())))),
            b')' => {
                let v = self.tuple(Vec::new());
                self.push(v);
            }
            0x8f => self.push(Value::Set),
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < self.fence().saturating_add(n) {
                    return Err(self.invalid("unpickling stack underflow"));
                }
                let at = self.stack.len() - n;
                let items = self.stack.split_off(at);
                let v = self.tuple(items);
                self.push(v);
            }
            b'g' => {
                let l = self.short_line(input, "GET")?;
                let idx = text::parse_memo_index(&l)
                    .ok_or_else(|| self.invalid("invalid GET argument"))?;
                return self.get(idx);
            }
            b'h' => {
                let [i] = arg!(1);
                return self.get(u64::from(i));
            }
            b'j' => {
                let i = u32::from_le_bytes(arg!(4));
                return self.get(u64::from(i));
            }
            b'p' => {
                let l = self.short_line(input, "PUT")?;
                let idx = text::parse_memo_index(&l)
                    .ok_or_else(|| self.invalid("invalid PUT argument"))?;
                return self.put_top(idx);
            }
            b'q' => {
                let [i] = arg!(1);
                return self.put_top(u64::from(i));
            }
            b'r' => {
                let i = u32::from_le_bytes(arg!(4));
                return self.put_top(u64::from(i));
            }
            0x94 => {
                let idx = self.memo_len;
                return self.put_top(idx);
            }
            0x80 => {
                let [p] = arg!(1);
                if p > HIGHEST_PROTOCOL {
                    return Err(self.invalid(format!("unsupported pickle protocol: {p}")));
                }
                self.proto = p;
                if self.out.protocol.is_none() {
                    self.out.protocol = Some(p);
                }
            }
            0x82 => {
                let [c] = arg!(1);
                return self.extension(u32::from(c));
            }
            0x83 => {
                let c = u16::from_le_bytes(arg!(2));
                return self.extension(u32::from(c));
            }
            0x84 => {
                let c = i32::from_le_bytes(arg!(4));
                let c = u32::try_from(c).unwrap_or(0);
                return self.extension(c);
            }
            0x95 => {
                let n = u64::from_le_bytes(arg!(8));
                self.check_size(n, "FRAME")?;
                // The C unpickler reads the whole frame ahead: a frame longer than the
                // rest of the input is truncation even if `STOP` comes first.
                if input.remaining().is_some_and(|r| r < n) {
                    return Err(PickleError::Truncated {
                        offset: self.op_offset,
                    });
                }
            }
            0x97 => {
                self.out.out_of_band.push(self.op_offset);
                self.push(Value::Opaque);
            }
            0x98 => {
                self.top()?;
            }
            other => {
                return Err(self.invalid(format!("invalid load key `\\x{other:02x}`")));
            }
        }
        Ok(Step::Continue)
    }

    fn check_size(&self, n: u64, what: &str) -> Result<(), PickleError> {
        if n > i64::MAX as u64 {
            return Err(self.invalid(format!("{what} exceeds system's maximum size")));
        }
        Ok(())
    }

    /// Python 2 `str` payloads (`STRING`, `BINSTRING`, `SHORT_BINSTRING`) become `str` under
    /// the unpickler's default encoding; keep them as strings when they decode.
    fn bytes_as_str(&mut self, b: Vec<u8>) -> Value {
        match String::from_utf8(b) {
            Ok(s) => str_value(&s),
            Err(e) => Value::Bytes(Rc::from(e.into_bytes())),
        }
    }

    fn name_line(&self, line: &[u8]) -> Result<String, PickleError> {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let s = std::str::from_utf8(body)
            .map_err(|_| self.invalid("GLOBAL name is not valid UTF-8"))?;
        if self.sniff && !is_dotted_identifier(s) {
            return Err(self.invalid("not a Python name"));
        }
        Ok(s.to_owned())
    }
}

fn is_dotted_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// The first dunder key of a `BUILD` state (`dict` or `(dict, slotstate)`).
fn dunder_key(state: &Value) -> Option<String> {
    let dicts: Vec<&Value> = match state {
        Value::Tuple(t) => t.items.iter().collect(),
        other => vec![other],
    };
    dicts.into_iter().find_map(|d| match d {
        Value::Dict(d) => d
            .try_borrow()
            .ok()
            .and_then(|d| d.dunder.as_deref().map(str::to_owned)),
        _ => None,
    })
}

/// The dtype string and item size of a `numpy.dtype(...)` object.
fn dtype_of(v: &Value) -> Option<(String, u64)> {
    let Value::Object(o) = v else { return None };
    let o = o.borrow();
    if !matches!(o.callable.as_deref(), Some("numpy.dtype")) {
        return None;
    }
    let Value::Tuple(args) = &o.args else {
        return None;
    };
    let spec = args.items.first()?.as_str()?.to_owned();
    let kind = spec.chars().next()?;
    let digits: String = spec.chars().skip(1).collect();
    // The state tuple's sixth field is the item size for flexible types (`V`, `S`, `U`).
    let elsize = match &o.state {
        Some(Value::Tuple(t)) => match t.items.get(5) {
            Some(Value::Int(n)) if *n > 0 => u64::try_from(*n).ok(),
            _ => None,
        },
        _ => None,
    };
    // The state's item size wins (it is in bytes even for `U`, whose spec counts
    // characters); plain types carry -1 there and their size in the spec.
    let size = elsize.or_else(|| match digits.parse::<u64>() {
        Ok(n) if n > 0 => Some(if kind == 'U' { n.saturating_mul(4) } else { n }),
        _ => None,
    });
    match (kind, size) {
        ('O', _) => Some((spec, 8)),
        (_, Some(n)) => Some((spec, n)),
        _ => None,
    }
}

fn storage_ref(items: &[Value]) -> Option<StorageRef> {
    if items.first()?.as_str()? != "storage" {
        return None;
    }
    let storage_type = match items.get(1)? {
        Value::Global(name) => Some(name.to_string()),
        _ => None,
    };
    let key = items.get(2)?.as_str()?.to_owned();
    let location = items.get(3)?.as_str()?.to_owned();
    let numel = match items.get(4) {
        Some(Value::Int(n)) => u64::try_from(*n).ok(),
        _ => None,
    };
    Some(StorageRef {
        storage_type,
        key,
        location,
        numel,
    })
}

fn summarise(v: &Value) -> TopValue {
    match v {
        Value::Int(i) => TopValue::Int(*i),
        Value::BigInt(b) if !b.is_empty() => TopValue::LongBytes(b.to_vec()),
        Value::List(l) => strings(&l.borrow().items),
        Value::Tuple(t) => strings(&t.items),
        _ => TopValue::Other,
    }
}

fn strings(items: &[Value]) -> TopValue {
    let out: Option<Vec<String>> = items
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect();
    out.map_or(TopValue::Other, TopValue::Strings)
}

fn le_signed(b: &[u8]) -> i64 {
    let mut buf = [0u8; 8];
    let negative = b.last().is_some_and(|&x| x & 0x80 != 0);
    if negative {
        buf = [0xff; 8];
    }
    for (dst, src) in buf.iter_mut().zip(b) {
        *dst = *src;
    }
    i64::from_le_bytes(buf)
}

/// UTF-8 decoding with Python's `surrogatepass`: encoded surrogates (`ED A0..BF ..`) are
/// accepted, as `_pickle` does for `BINUNICODE`, and kept as replacement characters.
fn decode_utf8_surrogatepass(b: &[u8]) -> Option<String> {
    if let Ok(s) = std::str::from_utf8(b) {
        return Some(s.to_owned());
    }
    let mut out = String::with_capacity(b.len());
    let mut rest = b;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return Some(out);
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).ok()?);
                match bad {
                    [0xed, 0xa0..=0xbf, 0x80..=0xbf, tail @ ..] => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        rest = tail;
                    }
                    _ => return None,
                }
            }
        }
    }
}
