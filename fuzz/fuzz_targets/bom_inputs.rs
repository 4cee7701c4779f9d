//! Feeds arbitrary text to everything `ward bom` reads from files it finds: every lock-file
//! parser, Ollama manifests and Modelfiles, Hugging Face configs, tokenizer chat templates,
//! card front matter and system prompts in JSON, TOML and YAML configuration. None may
//! panic, and what they return is bounded by the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_bom::locks::{LockKind, parse};
use ward_bom::{hf, ollama};
use ward_formats::Limits;

const KINDS: [LockKind; 6] = [
    LockKind::CargoLock,
    LockKind::Requirements,
    LockKind::PoetryLock,
    LockKind::UvLock,
    LockKind::PipfileLock,
    LockKind::PackageLock,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in KINDS {
        if let Ok(packages) = parse(kind, text) {
            // Every package comes from some entry of the input.
            assert!(packages.len() <= text.len());
        }
    }
    if let Some(manifest) = ollama::manifest(text) {
        assert!(manifest.layers.len() <= text.len());
    }
    for (_, value) in ollama::modelfile_prompts(text) {
        assert!(value.len() <= text.len());
    }
    let _ = ollama::model_name(text);
    let _ = hf::config(text);
    for (_, template) in hf::chat_templates(text) {
        assert!(template.len() <= text.len());
    }
    let limits = Limits::default();
    let _ = hf::card(text, &limits);
    let _ = hf::cache_place(text);
    let _ = hf::system_prompts_toml(text);
    let _ = hf::system_prompts_yaml(text, &limits);
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = hf::system_prompts_json(&value);
    }
});
