//! `ward.toml`: the gateway's configuration, parsed into types that cannot hold unsafe
//! states (relative paths resolved, upstream URLs checked, actions typed).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::scan::Action;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The listener.
    pub server: ServerConfig,
    /// The key store.
    pub store: StoreConfig,
    /// The audit log.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Model providers, by name.
    #[serde(default)]
    pub upstreams: Vec<UpstreamConfig>,
    /// Input and output monitoring.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Where the file was read from; relative paths are resolved against its directory.
    #[serde(skip)]
    pub source: PathBuf,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on, for example `127.0.0.1:8080`.
    pub listen: String,
    /// Largest accepted request body in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// PEM certificate chain; with `tls_key` it turns on TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// How long graceful shutdown waits for in-flight requests, in seconds.
    #[serde(default = "default_shutdown_grace_secs")]
    pub shutdown_grace_secs: u64,
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite key store.
    pub path: PathBuf,
}

/// `[audit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Audit log path; defaults to the store path with `.audit` appended.
    pub path: Option<PathBuf>,
    /// Record the full prompt and response text, not only their SHA-256. Off by default
    /// because prompts routinely hold personal data.
    #[serde(default)]
    pub record_full_text: bool,
    /// The log's origin line, also the name of its signing key (no spaces, no `+`).
    #[serde(default = "default_origin")]
    pub origin: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            path: None,
            record_full_text: false,
            origin: default_origin(),
        }
    }
}

fn default_origin() -> String {
    "ward-gateway".to_string()
}

/// One `[[upstreams]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Name used in logs, metrics and the audit log.
    pub name: String,
    /// Base URL including the `/v1` prefix.
    pub base_url: String,
    /// Environment variable holding the provider key.
    pub api_key_env: Option<String>,
    /// File holding the provider key.
    pub api_key_file: Option<PathBuf>,
    /// Models served by this upstream.
    #[serde(default)]
    pub models: Vec<String>,
    /// TCP connect timeout in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Time allowed for the response headers and, when not streaming, the whole body.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Longest silence allowed between two events of a streamed response.
    #[serde(default = "default_timeout_secs")]
    pub stream_idle_timeout_secs: u64,
    /// Allow plain `http://` to a host that is not loopback (the provider key would travel
    /// in clear text).
    #[serde(default)]
    pub insecure_allow_http: bool,
}

/// `[policy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Score at which prompt-injection signals add up to a verdict.
    #[serde(default = "default_injection_threshold")]
    pub injection_threshold: u32,
    /// Largest prompt, in characters of extracted text.
    #[serde(default = "default_max_prompt_chars")]
    pub max_prompt_chars: usize,
    /// Largest prompt, in estimated tokens (four bytes per token).
    #[serde(default = "default_max_prompt_tokens")]
    pub max_prompt_tokens: usize,
    /// A string planted in the system prompt whose appearance in a response means leakage.
    pub canary: Option<String>,
    /// Per-rule actions that replace the defaults.
    #[serde(default)]
    pub actions: BTreeMap<String, Action>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            injection_threshold: default_injection_threshold(),
            max_prompt_chars: default_max_prompt_chars(),
            max_prompt_tokens: default_max_prompt_tokens(),
            canary: None,
            actions: BTreeMap::new(),
        }
    }
}

