//! The Ollama model store: `manifests/<registry>/<namespace>/<model>/<tag>` files (OCI-style
//! JSON manifests) naming content-addressed layers in `blobs/sha256-<hex>`, and
//! `Modelfile`s.

use serde_json::Value;

/// What a layer of an Ollama model is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// GGUF weights (`application/vnd.ollama.image.model`).
    Model,
    /// A LoRA adapter or a projector: weights too.
    Weights,
    /// The prompt template.
    Template,
    /// The system prompt.
    System,
    /// Parameters, license text, messages and anything else.
    Other,
}

/// One layer of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// What it is.
    pub kind: LayerKind,
    /// The media type as written.
    pub media_type: String,
    /// The hex SHA-256 the layer is addressed by.
    pub sha256: String,
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Layers and the config blob, in order.
    pub layers: Vec<Layer>,
}

/// Reads an Ollama manifest; `None` when the text is not one.
pub fn manifest(text: &str) -> Option<Manifest> {
    let v: Value = serde_json::from_str(text).ok()?;
    if v.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return None;
    }
    let mut layers = Vec::new();
    let mut ollama = false;
    let config = v.get("config").into_iter();
    let listed = v
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for layer in config.chain(listed) {
        let media_type = layer.get("mediaType").and_then(Value::as_str)?.to_owned();
        let digest = layer.get("digest").and_then(Value::as_str)?;
        let sha256 = digest.strip_prefix("sha256:")?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let kind = match media_type.strip_prefix("application/vnd.ollama.image.") {
            Some("model") => LayerKind::Model,
            Some("adapter" | "projector") => LayerKind::Weights,
            Some("template") => LayerKind::Template,
            Some("system") => LayerKind::System,
            _ => LayerKind::Other,
        };
        ollama |= media_type.starts_with("application/vnd.ollama.");
        layers.push(Layer {
            kind,
            media_type,
            sha256: sha256.to_ascii_lowercase(),
        });
    }
    ollama.then_some(Manifest { layers })
}

/// The model name of a manifest at `rel` (a path containing `manifests/`):
/// `llama3.2:latest` for the default registry's `library` namespace, otherwise
/// `<registry>/<namespace>/<model>:<tag>` with the default registry left out.
/// Also returns the store root (the path before `manifests/`, with its trailing `/`).
pub fn model_name(rel: &str) -> Option<(String, String, String)> {
    let (root, after) = match rel.find("manifests/") {
        Some(0) => ("", rel.strip_prefix("manifests/")?),
        Some(i) => {
            let root = rel.get(..i)?;
            if !root.ends_with('/') {
                return None;
            }
            (root, rel.get(i + "manifests/".len()..)?)
        }
        None => return None,
    };
    let parts: Vec<&str> = after.split('/').collect();
    let [registry, namespace, model, tag] = parts.as_slice() else {
        return None;
    };
    let name = match (*registry, *namespace) {
        ("registry.ollama.ai", "library") => (*model).to_owned(),
        ("registry.ollama.ai", ns) => format!("{ns}/{model}"),
        (reg, ns) => format!("{reg}/{ns}/{model}"),
    };
    Some((name, (*tag).to_owned(), root.to_owned()))
}

/// `TEMPLATE` and `SYSTEM` instructions of a Modelfile: `(instruction, text)`, with
/// `"""` blocks and quoted or bare one-line values.
pub fn modelfile_prompts(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let Some((word, rest)) = trimmed.split_once(char::is_whitespace) else {
            continue;
        };
        let word = word.to_ascii_uppercase();
        if word != "TEMPLATE" && word != "SYSTEM" {
            continue;
        }
        let rest = rest.trim();
        let value = if let Some(body) = rest.strip_prefix("\"\"\"") {
            if let Some(end) = body.find("\"\"\"") {
                body.get(..end).unwrap_or_default().to_owned()
            } else {
                let mut block = vec![body.to_owned()];
                for next in lines.by_ref() {
                    if let Some(end) = next.find("\"\"\"") {
                        block.push(next.get(..end).unwrap_or_default().to_owned());
                        break;
                    }
                    block.push(next.to_owned());
                }
                block.join("\n")
            }
        } else if let Some(inner) = rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            inner.to_owned()
        } else {
            rest.to_owned()
        };
        out.push((word, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "6a0746a1ec1aef3e7ec53868f220ff6e389f6f8ef87a01d77c96807de94ca2aa";

    #[test]
    fn reads_manifests_and_names() {
        let text = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:{H}","size":1}},
            "layers":[{{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:{H}","size":2}},
                      {{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:{H}","size":3}}]}}"#
        );
        let m = manifest(&text).unwrap();
        assert_eq!(m.layers.len(), 3);
        assert_eq!(m.layers[1].kind, LayerKind::Model);
        assert_eq!(m.layers[2].kind, LayerKind::Template);
        assert!(manifest(r#"{"schemaVersion":2,"layers":[]}"#).is_none());
        assert!(manifest(&text.replace(H, "abc")).is_none());
        assert_eq!(
            model_name("store/manifests/registry.ollama.ai/library/llama3.2/latest").unwrap(),
            ("llama3.2".into(), "latest".into(), "store/".into())
        );
        assert_eq!(
            model_name("manifests/hf.co/org/m/q4").unwrap().0,
            "hf.co/org/m"
        );
        assert!(model_name("xmanifests/a/b/c/d").is_none());
    }

    #[test]
    fn reads_modelfile_prompts() {
        let text = "FROM ./m.gguf\nSYSTEM \"Be brief.\"\nTEMPLATE \"\"\"{{ .System }}\n{{ .Prompt }}\"\"\"\nPARAMETER x 1\n";
        assert_eq!(
            modelfile_prompts(text),
            vec![
                ("SYSTEM".into(), "Be brief.".into()),
                ("TEMPLATE".into(), "{{ .System }}\n{{ .Prompt }}".into())
            ]
        );
    }
}
