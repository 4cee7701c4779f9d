//! Hugging Face conventions: the cache layout, `config.json`, `tokenizer_config.json`
//! chat templates, and model and dataset cards (README front matter).
//!
//! Everything here reads JSON with `serde_json` from files already bounded in size by
//! discovery, and model cards with the bounded front-matter reader of `ward-formats`.

use serde_json::Value;
use ward_formats::Limits;
use ward_formats::frontmatter::{self, FrontMatter};

/// Where a path sits in a Hugging Face cache (`<kind>s--<org>--<name>/snapshots/<rev>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePlace {
    /// `models` or `datasets`.
    pub kind: CacheKind,
    /// The repository id (`org/name`, or `name` for repositories without an owner).
    pub repo: String,
    /// The snapshot revision (a commit hash).
    pub revision: String,
    /// The snapshot directory, as a relative path (`.../snapshots/<rev>`).
    pub snapshot_dir: String,
}

/// What a cache repository holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    /// `models--*`.
    Model,
    /// `datasets--*`.
    Dataset,
}

/// Where `rel` (a `/`-separated relative path) sits in a Hugging Face cache, if it is
/// inside a snapshot.
pub fn cache_place(rel: &str) -> Option<CachePlace> {
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let (kind, rest) = if let Some(rest) = part.strip_prefix("models--") {
            (CacheKind::Model, rest)
        } else if let Some(rest) = part.strip_prefix("datasets--") {
            (CacheKind::Dataset, rest)
        } else {
            continue;
        };
        if parts.get(i + 1) != Some(&"snapshots") {
            continue;
        }
        let revision = parts.get(i + 2)?;
        // Only files inside the snapshot belong to it.
        if parts.len() <= i + 3 {
            return None;
        }
        return Some(CachePlace {
            kind,
            repo: rest.replace("--", "/"),
            revision: (*revision).to_owned(),
            snapshot_dir: parts.get(..i + 3)?.join("/"),
        });
    }
    None
}

/// Whether `rel` is cache bookkeeping (`blobs/`, `refs/`, `.no_exist/` of a cache
/// repository): the same bytes are reached through the snapshot's links.
pub fn is_cache_internal(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    parts.windows(2).any(|w| match w {
        [repo, inner] => {
            (repo.starts_with("models--") || repo.starts_with("datasets--"))
                && matches!(*inner, "blobs" | "refs" | ".no_exist")
        }
        _ => false,
    })
}

/// What `config.json` says about the architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `architectures`.
    pub architectures: Vec<String>,
    /// `model_type`.
    pub model_type: Option<String>,
    /// `max_position_embeddings` (or `n_positions`, `max_seq_len`, `seq_length`).
    pub context_length: Option<u64>,
}

