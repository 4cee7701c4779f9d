//! The HTTP side: listener, routing, authorisation, forwarding and stream relaying.
//!
//! Data flow of one API request: authenticate the key against the in-memory key table,
//! check its endpoint scope, read the body (bounded), check the model scope, scan and
//! possibly redact the prompt, apply rate limits, forward to the model's upstream, scan
//! and possibly redact the response (event by event when streamed), answer, and hand an
//! audit record to the [`Auditor`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aho_corasick::AhoCorasick;
use bytes::{Bytes, BytesMut};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::audit::{AuditSink, Auditor, rfc3339_now};
use crate::config::{Config, UpstreamConfig};
use crate::error::{Error, Result};
use crate::keys::{
    AdminSecret, AuthFailure, Endpoint, KeyRecord, KeyStore, KeyTable, hex, unix_now,
};
use crate::limits::{Limit, Limiter};
use crate::metrics::Metrics;
use crate::openai::{
    error_body, usage, visit_event_texts, visit_request_texts, visit_response_texts,
};
use crate::scan::{Direction, OutputContext, Report, Scanner, StreamOutcome, StreamScanner};

/// Largest upstream response body read when not streaming.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Largest single server-sent event accepted from an upstream.
const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;
/// Time allowed for a TLS handshake and for a client to send its request headers
/// (slowloris protection).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the key table is checked for changes made by `ward keys`.
const KEY_RELOAD_INTERVAL: Duration = Duration::from_millis(500);

type Body = BoxBody<Bytes, Infallible>;
type UpstreamClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A configured upstream, ready to use.
struct Upstream {
    name: String,
    base: String,
    auth: Option<HeaderValue>,
    scrub: Option<AhoCorasick>,
    client: UpstreamClient,
    timeout: Duration,
    idle: Duration,
}

/// The running gateway's shared state.
pub struct Gateway {
    keys: RwLock<Arc<KeyTable>>,
    admin: AdminSecret,
    scanner: Scanner,
    models: HashMap<String, Arc<Upstream>>,
    model_list: Vec<(String, String)>,
    limiter: Limiter,
    metrics: Metrics,
    auditor: Auditor,
    max_body: usize,
    record_full_text: bool,
    next_id: AtomicU64,
    id_prefix: String,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("models", &self.model_list)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Builds the gateway from its configuration. Refuses to start without a key store
    /// holding an admin secret, or when a provider key cannot be loaded.
    pub fn new(config: &Config, sink: Arc<dyn AuditSink>) -> Result<Arc<Self>> {
        let store_path = config.store_path();
        let store = KeyStore::open(&store_path)?;
        let admin = store.admin()?;
        // Read the version before the rows, so a key created in between triggers a reload.
        let version = store.data_version().ok();
        let table = KeyTable::new(store.load()?);
        let scanner = Scanner::new(&config.policy).map_err(|message| Error::ConfigInvalid {
            path: config.source.clone(),
            message,
            hint: "fix the `[policy]` table".to_string(),
        })?;
        let mut models = HashMap::new();
        let mut model_list = Vec::new();
        for u in &config.upstreams {
            let up = Arc::new(build_upstream(config, u)?);
            for m in &u.models {
                models.insert(m.clone(), Arc::clone(&up));
                model_list.push((m.clone(), u.name.clone()));
            }
        }
        let gw = Arc::new(Self {
            keys: RwLock::new(Arc::new(table)),
            admin,
            scanner,
            models,
            model_list,
            limiter: Limiter::default(),
            metrics: Metrics::default(),
            auditor: Auditor::new(sink),
            max_body: config.server.max_body_bytes,
            record_full_text: config.audit.record_full_text,
            next_id: AtomicU64::new(1),
            id_prefix: hex(&random_bytes()),
        });
        spawn_key_reloader(Arc::downgrade(&gw), store, version);
        Ok(gw)
    }

