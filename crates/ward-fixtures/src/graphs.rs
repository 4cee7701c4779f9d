//! Fixtures for graph formats: ONNX models, TensorFlow graphs and Keras models, built from
//! bytes with the protobuf builders of `ward-formats` and a hand-written zip.
//!
//! Payloads are harmless: external data paths name files that are never read by the
//! fixtures, dangerous TensorFlow ops have no inputs that would make them do anything, and
//! Keras Lambda "code" is a short base64 string that is not valid bytecode.

use ward_formats::hdf5::build as h5;
use ward_formats::onnx::build as onnx;
use ward_formats::tf::build as tf;

use crate::Fixture;
use crate::containers::zip;

/// Keras `metadata.json`, as Keras 3 writes it.
const METADATA: &[u8] = br#"{"keras_version": "3.15.1", "date_saved": "2026-01-01@00:00:00"}"#;

fn keras_layer(module: &str, class: &str, config: &str) -> String {
    format!(
        r#"{{"module": "{module}", "class_name": "{class}", "config": {config}, "registered_name": null}}"#
    )
}

/// A Keras 3 `config.json` for a Sequential model with the given extra layers.
fn keras_config(extra: &[String]) -> String {
    let mut layers = vec![
        keras_layer(
            "keras.layers",
            "InputLayer",
            r#"{"batch_shape": [null, 4], "dtype": "float32", "name": "input_layer"}"#,
        ),
        keras_layer(
            "keras.layers",
            "Dense",
            &format!(
                r#"{{"name": "dense", "units": 3, "activation": "relu", "kernel_initializer": {}}}"#,
                keras_layer("keras.initializers", "GlorotUniform", r#"{"seed": null}"#)
            ),
        ),
    ];
    layers.extend_from_slice(extra);
    format!(
        r#"{{"module": "keras", "class_name": "Sequential", "config": {{"name": "sequential", "layers": [{}]}}, "registered_name": null}}"#,
        layers.join(", ")
    )
}

/// A `.keras` zip with a config and metadata (weights are not needed by the rules).
pub fn keras_zip(config: &str) -> Vec<u8> {
    zip(&[
        ("metadata.json", METADATA),
        ("config.json", config.as_bytes()),
    ])
}

/// A Keras 3 Lambda layer with a (harmless, not valid) marshalled function.
pub fn lambda_layer() -> String {
    keras_layer(
        "keras.layers",
        "Lambda",
        r#"{"name": "lambda", "function": {"class_name": "__lambda__", "config": {"code": "d2FyZC1maXh0dXJl", "defaults": null, "closure": null}}, "arguments": {}}"#,
    )
}

fn onnx_with_external(location: &str) -> Vec<u8> {
    let g = onnx::graph(
        "main",
        vec![onnx::node("relu", "Relu", "", vec![])],
        vec![onnx::external_tensor("weight", location, 0, 16)],
    );
    onnx::model(g, vec![onnx::opset("", 17)], vec![])
}

fn onnx_files(location: &str) -> Vec<(String, Vec<u8>)> {
    vec![("model.onnx".to_string(), onnx_with_external(location))]
}

/// Every graph-format fixture.
pub fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();

    // ONNX external data.
    out.push(Fixture::tree(
        "graphs/onnx-external-absolute",
        onnx_files("/etc/hostname"),
        &["onnx-external-data-escape"],
    ));
    out.push(Fixture::tree(
        "graphs/onnx-external-dotdot",
        onnx_files("../../../../etc/hostname"),
        &["onnx-external-data-escape"],
    ));
    out.push(Fixture::tree(
        "graphs/onnx-external-missing",
        onnx_files("weights.bin"),
        &["onnx-external-data-missing"],
    ));
    // A model whose data file sits inside its folder is checked clean by the unit tests
    // of `ward_scan::onnx`; it is not in the corpus because a directory walk reports the
    // raw data file itself as an unknown format (low).

    // ONNX custom domains, also hidden in a nested If subgraph and a model-local function.
    let g = onnx::graph(
        "main",
        vec![onnx::node("inv", "Inverse", "com.example.ops", vec![])],
        vec![],
    );
    out.push(Fixture::file(
        "graphs/onnx-custom-domain.onnx",
        onnx::model(
            g,
            vec![onnx::opset("", 17), onnx::opset("com.example.ops", 1)],
            vec![],
        ),
        &["onnx-custom-domain"],
    ));
    let then = onnx::graph(
        "then",
        vec![onnx::node("hidden", "Hidden", "com.example.ops", vec![])],
        vec![onnx::external_tensor("leak", "/etc/hostname", 0, 16)],
    );
    let g = onnx::graph(
        "main",
        vec![onnx::node(
            "if",
            "If",
            "",
            vec![onnx::graph_attribute("then_branch", then)],
        )],
        vec![],
    );
    out.push(Fixture::file(
        "graphs/onnx-if-subgraph.onnx",
        onnx::model(g, vec![onnx::opset("", 17)], vec![]),
        &["onnx-custom-domain", "onnx-external-data-escape"],
    ));
    let f = onnx::function(
        "com.example.fns",
        "Helper",
        vec![onnx::node("inner", "Hidden", "com.example.ops", vec![])],
    );
    let g = onnx::graph(
        "main",
        vec![onnx::node("call", "Helper", "com.example.fns", vec![])],
        vec![],
    );
    out.push(Fixture::file(
        "graphs/onnx-local-function.onnx",
        onnx::model(
            g,
            vec![onnx::opset("", 17), onnx::opset("com.example.fns", 1)],
            vec![f],
        ),
        &["onnx-custom-domain"],
    ));
    let clean = onnx::graph(
        "main",
        vec![onnx::node("relu", "Relu", "", vec![])],
        vec![onnx::tensor("w", &[0u8; 64])],
    );
    let clean = onnx::model(clean, vec![onnx::opset("", 17)], vec![]);
    let cut = clean
        .get(..clean.len().saturating_sub(10))
        .unwrap_or_default()
        .to_vec();
    out.push(Fixture::file("graphs/onnx-plain.onnx", clean, &[]));
    out.push(Fixture::file(
        "graphs/onnx-truncated.onnx",
        cut,
        &["onnx-malformed"],
    ));

    // TensorFlow: frozen graphs and SavedModels, with dangerous ops in the main graph and
    // in the function library.
    let ordinary = || {
        vec![
            tf::node("x", "Placeholder", &[], &[]),
            tf::const_node("w", &[0u8; 64]),
            tf::node("y", "MatMul", &["x", "w"], &[]),
        ]
    };
    let mut nodes = ordinary();
    nodes.push(tf::node("read", "ReadFile", &["x"], &[]));
    nodes.push(tf::node("write", "WriteFile", &["x", "y"], &[]));
    out.push(Fixture::file(
        "graphs/tf-frozen-file-ops.pb",
        tf::graph_def(nodes, vec![]).finish(),
        &["tf-file-access-op"],
    ));
    let mut nodes = ordinary();
    nodes.push(tf::node("py", "PyFunc", &["y"], &[("token", "pyfunc_0")]));
    out.push(Fixture::file(
        "graphs/tf-frozen-pyfunc.pb",
        tf::graph_def(nodes, vec![]).finish(),
        &["tf-python-op"],
    ));
    out.push(Fixture::file(
        "graphs/tf-frozen-plain.pb",
        tf::graph_def(ordinary(), vec![]).finish(),
        &[],
    ));
    let library = vec![tf::function(
        "__inference_serving_default_17",
        vec![
            tf::node("read", "ReadFile", &["path"], &[]),
            tf::node("py", "EagerPyFunc", &["read"], &[]),
        ],
    )];
    let mut nodes = ordinary();
    nodes.push(tf::node("call", "StatefulPartitionedCall", &["y"], &[]));
    out.push(Fixture::file(
        "graphs/tf-savedmodel-library/saved_model.pb",
        tf::saved_model(tf::graph_def(nodes, library)),
        &["tf-file-access-op", "tf-python-op"],
    ));
    let mut nodes = ordinary();
    nodes.push(tf::node("write", "WriteFile", &["x", "y"], &[]));
    out.push(Fixture::file(
        "graphs/tf-savedmodel-main/saved_model.pb",
        tf::saved_model(tf::graph_def(nodes, vec![])),
        &["tf-file-access-op"],
    ));
    let saver = vec![
        tf::function(
            "__inference__traced_save_51",
            vec![
                tf::node("StringJoin", "StringJoin", &[], &[]),
                tf::node("SaveV2", "SaveV2", &[], &[]),
                tf::node("MergeV2Checkpoints", "MergeV2Checkpoints", &[], &[]),
            ],
        ),
        tf::function(
            "__inference__traced_restore_60",
            vec![tf::node("RestoreV2", "RestoreV2", &[], &[])],
        ),
    ];
    out.push(Fixture::file(
        "graphs/tf-savedmodel-plain/saved_model.pb",
        tf::saved_model(tf::graph_def(ordinary(), saver)),
        &[],
    ));

    // A model's own data files hold raw tensor bytes that match no format: a folder walk
    // lets the model claim them and reports nothing, while recognisable content in a claimed
    // file is still scanned as what it is. The bytes stand in for four `float32` ones.
    let raw_tensor: Vec<u8> = [0x00, 0x00, 0x80, 0x3f].repeat(4);
    out.push(Fixture::tree(
        "graphs/onnx-external-inside",
        vec![
            ("model.onnx".to_string(), onnx_with_external("weights.bin")),
            ("weights.bin".to_string(), raw_tensor.clone()),
        ],
        &[],
    ));
    out.push(Fixture::tree(
        "graphs/onnx-external-pickle",
        vec![
            ("model.onnx".to_string(), onnx_with_external("weights.bin")),
            (
                "weights.bin".to_string(),
                crate::pickle::call("posix", "system", "echo ward-fixture"),
            ),
        ],
        &["pickle-dangerous-global"],
    ));
    out.push(Fixture::tree(
        "graphs/tf-savedmodel-variables",
        vec![
            (
                "saved_model.pb".to_string(),
                tf::saved_model(tf::graph_def(ordinary(), vec![])),
            ),
            ("variables/variables.index".to_string(), raw_tensor.clone()),
            (
                "variables/variables.data-00000-of-00001".to_string(),
                raw_tensor,
            ),
        ],
        &[],
    ));

    // Keras `.keras` zips.
    out.push(Fixture::file(
        "graphs/keras-lambda.keras",
        keras_zip(&keras_config(&[lambda_layer()])),
        &["keras-lambda-layer", "keras-serialized-code"],
    ));
    let get_file = keras_layer(
        "keras.utils",
        "get_file",
        r#"{"fname": "ward-fixture.txt", "origin": "https://example.invalid/ward-fixture.txt"}"#,
    );
    out.push(Fixture::file(
        "graphs/keras-config-function.keras",
        keras_zip(&keras_config(&[get_file])),
        &["keras-unknown-object", "keras-external-reference"],
    ));
    let tfsm = keras_layer(
        "keras.layers",
        "TFSMLayer",
        r#"{"name": "tfsm", "filepath": "/tmp/ward-fixture-saved-model", "call_endpoint": "serving_default"}"#,
    );
    out.push(Fixture::file(
        "graphs/keras-tfsm.keras",
        keras_zip(&keras_config(&[tfsm])),
        &["keras-tfsm-layer", "keras-external-reference"],
    ));
    let unknown = keras_layer(
        "ward_fixture_pkg.layers",
        "Mystery",
        r#"{"name": "mystery"}"#,
    );
    out.push(Fixture::file(
        "graphs/keras-unknown-module.keras",
        keras_zip(&keras_config(&[unknown])),
        &["keras-unknown-object"],
    ));
    let unsafe_ = keras_layer("keras.config", "enable_unsafe_deserialization", "{}");
    out.push(Fixture::file(
        "graphs/keras-unsafe-deserialization.keras",
        keras_zip(&keras_config(&[unsafe_, lambda_layer()])),
        &[
            "keras-unsafe-deserialization",
            "keras-unknown-object",
            "keras-lambda-layer",
            "keras-serialized-code",
        ],
    ));
    out.push(Fixture::file(
        "graphs/keras-plain.keras",
        keras_zip(&keras_config(&[])),
        &[],
    ));

    // Legacy `.h5` models: the config is a string attribute of the root group.
    let h5 = |config: &str| {
        h5::root_with_attributes(&[
            ("backend", b"tensorflow".as_slice()),
            ("keras_version", b"2.15.0".as_slice()),
            ("model_config", config.as_bytes()),
        ])
    };
    out.push(Fixture::file(
        "graphs/keras-lambda.h5",
        h5(&keras_config(&[lambda_layer()])),
        &["keras-lambda-layer", "keras-serialized-code"],
    ));
    out.push(Fixture::file(
        "graphs/keras-plain.h5",
        h5(&keras_config(&[])),
        &[],
    ));
    let plain = h5(&keras_config(&[]));
    let cut = plain
        .get(..plain.len().saturating_sub(40))
        .unwrap_or_default()
        .to_vec();
    out.push(Fixture::file(
        "graphs/keras-truncated.h5",
        cut,
        &["keras-h5-unreadable"],
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_models_are_recognised() {
        let all = fixtures();
        let mut names: Vec<_> = all.iter().map(|f| f.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for f in &all {
            for (rel, bytes) in &f.files {
                let name = if rel.is_empty() { &f.name } else { rel };
                if name.ends_with(".onnx") {
                    assert!(ward_formats::onnx::sniff(bytes), "{name}");
                }
                if name.ends_with(".pb") {
                    assert!(ward_formats::tf::sniff(bytes), "{name}");
                }
            }
        }
    }
}