/// Reads a Hugging Face `config.json`. Unreadable JSON gives `None`.
pub fn config(text: &str) -> Option<Config> {
    let v: Value = serde_json::from_str(text).ok()?;
    let obj = v.as_object()?;
    let mut c = Config::default();
    if let Some(list) = obj.get("architectures").and_then(Value::as_array) {
        c.architectures = list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    c.model_type = obj
        .get("model_type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    c.context_length = [
        "max_position_embeddings",
        "n_positions",
        "max_seq_len",
        "seq_length",
    ]
    .iter()
    .find_map(|k| obj.get(*k).and_then(Value::as_u64));
    // Multimodal configs nest the language model's settings.
    if c.context_length.is_none()
        && let Some(text_config) = obj.get("text_config").and_then(Value::as_object)
    {
        c.context_length = text_config
            .get("max_position_embeddings")
            .and_then(Value::as_u64);
    }
    Some(c)
}

/// Chat templates in a `tokenizer_config.json` or `chat_template.json`: `chat_template`
/// as a string (named `default`) or as a list of `{name, template}`.
pub fn chat_templates(text: &str) -> Vec<(String, String)> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    match v.get("chat_template") {
        Some(Value::String(t)) => vec![("default".to_owned(), t.clone())],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|item| {
                let name = item.get("name")?.as_str()?;
                let template = item.get("template")?.as_str()?;
                Some((name.to_owned(), template.to_owned()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// What a model or dataset card's front matter says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Card {
    /// `license` (or `license_name` when `license` is `other`).
    pub license: Option<String>,
    /// `datasets`.
    pub datasets: Vec<String>,
    /// `base_model`.
    pub base_models: Vec<String>,
    /// `language`.
    pub languages: Vec<String>,
    /// `pipeline_tag` (or the first `task_categories` entry of a dataset card).
    pub task: Option<String>,
    /// `pretty_name`.
    pub pretty_name: Option<String>,
}

/// Reads a card's front matter. `Ok(None)` when the README has none; an error when it has
/// front matter that cannot be read (the caller reports it).
pub fn card(text: &str, limits: &Limits) -> Result<Option<Card>, String> {
    let fm: FrontMatter = match frontmatter::parse(text, limits) {
        Ok(Some(fm)) => fm,
        Ok(None) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let first = |key: &str| fm.strings(key).into_iter().next().filter(|s| !s.is_empty());
    let mut license = first("license");
    if license.as_deref() == Some("other") {
        license = first("license_name").or(license);
    }
    Ok(Some(Card {
        license,
        datasets: fm.strings("datasets"),
        base_models: fm.strings("base_model"),
        languages: fm.strings("language"),
        task: first("pipeline_tag").or_else(|| first("task_categories")),
        pretty_name: first("pretty_name"),
    }))
}

/// Keys whose string values are system prompts in configuration files.
pub fn is_system_prompt_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    matches!(
        k.as_str(),
        "system_prompt"
            | "system_message"
            | "systemprompt"
            | "system_instruction"
            | "system_instructions"
    )
}

/// Most nested levels searched for system prompts.
const MAX_PROMPT_DEPTH: usize = 16;

/// System prompts in a JSON document: `(key path, text)` for every string value under a
/// system-prompt key, and for OpenAI-style `{"role": "system", "content": "..."}` messages.
pub fn system_prompts_json(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk_json(v, String::new(), 0, &mut out);
    out
}

fn walk_json(v: &Value, path: String, depth: usize, out: &mut Vec<(String, String)>) {
    if depth > MAX_PROMPT_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            if map.get("role").and_then(Value::as_str) == Some("system")
                && let Some(content) = map.get("content").and_then(Value::as_str)
            {
                out.push((format!("{path}.content"), content.to_owned()));
            }
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match child {
                    Value::String(s) if is_system_prompt_key(k) && !s.trim().is_empty() => {
                        out.push((p, s.clone()));
                    }
                    _ => walk_json(child, p, depth + 1, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk_json(child, format!("{path}[{i}]"), depth + 1, out);
            }
        }
        _ => {}
    }
}

/// System prompts in a TOML document, by converting it to the JSON data model.
pub fn system_prompts_toml(text: &str) -> Vec<(String, String)> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    match serde_json::to_value(table) {
        Ok(v) => system_prompts_json(&v),
        Err(_) => Vec::new(),
    }
}

/// System prompts in a YAML document: top-level and nested `key: value` entries the
/// front-matter reader understands (the document is read as if it were front matter).
pub fn system_prompts_yaml(text: &str, limits: &Limits) -> Vec<(String, String)> {
    let wrapped = format!("---\n{text}\n---\n");
    let Ok(Some(fm)) = frontmatter::parse(&wrapped, limits) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk_yaml(&fm.entries, String::new(), 0, &mut out);
    out
}

fn walk_yaml(
    entries: &[(String, frontmatter::Value)],
    path: String,
    depth: usize,
    out: &mut Vec<(String, String)>,
) {
    if depth > MAX_PROMPT_DEPTH {
        return;
    }
    for (k, v) in entries {
        let p = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        match v {
            frontmatter::Value::Str(s) if is_system_prompt_key(k) && !s.trim().is_empty() => {
                out.push((p, s.clone()));
            }
            frontmatter::Value::Map(inner) => walk_yaml(inner, p, depth + 1, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_places() {
        let p = cache_place("hub/models--meta-llama--Llama-3.2-1B/snapshots/abc123/config.json")
            .unwrap();
        assert_eq!(p.kind, CacheKind::Model);
        assert_eq!(p.repo, "meta-llama/Llama-3.2-1B");
        assert_eq!(p.revision, "abc123");
        assert_eq!(
            p.snapshot_dir,
            "hub/models--meta-llama--Llama-3.2-1B/snapshots/abc123"
        );
        assert_eq!(
            cache_place("models--gpt2/snapshots/r/sub/x.bin")
                .unwrap()
                .repo,
            "gpt2"
        );
        assert_eq!(
            cache_place("datasets--a--b/snapshots/r/d.parquet")
                .unwrap()
                .kind,
            CacheKind::Dataset
        );
        assert!(cache_place("models--a--b/blobs/123").is_none());
        assert!(cache_place("models--a--b/snapshots/r").is_none());
        assert!(is_cache_internal("hub/models--a--b/blobs/123"));
        assert!(!is_cache_internal("hub/models--a--b/snapshots/r/blobs"));
    }

    #[test]
    fn configs_and_templates() {
        let c = config(r#"{"architectures":["LlamaForCausalLM"],"model_type":"llama","max_position_embeddings":131072}"#).unwrap();
        assert_eq!(c.architectures, vec!["LlamaForCausalLM"]);
        assert_eq!(c.model_type.as_deref(), Some("llama"));
        assert_eq!(c.context_length, Some(131072));
        assert_eq!(config("[1]"), None);
        assert_eq!(
            chat_templates(r#"{"chat_template":"{{ x }}"}"#),
            vec![("default".into(), "{{ x }}".into())]
        );
        assert_eq!(
            chat_templates(r#"{"chat_template":[{"name":"tool_use","template":"t"},{"name":1}]}"#),
            vec![("tool_use".into(), "t".into())]
        );
    }

    #[test]
    fn system_prompts_in_configs() {
        let v: Value = serde_json::from_str(
            r#"{"agent":{"system_prompt":"Be terse."},"messages":[{"role":"system","content":"You are ward."}],"system_prompt":""}"#,
        )
        .unwrap();
        let found = system_prompts_json(&v);
        assert!(
            found.contains(&("agent.system_prompt".into(), "Be terse.".into())),
            "{found:?}"
        );
        assert!(
            found.contains(&("messages[0].content".into(), "You are ward.".into())),
            "{found:?}"
        );
        assert_eq!(found.len(), 2);
        let toml = system_prompts_toml("[bot]\nsystem-prompt = \"Hi\"\n");
        assert_eq!(toml, vec![("bot.system-prompt".into(), "Hi".into())]);
    }
}
