//! Check: once CloudFront is Deployed, request the site and check that it shows what the new code
//! does. Edges pick up a new version at different moments, so the check retries until the
//! expectations hold or its time runs out.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use regex::Regex;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::inputs::default_of;
use crate::inputs::Problems;
use crate::log;
use crate::poll::Poll;

/// What to request and what must hold.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    /// A full URL, or a path on the distribution's own domain.
    pub url: String,
    pub status: u16,
    pub headers: Vec<(String, Regex)>,
    pub body: Option<Regex>,
    pub timeout: Duration,
}

/// What the last try saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub url: String,
    pub status: Option<u16>,
    /// The headers the expectations ask about, as received.
    pub headers: Vec<(String, String)>,
    pub body_start: String,
    pub tries: u32,
    pub elapsed: Duration,
    /// Why the last try did not pass.
    pub problems: Vec<String>,
}

impl Seen {
    pub fn describe(&self) -> String {
        let status = self.status.map(|s| s.to_string()).unwrap_or_else(|| "no response".into());
        let headers: Vec<String> = self.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!(
            "{} answered {status} after {} tr{} in {:.1} s{}{}; body starts {:?}",
            self.url,
            self.tries,
            if self.tries == 1 { "y" } else { "ies" },
            self.elapsed.as_secs_f64(),
            if headers.is_empty() { String::new() } else { format!("; {}", headers.join("; ")) },
            if self.problems.is_empty() { String::new() } else { format!("; {}", self.problems.join("; ")) },
            self.body_start
        )
    }
}

/// The first bytes of the body that are kept for the report, and the most that is read.
const BODY_SHOWN: usize = 200;
const BODY_READ: usize = 1024 * 1024;
const PER_REQUEST: Duration = Duration::from_secs(10);

/// The URL to request: a path alone means the distribution's domain over HTTPS.
pub fn url_for(spec_url: &str, domain: &str) -> String {
    if spec_url.starts_with('/') {
        format!("https://{domain}{spec_url}")
    } else {
        spec_url.to_owned()
    }
}

/// The path the check requests (without its query), as CloudFront matches and invalidates it.
pub fn path_of(spec_url: &str, domain: &str) -> Option<String> {
    let uri: hyper::Uri = url_for(spec_url, domain).parse().ok()?;
    Some(uri.path().to_owned()).filter(|p| p.starts_with('/'))
}

/// Adds a query parameter no cache has seen, so that the request reaches the origin side.
fn cache_busted(url: &str, n: u32) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}lambda-edge-deploy-check={}-{n}", uuid::Uuid::new_v4().simple())
}

/// Requests the URL until every expectation holds (Ok) or the check's time runs out (Err), each
/// way with what was seen. `route` is a request header to send besides (a staged release's canary
/// header, which CloudFront routes to the staging distribution).
pub async fn run(
    spec: &CheckSpec,
    domain: &str,
    route: Option<(&str, &str)>,
) -> Result<std::result::Result<Seen, Seen>> {
    let url = url_for(&spec.url, domain);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(Error::io("loading the system's CA certificates"))?
        .https_or_http()
        .enable_http1()
        .build();
    // Redirects are not followed: a redirect is an answer to check like any other.
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let started = Instant::now();
    // Edges pick up a new version at different moments: from a second apart, backing off to ten.
    let poll = Poll::with(Duration::from_secs(1), Duration::from_secs(10), spec.timeout);
    let mut interval = poll.first;
    let mut seen = Seen { url: url.clone(), ..Default::default() };
    loop {
        seen.tries += 1;
        let attempt = Seen { url: url.clone(), tries: seen.tries, ..Default::default() };
        let budget =
            PER_REQUEST.min(poll.deadline.saturating_duration_since(Instant::now())).max(Duration::from_millis(100));
        seen = match tokio::time::timeout(
            budget,
            try_once(&client, spec, &cache_busted(&url, seen.tries), route, attempt.clone()),
        )
        .await
        {
            Ok(s) => s,
            Err(_) => Seen { problems: vec![format!("no answer within {} s", budget.as_secs_f64())], ..attempt },
        };
        seen.elapsed = started.elapsed();
        if seen.problems.is_empty() {
            return Ok(Ok(seen));
        }
        log::info(&format!("check: {}", seen.describe()));
        if !poll.pause(&mut interval).await {
            return Ok(Err(seen));
        }
    }
}

