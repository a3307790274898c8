//! Published worker images in S3 (feature `s3`): `prov image upload`, `list`, `fetch`,
//! `mark-good` and `prune`.
//!
//! This module holds what they share: the `s3://BUCKET/PREFIX/` location, the client (the AWS
//! SDK with the standard credential chain, rustls on ring, connect and request timeouts,
//! retries with backoff; path-style requests to a custom endpoint), and the translation of
//! SDK errors into one line and an exit code: unreachable endpoint 4, credentials refused 6,
//! missing bucket or build 7. The object layout is in [`layout`], the multipart upload in
//! [`upload`], the catalog commands in [`catalog`], transfer progress in [`transfer`].

pub mod catalog;
pub use super::layout;
pub mod transfer;
pub mod upload;

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::cli::{Format, ImageCommand, S3Args};
use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};

/// Print a result: JSON with `--format json`, else the text.
fn print(format: Format, json: &impl serde::Serialize, text: &str) {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(json).unwrap_or_default()),
        Format::Text => print!("{text}"),
    }
}

/// Run a storage command (`upload`, `list`, `fetch`, `mark-good`, `prune`); returns the exit
/// code. A signal stops it (an upload is aborted, a download removed): [`crate::error::signal_exit_code`].
pub async fn command(cmd: ImageCommand, cancel: std::sync::Arc<Cancel>) -> Result<i32> {
    let result = match cmd {
        ImageCommand::Upload(a) => upload::upload(&a, cancel.clone())
            .await
            .map(|u| print(a.s3.format, &u, &format!("{}\n", u.url))),
        ImageCommand::List(a) => catalog::list(&a).await,
        ImageCommand::Fetch(a) => catalog::fetch(&a, cancel.clone()).await.map(|p| {
            let json = serde_json::json!({"path": p.display().to_string()});
            print(a.s3.format, &json, &format!("{}\n", p.display()))
        }),
        ImageCommand::MarkGood(a) => catalog::mark_good(&a).await.map(|url| {
            let json = serde_json::json!({"marked": url, "tag": "known-good=true"});
            print(a.s3.format, &json, &format!("{url}: marked known-good\n"))
        }),
        ImageCommand::Prune(a) => catalog::prune(&a)
            .await
            .map(|p| print(a.s3.format, &p, &catalog::prune_report(&p))),
        ImageCommand::Build(_)
        | ImageCommand::Test(_)
        | ImageCommand::Compress(_)
        | ImageCommand::Verify(_)
        | ImageCommand::Pipeline(_)
        | ImageCommand::Install(_) => Err(Error::usage("not a storage command")),
    };
    match result {
        Ok(()) => Ok(0),
        Err(_) if cancel.is_cancelled() => {
            eprintln!("[prov image] interrupted: the unfinished transfer was undone");
            Ok(crate::error::signal_exit_code(
                cancel.signal().unwrap_or(libc::SIGINT),
            ))
        }
        Err(e) => Err(e),
    }
}

/// `s3://BUCKET/PREFIX/`: the prefix without its slashes (empty for the bucket's root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    pub prefix: String,
}

impl Location {
    pub fn parse(url: &str) -> Result<Location> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            Error::usage(format!("{url}: expected an S3 URL, s3://BUCKET/PREFIX/"))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::usage(format!("{url}: the bucket name is missing")));
        }
        Ok(Location {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    /// `s3://BUCKET/KEY`.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// A connected bucket location.
#[derive(Clone)]
pub struct Store {
    pub client: Client,
    pub loc: Location,
    /// What requests are sent to (for messages).
    pub endpoint: String,
    /// The per-request time limit.
    pub timeout: Duration,
}

/// The endpoint: the flag, then `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`.
fn custom_endpoint(args: &S3Args) -> Option<String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    args.endpoint_url
        .clone()
        .or_else(|| env("AWS_ENDPOINT_URL_S3"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
}

/// The HTTPS client: the smithy hyper client with rustls on ring (no aws-lc).
pub fn http_client() -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Time limits: connecting at most 10 s (or `timeout` if shorter), each request attempt
/// `timeout`.
pub fn timeouts(timeout: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .operation_attempt_timeout(timeout)
        .build()
}

/// Connect to the location of `args` (no request is made yet: see [`Store::check_bucket`]).
pub async fn connect(args: &S3Args) -> Result<Store> {
    let loc = Location::parse(&args.url)?;
    if args.timeout == 0 {
        return Err(Error::usage("--timeout must be at least 1 second"));
    }
    let timeout = Duration::from_secs(args.timeout);
    let retry = RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(300))
        .with_max_backoff(Duration::from_secs(5));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(timeouts(timeout))
        .retry_config(retry);
    if let Some(r) = &args.region {
        loader = loader.region(Region::new(r.clone()));
    }
    let sdk = loader.load().await;
    let mut conf = aws_sdk_s3::config::Builder::from(&sdk);
    if sdk.region().is_none() {
        conf = conf.region(Region::from_static("us-east-1"));
    }
    let endpoint = match custom_endpoint(args) {
        Some(e) => {
            conf = conf.endpoint_url(&e).force_path_style(true);
            e
        }
        None => "AWS S3".to_string(),
    };
    Ok(Store {
        client: Client::from_conf(conf.build()),
        loc,
        endpoint,
        timeout,
    })
}

/// Text on one line: its lines trimmed and joined with "; ".
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The innermost cause of an error (the useful part of a transport failure), on one line.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    one_line(&cur.to_string())
}

/// Does the error chain mention missing or unusable credentials?
fn credentials_problem(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        let text = c.to_string().to_lowercase();
        if text.contains("credential") || text.contains("identity") {
            return true;
        }
        cur = c.source();
    }
    false
}

