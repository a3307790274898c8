//! Controller-side HTTP: keys, repository signing keys and `get_url`/`uri` downloads are
//! fetched by prov itself (reqwest with rustls), so targets need no curl or wget.
//!
//! GET responses are cached per run by URL: a key needed by twenty hosts is downloaded once,
//! also when all twenty ask at the same moment (the others wait for the first download).
//! Modules call [`Client::get`] from their (synchronous) `prepare`, which runs on the engine's
//! multi-threaded runtime; the call blocks only the current worker. One reqwest client per
//! certificate and redirect policy serves the whole run, so connections to a server are
//! reused (a request's timeout is its own).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};

/// A downloaded response.
#[derive(Clone, Debug)]
pub struct Response {
    pub url: String,
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A request beyond a plain cached GET (for `uri`).
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
    pub validate_certs: bool,
    pub follow_redirects: bool,
}

/// A URL's response once its first caller has downloaded it; later callers wait on the lock.
type Slot = Arc<Mutex<Option<Arc<Response>>>>;

#[derive(Default)]
pub struct Client {
    cache: Mutex<HashMap<String, Slot>>,
    /// reqwest clients by (validate_certs, follow_redirects), made on first use.
    clients: Mutex<HashMap<(bool, bool), reqwest::Client>>,
}

fn build(validate_certs: bool, follow: bool) -> Result<reqwest::Client> {
    static PROVIDER: OnceLock<()> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .redirect(if follow {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        })
        .tls_danger_accept_invalid_certs(!validate_certs)
        .user_agent(concat!("prov/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::runtime(format!("cannot create an HTTP client: {e}")))
}

/// Run blocking code from a task of the engine's runtime without holding up its workers.
fn off_worker<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::task::block_in_place(f),
        Err(_) => f(),
    }
}

/// Run a future to completion from synchronous code on the engine's runtime.
fn block<F: std::future::Future>(f: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => tokio::task::block_in_place(|| h.block_on(f)),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f),
    }
}

impl Client {
    /// GET a URL (cached for the run). Transport errors are errors; HTTP error statuses are
    /// returned for the caller to judge.
    pub fn get(&self, url: &str, validate_certs: bool) -> Result<Arc<Response>> {
        let slot = self
            .cache
            .lock()
            .unwrap()
            .entry(url.to_string())
            .or_default()
            .clone();
        // Already downloaded: no wait.
        if let Ok(done) = slot.try_lock()
            && let Some(r) = done.as_ref()
        {
            return Ok(r.clone());
        }
        // Waiting here must not hold up the runtime's workers (the download being waited for
        // needs them), hence off-worker, like the download itself.
        let mut slot = off_worker(|| slot.lock().unwrap());
        if let Some(r) = slot.as_ref() {
            return Ok(r.clone());
        }
        let req = Request {
            method: "GET".into(),
            url: url.to_string(),
            validate_certs,
            follow_redirects: true,
            ..Default::default()
        };
        // A failed download is not kept: the next caller tries again.
        let r = Arc::new(self.send(&req)?);
        *slot = Some(r.clone());
        Ok(r)
    }

    /// The run's client for this policy. Kept only on the engine's runtime: pooled
    /// connections belong to the runtime that opened them, and outside one each request
    /// gets a runtime of its own.
    fn client(&self, validate_certs: bool, follow: bool) -> Result<reqwest::Client> {
        if tokio::runtime::Handle::try_current().is_err() {
            return build(validate_certs, follow);
        }
        let mut clients = self.clients.lock().unwrap();
        if let Some(c) = clients.get(&(validate_certs, follow)) {
            return Ok(c.clone());
        }
        let c = build(validate_certs, follow)?;
        clients.insert((validate_certs, follow), c.clone());
        Ok(c)
    }

