//! Rules for Keras model configurations: `config.json` in a `.keras` zip and the
//! `model_config` / `training_config` attributes of a legacy `.h5` file.
//!
//! Keras rebuilds a model by resolving every `module` + `class_name` pair in its config to
//! a Python object and calling it. That is how attacks get in: a `Lambda` layer carries
//! marshalled Python bytecode (CVE-2024-3660, and CVE-2025-9905 for `.h5` files, which
//! ignore `safe_mode`); a config can name any importable function instead of a layer
//! (CVE-2025-1550), including functions inside the `keras` package itself such as
//! `keras.utils.get_file`, which downloads and writes files (CVE-2025-8747); and a config
//! can switch safe mode off by calling `keras.config.enable_unsafe_deserialization` before
//! a `Lambda` is rebuilt (CVE-2025-9906). `TFSMLayer` loads a TensorFlow SavedModel from a
//! path named in the config, whose graph can do anything a TensorFlow graph can.
//!
//! The walk therefore covers the whole JSON tree, not just `layers`, and allows only the
//! Keras and TensorFlow modules and classes listed here; everything else is reported.

use std::io::Write;

use serde_json::Value;
use ward_formats::hdf5;
use ward_formats::zip::{self, Entry};

use crate::{Code, Context, Finding, Location, Severity, Source};

/// A `Lambda` layer.
pub const LAMBDA_LAYER: Code = Code {
    id: "keras-lambda-layer",
    severity: Severity::Critical,
    title: "Keras model has a Lambda layer",
    remedy: "do not load the model; a Lambda layer runs Python code stored in or named by the file (CVE-2024-3660, CVE-2025-9905)",
};
/// Serialized Python code anywhere in the config.
pub const SERIALIZED_CODE: Code = Code {
    id: "keras-serialized-code",
    severity: Severity::Critical,
    title: "Keras config holds serialized Python code",
    remedy: "do not load the model; the config carries Python bytecode that Keras unmarshals and runs",
};
/// A call to `enable_unsafe_deserialization`.
pub const UNSAFE_DESERIALIZATION: Code = Code {
    id: "keras-unsafe-deserialization",
    severity: Severity::Critical,
    title: "Keras config switches off safe mode",
    remedy: "do not load the model; it turns off Keras safe mode while loading (CVE-2025-9906)",
};
/// A module, class or registered name outside the allowlist.
pub const UNKNOWN_OBJECT: Code = Code {
    id: "keras-unknown-object",
    severity: Severity::High,
    title: "Keras config names an object outside the Keras layer allowlist",
    remedy: "do not load the model unless you know the named object; configs can name any importable function (CVE-2025-1550, CVE-2025-8747)",
};
/// A `TFSMLayer`.
pub const TFSM_LAYER: Code = Code {
    id: "keras-tfsm-layer",
    severity: Severity::High,
    title: "Keras model loads a TensorFlow SavedModel through TFSMLayer",
    remedy: "scan the SavedModel the layer names before loading, and check where its path points",
};
/// A file path or URL in the config.
pub const EXTERNAL_REFERENCE: Code = Code {
    id: "keras-external-reference",
    severity: Severity::High,
    title: "Keras config refers to an external file or URL",
    remedy: "check the path or URL: loading the model may read or download it",
};
/// The config is not JSON, or exceeds a limit.
pub const INVALID_CONFIG: Code = Code {
    id: "keras-invalid-config",
    severity: Severity::Medium,
    title: "Keras config could not be fully read",
    remedy: "the model was not fully inspected; re-save it with Keras or inspect the config by hand",
};
/// An HDF5 file whose structure could not be read where the config may live.
pub const H5_UNREADABLE: Code = Code {
    id: "keras-h5-unreadable",
    severity: Severity::Medium,
    title: "HDF5 file could not be read far enough to find the Keras config",
    remedy: "the model was not inspected; re-save it as `.keras` or inspect it with h5py",
};