    /// The metrics, for embedding and tests.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    async fn route(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let endpoint = match (req.method(), req.uri().path()) {
            (&Method::GET, "/healthz") => return self.health(),
            (&Method::GET, "/metrics") => return self.metrics_page(req.headers()),
            (&Method::GET, "/v1/models") => Endpoint::Models,
            (&Method::POST, "/v1/chat/completions") => Endpoint::Chat,
            (&Method::POST, "/v1/completions") => Endpoint::Completions,
            (&Method::POST, "/v1/embeddings") => Endpoint::Embeddings,
            (&Method::POST, "/v1/responses") => Endpoint::Responses,
            (_, path) => {
                let msg = format!("no route for `{} {path}`", req.method());
                return ApiError::new(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    "unknown_url",
                    msg,
                )
                .into_response(None);
            }
        };
        let id = self.next_request_id();
        let mut ctx = Ctx::new(id, endpoint);
        match self.api(req, &mut ctx).await {
            Ok(Reply::Done(resp)) => {
                ctx.status = resp.status().as_u16();
                self.finish(ctx);
                resp
            }
            Ok(Reply::Streaming(resp)) => resp,
            Err(e) => {
                ctx.status = e.status.as_u16();
                ctx.error.get_or_insert(e.code);
                let resp = e.into_response(Some(&ctx.request_id));
                self.finish(ctx);
                resp
            }
        }
    }

    fn health(&self) -> Response<Body> {
        if self.auditor.healthy() {
            plain(StatusCode::OK, "ok\n")
        } else {
            plain(StatusCode::SERVICE_UNAVAILABLE, "audit log unavailable\n")
        }
    }

    fn metrics_page(&self, headers: &HeaderMap) -> Response<Body> {
        // Metrics reveal key ids' traffic and rule hits, so they need the admin secret.
        match bearer(headers) {
            Some(s) if self.admin.verify(s) => {
                let mut resp = plain(StatusCode::OK, self.metrics.render());
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4"),
                );
                resp
            }
            _ => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_admin_secret",
                "`/metrics` needs `Authorization: Bearer <admin secret>`".to_string(),
            )
            .into_response(None),
        }
    }

    fn next_request_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("req_{}{n:08x}", self.id_prefix)
    }

    async fn api(
        self: &Arc<Self>,
        req: Request<Incoming>,
        ctx: &mut Ctx,
    ) -> Result<Reply, ApiError> {
        if !self.auditor.healthy() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "audit_unavailable",
                "the audit log is unavailable, so the gateway refuses requests it cannot record"
                    .to_string(),
            ));
        }
        let now = unix_now();
        let table = self
            .keys
            .read()
            .map(|t| Arc::clone(&t))
            .map_err(|_| ApiError::internal())?;
        let presented =
            bearer(req.headers()).ok_or_else(|| ApiError::auth(AuthFailure::Missing))?;
        let key = table
            .authenticate(presented, now)
            .map_err(ApiError::auth)?
            .clone();
        ctx.key_id = Some(key.id.clone());
        if !key.endpoints.contains(ctx.endpoint) {
            return Err(ApiError::forbidden(
                "endpoint_not_allowed",
                format!(
                    "this key may not call the `{}` endpoint",
                    ctx.endpoint.name()
                ),
            ));
        }
        if ctx.endpoint == Endpoint::Models {
            return Ok(Reply::Done(self.list_models(&key)));
        }

        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "request_too_large",
                format!("the request body is larger than `{}` bytes", self.max_body),
            )
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body as u64) {
            return Err(too_large());
        }
        let accept = req.headers().get(header::ACCEPT).cloned();
        let raw = match Limited::new(req.into_body(), self.max_body).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err(too_large());
            }
            Err(_) => {
                return Err(ApiError::bad_request(
                    "body_read_failed",
                    "the request body could not be read".into(),
                ));
            }
        };
        ctx.prompt_sha256 = Some(sha256_hex(&raw));
        let mut body: Value = serde_json::from_slice(&raw).map_err(|e| {
            ApiError::bad_request(
                "invalid_json",
                format!("the request body is not valid JSON: {e}"),
            )
        })?;
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::bad_request("missing_model", "the request has no `model` string".into())
            })?
            .to_string();
        ctx.model = Some(model.clone());
        if !key.allows_model(&model) {
            return Err(ApiError::forbidden(
                "model_not_allowed",
                format!("this key may not use model `{model}`"),
            ));
        }
        let upstream = self.models.get(&model).cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!("model `{model}` is not served by this gateway"),
            )
        })?;
        ctx.upstream = Some(upstream.name.clone());
        let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
        ctx.stream = stream;

        // Input monitoring.
        let mut changed = false;
        let mut system = String::new();
        let (mut chars, mut bytes) = (0usize, 0usize);
        let mut full = self.record_full_text.then(String::new);
        let scanner = &self.scanner;
        let report = &mut ctx.report;
        let none = OutputContext::default();
        visit_request_texts(ctx.endpoint, &mut body, &mut |s, is_system| {
            chars = chars.saturating_add(s.chars().count());
            bytes = bytes.saturating_add(s.len());
            if is_system {
                system.push_str(s);
                system.push('\n');
            }
            let redacted = if is_system {
                scanner.scan_system(s, report)
            } else {
                scanner.scan(s, Direction::Input, &none, report)
            };
            if let Some(new) = redacted {
                *s = new;
                changed = true;
            }
            if let Some(p) = full.as_mut() {
                p.push_str(s);
                p.push('\n');
            }
        });
        ctx.prompt_text = full;
        let est_tokens = bytes.div_ceil(4);
        if chars > scanner.max_prompt_chars || est_tokens > scanner.max_prompt_tokens {
            scanner.too_long(
                &mut ctx.report,
                format!("{chars} characters, about {est_tokens} tokens"),
            );
        }
        if let Some(rule) = ctx.report.blocked_by {
            self.metrics.block(rule, "input");
            return Err(ApiError::policy(format!(
                "the request was blocked by policy rule `{rule}`"
            )));
        }
        if let Err((limit, retry)) = self.limiter.admit(&key, now, est_tokens as u64) {
            let (kind, what) = match limit {
                Limit::Requests => ("requests", "requests per minute"),
                Limit::Tokens => ("tokens", "tokens per minute"),
            };
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                kind,
                "rate_limit_exceeded",
                format!("rate limit of this key's {what} reached; retry in {retry} s"),
            );
            e.retry_after = Some(retry);
            return Err(e);
        }

        // Forwarding.
        let out = if changed {
            Bytes::from(serde_json::to_vec(&body).map_err(|_| ApiError::internal())?)
        } else {
            raw
        };
        let path = match ctx.endpoint {
            Endpoint::Chat => "/chat/completions",
            Endpoint::Completions => "/completions",
            Endpoint::Embeddings => "/embeddings",
            Endpoint::Responses => "/responses",
            Endpoint::Models => "/models",
        };
        let mut up = Request::post(format!("{}{path}", upstream.base))
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::ACCEPT,
                accept.unwrap_or_else(|| HeaderValue::from_static("*/*")),
            );
        if let Some(auth) = &upstream.auth {
            up = up.header(header::AUTHORIZATION, auth.clone());
        }
        let up = up.body(Full::new(out)).map_err(|_| ApiError::internal())?;
        let up_start = Instant::now();
        let resp = match tokio::time::timeout(upstream.timeout, upstream.client.request(up)).await {
            Err(_) => return Err(self.upstream_failure(&upstream, ctx, UpstreamFault::Timeout)),
            Ok(Err(e)) if e.is_connect() => {
                return Err(self.upstream_failure(&upstream, ctx, UpstreamFault::Unavailable));
            }
            Ok(Err(_)) => return Err(self.upstream_failure(&upstream, ctx, UpstreamFault::Reset)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(self.upstream_failure(&upstream, ctx, UpstreamFault::Credentials));
        }
        if status.is_server_error() {
            return Err(self.upstream_failure(
                &upstream,
                ctx,
                UpstreamFault::Status(status.as_u16()),
            ));
        }
        let is_sse = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let out_ctx = if system.is_empty() {
            OutputContext::default()
        } else {
            OutputContext::new(&system)
        };

        if status.is_success() && is_sse {
            let (tx, rx) = mpsc::channel(32);
            let gw = Arc::clone(self);
            let mut task_ctx = std::mem::replace(ctx, Ctx::new(String::new(), ctx.endpoint));
            task_ctx.status = 200;
            task_ctx.upstream_wait = Some(up_start.elapsed());
            let body = resp.into_body();
            tokio::spawn(async move {
                gw.relay(
                    body,
                    tx,
                    task_ctx,
                    out_ctx,
                    key,
                    upstream,
                    est_tokens as u64,
                )
                .await;
            });
            let resp = Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "text/event-stream")
                .header(header::CACHE_CONTROL, "no-cache")
                .body(ChannelBody { rx }.boxed())
                .map_err(|_| ApiError::internal())?;
            return Ok(Reply::Streaming(resp));
        }

        let remaining = upstream.timeout.saturating_sub(up_start.elapsed());
        let collected = tokio::time::timeout(
            remaining,
            Limited::new(resp.into_body(), MAX_RESPONSE_BYTES).collect(),
        )
        .await;
        let body_bytes = match collected {
            Err(_) => return Err(self.upstream_failure(&upstream, ctx, UpstreamFault::Timeout)),
            Ok(Err(_)) => return Err(self.upstream_failure(&upstream, ctx, UpstreamFault::Reset)),
            Ok(Ok(b)) => scrub(&upstream, b.to_bytes()),
        };
        ctx.upstream_wait = Some(up_start.elapsed());
        if !status.is_success() {
            // Client errors from the provider (bad parameters, context too long) are meant
            // for the client and pass through, with the provider key scrubbed.
            ctx.response_sha256 = Some(sha256_hex(&body_bytes));
            return Ok(Reply::Done(json_response(status, body_bytes)));
        }
        let mut value: Value = serde_json::from_slice(&body_bytes)
            .map_err(|_| self.upstream_failure(&upstream, ctx, UpstreamFault::Malformed))?;
        if let Some((input, output)) = usage(&value) {
            ctx.tokens = Some((input, output));
            let extra = output.saturating_add(input.saturating_sub(est_tokens as u64));
            self.limiter.add_tokens(&key, now, extra);
        }
        let mut changed = false;
        let mut full = self.record_full_text.then(String::new);
        let report = &mut ctx.report;
        visit_response_texts(ctx.endpoint, &mut value, &mut |s, _| {
            if let Some(new) = scanner.scan(s, Direction::Output, &out_ctx, report) {
                *s = new;
                changed = true;
            }
            if let Some(p) = full.as_mut() {
                p.push_str(s);
            }
        });
        ctx.response_text = full;
        if let Some(rule) = ctx.report.blocked_by {
            self.metrics.block(rule, "output");
            return Err(ApiError::policy(format!(
                "the response was blocked by policy rule `{rule}`"
            )));
        }
        let body_bytes = if changed {
            Bytes::from(serde_json::to_vec(&value).map_err(|_| ApiError::internal())?)
        } else {
            body_bytes
        };
        ctx.response_sha256 = Some(sha256_hex(&body_bytes));
        let mut resp = json_response(status, body_bytes);
        if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        Ok(Reply::Done(resp))
    }

    fn list_models(&self, key: &KeyRecord) -> Response<Body> {
        let data: Vec<Value> = self
            .model_list
            .iter()
            .filter(|(m, _)| key.allows_model(m))
            .map(|(m, u)| json!({"id": m, "object": "model", "created": 0, "owned_by": u}))
            .collect();
        let body = serde_json::to_vec(&json!({"object": "list", "data": data})).unwrap_or_default();
        json_response(StatusCode::OK, Bytes::from(body))
    }

    fn upstream_failure(
        &self,
        upstream: &Upstream,
        ctx: &mut Ctx,
        fault: UpstreamFault,
    ) -> ApiError {
        let kind = fault.kind();
        self.metrics.upstream_error(&upstream.name, kind);
        ctx.error = Some(kind);
        let name = &upstream.name;
        let (status, message) = match fault {
            UpstreamFault::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                format!("upstream `{name}` did not answer in time"),
            ),
            UpstreamFault::Unavailable => (
                StatusCode::BAD_GATEWAY,
                format!("upstream `{name}` cannot be reached"),
            ),
            UpstreamFault::Reset => (
                StatusCode::BAD_GATEWAY,
                format!("upstream `{name}` closed the connection mid-response"),
            ),
            UpstreamFault::Credentials => (
                StatusCode::BAD_GATEWAY,
                format!(
                    "upstream `{name}` rejected the gateway's provider key; the operator must fix it"
                ),
            ),
            UpstreamFault::Status(s) => (
                StatusCode::BAD_GATEWAY,
                format!("upstream `{name}` answered with status `{s}`"),
            ),
            UpstreamFault::Malformed => (
                StatusCode::BAD_GATEWAY,
                format!("upstream `{name}` sent a malformed response"),
            ),
        };
        ApiError::new(status, "upstream_error", kind, message)
    }

    /// Relays a server-sent event stream, scanning each event's text before it is sent.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the state of one stream"
    )]
    async fn relay(
        self: Arc<Self>,
        mut body: Incoming,
        tx: mpsc::Sender<Bytes>,
        mut ctx: Ctx,
        out_ctx: OutputContext,
        key: KeyRecord,
        upstream: Arc<Upstream>,
        est_tokens: u64,
    ) {
        let mut buf = BytesMut::new();
        let mut state = StreamScanner::default();
        let mut hasher = Sha256::new();
        let mut full = self.record_full_text.then(String::new);
        'outer: loop {
            let frame = tokio::time::timeout(upstream.idle, body.frame()).await;
            let data = match frame {
                Err(_) => {
                    let e = self.upstream_failure(&upstream, &mut ctx, UpstreamFault::Timeout);
                    let _ = tx.send(e.as_event()).await;
                    break;
                }
                Ok(Some(Err(_))) => {
                    let e = self.upstream_failure(&upstream, &mut ctx, UpstreamFault::Reset);
                    let _ = tx.send(e.as_event()).await;
                    break;
                }
                Ok(None) => {
                    if !buf.is_empty() {
                        let e =
                            self.upstream_failure(&upstream, &mut ctx, UpstreamFault::Malformed);
                        let _ = tx.send(e.as_event()).await;
                    }
                    break;
                }
                Ok(Some(Ok(frame))) => match frame.into_data() {
                    Ok(d) => d,
                    Err(_) => continue,
                },
            };
            buf.extend_from_slice(&data);
            while let Some(event) = take_event(&mut buf) {
                let event = scrub(&upstream, event);
                let step = self.stream_event(&event, &mut state, &out_ctx, &mut ctx, full.as_mut());
                let (bytes, stop) = match step {
                    EventStep::Send(b) => (b, false),
                    EventStep::Stop(b) => (b, true),
                };
                hasher.update(&bytes);
                if tx.send(bytes).await.is_err() {
                    ctx.error.get_or_insert("client_disconnected");
                    break 'outer;
                }
                if stop {
                    break 'outer;
                }
            }
            if buf.len() > MAX_EVENT_BYTES {
                let e = self.upstream_failure(&upstream, &mut ctx, UpstreamFault::Malformed);
                let bytes = e.as_event();
                hasher.update(&bytes);
                let _ = tx.send(bytes).await;
                break;
            }
        }
        drop(tx);
        if let Some((input, output)) = ctx.tokens {
            let extra = output.saturating_add(input.saturating_sub(est_tokens));
            self.limiter.add_tokens(&key, unix_now(), extra);
        }
        ctx.response_sha256 = Some(hex(&hasher.finalize()));
        ctx.response_text = full;
        self.finish(ctx);
    }

    fn stream_event(
        &self,
        event: &[u8],
        state: &mut StreamScanner,
        out_ctx: &OutputContext,
        ctx: &mut Ctx,
        mut full: Option<&mut String>,
    ) -> EventStep {
        let Ok(text) = std::str::from_utf8(event) else {
            return self.malformed_event(ctx);
        };
        let mut data = String::new();
        let mut other = String::new();
        for line in text.lines() {
            if let Some(d) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            } else if !line.is_empty() {
                other.push_str(line);
                other.push('\n');
            }
        }
        if data.is_empty() || data == "[DONE]" {
            return EventStep::Send(Bytes::copy_from_slice(event));
        }
        let Ok(mut value) = serde_json::from_str::<Value>(&data) else {
            // Text we cannot parse cannot be scanned: fail closed.
            return self.malformed_event(ctx);
        };
        if let Some(t) = usage(&value) {
            ctx.tokens = Some(t);
        }
        let mut changed = false;
        let mut blocked = None;
        let scanner = &self.scanner;
        let report = &mut ctx.report;
        visit_event_texts(&mut value, &mut |s, _| {
            if blocked.is_some() {
                return;
            }
            match state.next(scanner, out_ctx, s, report) {
                StreamOutcome::Pass => {}
                StreamOutcome::Replace(new) => {
                    *s = new;
                    changed = true;
                }
                StreamOutcome::Block(rule) => blocked = Some(rule),
            }
            if let Some(p) = full.as_deref_mut() {
                p.push_str(s);
            }
        });
        if let Some(rule) = blocked {
            self.metrics.block(rule, "output");
            let e = ApiError::policy(format!("the response was blocked by policy rule `{rule}`"));
            return EventStep::Stop(e.as_event());
        }
        if !changed {
            return EventStep::Send(Bytes::copy_from_slice(event));
        }
        let Ok(json) = serde_json::to_string(&value) else {
            return self.malformed_event(ctx);
        };
        EventStep::Send(Bytes::from(format!("{other}data: {json}\n\n")))
    }

    fn malformed_event(&self, ctx: &mut Ctx) -> EventStep {
        let name = ctx.upstream.clone().unwrap_or_default();
        self.metrics.upstream_error(&name, "malformed");
        ctx.error = Some("malformed");
        let e = ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "malformed",
            format!("upstream `{name}` sent a malformed event stream"),
        );
        EventStep::Stop(e.as_event())
    }

    /// Logs, counts and audits a finished request.
    fn finish(&self, ctx: Ctx) {
        let elapsed = ctx.start.elapsed();
        self.metrics.request(ctx.endpoint.name(), ctx.status);
        self.metrics.duration.observe(elapsed);
        if let (Some(wait), false) = (ctx.upstream_wait, ctx.stream) {
            self.metrics.overhead.observe(elapsed.saturating_sub(wait));
        }
        let latency_ms = elapsed.as_secs_f64() * 1e3;
        tracing::info!(
            request_id = %ctx.request_id,
            key_id = ctx.key_id.as_deref().unwrap_or("-"),
            endpoint = ctx.endpoint.name(),
            model = ctx.model.as_deref().unwrap_or("-"),
            upstream = ctx.upstream.as_deref().unwrap_or("-"),
            status = ctx.status,
            latency_ms,
            blocked_by = ctx.report.blocked_by.unwrap_or("-"),
            error = ctx.error.unwrap_or("-"),
            "request"
        );
        let mut record = json!({
            "type": "gateway.request",
            "time": rfc3339_now(),
            "request_id": ctx.request_id,
            "key_id": ctx.key_id,
            "endpoint": ctx.endpoint.name(),
            "model": ctx.model,
            "upstream": ctx.upstream,
            "stream": ctx.stream,
            "status": ctx.status,
            "latency_ms": (latency_ms * 1000.0).round() / 1000.0,
            "prompt_tokens": ctx.tokens.map(|t| t.0),
            "completion_tokens": ctx.tokens.map(|t| t.1),
            "verdicts": ctx.report.verdicts,
            "blocked_by": ctx.report.blocked_by,
            "error": ctx.error,
            "prompt_sha256": ctx.prompt_sha256,
            "response_sha256": ctx.response_sha256,
        });
        if self.record_full_text
            && let Some(obj) = record.as_object_mut()
        {
            for (name, text) in [("prompt", ctx.prompt_text), ("response", ctx.response_text)] {
                let (text, truncated) = truncate(text);
                obj.insert(name.into(), json!(text));
                if truncated {
                    obj.insert(format!("{name}_truncated"), json!(true));
                }
            }
        }
        self.auditor.submit(record);
    }
}

