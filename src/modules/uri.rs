//! `uri`: an HTTP request made by the controller, with its status checked against
//! `status_code`. Read-only requests (GET, HEAD) also run in check mode, so a dry run can use
//! their results; others are skipped there.

use std::time::Duration;

use minijinja::Value;
use minijinja::value::ValueKind;

use super::{Args, Fixed, Module, ModuleEnv, Plan, Planner};
use crate::error::{Error, Result};
use crate::http::Request;
use crate::template::to_text;

pub struct Uri;

const OPTIONS: &[&str] = &[
    "url",
    "method",
    "body",
    "body_format",
    "headers",
    "status_code",
    "return_content",
    "timeout",
    "validate_certs",
    "follow_redirects",
    "url_username",
    "url_password",
    "force_basic_auth",
    "creates",
    "removes",
    "dest",
    "use_proxy",
    "http_agent",
    "decompress",
    "unredirected_headers",
];

impl Module for Uri {
    fn path_options(&self) -> &'static [&'static str] {
        &["dest"]
    }
    fn name(&self) -> &'static str {
        "uri"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        super::file::unsupported(
            &a,
            &["url_username", "url_password", "creates", "removes", "dest"],
        )?;
        let url = a.req_str(&["url"])?;
        let method = a
            .str(&["method"])?
            .unwrap_or_else(|| "GET".into())
            .to_uppercase();
        if env.check_mode && !matches!(method.as_str(), "GET" | "HEAD") {
            return Ok(Box::new(Fixed(Plan::unknown(format!(
                "{method} requests do not run in check mode"
            )))));
        }
        let format = a
            .choice(
                &["body_format"],
                &["raw", "json", "form-urlencoded", "form-multipart"],
                Some("raw"),
            )?
            .unwrap_or_default();
        let mut headers: Vec<(String, String)> = match a.get(&["headers"]) {
            Some(h) if h.kind() == ValueKind::Map => crate::vars::value_to_map(h)
                .into_iter()
                .map(|(k, v)| (k, to_text(&v)))
                .collect(),
            Some(_) => return Err(Error::runtime("uri: headers must be a dictionary")),
            None => Vec::new(),
        };
        let body = match a.get(&["body"]) {
            None => None,
            Some(b) => Some(match format.as_str() {
                "json" => {
                    headers.push(("Content-Type".into(), "application/json".into()));
                    if b.kind() == ValueKind::String {
                        to_text(b)
                    } else {
                        crate::template::filters::to_json_string(b, None, false)?
                    }
                }
                "form-urlencoded" => {
                    headers.push((
                        "Content-Type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ));
                    crate::vars::value_to_map(b)
                        .into_iter()
                        .map(|(k, v)| format!("{}={}", urlencode(&k), urlencode(&to_text(&v))))
                        .collect::<Vec<_>>()
                        .join("&")
                }
                "form-multipart" => {
                    return Err(Error::runtime(
                        "uri: body_format form-multipart is not supported by prov",
                    ));
                }
                _ => to_text(b),
            }),
        };
        let expected: Vec<i64> = match a.get(&["status_code"]) {
            None => vec![200],
            Some(v) if crate::template::is_list(v) => v
                .try_iter()?
                .filter_map(|x| x.as_i64().or_else(|| to_text(&x).parse().ok()))
                .collect(),
            Some(v) => vec![
                v.as_i64()
                    .or_else(|| to_text(v).parse().ok())
                    .ok_or_else(|| Error::runtime("uri: bad status_code"))?,
            ],
        };
        let follow = !matches!(
            a.str(&["follow_redirects"])?.as_deref(),
            Some("none" | "no" | "false")
        );
        let req = Request {
            method: method.clone(),
            url: url.clone(),
            headers,
            body: body.map(String::into_bytes),
            timeout: Some(Duration::from_secs(
                a.int(&["timeout"])?.unwrap_or(30).max(1) as u64,
            )),
            validate_certs: a.bool(&["validate_certs"], true)?,
            follow_redirects: follow,
        };
        let resp = match env.http.send(&req) {
            Ok(r) => r,
            Err(e) => {
                return Ok(Box::new(Fixed(
                    Plan::fail(format!(
                        "Status code was -1 and not {expected:?}: {}",
                        e.message
                    ))
                    .with("status", -1)
                    .with("url", url.as_str()),
                )));
            }
        };
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        let mut plan = Plan::ok()
            .with("status", i64::from(resp.status))
            .with("url", resp.url.as_str())
            .with("msg", format!("OK ({} bytes)", resp.body.len()));
        for (k, v) in &resp.headers {
            plan.result
                .insert(k.to_lowercase().replace('-', "_"), Value::from(v.as_str()));
        }
        if a.bool(&["return_content"], false)? {
            if resp
                .header("content-type")
                .is_some_and(|c| c.contains("json"))
                && let Ok(j) = serde_json::from_str::<serde_json::Value>(&text)
            {
                plan.result
                    .insert("json".into(), crate::vars::from_json(&j));
            }
            plan.result
                .insert("content".into(), Value::from(text.as_str()));
        }
        if !expected.contains(&i64::from(resp.status)) {
            plan.failed = Some(format!(
                "Status code was {} and not {expected:?}: HTTP Error {}",
                resp.status, resp.status
            ));
        }
        // Requests that may change something remote are reported as changes.
        plan.changed = !matches!(method.as_str(), "GET" | "HEAD") && plan.failed.is_none();
        Ok(Box::new(Fixed(plan)))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
