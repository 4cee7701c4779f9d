//! Rules for TensorFlow graphs: `saved_model.pb` and frozen `GraphDef` files.
//!
//! A TensorFlow graph is a program. Loading a SavedModel and calling one of its functions
//! runs every op in it with the loading process's rights, and the op set includes file
//! I/O (`ReadFile`, `WriteFile`, `MatchingFiles`, file-based datasets and readers,
//! checkpoint savers), Python callbacks (`PyFunc`, `EagerPyFunc`) and RPC clients. These
//! are reported with the node and function that hold them; any op outside a documented
//! allowlist of ordinary math, array, control-flow and variable ops is reported as unknown,
//! so that a new dangerous op is never called clean.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ward_formats::tf::{self, Graph, Kind, Node};

use crate::onnx::Adapter;
use crate::{Code, Context, Finding, Location, Severity, Source};

/// An op that reads, writes or lists files.
pub const FILE_ACCESS_OP: Code = Code {
    id: "tf-file-access-op",
    severity: Severity::Critical,
    title: "TensorFlow graph reads, writes or lists files",
    remedy: "do not load the model; a graph that touches the file system can read secrets or plant files when it runs",
};
/// An op that calls back into Python.
pub const PYTHON_OP: Code = Code {
    id: "tf-python-op",
    severity: Severity::Critical,
    title: "TensorFlow graph calls Python",
    remedy: "do not load the model; `PyFunc`-style ops run arbitrary Python from the loading process",
};
/// An op that opens network connections.
pub const NETWORK_OP: Code = Code {
    id: "tf-network-op",
    severity: Severity::Critical,
    title: "TensorFlow graph opens network connections",
    remedy: "do not load the model; a graph with RPC or remote-service ops can exfiltrate data or fetch instructions",
};
/// An op outside the allowlist.
pub const UNKNOWN_OP: Code = Code {
    id: "tf-unknown-op",
    severity: Severity::Medium,
    title: "TensorFlow graph uses ops outside the known-op allowlist",
    remedy: "review what the listed ops do; custom ops need a native library loaded with `tf.load_op_library`",
};
/// The protobuf could not be read to the end.
pub const MALFORMED: Code = Code {
    id: "tf-malformed",
    severity: Severity::Medium,
    title: "TensorFlow graph could not be fully parsed",
    remedy: "the graph was not fully inspected; re-export it with TensorFlow or inspect it by hand",
};
/// A limit stopped the walk.
pub const LIMIT_EXCEEDED: Code = Code {
    id: "tf-limit-exceeded",
    severity: Severity::Medium,
    title: "TensorFlow graph exceeds a scan limit",
    remedy: "the graph was not fully inspected; raise the limit named in the message only for a model you trust",
};

/// Every TensorFlow code.
pub const CODES: &[Code] = &[
    FILE_ACCESS_OP,
    PYTHON_OP,
    NETWORK_OP,
    UNKNOWN_OP,
    MALFORMED,
    LIMIT_EXCEEDED,
];

/// Ops that read, write or list files.
pub const FILE_OPS: &[&str] = &[
    "ReadFile",
    "WriteFile",
    "MatchingFiles",
    "MatchingFilesDataset",
    "ImmutableConst",
    "WholeFileReader",
    "WholeFileReaderV2",
    "TextLineReader",
    "TextLineReaderV2",
    "FixedLengthRecordReader",
    "FixedLengthRecordReaderV2",
    "TFRecordReader",
    "TFRecordReaderV2",
    "LMDBReader",
    "TFRecordDataset",
    "TFRecordDatasetV2",
    "FixedLengthRecordDataset",
    "FixedLengthRecordDatasetV2",
    "TextLineDataset",
    "LMDBDataset",
    "ExperimentalLMDBDataset",
    "CSVDataset",
    "CSVDatasetV2",
    "ExperimentalCSVDataset",
    "SqlDataset",
    "ExperimentalSqlDataset",
    "SaveDataset",
    "SaveDatasetV2",
    "LoadDataset",
    "SnapshotDataset",
    "SnapshotDatasetV2",
    "DatasetToTFRecord",
    "ExperimentalDatasetToTFRecord",
    "InitializeTableFromTextFile",
    "InitializeTableFromTextFileV2",
    "LoadAndRemapMatrix",
    "CreateSummaryFileWriter",
    "CreateSummaryDbWriter",
    "WriteSummary",
    "WriteScalarSummary",
    "WriteHistogramSummary",
    "WriteImageSummary",
    "WriteAudioSummary",
    "WriteGraphSummary",
    "WriteRawProtoSummary",
    "ImportEvent",
];