/// Every Keras code.
pub const CODES: &[Code] = &[
    LAMBDA_LAYER,
    SERIALIZED_CODE,
    UNSAFE_DESERIALIZATION,
    UNKNOWN_OBJECT,
    TFSM_LAYER,
    EXTERNAL_REFERENCE,
    INVALID_CONFIG,
    H5_UNREADABLE,
];

/// Top-level packages whose layer modules are allowed.
const ALLOWED_PACKAGES: &[&str] = &["keras", "tf_keras", "tensorflow"];

/// Module path components that hold helpers, not layers: `keras.utils` (`get_file`),
/// `keras.config` (`enable_unsafe_deserialization`), `keras.saving`, `keras.backend`,
/// `keras.export` and the like. A module with one of these is outside the allowlist even
/// in the `keras` package (CVE-2025-8747).
const DENIED_COMPONENTS: &[&str] = &[
    "utils",
    "config",
    "saving",
    "backend",
    "export",
    "io_utils",
    "file_utils",
    "callbacks",
    "ops",
    "random",
    "tree",
    "datasets",
    "applications",
    "distribution",
    "visualization",
];

/// Classes Keras and TensorFlow ship as serializable model parts: models, layers,
/// initializers, regularizers, constraints, optimizers and schedules, losses, metrics,
/// dtype policies. An entry here is only trusted with an allowed module.
pub const KNOWN_CLASSES: &[&str] = &[
    // Models and functional plumbing.
    "Sequential",
    "Functional",
    "Model",
    "InputLayer",
    "Input",
    "KerasTensor",
    "__tensor__",
    "__keras_tensor__",
    "TensorShape",
    "DTypePolicy",
    "FloatDTypePolicy",
    "QuantizedDTypePolicy",
    "QuantizedFloat8DTypePolicy",
    "Policy",
    "DTypePolicyMap",
    "__numpy__",
    "__bytes__",
    "__typespec__",
    "TypeSpec",
    "TensorSpec",
    "InputSpec",
    "Operation",
    "Node",
    // Core layers.
    "Dense",
    "EinsumDense",
    "Embedding",
    "Activation",
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "Flatten",
    "Reshape",
    "Permute",
    "RepeatVector",
    "Masking",
    "Identity",
    "ActivityRegularization",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Dot",
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    "SeparableConv1D",
    "SeparableConv2D",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "Convolution1D",
    "Convolution2D",
    "Convolution3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "BatchNormalization",
    "LayerNormalization",
    "GroupNormalization",
    "UnitNormalization",
    "SpectralNormalization",
    "RMSNormalization",
    "Normalization",
    "LSTM",
    "GRU",
    "SimpleRNN",
    "RNN",
    "LSTMCell",
    "GRUCell",
    "SimpleRNNCell",
    "StackedRNNCells",
    "Bidirectional",
    "TimeDistributed",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
    "MultiHeadAttention",
    "Attention",
    "AdditiveAttention",
    "GroupQueryAttention",
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "Softmax",
    "ThresholdedReLU",
    "Rescaling",
    "Resizing",
    "CenterCrop",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomContrast",
    "RandomBrightness",
    "RandomCrop",
    "RandomTranslation",
    "TextVectorization",
    "StringLookup",
    "IntegerLookup",
    "CategoryEncoding",
    "Hashing",
    "Discretization",
    "HashedCrossing",
    // Initializers.
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "Zeros",
    "Ones",
    "Constant",
    "RandomUniform",
    "RandomNormal",
    "TruncatedNormal",
    "Orthogonal",
    "VarianceScaling",
    "Identity",
    "IdentityInitializer",
    "OrthogonalInitializer",
    // Regularizers and constraints.
    "L1",
    "L2",
    "L1L2",
    "OrthogonalRegularizer",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    // Optimizers and learning-rate schedules.
    "Adam",
    "AdamW",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Nadam",
    "Ftrl",
    "Lion",
    "Lamb",
    "LossScaleOptimizer",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    // Losses.
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "SparseCategoricalCrossentropy",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "Huber",
    "LogCosh",
    "KLDivergence",
    "Poisson",
    "CosineSimilarity",
    "Dice",
    "Tversky",
    "CTC",
    // Metrics.
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "AUC",
    "Precision",
    "Recall",
    "Mean",
    "Sum",
    "MeanMetricWrapper",
    "RootMeanSquaredError",
    "F1Score",
    "FBetaScore",
    "R2Score",
    "MeanIoU",
    "IoU",
    "OneHotIoU",
    "OneHotMeanIoU",
    "BinaryIoU",
    "TruePositives",
    "TrueNegatives",
    "FalsePositives",
    "FalseNegatives",
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
    "LogCoshError",
    "KLDivergence",
];

