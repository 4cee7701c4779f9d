//! TensorFlow graphs: `saved_model.pb` (`SavedModel` -> `MetaGraphDef` -> `GraphDef`) and
//! frozen `GraphDef` files, read with the bounded protobuf reader.
//!
//! The walk collects every node of the main graph and of every `FunctionDef` in the
//! function library (where TensorFlow 2 puts almost all of a SavedModel's work) with its op
//! and its string attributes, plus the names of the library functions (a node whose op is a
//! library function calls that function). Everything is streamed from a seekable reader
//! and tensor values in `Const` nodes are skipped by seeking, so a frozen graph with
//! gigabytes of constants costs a few reads.

use crate::protobuf::{self, ProtoError, ReadSeek, Stream, StreamValue};
use crate::{Budget, Limits, Reader};

/// The two kinds of TensorFlow protobuf file ward reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `saved_model.pb`: a `SavedModel` message.
    SavedModel,
    /// A frozen graph: a bare `GraphDef` message.
    GraphDef,
}

/// One node of the main graph or of a library function.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// The library function that holds the node, or `None` for the main graph.
    pub function: Option<String>,
    /// The node's name.
    pub name: String,
    /// The op.
    pub op: String,
    /// String attribute values (`debug_urls`, `output_stream`, `filename`, ...), as
    /// `(attribute, value)`; lists give one entry per element.
    pub strings: Vec<(String, String)>,
    /// Offset of the node in the file.
    pub offset: u64,
}

/// What a walk of a TensorFlow graph file found, and where it stopped if it could not
/// finish.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Meta graphs walked (one per tag set in a SavedModel; zero for a frozen graph).
    pub meta_graphs: usize,
    /// Every node of every graph and library function.
    pub nodes: Vec<Node>,
    /// Names of the functions in the function libraries.
    pub functions: Vec<String>,
    /// Why the walk stopped early, if it did; what was collected before stays valid.
    pub error: Option<ProtoError>,
}

/// Largest single string the walk keeps (names, ops, attribute values).
const MAX_STRING: u64 = 64 * 1024;

/// Whether `prefix` looks like a `SavedModel`: `saved_model_schema_version` (field 1, a
/// small varint) followed by a `MetaGraphDef` (field 2) whose first field is one of its
/// own.
pub fn sniff_saved_model(prefix: &[u8]) -> bool {
    let mut r = Reader::new(prefix);
    if r.u8() != Some(0x08) {
        return false;
    }
    if !matches!(protobuf::varint(&mut r), Ok(1..=8)) {
        return false;
    }
    if r.u8() != Some(0x12) || protobuf::varint(&mut r).is_err() {
        return false;
    }
    // MetaGraphDef fields 1 to 7 are all length-delimited.
    matches!(r.u8(), Some(0x0a | 0x12 | 0x1a | 0x22 | 0x2a | 0x32 | 0x3a))
}