/// Full texts longer than this are cut in the audit record, so that one huge prompt can
/// never exceed the audit log's entry limit (which would stop the gateway).
const MAX_AUDIT_TEXT_BYTES: usize = 256 * 1024;

fn truncate(text: Option<String>) -> (Option<String>, bool) {
    match text {
        Some(mut t) if t.len() > MAX_AUDIT_TEXT_BYTES => {
            let mut cut = MAX_AUDIT_TEXT_BYTES;
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            t.truncate(cut);
            (Some(t), true)
        }
        other => (other, false),
    }
}

/// The audit and log fields of one request, filled in as it proceeds.
struct Ctx {
    request_id: String,
    endpoint: Endpoint,
    start: Instant,
    key_id: Option<String>,
    model: Option<String>,
    upstream: Option<String>,
    stream: bool,
    status: u16,
    tokens: Option<(u64, u64)>,
    report: Report,
    error: Option<&'static str>,
    prompt_sha256: Option<String>,
    response_sha256: Option<String>,
    prompt_text: Option<String>,
    response_text: Option<String>,
    upstream_wait: Option<Duration>,
}

impl Ctx {
    fn new(request_id: String, endpoint: Endpoint) -> Self {
        Self {
            request_id,
            endpoint,
            start: Instant::now(),
            key_id: None,
            model: None,
            upstream: None,
            stream: false,
            status: 0,
            tokens: None,
            report: Report::default(),
            error: None,
            prompt_sha256: None,
            response_sha256: None,
            prompt_text: None,
            response_text: None,
            upstream_wait: None,
        }
    }
}