/// Functions Keras serializes by name (`class_name` = `function`): activations, losses
/// and metrics.
pub const KNOWN_FUNCTIONS: &[&str] = &[
    "relu",
    "relu6",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "sigmoid",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "softmax",
    "log_softmax",
    "softplus",
    "softsign",
    "tanh",
    "exponential",
    "linear",
    "leaky_relu",
    "celu",
    "glu",
    "hard_tanh",
    "sparse_plus",
    "squareplus",
    "tanh_shrink",
    "soft_shrink",
    "hard_shrink",
    "threshold",
    "sparsemax",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "huber",
    "log_cosh",
    "kl_divergence",
    "poisson",
    "cosine_similarity",
    "mse",
    "mae",
    "mape",
    "msle",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
];

/// Keys whose string values name files or URLs that loading may read or fetch.
const PATH_KEYS: &[&str] = &[
    "filepath",
    "origin",
    "fname",
    "cache_dir",
    "cache_subdir",
    "url",
];

/// URL schemes that reach outside the model.
const URL_SCHEMES: &[&str] = &[
    "http://", "https://", "ftp://", "file://", "gs://", "s3://", "hdfs://",
];

/// Scans a Keras model config (`config.json`, or an `.h5` file's `model_config` or
/// `training_config` attribute).
pub fn scan_config(bytes: &[u8], loc: &Location, ctx: &Context) -> Vec<Finding> {
    if bytes.len() as u64 > ctx.limits.max_header_bytes {
        return vec![Finding::new(
            INVALID_CONFIG,
            loc.clone(),
            format!(
                "config of {} bytes is larger than the limit `max_header_bytes` = {}",
                bytes.len(),
                ctx.limits.max_header_bytes
            ),
        )];
    }
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return vec![Finding::new(
                INVALID_CONFIG,
                loc.clone(),
                format!("config is not valid JSON: {e}"),
            )];
        }
    };
    let mut walk = Walk {
        loc,
        limit: ctx.limits.max_nesting,
        findings: Vec::new(),
        seen: std::collections::BTreeSet::new(),
        too_deep: false,
    };
    walk.value(&value, "$", 0);
    if walk.too_deep {
        walk.findings.push(Finding::new(
            INVALID_CONFIG,
            loc.clone(),
            format!(
                "config nests deeper than the limit `max_nesting` = {}; the rest was not inspected",
                ctx.limits.max_nesting
            ),
        ));
    }
    walk.findings
}

/// Scans `metadata.json` of a `.keras` zip: it holds only the Keras version and date, but
/// it must be JSON like Keras expects, or the archive is not what it claims.
pub fn scan_metadata(bytes: &[u8], loc: &Location, ctx: &Context) -> Vec<Finding> {
    if bytes.len() as u64 > ctx.limits.max_header_bytes {
        return vec![Finding::new(
            INVALID_CONFIG,
            loc.clone(),
            "metadata larger than `max_header_bytes`",
        )];
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(_)) => Vec::new(),
        Ok(_) => vec![Finding::new(
            INVALID_CONFIG,
            loc.clone(),
            "metadata is not a JSON object",
        )],
        Err(e) => vec![Finding::new(
            INVALID_CONFIG,
            loc.clone(),
            format!("metadata is not valid JSON: {e}"),
        )],
    }
}

