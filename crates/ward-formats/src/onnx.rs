//! ONNX models (`onnx.proto` `ModelProto`), read with the bounded protobuf reader.
//!
//! The walk collects the facts the scanner needs and nothing else: every node (in the main
//! graph, in subgraphs held by node attributes such as the branches of `If` and the bodies
//! of `Loop` and `Scan`, in training graphs and in model-local functions) with its operator
//! domain, every tensor that says its bytes live in an external file with that file's
//! `location`, `offset` and `length`, and the opset imports.
//!
//! The outer layers (model, main graph, initializers) are streamed from a seekable reader
//! and tensor bytes are skipped by seeking, so a model with gigabytes of weights costs a
//! few reads. Everything else (nodes, functions) is loaded part by part, bounded in total
//! by `Limits::max_header_bytes`.

use crate::protobuf::{self, Fields, ProtoError, ReadSeek, Stream, StreamValue};
use crate::{Budget, Limits, Reader};

/// `ModelProto` field numbers.
mod model {
    pub const IR_VERSION: u32 = 1;
    pub const PRODUCER_NAME: u32 = 2;
    pub const DOMAIN: u32 = 4;
    pub const MODEL_VERSION: u32 = 5;
    pub const GRAPH: u32 = 7;
    pub const OPSET_IMPORT: u32 = 8;
    pub const METADATA_PROPS: u32 = 14;
    pub const TRAINING_INFO: u32 = 20;
    pub const FUNCTIONS: u32 = 25;
}

/// Every `ModelProto` field number, with whether it is length-delimited, for [`sniff`].
const MODEL_FIELDS: &[(u32, bool)] = &[
    (1, false),
    (2, true),
    (3, true),
    (4, true),
    (5, false),
    (6, true),
    (7, true),
    (8, true),
    (14, true),
    (20, true),
    (25, true),
    (26, true),
];

/// `GraphProto` field numbers.
mod graph {
    pub const NODE: u32 = 1;
    pub const NAME: u32 = 2;
    pub const INITIALIZER: u32 = 5;
    pub const INPUT: u32 = 11;
    pub const OUTPUT: u32 = 12;
    pub const SPARSE_INITIALIZER: u32 = 15;
}

/// `ValueInfoProto`, `TypeProto`, `TypeProto.Tensor`, `TensorShapeProto` and
/// `TensorShapeProto.Dimension` field numbers, for the main graph's inputs and outputs.
mod value_info {
    pub const NAME: u32 = 1;
    pub const TYPE: u32 = 2;
    pub const TENSOR_TYPE: u32 = 1;
    pub const ELEM_TYPE: u32 = 1;
    pub const SHAPE: u32 = 2;
    pub const DIM: u32 = 1;
    pub const DIM_VALUE: u32 = 1;
    pub const DIM_PARAM: u32 = 2;
}

/// Most inputs (and, separately, outputs) of the main graph that are recorded.
pub const MAX_GRAPH_IO: usize = 256;
/// Most dimensions of one input or output shape that are recorded.
const MAX_DIMS: usize = 32;

/// `NodeProto` field numbers.
mod node {
    pub const NAME: u32 = 3;
    pub const OP_TYPE: u32 = 4;
    pub const ATTRIBUTE: u32 = 5;
    pub const DOMAIN: u32 = 7;
}

/// `AttributeProto` field numbers that can hold tensors or graphs.
mod attribute {
    pub const NAME: u32 = 1;
    pub const T: u32 = 5;
    pub const G: u32 = 6;
    pub const TENSORS: u32 = 10;
    pub const GRAPHS: u32 = 11;
    pub const SPARSE_TENSOR: u32 = 22;
    pub const SPARSE_TENSORS: u32 = 23;
}

/// `TensorProto` field numbers.
mod tensor {
    pub const NAME: u32 = 8;
    pub const EXTERNAL_DATA: u32 = 13;
    pub const DATA_LOCATION: u32 = 14;
    /// `TensorProto.DataLocation.EXTERNAL`.
    pub const EXTERNAL: u64 = 1;
}

/// `FunctionProto` field numbers.
mod function {
    pub const NAME: u32 = 1;
    pub const NODE: u32 = 7;
    pub const OPSET_IMPORT: u32 = 9;
    pub const DOMAIN: u32 = 10;
    /// Default values of the function's attributes, which can hold tensors and graphs.
    pub const ATTRIBUTE_PROTO: u32 = 11;
}