enum Reply {
    Done(Response<Body>),
    Streaming(Response<Body>),
}

enum EventStep {
    Send(Bytes),
    Stop(Bytes),
}

#[derive(Debug, Clone, Copy)]
enum UpstreamFault {
    Timeout,
    Unavailable,
    Reset,
    Credentials,
    Status(u16),
    Malformed,
}

impl UpstreamFault {
    fn kind(self) -> &'static str {
        match self {
            UpstreamFault::Timeout => "upstream_timeout",
            UpstreamFault::Unavailable => "upstream_unavailable",
            UpstreamFault::Reset => "upstream_reset",
            UpstreamFault::Credentials => "upstream_credentials",
            UpstreamFault::Status(_) => "upstream_status",
            UpstreamFault::Malformed => "upstream_malformed",
        }
    }
}

/// An error answered in OpenAI's shape.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, code: &'static str, message: String) -> Self {
        Self {
            status,
            kind,
            code,
            message,
            retry_after: None,
        }
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            "internal error".into(),
        )
    }

    fn bad_request(code: &'static str, message: String) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message,
        )
    }

    fn forbidden(code: &'static str, message: String) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            code,
            message,
        )
    }

    fn policy(message: String) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "content_policy_violation",
            message,
        )
    }

    fn auth(failure: AuthFailure) -> Self {
        let message = match failure {
            AuthFailure::Missing => "no key given; send `Authorization: Bearer <key>`",
            AuthFailure::Invalid => "the key is not valid",
            AuthFailure::Revoked => "the key has been revoked",
            AuthFailure::Expired => "the key has expired",
        };
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            message.into(),
        )
    }

    fn into_response(self, request_id: Option<&str>) -> Response<Body> {
        let mut resp = json_response(
            self.status,
            Bytes::from(error_body(&self.message, self.kind, self.code)),
        );
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if let Some(v) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
            resp.headers_mut().insert("x-request-id", v);
        }
        resp
    }

    /// The error as a final server-sent event, for failures after the stream started.
    fn as_event(&self) -> Bytes {
        let body = error_body(&self.message, self.kind, self.code);
        let mut out = Vec::with_capacity(body.len() + 8);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&body);
        out.extend_from_slice(b"\n\n");
        Bytes::from(out)
    }
}