/// Checkpoint ops: they read or write files too, but every SavedModel has them in its
/// saver, so they are allowed where the standard checkpoint pattern puts them (see
/// [`is_standard_checkpoint`]) and reported anywhere else.
pub const CHECKPOINT_OPS: &[&str] = &[
    "Save",
    "SaveV2",
    "SaveSlices",
    "Restore",
    "RestoreV2",
    "RestoreSlice",
    "MergeV2Checkpoints",
];

/// Ops that run Python.
pub const PYTHON_OPS: &[&str] = &["PyFunc", "PyFuncStateless", "EagerPyFunc"];

/// Ops that open network connections to addresses the graph chooses.
pub const NETWORK_OPS: &[&str] = &[
    "Rpc",
    "TryRpc",
    "RpcClient",
    "RpcServer",
    "RpcServerStart",
    "RpcServerRegister",
    "RpcCall",
    "RpcCheckStatus",
    "RpcGetValue",
    "DataServiceDataset",
    "DataServiceDatasetV2",
    "DataServiceDatasetV3",
    "DataServiceDatasetV4",
    "RegisterDataset",
    "RegisterDatasetV2",
    "DistributedSave",
];

/// Debug and print ops, harmless unless a string attribute sends their output to a file
/// or a remote debugger (`debug_urls` = `file://...` or `grpc://...`, `output_stream` =
/// `file://...`), and proto codecs that read a descriptor file unless told `local://`.
const ATTR_CHECKED_OPS: &[&str] = &[
    "DebugIdentity",
    "DebugIdentityV2",
    "DebugIdentityV3",
    "DebugNanCount",
    "DebugNumericSummary",
    "DebugNumericSummaryV2",
    "PrintV2",
    "DecodeProtoV2",
    "EncodeProto",
];