impl Store {
    /// One line for a failed request: `what` failed and why, with the kind that decides the
    /// exit code.
    pub fn error<E>(
        &self,
        what: &str,
        e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.code().map(str::to_string);
        let message = e.message().map(str::to_string);
        let detail = match (&code, &message) {
            (Some(c), Some(m)) => format!("{c}: {}", one_line(m)),
            (Some(c), None) => c.clone(),
            (None, _) => status.map_or_else(|| root_cause(&e), |s| format!("HTTP {s}")),
        };
        match &e {
            SdkError::TimeoutError(_) => Error::unreachable(format!(
                "{what}: no answer from {} within {} s",
                self.endpoint,
                self.timeout.as_secs()
            )),
            SdkError::DispatchFailure(d) if d.is_timeout() => Error::unreachable(format!(
                "{what}: no answer from {} within {} s",
                self.endpoint,
                self.timeout.as_secs()
            )),
            SdkError::DispatchFailure(_) if !credentials_problem(&e) => Error::unreachable(
                format!("{what}: cannot reach {}: {}", self.endpoint, root_cause(&e)),
            ),
            SdkError::ConstructionFailure(_) | SdkError::DispatchFailure(_) => Error::new(
                ErrorKind::Denied,
                format!("{what}: no usable AWS credentials: {}", root_cause(&e)),
            ),
            _ => {
                let kind = match (code.as_deref(), status) {
                    (
                        Some(
                            "InvalidAccessKeyId"
                            | "SignatureDoesNotMatch"
                            | "AccessDenied"
                            | "ExpiredToken"
                            | "InvalidToken"
                            | "InvalidSecurity",
                        ),
                        _,
                    )
                    | (_, Some(401 | 403)) => ErrorKind::Denied,
                    (Some("NoSuchBucket" | "NoSuchKey" | "NoSuchUpload"), _) | (_, Some(404)) => {
                        ErrorKind::NotFound
                    }
                    _ => ErrorKind::Runtime,
                };
                let msg = match kind {
                    ErrorKind::Denied => format!(
                        "{what}: {} refused the credentials or the access ({detail})",
                        self.endpoint
                    ),
                    _ => format!("{what}: {detail}"),
                };
                Error::new(kind, msg)
            }
        }
    }

    /// The bucket exists and the credentials may use it (one request: every command's first).
    pub async fn check_bucket(&self) -> Result<()> {
        let bucket = &self.loc.bucket;
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = self.error(&format!("bucket {bucket}"), e);
                Err(match err.kind {
                    ErrorKind::NotFound => Error::new(
                        ErrorKind::NotFound,
                        format!("bucket {bucket} does not exist at {}", self.endpoint),
                    ),
                    _ => err,
                })
            }
        }
    }

    /// Every key (with its size) under `prefix`, all pages.
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.loc.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| self.error(&format!("listing {}", self.loc.url(prefix)), e))?;
            for o in page.contents() {
                if let Some(k) = o.key() {
                    out.push((k.to_string(), o.size().unwrap_or(0).max(0) as u64));
                }
            }
        }
        Ok(out)
    }

    /// A small object's text (a sidecar or a manifest).
    pub async fn get_text(&self, key: &str) -> Result<String> {
        let what = format!("reading {}", self.loc.url(key));
        let out = self
            .client
            .get_object()
            .bucket(&self.loc.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.error(&what, e))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| Error::unreachable(format!("{what}: {e}")))?
            .into_bytes();
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::runtime(format!("{what}: not UTF-8 text")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = Location::parse("s3://images/workers/").unwrap();
        assert_eq!(l.bucket, "images");
        assert_eq!(l.prefix, "workers");
        assert_eq!(l.url("workers/x"), "s3://images/workers/x");
        let l = Location::parse("s3://images").unwrap();
        assert_eq!(l.prefix, "");
        let l = Location::parse("s3://images/a/b").unwrap();
        assert_eq!(l.prefix, "a/b");
        assert!(Location::parse("https://images/").is_err());
        assert!(Location::parse("s3:///x").is_err());
    }
}