/// `TrainingInfoProto` graphs.
const TRAINING_GRAPHS: [u32; 2] = [1, 2];

/// An input or output of the main graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphValue {
    /// The value's name.
    pub name: String,
    /// `TensorProto.DataType` of a tensor value (1 = float, 7 = int64, ...), if declared.
    pub elem_type: Option<u64>,
    /// The shape, one entry per dimension: a size, a symbolic name, or `?`; `None` when no
    /// shape is declared.
    pub shape: Option<Vec<String>>,
}

/// The name ONNX gives a `TensorProto.DataType`, for reports.
pub fn elem_type_name(t: u64) -> &'static str {
    match t {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        17..=20 => "float8",
        21 => "uint4",
        22 => "int4",
        _ => "unknown",
    }
}

/// Reads a `ValueInfoProto`.
fn graph_value(r: Reader<'_>) -> Result<GraphValue, ProtoError> {
    let mut v = GraphValue::default();
    for field in Fields::new(r) {
        let field = field?;
        match (field.number, field.value.bytes()) {
            (value_info::NAME, _) => v.name = field.value.string().unwrap_or_default(),
            (value_info::TYPE, Some(t)) => {
                for field in Fields::new(t) {
                    let field = field?;
                    let (value_info::TENSOR_TYPE, Some(tensor)) =
                        (field.number, field.value.bytes())
                    else {
                        continue;
                    };
                    for field in Fields::new(tensor) {
                        let field = field?;
                        match (field.number, field.value.bytes()) {
                            (value_info::ELEM_TYPE, _) => v.elem_type = field.value.varint(),
                            (value_info::SHAPE, Some(shape)) => {
                                let mut dims = Vec::new();
                                for field in Fields::new(shape) {
                                    let field = field?;
                                    let (value_info::DIM, Some(dim)) =
                                        (field.number, field.value.bytes())
                                    else {
                                        continue;
                                    };
                                    if dims.len() >= MAX_DIMS {
                                        dims.push("...".to_owned());
                                        break;
                                    }
                                    let mut text = "?".to_owned();
                                    for field in Fields::new(dim) {
                                        let field = field?;
                                        match field.number {
                                            value_info::DIM_VALUE => {
                                                if let Some(n) = field.value.varint() {
                                                    text = n.to_string();
                                                }
                                            }
                                            value_info::DIM_PARAM => {
                                                if let Some(p) = field.value.string() {
                                                    text = p;
                                                }
                                            }
                                            _ => {}
                                        }
                                    }
                                    dims.push(text);
                                }
                                v.shape = Some(dims);
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(v)
}

/// An opset import: a domain and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsetImport {
    /// The operator domain (`""` is the default ONNX domain).
    pub domain: String,
    /// The opset version.
    pub version: u64,
    /// Where the import is declared (`model` or `function <name>`).
    pub scope: String,
}

/// One node of any graph or function in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The graph or function that holds the node, outermost first, separated by `/`.
    pub scope: String,
    /// The node's name (may be empty).
    pub name: String,
    /// The operator.
    pub op_type: String,
    /// The operator's domain (`""` is the default ONNX domain).
    pub domain: String,
    /// Offset of the node in the file, when it is known.
    pub offset: u64,
}

/// A tensor whose bytes live in an external file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExternalTensor {
    /// The graph or function that holds the tensor.
    pub scope: String,
    /// The tensor's name.
    pub name: String,
    /// The `location` entry: a path relative to the model's directory.
    pub location: Option<String>,
    /// The `offset` entry, as written.
    pub offset: Option<String>,
    /// The `length` entry, as written.
    pub length: Option<String>,
    /// Whether `data_location` says `EXTERNAL` (tensors with `external_data` entries but a
    /// default location are reported too).
    pub declared_external: bool,
    /// Offset of the tensor in the file.
    pub at: u64,
}

/// A model-local function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// The function's domain.
    pub domain: String,
    /// The function's name.
    pub name: String,
}

/// What a walk of an ONNX model found, and where it stopped if it could not finish.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// `ir_version`, when present.
    pub ir_version: Option<u64>,
    /// `producer_name`, when present.
    pub producer_name: Option<String>,
    /// Opset imports of the model and of its functions.
    pub opset_imports: Vec<OpsetImport>,
    /// Every node, in every graph and function.
    pub nodes: Vec<Node>,
    /// Every tensor whose data is external.
    pub external_tensors: Vec<ExternalTensor>,
    /// Model-local functions.
    pub functions: Vec<Function>,
    /// Graphs walked (main graph, subgraphs and training graphs).
    pub graphs: usize,
    /// The main graph's inputs, in order (at most [`MAX_GRAPH_IO`]).
    pub inputs: Vec<GraphValue>,
    /// The main graph's outputs, in order (at most [`MAX_GRAPH_IO`]).
    pub outputs: Vec<GraphValue>,
    /// Why the walk stopped early, if it did; what was collected before stays valid.
    pub error: Option<ProtoError>,
}

/// Largest single string the walk keeps (names, domains, external data entries).
const MAX_STRING: u64 = 64 * 1024;

/// Whether `prefix` (the first bytes of a file) looks like the start of a `ModelProto`:
/// ONNX has no magic number, so this is a short trial parse. It requires an `ir_version`
/// between 1 and 64 and a graph or opset import, and every field seen before the prefix
/// runs out to be a `ModelProto` field with the right wire type.
pub fn sniff(prefix: &[u8]) -> bool {
    let mut r = Reader::new(prefix);
    let mut ir_version = false;
    let mut structure = false;
    for _ in 0..32 {
        if r.is_empty() {
            break;
        }
        let Ok(key) = protobuf::varint(&mut r) else {
            return false;
        };
        let number = key >> 3;
        let wire = key & 7;
        let Some(&(_, is_len)) = MODEL_FIELDS.iter().find(|(n, _)| u64::from(*n) == number) else {
            return false;
        };
        match (wire, is_len) {
            (0, false) => {
                let Ok(v) = protobuf::varint(&mut r) else {
                    return false;
                };
                if number == u64::from(model::IR_VERSION) {
                    if !(1..=64).contains(&v) {
                        return false;
                    }
                    ir_version = true;
                }
            }
            (2, true) => {
                let Ok(n) = protobuf::varint(&mut r) else {
                    return false;
                };
                if number == u64::from(model::GRAPH) || number == u64::from(model::OPSET_IMPORT) {
                    structure = true;
                }
                match usize::try_from(n).ok().and_then(|n| r.skip(n)) {
                    Some(()) => {}
                    // The field runs past the prefix: decide on what was seen.
                    None => break,
                }
            }
            _ => return false,
        }
    }
    ir_version && structure
}

/// Walks the ONNX model in the first `len` bytes of `src`.
pub fn parse(src: &mut dyn ReadSeek, len: u64, limits: &Limits, budget: &Budget) -> Model {
    let mut walk = Walk {
        limits,
        budget,
        loaded: 0,
        model: Model::default(),
    };
    let mut stream = Stream::new(src, len);
    if let Err(e) = walk.model(&mut stream, len) {
        walk.model.error = Some(e);
    }
    walk.model
}

/// Walks an ONNX model held in memory.
pub fn parse_bytes(bytes: &[u8], limits: &Limits, budget: &Budget) -> Model {
    let mut cursor = std::io::Cursor::new(bytes);
    parse(&mut cursor, bytes.len() as u64, limits, budget)
}

struct Walk<'l> {
    limits: &'l Limits,
    budget: &'l Budget,
    /// Bytes loaded into memory so far, bounded by `max_header_bytes`.
    loaded: u64,
    model: Model,
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Walk<'_> {
    fn load(&mut self, s: &mut Stream<'_>, n: u64) -> Result<Vec<u8>, ProtoError> {
        let offset = s.pos();
        let total = self.loaded.saturating_add(n);
        if total > self.limits.max_header_bytes {
            return Err(ProtoError::TooLarge {
                offset,
                needed: total,
                limit: self.limits.max_header_bytes,
            });
        }
        self.loaded = total;
        s.load(n, self.limits.max_header_bytes)
    }

    fn check_budget(&self, offset: u64) -> Result<(), ProtoError> {
        self.budget
            .check()
            .map_err(|_| ProtoError::Budget { offset })
    }

    fn model(&mut self, s: &mut Stream<'_>, end: u64) -> Result<(), ProtoError> {
        while let Some((number, value, offset)) = s.field(end)? {
            match (number, value) {
                (model::IR_VERSION, StreamValue::Varint(v)) => self.model.ir_version = Some(v),
                (model::PRODUCER_NAME, StreamValue::Len(n)) if n <= MAX_STRING => {
                    let bytes = self.load(s, n)?;
                    self.model.producer_name = Some(lossy(&bytes));
                }
                (model::GRAPH, StreamValue::Len(n)) => {
                    let graph_end = s.pos().saturating_add(n);
                    let depth = protobuf::descend(0, self.limits.max_nesting, offset)?;
                    self.stream_graph(s, graph_end, "graph", depth)?;
                    s.seek_to(graph_end)?;
                }
                (model::OPSET_IMPORT, StreamValue::Len(n)) => {
                    let bytes = self.load(s, n)?;
                    let at = s.pos().saturating_sub(n);
                    self.opset(Reader::with_base(&bytes, at), "model".into())?;
                }
                (model::FUNCTIONS, StreamValue::Len(n)) => {
                    let bytes = self.load(s, n)?;
                    let at = s.pos().saturating_sub(n);
                    let depth = protobuf::descend(0, self.limits.max_nesting, offset)?;
                    self.function(Reader::with_base(&bytes, at), depth)?;
                }
                (model::TRAINING_INFO, StreamValue::Len(n)) => {
                    let bytes = self.load(s, n)?;
                    let at = s.pos().saturating_sub(n);
                    let depth = protobuf::descend(0, self.limits.max_nesting, offset)?;
                    for field in Fields::new(Reader::with_base(&bytes, at)) {
                        let field = field?;
                        if let (true, Some(r)) =
                            (TRAINING_GRAPHS.contains(&field.number), field.value.bytes())
                        {
                            self.graph(r, "training".into(), depth)?;
                        }
                    }
                }
                (
                    model::DOMAIN | model::MODEL_VERSION | model::METADATA_PROPS,
                    StreamValue::Len(n),
                ) => s.skip(n)?,
                (_, StreamValue::Len(n)) => s.skip(n)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The main graph, streamed: initializers are walked without loading their bytes,
    /// nodes are loaded one at a time.
    fn stream_graph(
        &mut self,
        s: &mut Stream<'_>,
        end: u64,
        scope: &str,
        depth: usize,
    ) -> Result<(), ProtoError> {
        self.model.graphs = self.model.graphs.saturating_add(1);
        while let Some((number, value, offset)) = s.field(end)? {
            self.check_budget(offset)?;
            let StreamValue::Len(n) = value else { continue };
            match number {
                graph::INITIALIZER => {
                    let tensor_end = s.pos().saturating_add(n);
                    self.stream_tensor(s, tensor_end, scope, offset)?;
                    s.seek_to(tensor_end)?;
                }
                graph::INPUT | graph::OUTPUT if n <= MAX_STRING => {
                    let list = if number == graph::INPUT {
                        &self.model.inputs
                    } else {
                        &self.model.outputs
                    };
                    if list.len() >= MAX_GRAPH_IO {
                        s.skip(n)?;
                        continue;
                    }
                    let bytes = self.load(s, n)?;
                    let value = graph_value(Reader::with_base(&bytes, s.pos().saturating_sub(n)))?;
                    if number == graph::INPUT {
                        self.model.inputs.push(value);
                    } else {
                        self.model.outputs.push(value);
                    }
                }
                graph::NODE | graph::SPARSE_INITIALIZER => {
                    let bytes = self.load(s, n)?;
                    let r = Reader::with_base(&bytes, s.pos().saturating_sub(n));
                    let depth = protobuf::descend(depth, self.limits.max_nesting, offset)?;
                    if number == graph::NODE {
                        self.node(r, scope, depth, offset)?;
                    } else {
                        self.sparse_tensor(r, scope, depth)?;
                    }
                }
                _ => s.skip(n)?,
            }
        }
        Ok(())
    }

    fn stream_tensor(
        &mut self,
        s: &mut Stream<'_>,
        end: u64,
        scope: &str,
        at: u64,
    ) -> Result<(), ProtoError> {
        let mut t = ExternalTensor {
            scope: scope.to_string(),
            at,
            ..ExternalTensor::default()
        };
        let mut has_entries = false;
        while let Some((number, value, _)) = s.field(end)? {
            match (number, value) {
                (tensor::DATA_LOCATION, StreamValue::Varint(v)) => {
                    t.declared_external = v == tensor::EXTERNAL;
                }
                (tensor::NAME, StreamValue::Len(n)) if n <= MAX_STRING => {
                    t.name = lossy(&self.load(s, n)?);
                }
                (tensor::EXTERNAL_DATA, StreamValue::Len(n)) if n <= MAX_STRING => {
                    let bytes = self.load(s, n)?;
                    let at = s.pos().saturating_sub(n);
                    entry(Reader::with_base(&bytes, at), &mut t)?;
                    has_entries = true;
                }
                (_, StreamValue::Len(n)) => s.skip(n)?,
                _ => {}
            }
        }
        if t.declared_external || has_entries {
            self.model.external_tensors.push(t);
        }
        Ok(())
    }

    fn opset(&mut self, r: Reader<'_>, scope: String) -> Result<(), ProtoError> {
        let mut domain = String::new();
        let mut version = 0;
        for field in Fields::new(r) {
            let field = field?;
            match field.number {
                1 => domain = field.value.string().unwrap_or_default(),
                2 => version = field.value.varint().unwrap_or_default(),
                _ => {}
            }
        }
        self.model.opset_imports.push(OpsetImport {
            domain,
            version,
            scope,
        });
        Ok(())
    }

    fn function(&mut self, r: Reader<'_>, depth: usize) -> Result<(), ProtoError> {
        let mut name = String::new();
        let mut domain = String::new();
        // The name and domain may follow the nodes, so collect them first.
        for field in Fields::new(r.clone()) {
            let field = field?;
            match field.number {
                function::NAME => name = field.value.string().unwrap_or_default(),
                function::DOMAIN => domain = field.value.string().unwrap_or_default(),
                _ => {}
            }
        }
        let scope = format!("function {domain}.{name}");
        for field in Fields::new(r) {
            let field = field?;
            match (field.number, field.value.bytes()) {
                (function::NODE, Some(r)) => {
                    let depth = protobuf::descend(depth, self.limits.max_nesting, field.offset)?;
                    self.node(r, &scope, depth, field.offset)?;
                }
                (function::OPSET_IMPORT, Some(r)) => self.opset(r, scope.clone())?,
                (function::ATTRIBUTE_PROTO, Some(r)) => {
                    let depth = protobuf::descend(depth, self.limits.max_nesting, field.offset)?;
                    self.attribute(r, &scope, depth)?;
                }
                _ => {}
            }
        }
        self.model.functions.push(Function { domain, name });
        Ok(())
    }

    fn graph(&mut self, r: Reader<'_>, scope: String, depth: usize) -> Result<(), ProtoError> {
        self.model.graphs = self.model.graphs.saturating_add(1);
        let mut scope = scope;
        for field in Fields::new(r.clone()) {
            let field = field?;
            if field.number == graph::NAME
                && let Some(name) = field.value.string().filter(|n| !n.is_empty())
            {
                scope = format!("{scope} `{name}`");
            }
        }
        for field in Fields::new(r) {
            let field = field?;
            self.check_budget(field.offset)?;
            let Some(sub) = field.value.bytes() else {
                continue;
            };
            let depth = || protobuf::descend(depth, self.limits.max_nesting, field.offset);
            match field.number {
                graph::NODE => self.node(sub, &scope, depth()?, field.offset)?,
                graph::INITIALIZER => self.tensor(sub, &scope, field.offset)?,
                graph::SPARSE_INITIALIZER => self.sparse_tensor(sub, &scope, depth()?)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn node(
        &mut self,
        r: Reader<'_>,
        scope: &str,
        depth: usize,
        at: u64,
    ) -> Result<(), ProtoError> {
        let mut node = Node {
            scope: scope.to_string(),
            name: String::new(),
            op_type: String::new(),
            domain: String::new(),
            offset: at,
        };
        let mut attributes = Vec::new();
        for field in Fields::new(r) {
            let field = field?;
            match field.number {
                node::NAME => node.name = field.value.string().unwrap_or_default(),
                node::OP_TYPE => node.op_type = field.value.string().unwrap_or_default(),
                node::DOMAIN => node.domain = field.value.string().unwrap_or_default(),
                node::ATTRIBUTE => {
                    if let Some(r) = field.value.bytes() {
                        attributes.push((r, field.offset));
                    }
                }
                _ => {}
            }
        }
        let label = if node.name.is_empty() {
            node.op_type.clone()
        } else {
            node.name.clone()
        };
        let inner_scope = format!("{scope}/{label}");
        self.model.nodes.push(node);
        for (r, offset) in attributes {
            let depth = protobuf::descend(depth, self.limits.max_nesting, offset)?;
            self.attribute(r, &inner_scope, depth)?;
        }
        Ok(())
    }

    fn attribute(&mut self, r: Reader<'_>, scope: &str, depth: usize) -> Result<(), ProtoError> {
        let mut name = String::new();
        for field in Fields::new(r.clone()) {
            let field = field?;
            if field.number == attribute::NAME {
                name = field.value.string().unwrap_or_default();
            }
        }
        let scope = format!("{scope}.{name}");
        for field in Fields::new(r) {
            let field = field?;
            let Some(sub) = field.value.bytes() else {
                continue;
            };
            match field.number {
                attribute::T | attribute::TENSORS => self.tensor(sub, &scope, field.offset)?,
                attribute::G | attribute::GRAPHS => {
                    let depth = protobuf::descend(depth, self.limits.max_nesting, field.offset)?;
                    self.graph(sub, scope.clone(), depth)?;
                }
                attribute::SPARSE_TENSOR | attribute::SPARSE_TENSORS => {
                    let depth = protobuf::descend(depth, self.limits.max_nesting, field.offset)?;
                    self.sparse_tensor(sub, &scope, depth)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `SparseTensorProto`: its `values` (1) and `indices` (2) are tensors that may be
    /// external.
    fn sparse_tensor(
        &mut self,
        r: Reader<'_>,
        scope: &str,
        _depth: usize,
    ) -> Result<(), ProtoError> {
        for field in Fields::new(r) {
            let field = field?;
            if let (1 | 2, Some(sub)) = (field.number, field.value.bytes()) {
                self.tensor(sub, scope, field.offset)?;
            }
        }
        Ok(())
    }

    fn tensor(&mut self, r: Reader<'_>, scope: &str, at: u64) -> Result<(), ProtoError> {
        let mut t = ExternalTensor {
            scope: scope.to_string(),
            at,
            ..ExternalTensor::default()
        };
        let mut has_entries = false;
        for field in Fields::new(r) {
            let field = field?;
            match field.number {
                tensor::NAME => t.name = field.value.string().unwrap_or_default(),
                tensor::DATA_LOCATION => {
                    t.declared_external = field.value.varint() == Some(tensor::EXTERNAL);
                }
                tensor::EXTERNAL_DATA => {
                    if let Some(sub) = field.value.bytes() {
                        entry(sub, &mut t)?;
                        has_entries = true;
                    }
                }
                _ => {}
            }
        }
        if t.declared_external || has_entries {
            self.model.external_tensors.push(t);
        }
        Ok(())
    }
}

/// One `StringStringEntryProto` (`key` = 1, `value` = 2) of a tensor's `external_data`.
fn entry(r: Reader<'_>, t: &mut ExternalTensor) -> Result<(), ProtoError> {
    let mut key = String::new();
    let mut value = String::new();
    for field in Fields::new(r) {
        let field = field?;
        match field.number {
            1 => key = field.value.string().unwrap_or_default(),
            2 => value = field.value.string().unwrap_or_default(),
            _ => {}
        }
    }
    match key.as_str() {
        "location" => t.location = Some(value),
        "offset" => t.offset = Some(value),
        "length" => t.length = Some(value),
        _ => {}
    }
    Ok(())
}

/// Builders for ONNX messages, for tests and fixture generators.
pub mod build {
    use crate::protobuf::Writer;

    /// An `OperatorSetIdProto`.
    pub fn opset(domain: &str, version: u64) -> Writer {
        Writer::new().string(1, domain).varint(2, version)
    }

    /// A `NodeProto` with inputs, outputs and attributes.
    pub fn node(name: &str, op_type: &str, domain: &str, attributes: Vec<Writer>) -> Writer {
        let mut w = Writer::new()
            .string(1, "x")
            .string(2, "y")
            .string(3, name)
            .string(4, op_type);
        for a in attributes {
            w = w.message(5, a);
        }
        if !domain.is_empty() {
            w = w.string(7, domain);
        }
        w
    }

    /// A `GRAPH` attribute (type 5) holding `g`.
    pub fn graph_attribute(name: &str, g: Writer) -> Writer {
        Writer::new().string(1, name).message(6, g).varint(20, 5)
    }

    /// A `GraphProto` with nodes and initializers.
    pub fn graph(name: &str, nodes: Vec<Writer>, initializers: Vec<Writer>) -> Writer {
        let mut w = Writer::new();
        for n in nodes {
            w = w.message(1, n);
        }
        w = w.string(2, name);
        for t in initializers {
            w = w.message(5, t);
        }
        w
    }

    /// A float `TensorProto` with `raw_data` held inline.
    pub fn tensor(name: &str, raw: &[u8]) -> Writer {
        Writer::new()
            .varint(1, (raw.len() / 4) as u64)
            .varint(2, 1)
            .string(8, name)
            .bytes(9, raw)
    }

    /// A float `TensorProto` whose data lives in an external file.
    pub fn external_tensor(name: &str, location: &str, offset: u64, length: u64) -> Writer {
        let kv = |k: &str, v: &str| Writer::new().string(1, k).string(2, v);
        Writer::new()
            .varint(1, length / 4)
            .varint(2, 1)
            .string(8, name)
            .message(13, kv("location", location))
            .message(13, kv("offset", &offset.to_string()))
            .message(13, kv("length", &length.to_string()))
            .varint(14, 1)
    }

    /// A `FunctionProto`.
    pub fn function(domain: &str, name: &str, nodes: Vec<Writer>) -> Writer {
        let mut w = Writer::new().string(1, name).string(4, "x").string(5, "y");
        for n in nodes {
            w = w.message(7, n);
        }
        w.message(9, opset("", 17)).string(10, domain)
    }

    /// A `ModelProto`.
    pub fn model(graph: Writer, opsets: Vec<Writer>, functions: Vec<Writer>) -> Vec<u8> {
        let mut w = Writer::new()
            .varint(1, 8)
            .string(2, "ward-fixtures")
            .message(7, graph);
        for o in opsets {
            w = w.message(8, o);
        }
        for f in functions {
            w = w.message(25, f);
        }
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;
    use crate::protobuf::Writer;

    fn walk(bytes: &[u8]) -> Model {
        parse_bytes(bytes, &Limits::default(), &Budget::unlimited())
    }

    fn sample() -> Vec<u8> {
        let inner = graph(
            "then",
            vec![node("hidden", "Evil", "evil.ops", vec![])],
            vec![external_tensor("w2", "../../secret", 0, 4)],
        );
        let main = graph(
            "main",
            vec![
                node("relu", "Relu", "", vec![]),
                node("if", "If", "", vec![graph_attribute("then_branch", inner)]),
            ],
            vec![
                tensor("w", &[0u8; 4096]),
                external_tensor("w1", "weights.bin", 16, 64),
            ],
        );
        let f = function(
            "local.fns",
            "F",
            vec![node("fnode", "Mystery", "custom.fn", vec![])],
        );
        model(main, vec![opset("", 17), opset("evil.ops", 1)], vec![f])
    }

    #[test]
    fn walks_nodes_subgraphs_functions_and_external_data() {
        let bytes = sample();
        assert!(sniff(&bytes));
        let m = walk(&bytes);
        assert_eq!(m.error, None);
        assert_eq!(m.ir_version, Some(8));
        assert_eq!(m.producer_name.as_deref(), Some("ward-fixtures"));
        let ops: Vec<_> = m
            .nodes
            .iter()
            .map(|n| (n.op_type.as_str(), n.domain.as_str()))
            .collect();
        assert_eq!(
            ops,
            [
                ("Relu", ""),
                ("If", ""),
                ("Evil", "evil.ops"),
                ("Mystery", "custom.fn")
            ]
        );
        assert!(
            m.nodes[2].scope.contains("then_branch"),
            "{}",
            m.nodes[2].scope
        );
        assert_eq!(m.nodes[3].scope, "function local.fns.F");
        let ext: Vec<_> = m
            .external_tensors
            .iter()
            .map(|t| t.location.clone().unwrap())
            .collect();
        // Nodes (with the subgraph) are written before the main graph's initializers.
        assert_eq!(ext, ["../../secret", "weights.bin"]);
        assert_eq!(m.external_tensors[1].offset.as_deref(), Some("16"));
        assert_eq!(m.external_tensors[1].length.as_deref(), Some("64"));
        assert_eq!(
            m.functions,
            [Function {
                domain: "local.fns".into(),
                name: "F".into()
            }]
        );
        let domains: Vec<_> = m.opset_imports.iter().map(|o| o.domain.as_str()).collect();
        assert_eq!(domains, ["", "evil.ops", ""]);
        assert_eq!(m.graphs, 2);
    }

    #[test]
    fn main_graph_inputs_and_outputs_are_recorded_with_types_and_shapes() {
        use crate::protobuf::Writer;
        let dim_value = |n: u64| Writer::new().varint(1, n);
        let dim_param = |p: &str| Writer::new().string(2, p);
        let shape = Writer::new()
            .message(1, dim_param("batch"))
            .message(1, dim_value(3));
        let tensor_type = Writer::new().varint(1, 1).message(2, shape);
        let input = Writer::new()
            .string(1, "pixels")
            .message(2, Writer::new().message(1, tensor_type));
        let output = Writer::new().string(1, "logits");
        let g = graph("main", vec![node("n", "Relu", "", vec![])], vec![])
            .message(11, input)
            .message(12, output);
        let m = walk(&model(g, vec![opset("", 17)], vec![]));
        assert_eq!(m.error, None);
        assert_eq!(
            m.inputs,
            vec![GraphValue {
                name: "pixels".into(),
                elem_type: Some(1),
                shape: Some(vec!["batch".into(), "3".into()]),
            }]
        );
        assert_eq!(m.outputs.len(), 1);
        assert_eq!(m.outputs[0].name, "logits");
        assert_eq!(m.outputs[0].shape, None);
        assert_eq!(elem_type_name(1), "float");
    }

    #[test]
    fn truncation_is_reported_and_keeps_what_was_read() {
        let bytes = sample();
        let cut = &bytes[..bytes.len() - 3];
        let m = walk(cut);
        assert!(m.error.is_some());
        assert_eq!(m.ir_version, Some(8));
    }

    #[test]
    fn nesting_limit_stops_deep_subgraphs() {
        let mut g = graph("leaf", vec![node("n", "Relu", "", vec![])], vec![]);
        for _ in 0..20 {
            g = graph(
                "g",
                vec![node(
                    "if",
                    "If",
                    "",
                    vec![graph_attribute("then_branch", g)],
                )],
                vec![],
            );
        }
        let bytes = model(g, vec![opset("", 17)], vec![]);
        let limits = Limits {
            max_nesting: 10,
            ..Limits::default()
        };
        let m = parse_bytes(&bytes, &limits, &Budget::unlimited());
        assert!(matches!(
            m.error,
            Some(ProtoError::TooDeep { limit: 10, .. })
        ));
        assert!(walk(&bytes).error.is_none());
    }

    #[test]
    fn time_budget_stops_the_walk() {
        let budget = Budget::new(std::time::Duration::ZERO);
        let m = parse_bytes(&sample(), &Limits::default(), &budget);
        assert!(matches!(m.error, Some(ProtoError::Budget { .. })));
    }

    #[test]
    fn header_byte_limit_bounds_what_is_loaded() {
        let bytes = sample();
        let limits = Limits {
            max_header_bytes: 16,
            ..Limits::default()
        };
        let m = parse_bytes(&bytes, &limits, &Budget::unlimited());
        assert!(matches!(
            m.error,
            Some(ProtoError::TooLarge { limit: 16, .. })
        ));
    }

    #[test]
    fn initializer_bytes_are_skipped_not_loaded() {
        // 8 MiB of inline weights with a 1 MiB load limit: the walk still succeeds because
        // tensor bytes are skipped by seeking.
        let big = graph("main", vec![], vec![tensor("w", &vec![0u8; 8 << 20])]);
        let bytes = model(big, vec![opset("", 17)], vec![]);
        let limits = Limits {
            max_header_bytes: 1 << 20,
            ..Limits::default()
        };
        let m = parse_bytes(&bytes, &limits, &Budget::unlimited());
        assert_eq!(m.error, None);
    }

    #[test]
    fn sniff_rejects_other_content() {
        assert!(!sniff(b""));
        assert!(!sniff(b"\x80\x02}q\x00."));
        assert!(!sniff(b"{\"a\": 1}"));
        // A SavedModel starts with field 1 = 1 and field 2, but has no graph or opsets.
        let saved = Writer::new()
            .varint(1, 1)
            .message(2, Writer::new().string(1, "x"))
            .finish();
        assert!(!sniff(&saved));
        // ir_version out of range.
        let odd = Writer::new()
            .varint(1, 1000)
            .message(7, Writer::new())
            .finish();
        assert!(!sniff(&odd));
    }
}