/// Ordinary ops: math, neural network, array, control flow, variables, strings, images,
/// function calls and the string handling of the checkpoint saver. None of them touches
/// files, the network or Python. The list is deliberately explicit: an op missing from it
/// is reported as `tf-unknown-op`, never assumed safe.
pub const KNOWN_OPS: &[&str] = &[
    // Graph structure, placeholders and constants.
    "Const",
    "Placeholder",
    "PlaceholderWithDefault",
    "PlaceholderV2",
    "Identity",
    "IdentityN",
    "NoOp",
    "StopGradient",
    "PreventGradient",
    "Snapshot",
    "_Arg",
    "_Retval",
    "_DeviceArg",
    "_DeviceRetval",
    "Where",
    "Unique",
    "UniqueV2",
    // Function calls and control flow.
    "PartitionedCall",
    "StatefulPartitionedCall",
    "If",
    "StatelessIf",
    "While",
    "StatelessWhile",
    "Case",
    "StatelessCase",
    "Switch",
    "Merge",
    "Enter",
    "Exit",
    "NextIteration",
    "LoopCond",
    "ControlTrigger",
    "RefSwitch",
    "RefEnter",
    "RefMerge",
    "RefIdentity",
    "Assert",
    "CheckNumerics",
    "CheckNumericsV2",
    "EnsureShape",
    "Print",
    "Timestamp",
    // Variables and resources.
    "VarHandleOp",
    "ReadVariableOp",
    "AssignVariableOp",
    "DisableCopyOnRead",
    "AssignAddVariableOp",
    "AssignSubVariableOp",
    "VarIsInitializedOp",
    "DestroyResourceOp",
    "ResourceGather",
    "ResourceGatherNd",
    "ResourceScatterAdd",
    "ResourceScatterUpdate",
    "ResourceScatterSub",
    "ResourceScatterNdUpdate",
    "ResourceScatterNdAdd",
    "Variable",
    "VariableV2",
    "Assign",
    "AssignAdd",
    "AssignSub",
    "IsVariableInitialized",
    "TemporaryVariable",
    "DestroyTemporaryVariable",
    "ResourceApplyAdam",
    "ResourceApplyGradientDescent",
    "ResourceApplyMomentum",
    "ResourceApplyKerasMomentum",
    "ResourceApplyRMSProp",
    "ResourceApplyAdagrad",
    "ResourceApplyAdagradV2",
    "ResourceApplyAdaMax",
    "ResourceApplyAdadelta",
    "ResourceApplyFtrl",
    "ResourceApplyFtrlV2",
    "ApplyAdam",
    "ApplyGradientDescent",
    "ApplyMomentum",
    // Checkpoint path handling (pure string ops; the file ops are in CHECKPOINT_OPS).
    "ShardedFilename",
    "ShardedFilespec",
    "StringJoin",
    "StaticRegexFullMatch",
    "RegexFullMatch",
    "StaticRegexReplace",
    "RegexReplace",
    // Arithmetic.
    "Add",
    "AddV2",
    "AddN",
    "Sub",
    "Mul",
    "MulNoNan",
    "Div",
    "DivNoNan",
    "RealDiv",
    "FloorDiv",
    "FloorMod",
    "TruncateDiv",
    "TruncateMod",
    "Mod",
    "Pow",
    "Neg",
    "Abs",
    "Sign",
    "Square",
    "SquaredDifference",
    "Sqrt",
    "Rsqrt",
    "Exp",
    "Expm1",
    "Log",
    "Log1p",
    "Reciprocal",
    "Inv",
    "Maximum",
    "Minimum",
    "Floor",
    "Ceil",
    "Round",
    "Rint",
    "Sin",
    "Cos",
    "Tan",
    "Asin",
    "Acos",
    "Atan",
    "Atan2",
    "Sinh",
    "Cosh",
    "Tanh",
    "Asinh",
    "Acosh",
    "Atanh",
    "Erf",
    "Erfc",
    "Erfinv",
    "Lgamma",
    "Digamma",
    "IsNan",
    "IsInf",
    "IsFinite",
    "ClipByValue",
    "BiasAdd",
    "BiasAddV1",
    "BiasAddGrad",
    "Cumsum",
    "Cumprod",
    "Xdivy",
    "Xlogy",
    "Xlog1py",
    "Sigmoid",
    "LogSigmoid",
    "Softplus",
    "Softsign",
    "ComplexAbs",
    "Real",
    "Imag",
    "Complex",
    "Conj",
    "Angle",
    // Comparison and logic.
    "Equal",
    "NotEqual",
    "Less",
    "LessEqual",
    "Greater",
    "GreaterEqual",
    "LogicalAnd",
    "LogicalOr",
    "LogicalNot",
    "Select",
    "SelectV2",
    "ApproximateEqual",
    "BitwiseAnd",
    "BitwiseOr",
    "BitwiseXor",
    "Invert",
    "LeftShift",
    "RightShift",
    // Reductions.
    "Sum",
    "Prod",
    "Mean",
    "Max",
    "Min",
    "All",
    "Any",
    "ArgMax",
    "ArgMin",
    "EuclideanNorm",
    "SegmentSum",
    "SegmentMean",
    "SegmentMax",
    "SegmentMin",
    "UnsortedSegmentSum",
    "UnsortedSegmentMax",
    "UnsortedSegmentMin",
    "UnsortedSegmentProd",
    // Linear algebra.
    "MatMul",
    "BatchMatMul",
    "BatchMatMulV2",
    "BatchMatMulV3",
    "Einsum",
    "MatrixInverse",
    "MatrixDeterminant",
    "MatrixDiag",
    "MatrixDiagV3",
    "MatrixDiagPart",
    "MatrixDiagPartV3",
    "MatrixSetDiag",
    "MatrixSetDiagV3",
    "MatrixBandPart",
    "Cholesky",
    "Qr",
    "Svd",
    "SelfAdjointEigV2",
    "MatrixSolve",
    "MatrixTriangularSolve",
    "Cross",
    "Transpose",
    "ConjugateTranspose",
    // Neural network.
    "Relu",
    "Relu6",
    "Elu",
    "Selu",
    "LeakyRelu",
    "Gelu",
    "Softmax",
    "LogSoftmax",
    "Conv2D",
    "Conv3D",
    "Conv1D",
    "DepthwiseConv2dNative",
    "Conv2DBackpropInput",
    "Conv3DBackpropInputV2",
    "Conv2DBackpropFilter",
    "MaxPool",
    "MaxPoolV2",
    "MaxPool3D",
    "AvgPool",
    "AvgPool3D",
    "MaxPoolWithArgmax",
    "FusedBatchNorm",
    "FusedBatchNormV2",
    "FusedBatchNormV3",
    "LRN",
    "L2Loss",
    "BatchNormWithGlobalNormalization",
    "SoftmaxCrossEntropyWithLogits",
    "SparseSoftmaxCrossEntropyWithLogits",
    "InTopK",
    "InTopKV2",
    "TopKV2",
    "Dilation2D",
    "_FusedMatMul",
    "_FusedConv2D",
    "_FusedBatchNormEx",
    "CudnnRNN",
    "CudnnRNNV2",
    "CudnnRNNV3",
    "BlockLSTM",
    "BlockLSTMV2",
    "LSTMBlockCell",
    "GRUBlockCell",
    "Dropout",
    // Array manipulation.
    "Shape",
    "ShapeN",
    "Size",
    "Rank",
    "Reshape",
    "Squeeze",
    "ExpandDims",
    "Pack",
    "Unpack",
    "Concat",
    "ConcatV2",
    "ConcatOffset",
    "Split",
    "SplitV",
    "Slice",
    "StridedSlice",
    "StridedSliceGrad",
    "Tile",
    "Pad",
    "PadV2",
    "MirrorPad",
    "Gather",
    "GatherV2",
    "GatherNd",
    "ScatterNd",
    "TensorScatterUpdate",
    "TensorScatterAdd",
    "TensorScatterSub",
    "Fill",
    "ZerosLike",
    "OnesLike",
    "Range",
    "LinSpace",
    "Cast",
    "Bitcast",
    "BroadcastTo",
    "BroadcastArgs",
    "BroadcastGradientArgs",
    "Reverse",
    "ReverseV2",
    "ReverseSequence",
    "OneHot",
    "SpaceToBatchND",
    "BatchToSpaceND",
    "SpaceToDepth",
    "DepthToSpace",
    "DynamicStitch",
    "ParallelDynamicStitch",
    "DynamicPartition",
    "InvertPermutation",
    "ListDiff",
    "SetSize",
    "Diag",
    "DiagPart",
    "Empty",
    "Roll",
    "CheckPointer",
    "Bucketize",
    "SparseToDense",
    "SparseTensorDenseMatMul",
    "SparseReshape",
    "SparseFillEmptyRows",
    "SparseSegmentSum",
    "SparseSegmentMean",
    "SparseSegmentSqrtN",
    "SparseReorder",
    "SparseConcat",
    "SparseAdd",
    "SparseSlice",
    "SparseSplit",
    "SparseToSparseSetOperation",
    "DenseToDenseSetOperation",
    "UniqueWithCounts",
    "SortV2",
    "Sort",
    "NthElement",
    "HistogramFixedWidth",
    "UpperBound",
    "LowerBound",
    "QuantizeAndDequantizeV2",
    "QuantizeAndDequantizeV3",
    "QuantizeAndDequantizeV4",
    "FakeQuantWithMinMaxVars",
    "FakeQuantWithMinMaxArgs",
    "FakeQuantWithMinMaxVarsPerChannel",
    "Dequantize",
    "QuantizeV2",
    // Random numbers.
    "RandomUniform",
    "RandomUniformInt",
    "RandomStandardNormal",
    "TruncatedNormal",
    "StatelessRandomUniform",
    "StatelessRandomUniformV2",
    "StatelessRandomNormal",
    "StatelessRandomNormalV2",
    "StatelessTruncatedNormal",
    "StatelessTruncatedNormalV2",
    "StatelessRandomUniformInt",
    "StatelessRandomUniformIntV2",
    "StatelessRandomGetKeyCounter",
    "StatelessRandomGetKeyCounterAlg",
    "StatelessRandomGetAlg",
    "RandomShuffle",
    "StatefulUniform",
    "StatefulStandardNormalV2",
    "RngReadAndSkip",
    "RngBitGenerator",
    "Multinomial",
    "StatelessMultinomial",
    // Strings and text.
    "StringToNumber",
    "AsString",
    "StringFormat",
    "StringLength",
    "StringSplit",
    "StringSplitV2",
    "StringStrip",
    "StringLower",
    "StringUpper",
    "Substr",
    "StringToHashBucket",
    "StringToHashBucketFast",
    "StringToHashBucketStrong",
    "ReduceJoin",
    "UnicodeDecode",
    "UnicodeDecodeWithOffsets",
    "UnicodeEncode",
    "UnicodeTranscode",
    "EncodeBase64",
    "DecodeBase64",
    "DecodeRaw",
    "DecodePaddedRaw",
    "DecodeCSV",
    "ParseExample",
    "ParseExampleV2",
    "ParseSingleExample",
    "ParseSequenceExample",
    "ParseSequenceExampleV2",
    "ParseSingleSequenceExample",
    "ParseTensor",
    "SerializeTensor",
    "DecodeJSONExample",
    "StringNGrams",
    "RaggedTensorToTensor",
    "RaggedTensorFromVariant",
    "RaggedTensorToVariant",
    "RaggedGather",
    "RaggedRange",
    "RaggedTensorToSparse",
    // Images and signal.
    "DecodeJpeg",
    "DecodePng",
    "DecodeImage",
    "DecodeGif",
    "DecodeBmp",
    "EncodeJpeg",
    "EncodePng",
    "ResizeBilinear",
    "ResizeNearestNeighbor",
    "ResizeBicubic",
    "ResizeArea",
    "ScaleAndTranslate",
    "CropAndResize",
    "ExtractImagePatches",
    "AdjustContrastv2",
    "AdjustHue",
    "AdjustSaturation",
    "RGBToHSV",
    "HSVToRGB",
    "NonMaxSuppressionV3",
    "NonMaxSuppressionV4",
    "NonMaxSuppressionV5",
    "CombinedNonMaxSuppression",
    "FFT",
    "IFFT",
    "RFFT",
    "IRFFT",
    "FFT2D",
    "IFFT2D",
    "RFFT2D",
    "IRFFT2D",
    "ImageProjectiveTransformV3",
    // Lookup tables held in memory (file-backed initialisation is in FILE_OPS).
    "HashTable",
    "HashTableV2",
    "MutableHashTable",
    "MutableHashTableV2",
    "MutableDenseHashTableV2",
    "LookupTableFindV2",
    "LookupTableImportV2",
    "LookupTableExportV2",
    "LookupTableInsertV2",
    "LookupTableRemoveV2",
    "LookupTableSizeV2",
    "InitializeTableV2",
    "AnonymousHashTable",
    "AnonymousMutableHashTable",
    // Tensor lists, arrays, optionals and in-memory datasets.
    "TensorListReserve",
    "TensorListFromTensor",
    "TensorListStack",
    "TensorListGetItem",
    "TensorListSetItem",
    "TensorListPushBack",
    "TensorListPopBack",
    "TensorListLength",
    "TensorListElementShape",
    "TensorListConcatV2",
    "EmptyTensorList",
    "TensorArrayV3",
    "TensorArrayReadV3",
    "TensorArrayWriteV3",
    "TensorArrayGatherV3",
    "TensorArrayScatterV3",
    "TensorArraySizeV3",
    "TensorArrayConcatV3",
    "TensorArraySplitV3",
    "OptionalFromValue",
    "OptionalGetValue",
    "OptionalHasValue",
    "OptionalNone",
    "TensorDataset",
    "TensorSliceDataset",
    "RangeDataset",
    "BatchDatasetV2",
    "MapDataset",
    "FilterDataset",
    "ShuffleDatasetV3",
    "RepeatDataset",
    "PrefetchDataset",
    "ZipDataset",
    "TakeDataset",
    "SkipDataset",
    "CacheDatasetV2",
    "OptimizeDatasetV2",
    "ModelDataset",
    "IteratorV2",
    "AnonymousIteratorV3",
    "MakeIterator",
    "IteratorGetNext",
    "DeleteIterator",
];

