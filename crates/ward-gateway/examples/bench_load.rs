//! A small closed-loop HTTP/1.1 load generator for `bench/gateway/run`: `C` keep-alive
//! connections each send requests back to back; prints one JSON line with the latency
//! percentiles (microseconds), the requests per second and the error count.
//!
//! Usage: `bench_load <url> <connections> <requests> [bearer-key]` (request body on stdin)

use std::io::Read;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench_load <url> <connections> <requests> [key]";
    let url: hyper::Uri = args.get(1).ok_or(usage)?.parse()?;
    let conns: usize = args.get(2).ok_or(usage)?.parse()?;
    let total: usize = args.get(3).ok_or(usage)?.parse()?;
    let key = args.get(4).cloned();
    let mut body = String::new();
    std::io::stdin().read_to_string(&mut body)?;
    let body = Bytes::from(body);
    let addr = format!(
        "{}:{}",
        url.host().ok_or(usage)?,
        url.port_u16().unwrap_or(80)
    );
    // HTTP/1.1 servers expect the origin form (`/v1/...`) on a direct connection.
    let path: hyper::Uri = url.path_and_query().map_or("/", |p| p.as_str()).parse()?;
    let per_conn = total.div_ceil(conns);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (lat, errors, elapsed) = rt.block_on(async move {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (addr, url, key, body) = (addr.clone(), path.clone(), key.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_conn);
                let mut errors = 0usize;
                let Ok(tcp) = tokio::net::TcpStream::connect(&addr).await else {
                    return (lat, per_conn);
                };
                let _ = tcp.set_nodelay(true);
                let Ok((mut send, conn)) =
                    hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tcp))
                        .await
                else {
                    return (lat, per_conn);
                };
                tokio::spawn(conn);
                for _ in 0..per_conn {
                    let mut req = Request::post(url.clone())
                        .header("host", "bench")
                        .header("content-type", "application/json");
                    if let Some(k) = &key {
                        req = req.header("authorization", format!("Bearer {k}"));
                    }
                    let Ok(req) = req.body(Full::new(body.clone())) else {
                        return (lat, per_conn);
                    };
                    let t = Instant::now();
                    match send.send_request(req).await {
                        Ok(resp) => {
                            let ok = resp.status().is_success();
                            let _ = resp.into_body().collect().await;
                            if ok {
                                lat.push(t.elapsed());
                            } else {
                                errors += 1;
                            }
                        }
                        Err(_) => {
                            errors += 1;
                            break;
                        }
                    }
                }
                (lat, errors)
            }));
        }
        let mut all: Vec<Duration> = Vec::new();
        let mut errors = 0;
        for t in tasks {
            if let Ok((l, e)) = t.await {
                all.extend(l);
                errors += e;
            }
        }
        (all, errors, start.elapsed())
    });
    let mut lat = lat;
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
        lat.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
    };
    println!(
        "{{\"ok\":{},\"errors\":{},\"p50_us\":{:.1},\"p99_us\":{:.1},\"rps\":{:.1}}}",
        lat.len(),
        errors,
        pct(0.50),
        pct(0.99),
        lat.len() as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