fn default_max_body_bytes() -> usize {
    4 * 1024 * 1024
}
fn default_shutdown_grace_secs() -> u64 {
    30
}
fn default_connect_timeout_ms() -> u64 {
    5_000
}
fn default_timeout_secs() -> u64 {
    120
}
fn default_injection_threshold() -> u32 {
    60
}
fn default_max_prompt_chars() -> usize {
    400_000
}
fn default_max_prompt_tokens() -> usize {
    128_000
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks configuration text; `path` names it in errors and anchors
    /// relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut config: Config = toml::from_str(text).map_err(|e| Error::ConfigParse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        config.source = path.to_path_buf();
        config.check()?;
        Ok(config)
    }

    fn invalid(&self, message: String, hint: &str) -> Error {
        Error::ConfigInvalid {
            path: self.source.clone(),
            message,
            hint: hint.to_string(),
        }
    }

    fn check(&self) -> Result<()> {
        if self.server.listen.parse::<SocketAddr>().is_err() {
            return Err(self.invalid(
                format!(
                    "`server.listen` is `{}`, expected an address such as `127.0.0.1:8080`",
                    self.server.listen
                ),
                "use an IP address and port; host names are not resolved",
            ));
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(self.invalid(
                "`server.tls_cert` and `server.tls_key` must be set together".to_string(),
                "set both to turn TLS on, or neither",
            ));
        }
        let mut seen_models = BTreeMap::new();
        let mut seen_names = std::collections::BTreeSet::new();
        for upstream in &self.upstreams {
            if !seen_names.insert(upstream.name.as_str()) {
                return Err(self.invalid(
                    format!("upstream name `{}` is used twice", upstream.name),
                    "give every `[[upstreams]]` entry its own name",
                ));
            }
            check_base_url(upstream).map_err(|m| {
                self.invalid(
                    format!("upstream `{}`: {m}", upstream.name),
                    "use `https://`, or `http://` to a loopback address; `insecure_allow_http = true` accepts clear text anyway",
                )
            })?;
            if upstream.api_key_env.is_some() && upstream.api_key_file.is_some() {
                return Err(self.invalid(
                    format!(
                        "upstream `{}` sets both `api_key_env` and `api_key_file`",
                        upstream.name
                    ),
                    "keep one of them",
                ));
            }
            for model in &upstream.models {
                if let Some(other) = seen_models.insert(model.as_str(), upstream.name.as_str()) {
                    return Err(self.invalid(
                        format!(
                            "model `{model}` is served by both `{other}` and `{}`",
                            upstream.name
                        ),
                        "a model name must map to exactly one upstream",
                    ));
                }
            }
        }
        for rule in self.policy.actions.keys() {
            if !crate::scan::RULES.iter().any(|r| r.id == rule) {
                return Err(self.invalid(
                    format!("`policy.actions` names unknown rule `{rule}`"),
                    "see the rule table in docs/gateway.md",
                ));
            }
        }
        Ok(())
    }

    /// Resolves a path from the config against the config file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        match self.source.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// The key store path, resolved.
    pub fn store_path(&self) -> PathBuf {
        self.resolve(&self.store.path)
    }

    /// The admin secret file: the store path with `.admin` appended.
    pub fn admin_secret_path(&self) -> PathBuf {
        append_ext(&self.store_path(), "admin")
    }

    /// The audit log path, resolved.
    pub fn audit_path(&self) -> PathBuf {
        match &self.audit.path {
            Some(p) => self.resolve(p),
            None => append_ext(&self.store_path(), "audit"),
        }
    }

    /// Every model served, with its upstream.
    pub fn models(&self) -> impl Iterator<Item = (&str, &UpstreamConfig)> {
        self.upstreams
            .iter()
            .flat_map(|u| u.models.iter().map(move |m| (m.as_str(), u)))
    }
}

/// `file.db` + `admin` -> `file.db.admin`.
fn append_ext(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Refuses clear-text upstreams unless they are on loopback or explicitly allowed, because
/// the provider key travels in the `Authorization` header.
fn check_base_url(upstream: &UpstreamConfig) -> std::result::Result<(), String> {
    let url = upstream.base_url.as_str();
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| format!("`base_url` `{url}` is not a URL"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("`base_url` `{url}` has no host"))?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback || upstream.insecure_allow_http {
                Ok(())
            } else {
                Err(format!(
                    "`base_url` `{url}` sends the provider key in clear text"
                ))
            }
        }
        _ => Err(format!(
            "`base_url` `{url}` must start with `https://` or `http://`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[server]
listen = "127.0.0.1:8080"
[store]
path = "ward.db"
[[upstreams]]
name = "local"
base_url = "http://127.0.0.1:9999/v1"
api_key_env = "UPSTREAM_KEY"
models = ["mock-gpt"]
"#;

    #[test]
    fn minimal_config_from_the_readme_parses() {
        let c = Config::parse(MINIMAL, Path::new("/etc/ward/ward.toml")).unwrap();
        assert_eq!(c.store_path(), Path::new("/etc/ward/ward.db"));
        assert_eq!(c.audit_path(), Path::new("/etc/ward/ward.db.audit"));
        assert_eq!(c.admin_secret_path(), Path::new("/etc/ward/ward.db.admin"));
        assert_eq!(c.models().count(), 1);
        assert!(!c.audit.record_full_text);
    }

    #[test]
    fn clear_text_remote_upstream_is_refused() {
        let text = MINIMAL.replace("http://127.0.0.1:9999", "http://api.example.com");
        let err = Config::parse(&text, Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("clear text"), "{err}");
        let text = format!("{text}insecure_allow_http = true\n");
        assert!(Config::parse(&text, Path::new("w.toml")).is_ok());
    }

    #[test]
    fn model_on_two_upstreams_is_refused() {
        let text = format!(
            "{MINIMAL}[[upstreams]]\nname = \"b\"\nbase_url = \"https://x.example/v1\"\nmodels = [\"mock-gpt\"]\n"
        );
        let err = Config::parse(&text, Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("both"), "{err}");
    }

    #[test]
    fn unknown_rule_and_unknown_field_are_refused() {
        let text = format!("{MINIMAL}[policy.actions]\nno-such-rule = \"block\"\n");
        assert!(Config::parse(&text, Path::new("w.toml")).is_err());
        let text = MINIMAL.replace("[store]", "[store]\npassword = \"x\"");
        assert!(Config::parse(&text, Path::new("w.toml")).is_err());
    }
}