/// Scans the TensorFlow graph file of kind `kind` in the first `len` bytes of `src`.
pub fn scan(
    src: &mut dyn Source,
    len: u64,
    kind: Kind,
    loc: &Location,
    ctx: &Context,
) -> Vec<Finding> {
    let mut adapter = Adapter(src);
    let graph = tf::parse(&mut adapter, len, kind, &ctx.limits, &ctx.budget);
    check(&graph, kind, loc)
}

/// Scans a `saved_model.pb`.
pub fn scan_saved_model(
    src: &mut dyn Source,
    len: u64,
    loc: &Location,
    ctx: &Context,
) -> Vec<Finding> {
    scan(src, len, Kind::SavedModel, loc, ctx)
}

/// Scans a frozen `GraphDef`.
pub fn scan_graph_def(
    src: &mut dyn Source,
    len: u64,
    loc: &Location,
    ctx: &Context,
) -> Vec<Finding> {
    scan(src, len, Kind::GraphDef, loc, ctx)
}

/// Whether a checkpoint op sits where the standard saver puts it: in a SavedModel, under
/// the TensorFlow 1 saver's name scope (`save/`, `save_1/`, ...) or in the functions
/// TensorFlow 2 traces for saving and restoring (`__inference__traced_save_*`,
/// `__inference__traced_restore_*`, `__inference_save_fn_*`, `__inference_restore_fn_*`).
///
/// This is a naming convention, not a proof: a crafted SavedModel can name a function
/// that way. It is accepted because the saver's file name comes from the caller of
/// `tf.saved_model.save` or `restore`, and any graph that also reads or writes files by
/// other means is still reported.
pub fn is_standard_checkpoint(node: &Node, kind: Kind) -> bool {
    if kind != Kind::SavedModel {
        return false;
    }
    match &node.function {
        Some(f) => [
            "__inference__traced_save_",
            "__inference__traced_restore_",
            "__inference_save_fn_",
            "__inference_restore_fn_",
        ]
        .iter()
        .any(|p| f.starts_with(p)),
        None => {
            let scope = node.name.split('/').next().unwrap_or_default();
            node.name.contains('/')
                && (scope == "save"
                    || scope
                        .strip_prefix("save_")
                        .is_some_and(|n| n.parse::<u32>().is_ok()))
        }
    }
}