async fn try_once<C>(
    client: &Client<C, Empty<Bytes>>,
    spec: &CheckSpec,
    url: &str,
    route: Option<(&str, &str)>,
    mut seen: Seen,
) -> Seen
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let mut request = hyper::Request::get(url)
        .header("cache-control", "no-cache")
        .header("pragma", "no-cache")
        .header("user-agent", concat!("lambda-edge-deploy/", env!("CARGO_PKG_VERSION")));
    if let Some((name, value)) = route {
        request = request.header(name, value);
    }
    let request = match request.body(Empty::new()) {
        Ok(r) => r,
        Err(e) => {
            seen.problems.push(format!("not a valid request URL: {e}"));
            return seen;
        }
    };
    let response = match client.request(request).await {
        Ok(r) => r,
        Err(e) => {
            let cause = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
            seen.problems.push(format!("could not connect: {e} {cause}").trim_end().to_owned());
            return seen;
        }
    };
    let status = response.status().as_u16();
    seen.status = Some(status);
    if status != spec.status {
        seen.problems.push(format!("status {status}, expected {}", spec.status));
    }
    for (name, pattern) in &spec.headers {
        let values: Vec<String> = response
            .headers()
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        seen.headers.push((name.clone(), if values.is_empty() { "(absent)".into() } else { values.join(", ") }));
        if !values.iter().any(|v| pattern.is_match(v)) {
            seen.problems.push(format!("header {name} does not match /{pattern}/"));
        }
    }
    // The body is read only when the check asks about it, and then only its first BODY_READ bytes:
    // a large page is an answer like any other, not a failure.
    if let Some(pattern) = &spec.body {
        match first_bytes(response.into_body(), BODY_READ).await {
            Ok((body, whole)) => {
                let body = String::from_utf8_lossy(&body).into_owned();
                seen.body_start = body.chars().take(BODY_SHOWN).collect();
                if !pattern.is_match(&body) {
                    let part = if whole { "the body" } else { "the body's first MB" };
                    seen.problems.push(format!("{part} does not match /{pattern}/"));
                }
            }
            Err(e) => seen.problems.push(format!("reading the body failed: {e}")),
        }
    } else if let Ok((body, _)) = first_bytes(response.into_body(), BODY_SHOWN * 4).await {
        seen.body_start = String::from_utf8_lossy(&body).chars().take(BODY_SHOWN).collect();
    }
    seen
}

/// The check's expectations, each compiled now so that a malformed one fails before any write.
pub(crate) fn spec(
    p: &mut Problems,
    url: Option<String>,
    status: Option<String>,
    header: Option<String>,
    body: Option<String>,
    timeout: Option<String>,
) -> Option<CheckSpec> {
    let Some(url) = url.map(|u| u.trim().to_owned()) else {
        // The GitHub runner passes every declared input with its default: only a value of the
        // user's own counts as given.
        for (input, given) in
            [("check-status", &status), ("check-header", &header), ("check-body", &body), ("check-timeout", &timeout)]
        {
            if given.as_deref().is_some_and(|v| v.trim() != default_of(input)) {
                p.push(input, "needs `check-url`, the URL to check");
            }
        }
        return None;
    };
    if let Err(problem) = valid_check_url(&url) {
        p.push("check-url", problem);
    }
    let status_text = status.unwrap_or_else(|| default_of("check-status").to_owned());
    let status = match status_text.trim().parse::<u16>() {
        Ok(s) if (100..=599).contains(&s) => s,
        _ => {
            p.push("check-status", format!("`{}` is not an HTTP status (100 to 599)", status_text.trim()));
            0
        }
    };
    let mut headers = Vec::new();
    for line in header.as_deref().unwrap_or("").lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((name, pattern)) = line.split_once(':') else {
            p.push("check-header", format!("`{line}` is not `Name: regex` (such as `x-edge-release: ^release-2$`)"));
            continue;
        };
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b)) {
            p.push("check-header", format!("`{name}` in `{line}` is not a header name"));
            continue;
        }
        match regex::Regex::new(pattern.trim()) {
            Ok(r) => headers.push((name.to_ascii_lowercase(), r)),
            Err(e) => p.push("check-header", format!("the regex in `{line}` does not compile: {e}")),
        }
    }
    let body = body.and_then(|b| match regex::Regex::new(b.trim()) {
        Ok(r) => Some(r),
        Err(e) => {
            p.push("check-body", format!("the regex does not compile: {e}"));
            None
        }
    });
    let timeout = p.duration("check-timeout", timeout);
    Some(CheckSpec { url, status, headers, body, timeout })
}

/// A path on the distribution's domain, or a full http(s) URL with a host, that parses as a request
/// URI: spaces and control characters are refused now, not after the release.
fn valid_check_url(url: &str) -> Result<(), String> {
    let expected = "expected a path such as `/index.html` or a full http(s):// URL (spaces and other characters outside a URL percent-encoded)";
    if url.starts_with('/') {
        return hyper::http::uri::PathAndQuery::try_from(url)
            .map(|_| ())
            .map_err(|_| format!("`{}`: {expected}", url.escape_debug()));
    }
    match url.parse::<hyper::Uri>() {
        Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(format!("`{}`: {expected}", url.escape_debug())),
    }
}

/// Up to `limit` bytes of a body, and whether that was all of it.
async fn first_bytes<B>(mut body: B, limit: usize) -> std::result::Result<(Vec<u8>, bool), B::Error>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let room = limit - out.len();
            if data.len() >= room {
                out.extend_from_slice(&data[..room]);
                return Ok((out, body.is_end_stream()));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok((out, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_means_the_distributions_domain_over_https() {
        assert_eq!(url_for("/index.html", "d1.cloudfront.net"), "https://d1.cloudfront.net/index.html");
        assert_eq!(url_for("http://127.0.0.1:9/x", "d1.cloudfront.net"), "http://127.0.0.1:9/x");
    }

    #[test]
    fn the_checked_path_leaves_the_query_out() {
        assert_eq!(path_of("/index.html?x=1", "d1.cloudfront.net").as_deref(), Some("/index.html"));
        assert_eq!(path_of("http://127.0.0.1:9/a/b", "d1").as_deref(), Some("/a/b"));
        assert_eq!(path_of("https://example.org", "d1").as_deref(), Some("/"));
    }

    #[test]
    fn cache_busting_keeps_the_query() {
        assert!(cache_busted("https://a/x?y=1", 2).starts_with("https://a/x?y=1&lambda-edge-deploy-check="));
        assert!(cache_busted("https://a/x", 1).starts_with("https://a/x?lambda-edge-deploy-check="));
        assert_ne!(cache_busted("https://a/x", 1), cache_busted("https://a/x", 1));
    }
}