/// A response body fed by the relay task, one server-sent event per frame.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// Splits the next complete event (ending in a blank line) off the buffer.
fn take_event(buf: &mut BytesMut) -> Option<Bytes> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let end = match (lf, crlf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some(buf.split_to(end).freeze())
}

/// Replaces the provider key wherever an upstream echoes it (some providers quote the key
/// in error messages), so it never reaches a client.
fn scrub(upstream: &Upstream, bytes: Bytes) -> Bytes {
    let Some(ac) = &upstream.scrub else {
        return bytes;
    };
    if !ac.is_match(bytes.as_ref()) {
        return bytes;
    }
    Bytes::from(ac.replace_all_bytes(bytes.as_ref(), &[b"[REDACTED:provider-key]".as_slice()]))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn json_response(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut resp = Response::new(Full::new(body).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn plain(status: StatusCode, text: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(Full::new(text.into()).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn random_bytes() -> [u8; 4] {
    let mut b = [0u8; 4];
    // A failure only makes request ids less unique across restarts; they stay unique
    // within one process because of the counter.
    let _ = getrandom::fill(&mut b);
    b
}

fn build_upstream(config: &Config, u: &UpstreamConfig) -> Result<Upstream> {
    let key_err = |message: String, hint: &str| Error::ProviderKey {
        upstream: u.name.clone(),
        message,
        hint: hint.to_string(),
    };
    let key = if let Some(var) = &u.api_key_env {
        let v = std::env::var(var).map_err(|_| {
            key_err(
                format!("environment variable `{var}` is not set"),
                "export it before starting the gateway",
            )
        })?;
        Some(v)
    } else if let Some(file) = &u.api_key_file {
        let path = config.resolve(file);
        let v = std::fs::read_to_string(&path).map_err(|e| {
            key_err(
                format!("cannot read `{}`: {e}", path.display()),
                "check the path and its permissions",
            )
        })?;
        Some(v)
    } else {
        None
    };
    let key = key.map(|k| k.trim().to_string());
    if key.as_deref() == Some("") {
        return Err(key_err(
            "the provider key is empty".into(),
            "put the key in the variable or file",
        ));
    }
    let auth = match &key {
        Some(k) => {
            let mut v = HeaderValue::from_str(&format!("Bearer {k}")).map_err(|_| {
                key_err(
                    "the provider key holds characters not allowed in a header".into(),
                    "check the key",
                )
            })?;
            v.set_sensitive(true);
            Some(v)
        }
        None => None,
    };
    let scrub = match &key {
        Some(k) => {
            Some(AhoCorasick::new([k]).map_err(|e| key_err(e.to_string(), "check the key"))?)
        }
        None => None,
    };
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_millis(u.connect_timeout_ms)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
        .map_err(|e| Error::Tls {
            path: config.source.clone(),
            message: e.to_string(),
        })?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .build(https);
    Ok(Upstream {
        name: u.name.clone(),
        base: u.base_url.trim_end_matches('/').to_string(),
        auth,
        scrub,
        client,
        timeout: Duration::from_secs(u.timeout_secs),
        idle: Duration::from_secs(u.stream_idle_timeout_secs),
    })
}

/// Reloads the key table when `ward keys` changes the store, so that new keys work and
/// revoked keys stop working without a restart.
fn spawn_key_reloader(gw: Weak<Gateway>, store: KeyStore, mut version: Option<i64>) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(KEY_RELOAD_INTERVAL);
            let Some(gw) = gw.upgrade() else { return };
            let now = store.data_version().ok();
            if now == version {
                continue;
            }
            version = now;
            match store.load() {
                Ok(records) => {
                    if let Ok(mut t) = gw.keys.write() {
                        *t = Arc::new(KeyTable::new(records));
                    }
                    tracing::info!("key table reloaded");
                }
                Err(e) => {
                    tracing::error!(error = %e, "key table reload failed; keeping the previous table")
                }
            }
        }
    });
}

/// Loads the TLS certificate chain and key.
pub fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor> {
    let tls = |path: &std::path::Path, message: String| Error::Tls {
        path: path.to_path_buf(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls(cert, e.to_string()))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| tls(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls(cert, "no certificate found".into()));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| tls(key, e.to_string()))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| tls(cert, e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, private)
    .map_err(|e| tls(cert, e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// A bound listener, ready to serve.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    grace: Duration,
}

impl Listener {
    /// Binds the configured address and loads TLS if configured.
    pub async fn bind(config: &Config) -> Result<Self> {
        let tls = match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(c), Some(k)) => Some(tls_acceptor(&config.resolve(c), &config.resolve(k))?),
            _ => None,
        };
        let addr = &config.server.listen;
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.clone(),
                source,
            })?;
        Ok(Self {
            tcp,
            tls,
            grace: Duration::from_secs(config.server.shutdown_grace_secs),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.tcp.local_addr().ok()
    }

    /// Whether TLS is on.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests
    /// finish (up to the grace period) and waits for their audit records.
    pub async fn serve(self, gw: Arc<Gateway>, shutdown: impl Future<Output = ()>) {
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => {
                    let (tcp, _peer) = match accepted {
                        Ok(v) => v,
                        Err(e) => {
                            // Out of file descriptors and similar: back off instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = tcp.set_nodelay(true);
                    let gw = Arc::clone(&gw);
                    let watcher = graceful.watcher();
                    let tls = self.tls.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| {
                            let gw = Arc::clone(&gw);
                            async move { Ok::<_, Infallible>(gw.route(req).await) }
                        });
                        let mut builder = hyper::server::conn::http1::Builder::new();
                        builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
                        match tls {
                            Some(acceptor) => {
                                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                                    Ok(Ok(stream)) => {
                                        let _ = watcher.watch(builder.serve_connection(TokioIo::new(stream), svc)).await;
                                    }
                                    _ => tracing::debug!("tls handshake failed"),
                                }
                            }
                            None => {
                                let _ = watcher.watch(builder.serve_connection(TokioIo::new(tcp), svc)).await;
                            }
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(self.tcp);
        tracing::info!("shutting down: waiting for in-flight requests");
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(self.grace) => tracing::warn!("grace period over; closing remaining connections"),
        }
        gw.auditor.drain().await;
    }
}