fn where_(node: &Node) -> String {
    match &node.function {
        Some(f) => format!("node `{}` in function `{f}`", node.name),
        None => format!("node `{}` in the main graph", node.name),
    }
}

/// The string attribute that sends a debug or print op's output outside the process, if
/// any, and whether it is a network address.
fn outside_target(node: &Node) -> Option<(String, bool)> {
    node.strings.iter().find_map(|(key, value)| {
        let v = value.trim().to_ascii_lowercase();
        match key.as_str() {
            "debug_urls" | "output_stream" if v.starts_with("file://") => {
                Some((value.clone(), false))
            }
            "debug_urls" if v.contains("://") => Some((value.clone(), true)),
            "descriptor_source" if v != "local://" && !v.is_empty() => Some((value.clone(), false)),
            _ => None,
        }
    })
}

/// Applies the op catalogue to a parsed graph.
pub fn check(graph: &Graph, kind: Kind, loc: &Location) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(error) = &graph.error {
        let code = if error.is_limit() {
            LIMIT_EXCEEDED
        } else {
            MALFORMED
        };
        findings.push(Finding::new(
            code,
            loc.clone(),
            format!("{error}; what follows was not inspected"),
        ));
    }
    let functions: BTreeSet<&str> = graph.functions.iter().map(String::as_str).collect();
    let mut unknown: Vec<(&str, String)> = Vec::new();
    for node in &graph.nodes {
        let op = node.op.as_str();
        let at = loc.at(node.offset);
        if PYTHON_OPS.contains(&op) {
            findings.push(Finding::new(
                PYTHON_OP,
                at,
                format!("op `{op}` at {} runs Python", where_(node)),
            ));
        } else if NETWORK_OPS.contains(&op) {
            findings.push(Finding::new(
                NETWORK_OP,
                at,
                format!("op `{op}` at {} opens network connections", where_(node)),
            ));
        } else if FILE_OPS.contains(&op) {
            findings.push(Finding::new(
                FILE_ACCESS_OP,
                at,
                format!("op `{op}` at {} reads, writes or lists files", where_(node)),
            ));
        } else if CHECKPOINT_OPS.contains(&op) {
            if !is_standard_checkpoint(node, kind) {
                findings.push(Finding::new(
                    FILE_ACCESS_OP,
                    at,
                    format!(
                        "checkpoint op `{op}` at {} is outside the standard saver, so it reads or writes files the graph chooses",
                        where_(node)
                    ),
                ));
            }
        } else if ATTR_CHECKED_OPS.contains(&op) {
            if let Some((target, network)) = outside_target(node) {
                let (code, what) = if network {
                    (NETWORK_OP, "sends data to")
                } else {
                    (FILE_ACCESS_OP, "uses the file")
                };
                findings.push(Finding::new(
                    code,
                    at,
                    format!("op `{op}` at {} {what} `{target}`", where_(node)),
                ));
            }
        } else if !KNOWN_OPS.contains(&op) && !functions.contains(op) {
            unknown.push((op, where_(node)));
        }
    }
    if !unknown.is_empty() {
        let mut ops: Vec<&str> = unknown.iter().map(|(op, _)| *op).collect();
        ops.sort_unstable();
        ops.dedup();
        let shown: Vec<String> = ops.iter().take(20).map(|op| format!("`{op}`")).collect();
        let first = unknown.first().map(|(_, w)| w.clone()).unwrap_or_default();
        findings.push(Finding::new(
            UNKNOWN_OP,
            loc.clone(),
            format!(
                "{} op kind(s) outside the known-op allowlist: {}{} (first at {first})",
                ops.len(),
                shown.join(", "),
                if ops.len() > 20 { ", ..." } else { "" }
            ),
        ));
    }
    findings
}