    /// Send any request (never cached).
    pub fn send(&self, req: &Request) -> Result<Response> {
        if !(req.url.starts_with("http://") || req.url.starts_with("https://")) {
            return Err(Error::runtime(format!(
                "unsupported URL '{}' (http and https are)",
                req.url
            )));
        }
        let client = self.client(req.validate_certs, req.follow_redirects)?;
        let timeout = req.timeout.unwrap_or(Duration::from_secs(30));
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| Error::runtime(format!("bad HTTP method '{}'", req.method)))?;
        block(async {
            let mut b = client.request(method, &req.url).timeout(timeout);
            for (k, v) in &req.headers {
                b = b.header(k, v);
            }
            if let Some(body) = &req.body {
                b = b.body(body.clone());
            }
            let resp = b.send().await.map_err(|e| {
                Error::runtime(format!(
                    "request to {} failed: {}",
                    req.url,
                    error_chain(&e)
                ))
            })?;
            let status = resp.status().as_u16();
            let url = resp.url().to_string();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        v.to_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let body = resp
                .bytes()
                .await
                .map_err(|e| {
                    Error::runtime(format!("reading {} failed: {}", req.url, error_chain(&e)))
                })?
                .to_vec();
            Ok(Response {
                url,
                status,
                body,
                headers,
            })
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// Two keep-alive requests from one run reach the server on one connection.
    #[test]
    fn a_run_reuses_its_connections() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            // One connection, two requests on it.
            let (mut s, _) = listener.accept().unwrap();
            for _ in 0..2 {
                let mut buf = [0u8; 2048];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).unwrap();
                    got.extend_from_slice(&buf[..n]);
                }
                write!(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap();
            }
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let client = Arc::new(Client::default());
        rt.block_on(async {
            for path in ["a", "b"] {
                let req = Request {
                    method: "GET".into(),
                    url: format!("http://127.0.0.1:{port}/{path}"),
                    validate_certs: true,
                    follow_redirects: true,
                    timeout: Some(Duration::from_secs(5)),
                    ..Default::default()
                };
                let c = client.clone();
                let r = tokio::task::spawn_blocking(move || c.send(&req));
                assert_eq!(r.await.unwrap().unwrap().body, b"ok");
            }
        });
        server.join().unwrap();
        assert_eq!(client.clients.lock().unwrap().len(), 1);
    }

    #[test]
    fn gets_are_cached_and_statuses_returned() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut served = 0;
            for stream in listener.incoming().take(2) {
                let mut s = stream.unwrap();
                let mut buf = [0u8; 2048];
                let n = s.read(&mut buf).unwrap();
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let (status, body) = if req.starts_with("GET /missing") {
                    ("404 Not Found", "")
                } else {
                    ("200 OK", "ssh-ed25519 AAAA k\n")
                };
                write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                served += 1;
            }
            served
        });
        let c = Client::default();
        let url = format!("http://127.0.0.1:{port}/boxp.keys");
        let a = c.get(&url, true).unwrap();
        let b = c.get(&url, true).unwrap();
        assert!(a.ok());
        assert_eq!(a.body, b"ssh-ed25519 AAAA k\n");
        assert!(Arc::ptr_eq(&a, &b), "second get comes from the cache");
        let m = c
            .get(&format!("http://127.0.0.1:{port}/missing"), true)
            .unwrap();
        assert_eq!(m.status, 404);
        assert_eq!(server.join().unwrap(), 2);
        assert!(c.get("ftp://x", true).is_err());
    }

    #[test]
    fn concurrent_gets_of_one_url_download_it_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/k",
            listener.local_addr().unwrap().port()
        );
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = served.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut s = stream.unwrap();
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).unwrap();
                // Slow, so that every caller asks while the first download runs.
                std::thread::sleep(Duration::from_millis(300));
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let c = Arc::new(Client::default());
        let got = rt.block_on(async {
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    let (c, url) = (c.clone(), url.clone());
                    tokio::spawn(async move { c.get(&url, true).unwrap() })
                })
                .collect();
            let mut got = Vec::new();
            for t in tasks {
                got.push(t.await.unwrap());
            }
            got
        });
        assert!(
            got.iter()
                .all(|r| Arc::ptr_eq(r, &got[0]) && r.body == b"ok")
        );
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
