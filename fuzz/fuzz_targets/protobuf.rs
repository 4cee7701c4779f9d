//! The protobuf-based readers (ONNX models, TensorFlow SavedModels and GraphDefs) and their
//! sniffers never panic and stay bounded on any input: the walkers collect at most one
//! node per input byte and the field iterator yields at most one field per byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_formats::protobuf::Fields;
use ward_formats::{Budget, Limits, Reader, onnx, tf};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_header_bytes: 1 << 20, max_nesting: 64, ..Limits::default() };
    let budget = Budget::new(std::time::Duration::from_secs(5));
    let _ = onnx::sniff(data);
    let _ = tf::kind(data);
    let model = onnx::parse_bytes(data, &limits, &budget);
    assert!(model.nodes.len() <= data.len());
    for kind in [tf::Kind::SavedModel, tf::Kind::GraphDef] {
        let graph = tf::parse_bytes(data, kind, &limits, &budget);
        assert!(graph.nodes.len() <= data.len());
    }
    // The in-memory field iterator ends after at most one field per byte.
    assert!(Fields::new(Reader::new(data)).count() <= data.len());
});