/// The checkpoint files a SavedModel at `saved_model_path` restores its variables from
/// (`variables/variables.index` and `variables/variables.data-*`): TensorFlow reads them as
/// tensor bytes, never as code, so they are expected to match no format.
pub fn claimed_files(saved_model_path: &Path) -> Vec<PathBuf> {
    let dir = saved_model_path
        .parent()
        .unwrap_or(Path::new(""))
        .join("variables");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|name| {
                    name == "variables.index" || name.starts_with("variables.data-")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use ward_formats::Limits;
    use ward_formats::tf::build::*;

    use super::*;

    fn run(bytes: &[u8], kind: Kind) -> Vec<Finding> {
        let ctx = Context::new(Limits::default());
        let mut cur = Cursor::new(bytes.to_vec());
        scan(
            &mut cur,
            bytes.len() as u64,
            kind,
            &Location::file("saved_model.pb"),
            &ctx,
        )
    }

    fn ids(findings: &[Finding]) -> Vec<&'static str> {
        let mut ids: Vec<_> = findings.iter().map(|f| f.code.id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn ordinary() -> Vec<ward_formats::protobuf::Writer> {
        vec![
            node("x", "Placeholder", &[], &[]),
            const_node("w", &[0; 64]),
            node("y", "MatMul", &["x", "w"], &[]),
            node("call", "StatefulPartitionedCall", &["y"], &[]),
        ]
    }

    #[test]
    fn ordinary_saved_model_with_its_saver_is_clean() {
        let save = function(
            "__inference__traced_save_42",
            vec![
                node("StringJoin", "StringJoin", &[], &[]),
                node("SaveV2", "SaveV2", &[], &[]),
                node("MergeV2Checkpoints", "MergeV2Checkpoints", &[], &[]),
            ],
        );
        let restore = function(
            "__inference__traced_restore_43",
            vec![node("RestoreV2", "RestoreV2", &[], &[])],
        );
        let mut nodes = ordinary();
        nodes.push(node("save/SaveV2", "SaveV2", &[], &[]));
        nodes.push(node("save_1/RestoreV2", "RestoreV2", &[], &[]));
        nodes.push(node("f", "my_fn", &[], &[]));
        let lib = vec![
            save,
            restore,
            function("my_fn", vec![node("r", "Relu", &[], &[])]),
        ];
        assert_eq!(
            run(&saved_model(graph_def(nodes, lib)), Kind::SavedModel),
            []
        );
    }

    #[test]
    fn dangerous_ops_in_graph_and_library_are_reported_with_names() {
        let lib = vec![function(
            "__inference_serve_7",
            vec![node("wf", "WriteFile", &[], &[])],
        )];
        let mut nodes = ordinary();
        nodes.push(node("rf", "ReadFile", &[], &[]));
        nodes.push(node("py", "PyFunc", &[], &[]));
        nodes.push(node("rpc", "Rpc", &[], &[]));
        let f = run(&saved_model(graph_def(nodes, lib)), Kind::SavedModel);
        assert_eq!(
            ids(&f),
            ["tf-file-access-op", "tf-network-op", "tf-python-op"]
        );
        assert!(f.iter().all(|f| f.severity == Severity::Critical));
        assert!(
            f.iter()
                .any(|f| f.message.contains("`wf` in function `__inference_serve_7`"))
        );
        assert!(
            f.iter()
                .any(|f| f.message.contains("`rf` in the main graph"))
        );
    }

    #[test]
    fn checkpoint_ops_outside_the_saver_and_in_frozen_graphs_are_reported() {
        let nodes = vec![node("evil/SaveV2", "SaveV2", &[], &[])];
        assert_eq!(
            ids(&run(
                &saved_model(graph_def(nodes, vec![])),
                Kind::SavedModel
            )),
            ["tf-file-access-op"]
        );
        let nodes = vec![node("save/SaveV2", "SaveV2", &[], &[])];
        assert_eq!(
            ids(&run(&graph_def(nodes, vec![]).finish(), Kind::GraphDef)),
            ["tf-file-access-op"]
        );
    }

    #[test]
    fn debug_urls_and_unknown_ops() {
        let nodes = vec![
            node(
                "d1",
                "DebugIdentity",
                &[],
                &[("debug_urls", "file:///tmp/dump")],
            ),
            node(
                "d2",
                "DebugIdentity",
                &[],
                &[("debug_urls", "grpc://10.0.0.1:6064")],
            ),
            node("d3", "DebugIdentity", &[], &[]),
            node("c", "MyCustomOp", &[], &[]),
        ];
        let f = run(&graph_def(nodes, vec![]).finish(), Kind::GraphDef);
        assert_eq!(
            ids(&f),
            ["tf-file-access-op", "tf-network-op", "tf-unknown-op"]
        );
        let unknown = f.iter().find(|f| f.code.id == "tf-unknown-op").unwrap();
        assert_eq!(unknown.severity, Severity::Medium);
        assert!(unknown.message.contains("`MyCustomOp`"));
    }

    #[test]
    fn malformed_and_limits_are_reported() {
        let bytes = saved_model(graph_def(ordinary(), vec![]));
        assert_eq!(
            ids(&run(&bytes[..bytes.len() - 3], Kind::SavedModel)),
            ["tf-malformed"]
        );
        let ctx = Context::new(Limits {
            max_nesting: 2,
            ..Limits::default()
        });
        let mut cur = Cursor::new(bytes.clone());
        let f = scan(
            &mut cur,
            bytes.len() as u64,
            Kind::SavedModel,
            &Location::file("s.pb"),
            &ctx,
        );
        assert_eq!(ids(&f), ["tf-limit-exceeded"]);
    }

    /// ONNX, Keras and TensorFlow files written by the real libraries
    /// (`tests/gen/benign_graphs.py`) scan clean through the engine.
    #[test]
    fn benign_models_from_the_real_libraries_scan_clean() {
        let python = std::env::var("WARD_TEST_PYTHON").expect(
            "WARD_TEST_PYTHON must name the test venv's python (run ./scripts/test to set it up)",
        );
        let out = tempfile::tempdir().unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/gen/benign_graphs.py"
        );
        let status = std::process::Command::new(python)
            .arg(script)
            .arg(out.path())
            .status()
            .unwrap();
        assert!(status.success(), "benign_graphs.py failed");
        let mut files = Vec::new();
        let mut dirs = vec![out.path().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files.sort();
        let mut formats = std::collections::BTreeSet::new();
        assert!(
            files
                .iter()
                .any(|p| p.ends_with("onnx-external/model.onnx.data"))
        );
        for path in files {
            // Raw tensor bytes that the ONNX model next to it names as external data.
            if path.extension().is_some_and(|e| e == "data") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let ctx = Context::new(Limits::default());
            let out = crate::engine::scan_source(
                &mut Cursor::new(bytes.clone()),
                bytes.len() as u64,
                &Location::file(path.to_string_lossy()),
                &ctx,
            );
            formats.insert(out.format.as_str());
            assert_eq!(out.findings, [], "{}", path.display());
            if path.extension().is_some_and(|e| e == "h5") {
                // The clean result must come from reading the config, not from missing it.
                let attrs = ward_formats::hdf5::root_attributes(
                    &mut Cursor::new(bytes.clone()),
                    bytes.len() as u64,
                    &Limits::default(),
                    &["model_config"],
                )
                .unwrap();
                let config = attrs.found[0].value.clone().unwrap();
                let json: serde_json::Value = serde_json::from_slice(&config).unwrap();
                assert!(json["config"]["layers"].is_array(), "{}", path.display());
            }
        }
        let want = ["hdf5", "onnx", "tf-graph-def", "tf-saved-model", "zip"];
        assert_eq!(formats.into_iter().collect::<Vec<_>>(), want);
    }
}