/// Whether the member names of a zip are those of a `.keras` archive.
pub fn is_keras_archive<'a>(mut names: impl Iterator<Item = &'a str>) -> bool {
    let (mut config, mut metadata) = (false, false);
    for name in names.by_ref() {
        config |= name == "config.json";
        metadata |= name == "metadata.json";
    }
    config && metadata
}

/// Scans one member of a `.keras` archive if it is one the Keras rules read
/// (`config.json`, `metadata.json`); `None` for other members.
pub fn scan_member(
    name: &str,
    bytes: &[u8],
    loc: &Location,
    ctx: &Context,
) -> Option<Vec<Finding>> {
    match name {
        "config.json" => Some(scan_config(bytes, loc, ctx)),
        "metadata.json" => Some(scan_metadata(bytes, loc, ctx)),
        _ => None,
    }
}

/// The root-group attributes of a legacy `.h5` model that hold Keras configs.
pub const H5_CONFIG_ATTRIBUTES: &[&str] = &["model_config", "training_config"];

/// Scans a legacy Keras `.h5` file (or any HDF5 file): reads the root group's
/// `model_config` and `training_config` attributes with ward's own HDF5 reader and walks
/// them like `config.json`. An HDF5 file without them (a weights-only file, a dataset) has
/// no config for Keras to rebuild, so it gets no finding; one that cannot be read as far
/// as its root attributes gets `keras-h5-unreadable`.
pub fn scan_h5(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Vec<Finding> {
    let mut adapter = crate::onnx::Adapter(src);
    let attrs = match hdf5::root_attributes(&mut adapter, len, &ctx.limits, H5_CONFIG_ATTRIBUTES) {
        Ok(attrs) => attrs,
        Err(e) => {
            return vec![Finding::new(
                H5_UNREADABLE,
                loc.clone(),
                format!(
                    "{e}; the root group's attributes, where Keras keeps its config, were not inspected"
                ),
            )];
        }
    };
    let mut findings = Vec::new();
    for attr in attrs.found {
        match attr.value {
            Ok(bytes) => {
                for f in scan_config(&bytes, loc, ctx) {
                    let message = format!("attribute `{}`: {}", attr.name, f.message);
                    findings.push(Finding { message, ..f });
                }
            }
            Err(e) => findings.push(Finding::new(
                H5_UNREADABLE,
                loc.clone(),
                format!("attribute `{}` could not be decoded: {e}", attr.name),
            )),
        }
    }
    findings
}

/// Extracts one member of a `.keras` zip and scans it if it is one the Keras rules read
/// (`config.json`, `metadata.json`); `None` for other members. The engine calls this for
/// the members of a zip that [`is_keras_archive`] recognises, in addition to its own scan
/// of the member (which checks the member's CRC and sniffs its content).
pub fn scan_zip_member(
    entry: &Entry,
    src: &mut dyn Source,
    loc: &Location,
    ctx: &Context,
) -> Option<Vec<Finding>> {
    if !matches!(entry.name.as_str(), "config.json" | "metadata.json") {
        return None;
    }
    let limit = ctx.limits.max_header_bytes;
    let mut out = Capped {
        buf: Vec::new(),
        limit,
        overflowed: false,
    };
    match zip::extract(src, entry, &mut out, &ctx.limits) {
        Ok(_) => scan_member(&entry.name, &out.buf, loc, ctx),
        Err(_) if out.overflowed => Some(vec![Finding::new(
            INVALID_CONFIG,
            loc.clone(),
            format!(
                "member is larger than the limit `max_header_bytes` = `{limit}`; it was not inspected"
            ),
        )]),
        // Extraction errors are reported by the engine's own scan of the member.
        Err(_) => Some(Vec::new()),
    }
}

/// A writer that refuses to hold more than `limit` bytes, so a member whose header lies
/// about its size cannot fill memory.
struct Capped {
    buf: Vec<u8>,
    limit: u64,
    overflowed: bool,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let total = (self.buf.len() as u64).saturating_add(data.len() as u64);
        if total > self.limit {
            self.overflowed = true;
            return Err(std::io::Error::other(
                "member larger than `max_header_bytes`",
            ));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Walk<'a> {
    loc: &'a Location,
    limit: usize,
    findings: Vec<Finding>,
    seen: std::collections::BTreeSet<(&'static str, String)>,
    too_deep: bool,
}

impl Walk<'_> {
    fn push(&mut self, code: Code, message: String) {
        // One finding per code and object: a model with a hundred Lambda layers, or a
        // hundred references to one unknown class, stays readable. The message names the
        // first place it was found; the key is the message without that place.
        let key = message
            .split(" at `$")
            .next()
            .unwrap_or_default()
            .to_string();
        if self.seen.insert((code.id, key)) {
            self.findings
                .push(Finding::new(code, self.loc.clone(), message));
        }
    }

    fn value(&mut self, v: &Value, path: &str, depth: usize) {
        if depth > self.limit {
            self.too_deep = true;
            return;
        }
        match v {
            Value::Object(map) => {
                self.object(map, path);
                for (k, child) in map {
                    let child_path = format!("{path}.{k}");
                    if let Value::String(s) = child {
                        self.string_field(k, s, &child_path);
                    }
                    self.value(child, &child_path, depth.saturating_add(1));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    self.value(child, &format!("{path}[{i}]"), depth.saturating_add(1));
                }
            }
            Value::String(s) => self.any_string(s, path),
            _ => {}
        }
    }

    /// Checks one serialized object: `{module, class_name, config, registered_name}`.
    fn object(&mut self, map: &serde_json::Map<String, Value>, path: &str) {
        let class_name = map.get("class_name").and_then(Value::as_str);
        let module = map.get("module").and_then(Value::as_str);
        let registered = map.get("registered_name").and_then(Value::as_str);
        if map.get("function_type").and_then(Value::as_str) == Some("lambda") {
            self.push(
                SERIALIZED_CODE,
                format!(
                    "`function_type` `lambda` at `{path}`: the function is marshalled Python bytecode"
                ),
            );
        }
        let Some(class_name) = class_name else { return };
        match class_name {
            "Lambda" => {
                self.push(LAMBDA_LAYER, format!("`Lambda` layer at `{path}`"));
                return;
            }
            "__lambda__" => {
                self.push(
                    SERIALIZED_CODE,
                    format!("serialized lambda (`__lambda__`) at `{path}`"),
                );
                return;
            }
            "TFSMLayer" => {
                let target = map
                    .get("config")
                    .and_then(|c| c.get("filepath"))
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                self.push(
                    TFSM_LAYER,
                    format!("`TFSMLayer` at `{path}` loads the SavedModel at `{target}`"),
                );
                return;
            }
            _ => {}
        }
        let module_ok = module.is_none_or(allowed_module);
        let named = if class_name == "function" {
            // A function serialized by name: the name is in `config`.
            let f = map.get("config").and_then(Value::as_str).unwrap_or("");
            module_ok && KNOWN_FUNCTIONS.contains(&f)
        } else {
            module_ok && KNOWN_CLASSES.contains(&class_name)
        };
        let registered_ok = registered.is_none_or(|r| {
            r == class_name || (class_name == "function" && r == "function") || r.is_empty()
        });
        if !named || !registered_ok {
            let what = match (module, registered) {
                (Some(m), Some(r)) if !registered_ok => {
                    format!("`{m}.{class_name}` (registered as `{r}`)")
                }
                (Some(m), _) if class_name == "function" => format!(
                    "function `{m}.{}`",
                    map.get("config").and_then(Value::as_str).unwrap_or("?")
                ),
                (Some(m), _) => format!("`{m}.{class_name}`"),
                (None, Some(r)) if !registered_ok => {
                    format!("`{class_name}` (registered as `{r}`)")
                }
                (None, _) => format!("`{class_name}`"),
            };
            self.push(
                UNKNOWN_OBJECT,
                format!("{what} at `{path}` is outside the Keras layer allowlist"),
            );
        }
    }

    /// A string under a key that names a file or URL.
    fn string_field(&mut self, key: &str, s: &str, path: &str) {
        if PATH_KEYS.contains(&key) && !s.is_empty() {
            self.push(
                EXTERNAL_REFERENCE,
                format!("`{key}` = `{}` at `{path}`", clip(s)),
            );
        }
    }

    /// Any string value anywhere in the tree.
    fn any_string(&mut self, s: &str, path: &str) {
        if s.contains("enable_unsafe_deserialization") {
            self.push(
                UNSAFE_DESERIALIZATION,
                format!("`enable_unsafe_deserialization` named at `{path}`"),
            );
        }
        let lower = s.trim_start().to_ascii_lowercase();
        if URL_SCHEMES.iter().any(|scheme| lower.starts_with(scheme)) {
            self.push(EXTERNAL_REFERENCE, format!("URL `{}` at `{path}`", clip(s)));
        }
    }
}

/// Whether a `module` value is a Keras or TensorFlow layer module.
fn allowed_module(module: &str) -> bool {
    let mut parts = module.split('.');
    let top = parts.next().unwrap_or_default();
    ALLOWED_PACKAGES.contains(&top) && !module.split('.').any(|p| DENIED_COMPONENTS.contains(&p))
}

/// A value cut to a readable length for a message.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(120).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use ward_formats::Limits;

    use super::*;

    fn run(json: &str) -> Vec<Finding> {
        scan_config(
            json.as_bytes(),
            &Location::file("m.keras").member("config.json"),
            &Context::new(Limits::default()),
        )
    }

    fn ids(findings: &[Finding]) -> Vec<&'static str> {
        let mut ids: Vec<_> = findings.iter().map(|f| f.code.id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn layer(module: &str, class: &str, config: &str) -> String {
        format!(
            r#"{{"module": "{module}", "class_name": "{class}", "config": {config}, "registered_name": null}}"#
        )
    }

    fn model(layers: &[String]) -> String {
        format!(
            r#"{{"module": "keras", "class_name": "Sequential", "config": {{"name": "s", "layers": [{}]}}, "registered_name": null}}"#,
            layers.join(",")
        )
    }

    #[test]
    fn ordinary_layers_are_clean() {
        let dense = layer(
            "keras.layers",
            "Dense",
            &format!(
                r#"{{"units": 3, "activation": "relu", "kernel_initializer": {}, "dtype": {}}}"#,
                layer("keras.initializers", "GlorotUniform", r#"{"seed": null}"#),
                layer("keras", "DTypePolicy", r#"{"name": "float32"}"#)
            ),
        );
        let act = r#"{"module": "keras.src.activations.activations", "class_name": "function", "config": "gelu", "registered_name": "function"}"#;
        let json = model(&[
            dense,
            layer(
                "keras.layers",
                "Activation",
                &format!(r#"{{"activation": {act}}}"#),
            ),
        ]);
        assert_eq!(run(&json), []);
        // Keras 2 style, without modules.
        assert_eq!(
            run(
                r#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"units": 1}}]}}"#
            ),
            []
        );
    }

    #[test]
    fn lambda_and_serialized_code_are_critical() {
        let code = r#"{"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": null, "closure": null}}}"#;
        let f = run(&model(&[layer("keras.layers", "Lambda", code)]));
        assert_eq!(ids(&f), ["keras-lambda-layer", "keras-serialized-code"]);
        assert!(f.iter().all(|f| f.severity == Severity::Critical));
        let keras2 = r#"{"class_name": "Lambda", "config": {"function": ["4wEAAAAA", null, null], "function_type": "lambda"}}"#;
        assert_eq!(
            ids(&run(keras2)),
            ["keras-lambda-layer", "keras-serialized-code"]
        );
    }

    #[test]
    fn config_named_functions_and_unknown_modules_are_high() {
        let get_file = layer(
            "keras.utils",
            "get_file",
            r#"{"fname": "x", "origin": "https://example.invalid/x"}"#,
        );
        let f = run(&model(&[get_file]));
        assert_eq!(
            ids(&f),
            ["keras-external-reference", "keras-unknown-object"]
        );
        assert!(
            f.iter()
                .any(|f| f.message.contains("`keras.utils.get_file`"))
        );
        assert_eq!(
            ids(&run(&model(&[layer(
                "os",
                "system",
                r#""echo ward-fixture""#
            )]))),
            ["keras-unknown-object"]
        );
        assert_eq!(
            ids(&run(&model(&[layer("keras.layers", "NotALayer", "{}")]))),
            ["keras-unknown-object"]
        );
        let custom = r#"{"module": "keras.layers", "class_name": "Dense", "config": {}, "registered_name": "MyPkg>Dense"}"#;
        assert_eq!(
            ids(&run(&model(&[custom.to_string()]))),
            ["keras-unknown-object"]
        );
        let func = r#"{"module": "builtins", "class_name": "function", "config": "eval", "registered_name": "function"}"#;
        assert_eq!(
            ids(&run(&model(&[layer(
                "keras.layers",
                "Activation",
                &format!(r#"{{"activation": {func}}}"#)
            )]))),
            ["keras-unknown-object"]
        );
    }

    #[test]
    fn tfsm_and_unsafe_deserialization_are_flagged() {
        let tfsm = layer(
            "keras.layers",
            "TFSMLayer",
            r#"{"filepath": "/tmp/evil_saved_model", "call_endpoint": "serve"}"#,
        );
        assert_eq!(
            ids(&run(&model(&[tfsm]))),
            ["keras-external-reference", "keras-tfsm-layer"]
        );
        let unsafe_ = layer("keras.config", "enable_unsafe_deserialization", "{}");
        assert_eq!(
            ids(&run(&model(&[unsafe_]))),
            ["keras-unknown-object", "keras-unsafe-deserialization"]
        );
    }

    #[test]
    fn invalid_json_and_limits_are_reported() {
        assert_eq!(ids(&run("{not json")), ["keras-invalid-config"]);
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        let ctx = Context::new(Limits {
            max_nesting: 10,
            ..Limits::default()
        });
        let f = scan_config(deep.as_bytes(), &Location::file("m.h5"), &ctx);
        assert_eq!(ids(&f), ["keras-invalid-config"]);
        let ctx = Context::new(Limits {
            max_header_bytes: 4,
            ..Limits::default()
        });
        assert_eq!(
            ids(&scan_config(b"{\"a\": 1}", &Location::file("m.h5"), &ctx)),
            ["keras-invalid-config"]
        );
        assert_eq!(
            scan_config(
                b"{\"a\": 1}",
                &Location::file("m.h5"),
                &Context::new(Limits::default())
            ),
            []
        );
    }

    #[test]
    fn keras_archives_are_recognised_by_members() {
        assert!(is_keras_archive(
            ["metadata.json", "config.json", "model.weights.h5"].into_iter()
        ));
        assert!(!is_keras_archive(["config.json", "data.pkl"].into_iter()));
        let ctx = Context::new(Limits::default());
        let loc = Location::file("m.keras");
        assert_eq!(
            scan_member("metadata.json", b"[1]", &loc, &ctx).map(|f| ids(&f)),
            Some(vec!["keras-invalid-config"])
        );
        assert!(scan_member("model.weights.h5", b"", &loc, &ctx).is_none());
    }
}
