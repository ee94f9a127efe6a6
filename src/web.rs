//! HTTP plumbing shared by both doors: the session cookie, the session token and
//! client facts taken from requests, the JSON body rules of contract §2.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, header, request::Parts};
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::AppError;
use crate::service::{AppState, RequestMeta};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "session_token";
/// Largest request body accepted (contract §2).
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON response, serialized straight into a buffer sized for latch's bodies (axum's
/// `Json` starts at 128 bytes and grows several times for a session answer).
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(512);
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                buf,
            )
                .into_response(),
            Err(e) => AppError::internal(e.into()).into_response(),
        }
    }
}

/// `Set-Cookie` value carrying a session token. `max_age` `None` makes a
/// browser-session cookie.
pub fn session_cookie(cfg: &Config, token: &str, max_age: Option<i64>) -> String {
    let mut c = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; Path=/; SameSite={}",
        cfg.cookie_samesite.as_str()
    );
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if cfg.cookie_secure {
        c.push_str("; Secure");
    }
    c
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(cfg: &Config) -> String {
    session_cookie(cfg, "", Some(0))
}

/// The session token a request presents: `Authorization: Bearer …` first, else the
/// `session_token` cookie.
#[derive(Debug, Clone, Default)]
pub struct PresentedToken {
    pub token: Option<String>,
    /// Whether it came from the cookie (then an extended session re-issues the cookie).
    pub from_cookie: bool,
}

impl PresentedToken {
    pub fn from_headers(headers: &HeaderMap) -> PresentedToken {
        if let Some(auth) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let mut parts = auth.splitn(2, ' ');
            if let (Some(scheme), Some(value)) = (parts.next(), parts.next())
                && scheme.eq_ignore_ascii_case("bearer")
            {
                return PresentedToken {
                    token: Some(value.trim().to_string()),
                    from_cookie: false,
                };
            }
        }
        for value in headers.get_all(header::COOKIE) {
            let Ok(s) = value.to_str() else { continue };
            for pair in s.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=')
                    && k == SESSION_COOKIE
                    && !v.is_empty()
                {
                    return PresentedToken {
                        token: Some(v.to_string()),
                        from_cookie: true,
                    };
                }
            }
        }
        PresentedToken::default()
    }

    pub fn as_deref(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PresentedToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PresentedToken::from_headers(&parts.headers))
    }
}

/// The client IP: the peer address, unless the peer is a trusted proxy, in which case
/// the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
/// OWASP: never trust a forwarding header from an untrusted peer.
pub fn client_ip(cfg: &Config, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    let peer = peer?;
    let trusted = |ip: &IpAddr| cfg.trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(s) = v.to_str() else { return Some(peer) };
        for part in s.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => chain.push(ip),
                Err(_) => return Some(peer),
            }
        }
    }
    Some(
        chain
            .iter()
            .rev()
            .find(|ip| !trusted(ip))
            .or(chain.first())
            .copied()
            .unwrap_or(peer),
    )
}

impl RequestMeta {
    /// The facts of a request: client IP (see [`client_ip`]), user agent (at most 512
    /// characters) and the `X-Turnstile-Token` header.
    pub fn from_parts(cfg: &Config, parts: &Parts) -> RequestMeta {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let headers = &parts.headers;
        RequestMeta {
            ip: client_ip(cfg, peer, headers),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(512).collect()),
            turnstile_token: headers
                .get("x-turnstile-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        Ok(RequestMeta::from_parts(app.config(), parts))
    }
}

/// Whether the `Content-Type` is JSON (`application/json`, parameters allowed).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads the whole body, at most [`MAX_BODY`] bytes (else 413).
pub async fn read_body(req: Request) -> Result<Bytes, AppError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(AppError::payload_too_large());
    }
    axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| AppError::payload_too_large())
}

/// A JSON body under the rules of contract §2: 415 without a JSON content type, 413
/// over 64 KiB, 400 for malformed JSON or missing and mistyped fields.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(AppError::unsupported_media_type());
        }
        let bytes = read_body(req).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON into `T`, with a 400 that says what is wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => format!("Invalid request body: {e}."),
            _ => "The request body is not valid JSON.".to_string(),
        };
        AppError::bad_request(what)
    })
}

/// A body for routes that take no fields (logout): empty with any content type, or JSON.
pub struct NoFields;

impl<S: Send + Sync> FromRequest<S> for NoFields {
    type Rejection = AppError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers());
        let bytes = read_body(req).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(NoFields);
        }
        if !json {
            return Err(AppError::unsupported_media_type());
        }
        parse_json::<serde_json::Value>(&bytes).map(|_| NoFields)
    }
}

/// Adds `Set-Cookie` values to a response.
pub fn append_cookies(res: &mut Response, cookies: &[String]) {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cfg(trusted: &str) -> Config {
        crate::config::Cli::try_parse_from(["latch", "--trusted-proxies", trusted])
            .unwrap()
            .settings
            .resolve("127.0.0.1:1".parse().unwrap())
            .unwrap()
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_from_an_untrusted_peer_is_ignored() {
        let c = cfg("");
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(&c, Some(peer), &xff("1.2.3.4")), Some(peer));
    }

    #[test]
    fn trusted_proxies_yield_the_rightmost_untrusted_hop() {
        let c = cfg("10.0.0.0/8");
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let got = client_ip(&c, Some(peer), &xff("6.6.6.6, 198.51.100.7, 10.0.0.5"));
        assert_eq!(got, Some("198.51.100.7".parse().unwrap()));
        let junk = client_ip(&c, Some(peer), &xff("not-an-ip"));
        assert_eq!(junk, Some(peer));
    }

    #[test]
    fn bearer_wins_over_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=b; session_token=fromcookie".parse().unwrap(),
        );
        let t = PresentedToken::from_headers(&h);
        assert_eq!(t.as_deref(), Some("fromcookie"));
        assert!(t.from_cookie);
        h.insert(header::AUTHORIZATION, "Bearer frombearer".parse().unwrap());
        let t = PresentedToken::from_headers(&h);
        assert_eq!(t.as_deref(), Some("frombearer"));
        assert!(!t.from_cookie);
    }

    #[test]
    fn cookies_follow_the_configuration() {
        let c = cfg("");
        assert_eq!(
            session_cookie(&c, "tok", Some(60)),
            "session_token=tok; HttpOnly; Path=/; SameSite=Lax; Max-Age=60"
        );
        assert_eq!(
            clear_cookie(&c),
            "session_token=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0"
        );
    }
}