/// Whether `prefix` looks like a frozen `GraphDef`: a first node (field 1) whose name
/// (field 1) and op (field 2) are plausible identifiers, or a function library (field 2)
/// whose first function's signature starts with a plausible name.
pub fn sniff_graph_def(prefix: &[u8]) -> bool {
    let mut r = Reader::new(prefix);
    match r.u8() {
        Some(0x0a) => {
            if protobuf::varint(&mut r).is_err() {
                return false;
            }
            // NodeDef: name, then op.
            if !identifier_field(&mut r, 0x0a, b"/_-.:>") {
                return false;
            }
            identifier_field(&mut r, 0x12, b"_>")
        }
        Some(0x12) => {
            // FunctionDefLibrary -> FunctionDef -> OpDef signature -> name.
            for _ in 0..3 {
                if protobuf::varint(&mut r).is_err() || r.u8() != Some(0x0a) {
                    return false;
                }
            }
            // The loop read the lengths of the library, the function and the signature, and
            // the key of the signature's `name` field; the name itself follows.
            match protobuf::varint(&mut r) {
                Ok(n @ 1..=256) => usize::try_from(n)
                    .ok()
                    .and_then(|n| r.take(n.min(r.remaining())))
                    .is_some_and(|name| !name.is_empty() && is_identifier(name, b"_.-")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether `prefix` looks like either kind of TensorFlow graph file.
pub fn sniff(prefix: &[u8]) -> bool {
    kind(prefix).is_some()
}

/// Which kind of TensorFlow graph file `prefix` starts, if any.
pub fn kind(prefix: &[u8]) -> Option<Kind> {
    if sniff_saved_model(prefix) {
        Some(Kind::SavedModel)
    } else if sniff_graph_def(prefix) {
        Some(Kind::GraphDef)
    } else {
        None
    }
}

fn is_identifier(bytes: &[u8], extra: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || extra.contains(b))
}

/// Reads a length-delimited field with key `key` whose value is a non-empty identifier of
/// at most 1024 bytes; a value cut by the end of the prefix is accepted if what is there
/// is an identifier.
fn identifier_field(r: &mut Reader<'_>, key: u8, extra: &[u8]) -> bool {
    if r.u8() != Some(key) {
        return false;
    }
    let Ok(n) = protobuf::varint(r) else {
        return false;
    };
    let Some(n) = usize::try_from(n).ok().filter(|&n| (1..=1024).contains(&n)) else {
        return false;
    };
    let avail = n.min(r.remaining());
    r.take(avail)
        .is_some_and(|v| (avail < n || !v.is_empty()) && is_identifier(v, extra))
}

/// Walks the TensorFlow graph file of kind `kind` in the first `len` bytes of `src`.
pub fn parse(
    src: &mut dyn ReadSeek,
    len: u64,
    kind: Kind,
    limits: &Limits,
    budget: &Budget,
) -> Graph {
    let mut walk = Walk {
        limits,
        budget,
        graph: Graph::default(),
    };
    let mut s = Stream::new(src, len);
    let out = match kind {
        Kind::SavedModel => walk.saved_model(&mut s, len),
        Kind::GraphDef => walk.graph_def(&mut s, len, 0),
    };
    if let Err(e) = out {
        walk.graph.error = Some(e);
    }
    walk.graph
}

/// Walks a TensorFlow graph file held in memory.
pub fn parse_bytes(bytes: &[u8], kind: Kind, limits: &Limits, budget: &Budget) -> Graph {
    let mut cursor = std::io::Cursor::new(bytes);
    parse(&mut cursor, bytes.len() as u64, kind, limits, budget)
}

struct Walk<'l> {
    limits: &'l Limits,
    budget: &'l Budget,
    graph: Graph,
}

impl Walk<'_> {
    fn descend(&self, depth: usize, offset: u64) -> Result<usize, ProtoError> {
        protobuf::descend(depth, self.limits.max_nesting, offset)
    }

    fn string(&self, s: &mut Stream<'_>, n: u64) -> Result<Option<String>, ProtoError> {
        if n > MAX_STRING {
            s.skip(n)?;
            return Ok(None);
        }
        let bytes = s.load(n, MAX_STRING)?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Walks the fields of one message up to `end` and hands every length-delimited field
    /// numbered `wanted` to `inner`, one nesting level deeper; other fields are skipped.
    fn each_submessage(
        &mut self,
        s: &mut Stream<'_>,
        end: u64,
        depth: usize,
        wanted: u32,
        mut inner: impl FnMut(&mut Self, &mut Stream<'_>, u64, usize) -> Result<(), ProtoError>,
    ) -> Result<(), ProtoError> {
        while let Some((number, value, offset)) = s.field(end)? {
            let StreamValue::Len(n) = value else { continue };
            let sub_end = s.pos().saturating_add(n);
            if number == wanted {
                let depth = self.descend(depth, offset)?;
                inner(self, s, sub_end, depth)?;
            }
            s.seek_to(sub_end)?;
        }
        Ok(())
    }

    /// `SavedModel`: `meta_graphs` = 2.
    fn saved_model(&mut self, s: &mut Stream<'_>, end: u64) -> Result<(), ProtoError> {
        self.each_submessage(s, end, 0, 2, |this, s, sub_end, depth| {
            this.graph.meta_graphs = this.graph.meta_graphs.saturating_add(1);
            this.meta_graph(s, sub_end, depth)
        })
    }

    /// `MetaGraphDef`: `graph_def` = 2.
    fn meta_graph(&mut self, s: &mut Stream<'_>, end: u64, depth: usize) -> Result<(), ProtoError> {
        self.each_submessage(s, end, depth, 2, Self::graph_def)
    }

    /// `GraphDef`: `node` = 1, `library` = 2.
    fn graph_def(&mut self, s: &mut Stream<'_>, end: u64, depth: usize) -> Result<(), ProtoError> {
        while let Some((number, value, offset)) = s.field(end)? {
            self.budget
                .check()
                .map_err(|_| ProtoError::Budget { offset })?;
            let StreamValue::Len(n) = value else { continue };
            let sub_end = s.pos().saturating_add(n);
            let depth = self.descend(depth, offset)?;
            match number {
                1 => self.node(s, sub_end, None, depth, offset)?,
                2 => self.library(s, sub_end, depth)?,
                _ => {}
            }
            s.seek_to(sub_end)?;
        }
        Ok(())
    }

    /// `FunctionDefLibrary`: `function` = 1.
    fn library(&mut self, s: &mut Stream<'_>, end: u64, depth: usize) -> Result<(), ProtoError> {
        self.each_submessage(s, end, depth, 1, Self::function)
    }

    /// `FunctionDef`: `signature` = 1 (an `OpDef` whose `name` = 1), `node_def` = 3.
    fn function(&mut self, s: &mut Stream<'_>, end: u64, depth: usize) -> Result<(), ProtoError> {
        let mut name = String::new();
        while let Some((number, value, offset)) = s.field(end)? {
            self.budget
                .check()
                .map_err(|_| ProtoError::Budget { offset })?;
            let StreamValue::Len(n) = value else { continue };
            let sub_end = s.pos().saturating_add(n);
            let depth = self.descend(depth, offset)?;
            match number {
                1 => {
                    while let Some((f, v, _)) = s.field(sub_end)? {
                        if let StreamValue::Len(n) = v
                            && let (1, Some(v)) = (f, self.string(s, n)?)
                        {
                            name = v;
                        }
                    }
                    self.graph.functions.push(name.clone());
                }
                3 => self.node(s, sub_end, Some(name.clone()), depth, offset)?,
                _ => {}
            }
            s.seek_to(sub_end)?;
        }
        Ok(())
    }

    /// `NodeDef`: `name` = 1, `op` = 2, `attr` = 5 (map entries `key` = 1, `value` = 2).
    fn node(
        &mut self,
        s: &mut Stream<'_>,
        end: u64,
        function: Option<String>,
        depth: usize,
        offset: u64,
    ) -> Result<(), ProtoError> {
        let mut node = Node {
            function,
            offset,
            ..Node::default()
        };
        while let Some((number, value, offset)) = s.field(end)? {
            let StreamValue::Len(n) = value else { continue };
            let sub_end = s.pos().saturating_add(n);
            match number {
                1 => node.name = self.string(s, n)?.unwrap_or_default(),
                2 => node.op = self.string(s, n)?.unwrap_or_default(),
                5 => {
                    let depth = self.descend(depth, offset)?;
                    let mut key = String::new();
                    while let Some((f, v, offset)) = s.field(sub_end)? {
                        let StreamValue::Len(n) = v else { continue };
                        let value_end = s.pos().saturating_add(n);
                        match f {
                            1 => key = self.string(s, n)?.unwrap_or_default(),
                            2 => {
                                let depth = self.descend(depth, offset)?;
                                self.attr_value(s, value_end, &key, &mut node, depth)?;
                            }
                            _ => {}
                        }
                        s.seek_to(value_end)?;
                    }
                }
                _ => {}
            }
            s.seek_to(sub_end)?;
        }
        self.graph.nodes.push(node);
        Ok(())
    }

    /// `AttrValue` (`list` = 1, `s` = 2) and its `ListValue` (`s` = 2): keeps strings and
    /// skips everything else, tensors included, by seeking. Lists cannot nest in
    /// TensorFlow, but the recursion is bounded by the nesting limit all the same.
    fn attr_value(
        &mut self,
        s: &mut Stream<'_>,
        end: u64,
        key: &str,
        node: &mut Node,
        depth: usize,
    ) -> Result<(), ProtoError> {
        while let Some((number, value, offset)) = s.field(end)? {
            let StreamValue::Len(n) = value else { continue };
            let sub_end = s.pos().saturating_add(n);
            match number {
                2 => {
                    if let Some(v) = self.string(s, n)? {
                        node.strings.push((key.to_string(), v));
                    }
                }
                1 => {
                    let depth = self.descend(depth, offset)?;
                    self.attr_value(s, sub_end, key, node, depth)?;
                }
                _ => {}
            }
            s.seek_to(sub_end)?;
        }
        Ok(())
    }
}

/// Builders for TensorFlow messages, for tests and fixture generators.
pub mod build {
    use crate::protobuf::Writer;

    /// A `NodeDef` with string attributes.
    pub fn node(name: &str, op: &str, inputs: &[&str], strings: &[(&str, &str)]) -> Writer {
        let mut w = Writer::new().string(1, name).string(2, op);
        for i in inputs {
            w = w.string(3, i);
        }
        for (k, v) in strings {
            w = w.message(
                5,
                Writer::new()
                    .string(1, k)
                    .message(2, Writer::new().string(2, v)),
            );
        }
        w
    }

    /// A `Const` node holding `bytes` as its tensor's content.
    pub fn const_node(name: &str, bytes: &[u8]) -> Writer {
        let tensor = Writer::new().varint(1, 1).bytes(4, bytes);
        let value = Writer::new().message(8, tensor);
        Writer::new()
            .string(1, name)
            .string(2, "Const")
            .message(5, Writer::new().string(1, "value").message(2, value))
    }

    /// A `FunctionDef`.
    pub fn function(name: &str, nodes: Vec<Writer>) -> Writer {
        let mut w = Writer::new().message(1, Writer::new().string(1, name));
        for n in nodes {
            w = w.message(3, n);
        }
        w
    }

    /// A `GraphDef` with nodes and a function library.
    pub fn graph_def(nodes: Vec<Writer>, functions: Vec<Writer>) -> Writer {
        let mut w = Writer::new();
        for n in nodes {
            w = w.message(1, n);
        }
        if !functions.is_empty() {
            let mut lib = Writer::new();
            for f in functions {
                lib = lib.message(1, f);
            }
            w = w.message(2, lib);
        }
        w.message(4, Writer::new().varint(1, 1994))
    }

    /// A `SavedModel` with one `MetaGraphDef` holding `graph`.
    pub fn saved_model(graph: Writer) -> Vec<u8> {
        let info = Writer::new().string(4, "serve");
        let meta = Writer::new().message(1, info).message(2, graph);
        Writer::new().varint(1, 1).message(2, meta).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    fn sample_graph() -> crate::protobuf::Writer {
        graph_def(
            vec![
                node("x", "Placeholder", &[], &[]),
                const_node("w", &[0u8; 2048]),
                node("y", "MatMul", &["x", "w"], &[]),
                node(
                    "dbg",
                    "DebugIdentity",
                    &["y"],
                    &[("debug_urls", "file:///tmp/x")],
                ),
            ],
            vec![function(
                "__inference_f_12",
                vec![node("rf", "ReadFile", &["p"], &[])],
            )],
        )
    }

    #[test]
    fn walks_saved_model_graph_and_library() {
        let bytes = saved_model(sample_graph());
        assert_eq!(kind(&bytes), Some(Kind::SavedModel));
        let g = parse_bytes(
            &bytes,
            Kind::SavedModel,
            &Limits::default(),
            &Budget::unlimited(),
        );
        assert_eq!(g.error, None);
        assert_eq!(g.meta_graphs, 1);
        let ops: Vec<_> = g.nodes.iter().map(|n| n.op.as_str()).collect();
        assert_eq!(
            ops,
            [
                "Placeholder",
                "Const",
                "MatMul",
                "DebugIdentity",
                "ReadFile"
            ]
        );
        assert_eq!(
            g.nodes[3].strings,
            [("debug_urls".into(), "file:///tmp/x".into())]
        );
        assert_eq!(g.nodes[4].function.as_deref(), Some("__inference_f_12"));
        assert_eq!(g.functions, ["__inference_f_12"]);
    }

    #[test]
    fn walks_frozen_graph_def() {
        let bytes = sample_graph().finish();
        assert_eq!(kind(&bytes), Some(Kind::GraphDef));
        let g = parse_bytes(
            &bytes,
            Kind::GraphDef,
            &Limits::default(),
            &Budget::unlimited(),
        );
        assert_eq!(g.error, None);
        assert_eq!(g.nodes.len(), 5);
        assert_eq!(g.meta_graphs, 0);
        // A library-only graph is recognised too.
        let lib_only = graph_def(vec![], vec![function("f", vec![])]).finish();
        assert_eq!(kind(&lib_only), Some(Kind::GraphDef));
    }

    #[test]
    fn truncation_and_nesting_limit_are_reported() {
        let bytes = saved_model(sample_graph());
        let cut = &bytes[..bytes.len() - 5];
        let g = parse_bytes(
            cut,
            Kind::SavedModel,
            &Limits::default(),
            &Budget::unlimited(),
        );
        assert!(g.error.is_some());
        let limits = Limits {
            max_nesting: 2,
            ..Limits::default()
        };
        let g = parse_bytes(&bytes, Kind::SavedModel, &limits, &Budget::unlimited());
        assert!(matches!(
            g.error,
            Some(ProtoError::TooDeep { limit: 2, .. })
        ));
    }

    #[test]
    fn time_budget_stops_the_walk() {
        let bytes = sample_graph().finish();
        let budget = Budget::new(std::time::Duration::ZERO);
        let g = parse_bytes(&bytes, Kind::GraphDef, &Limits::default(), &budget);
        assert!(matches!(g.error, Some(ProtoError::Budget { .. })));
    }

    #[test]
    fn sniff_rejects_other_content() {
        assert_eq!(kind(b""), None);
        assert_eq!(kind(b"\x80\x02}q\x00."), None);
        assert_eq!(kind(b"\x0a\x05hello world"), None);
        assert_eq!(kind(b"PK\x03\x04"), None);
        let onnx = crate::onnx::build::model(
            crate::onnx::build::graph("g", vec![], vec![]),
            vec![crate::onnx::build::opset("", 17)],
            vec![],
        );
        assert_eq!(kind(&onnx), None);
    }
}
