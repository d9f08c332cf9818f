//! Who may write and how: the Origin check against cross-site pages, the content types each
//! writing route accepts, the CORS policy, the page's security headers and the admin token.
//!
//! A browser lets any page send a "simple" cross-site POST (`text/plain`, a form) without
//! asking first; such a request always carries an `Origin`. So a write (any method but GET,
//! HEAD, OPTIONS) whose `Origin` is neither this server nor an allowed origin is refused (403),
//! and a body in a type a form can send where JSON is expected is refused (415).

use crate::AppState;
use crate::checkpoints::same_secret;
use crate::config::{normalise_origin, split_host_port};
use crate::error::ApiError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The page's Content-Security-Policy: its own scripts and the wasm they compile (which needs
/// 'wasm-unsafe-eval'), its own styles, fetches to this server only, framed only by its own
/// pages (no clickjacking from other sites; the e2e frames the page to emulate a phone).
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

/// Is `origin` this server (as the request's `Host` names it)? Ports count: another port of
/// the same host is another origin. The scheme's default port stands for a `Host` without one.
fn same_origin(origin: &str, host: &str) -> bool {
    let Some(origin) = normalise_origin(origin) else {
        return false;
    };
    let (scheme, authority) = origin.split_once("://").unwrap_or(("", ""));
    let default = if scheme == "https" { 443 } else { 80 };
    match (split_host_port(authority), split_host_port(host)) {
        (Some((oh, op)), Some((hh, hp))) => {
            oh == hh && op.unwrap_or(default) == hp.unwrap_or(default)
        }
        _ => false,
    }
}

/// Refuse a cross-origin write; reads are never refused here.
pub fn check_origin(
    method: &Method,
    headers: &HeaderMap,
    host: Option<&str>,
    allowed: &[String],
) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let refuse = |what: String| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            format!(
                "{what}: cross-origin writes are refused (the server's own page, clients without \
                 an Origin, and origins given to --allowed-origins may write)"
            ),
        )
    };
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Browsers send Origin with every cross-site write; Fetch Metadata says so too.
        let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        return match site {
            Some("cross-site") => Err(refuse("a cross-site request without an Origin".into())),
            _ => Ok(()),
        };
    };
    let origin = origin.to_str().unwrap_or("");
    if let Some(o) = normalise_origin(origin)
        && allowed.contains(&o)
    {
        return Ok(());
    }
    if host.is_some_and(|h| same_origin(origin, h)) {
        return Ok(());
    }
    let shown: String = origin.chars().take(100).collect();
    Err(refuse(format!("Origin {shown:?} is not this server")))
}

/// Middleware: [`check_origin`] on every request.
pub async fn origin_guard(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    match check_origin(
        req.method(),
        req.headers(),
        host,
        &state.settings.allowed_origins,
    ) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            state.metrics.count("cross_origin_refused");
            axum::response::IntoResponse::into_response(e)
        }
    }
}

/// Content types a route reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepts {
    /// `application/json` (or `application/*+json`).
    Json,
    /// A checkpoint: `application/octet-stream` or `multipart/form-data`.
    Upload,
}

/// The media type of `Content-Type`, lowercase, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next()?.trim().to_ascii_lowercase())
}

/// 415 unless the body's `Content-Type` is one `accepts` reads.
pub fn check_content_type(headers: &HeaderMap, accepts: Accepts) -> Result<(), ApiError> {
    let media = media_type(headers);
    let ok = match (accepts, media.as_deref()) {
        (Accepts::Json, Some(m)) => {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        }
        (Accepts::Upload, Some(m)) => m == "application/octet-stream" || m == "multipart/form-data",
        (_, None) => false,
    };
    if ok {
        return Ok(());
    }
    let want = match accepts {
        Accepts::Json => "application/json",
        Accepts::Upload => "application/octet-stream or multipart/form-data",
    };
    let got = media.map_or_else(|| "none".to_string(), |m| format!("{m:?}"));
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "invalid_request_error",
        format!("this route reads Content-Type {want}, not {got}"),
    ))
}

/// The CORS policy: pages of the allowed origins may call every route (with the headers the
/// API reads, seeing the headers it sets); no other origin gets CORS headers. `None` when no
/// origin is allowed: the playground is same-origin and needs none.
pub fn cors(allowed: &[String]) -> Option<CorsLayer> {
    if allowed.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = allowed
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                HeaderName::from_static(crate::llm::cache::HEADER),
            ])
            .expose_headers([
                HeaderName::from_static("x-cache"),
                header::RETRY_AFTER,
                header::CONTENT_DISPOSITION,
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// Middleware: `X-Content-Type-Options: nosniff` on every response, and the page's CSP (on
/// every response too: a JSON or an error body then cannot run anything either).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// An extractor that lets a handler run only for the admin: `Authorization: Bearer <token>`
/// with the token of `--admin-token`. 403 when the server has none, 401 for a wrong one.
pub struct Admin;

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Admin, ApiError> {
        let Some(token) = &state.settings.admin_token else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_error",
                "admin routes are disabled: start the server with --admin-token (or \
                 GRIDMENTOR_ADMIN_TOKEN)",
            ));
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if same_secret(given.trim(), &token.0) {
            Ok(Admin)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "this route needs Authorization: Bearer <admin token>",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn writes_from_other_origins_are_refused_reads_are_not() {
        let post = Method::POST;
        let host = Some("127.0.0.1:8080");
        let ok = |h: &[(&'static str, &str)], allowed: &[String]| {
            check_origin(&post, &headers(h), host, allowed).is_ok()
        };
        assert!(ok(&[], &[]), "no Origin: not a browser page");
        assert!(ok(&[("origin", "http://127.0.0.1:8080")], &[]));
        assert!(
            !ok(&[("origin", "http://127.0.0.1:3000")], &[]),
            "another port"
        );
        assert!(
            !ok(&[("origin", "http://localhost:8080")], &[]),
            "another host"
        );
        assert!(!ok(&[("origin", "https://evil.example")], &[]));
        assert!(!ok(&[("origin", "null")], &[]));
        assert!(!ok(&[("sec-fetch-site", "cross-site")], &[]));
        let allowed = vec!["https://tools.example".to_string()];
        assert!(ok(&[("origin", "https://tools.example:443")], &allowed));
        assert!(
            check_origin(
                &Method::GET,
                &headers(&[("origin", "https://evil.example")]),
                host,
                &[]
            )
            .is_ok()
        );
        assert!(
            check_origin(
                &Method::DELETE,
                &headers(&[("origin", "https://evil.example")]),
                host,
                &[]
            )
            .is_err()
        );
        // A Host without a port is the scheme's default port.
        assert!(same_origin("https://g.example", "g.example"));
        assert!(same_origin("http://g.example", "G.example:80"));
        assert!(!same_origin("http://g.example:8080", "g.example"));
    }

    #[test]
    fn content_types_are_checked() {
        let ct = |v: &str| headers(&[("content-type", v)]);
        assert!(check_content_type(&ct("application/json; charset=utf-8"), Accepts::Json).is_ok());
        assert!(check_content_type(&ct("application/merge+json"), Accepts::Json).is_ok());
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ] {
            let e = check_content_type(&ct(bad), Accepts::Json).unwrap_err();
            assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        assert!(check_content_type(&HeaderMap::new(), Accepts::Json).is_err());
        assert!(
            check_content_type(&ct("multipart/form-data; boundary=x"), Accepts::Upload).is_ok()
        );
        assert!(check_content_type(&ct("text/plain"), Accepts::Upload).is_err());
    }
}
