//! HTTP plumbing shared by both doors: the session cookie, the session token and
//! client facts taken from requests, the JSON body rules of docs/api.md §2.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, header, request::Parts};
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::config::Config;

mod cookies;

use crate::error::AppError;
use crate::service::{AppState, RequestMeta};
pub use cookies::*;

/// Largest request body accepted (docs/api.md §2).
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

/// The client IP (docs/api.md §1 `LATCH_TRUSTED_PROXIES`): walking from the peer
/// address leftwards through every `X-Forwarded-For` entry, past trusted proxies, the
/// first address outside them. An entry that is not an address ends the walk at the
/// last address read; empty entries are skipped. Entries may carry a port or brackets,
/// and an IPv4-mapped IPv6 address counts as the IPv4 address.
/// OWASP ASVS 5.0 V4.1: a forwarding header is believed only from a trusted peer,
/// and only as far as the chain of trusted hops goes.
pub fn client_ip(cfg: &Config, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    let mut current = canonical(peer?);
    let trusted = |ip: &IpAddr| cfg.trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(&current) {
        return Some(current);
    }
    let values: Vec<&HeaderValue> = headers.get_all("x-forwarded-for").iter().collect();
    for value in values.into_iter().rev() {
        let Ok(s) = value.to_str() else {
            return Some(current);
        };
        for entry in s.rsplit(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some(ip) = parse_forwarded_entry(entry) else {
                return Some(current);
            };
            current = ip;
            if !trusted(&current) {
                return Some(current);
            }
        }
    }
    Some(current)
}

/// An `X-Forwarded-For` entry: `203.0.113.7`, `203.0.113.7:5555`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:443`, mapped addresses as IPv4.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| p.parse::<u16>().is_ok());
        return port_ok
            .then(|| inside.parse::<std::net::Ipv6Addr>().ok())
            .flatten()
            .map(|ip| canonical(IpAddr::V6(ip)));
    }
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry
        .parse::<std::net::SocketAddrV4>()
        .ok()
        .map(|s| IpAddr::V4(*s.ip()))
}

/// An IPv4-mapped IPv6 address (`::ffff:203.0.113.7`, as a dual-stack listener
/// reports IPv4 peers) as the IPv4 address; every other address as it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
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
            two_factor_ticket: cookie_value(headers, TWO_FACTOR_TICKET_COOKIE).map(str::to_string),
            trusted_device: cookie_value(headers, TRUSTED_DEVICE_COOKIE).map(str::to_string),
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

/// A JSON body under the rules of docs/api.md §2: 415 without a JSON content type, 413
/// over 64 KiB, 400 for malformed JSON or missing and mistyped fields.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_json_body(req).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The body of a request that needs a JSON object: 415 when a body comes without a
/// JSON content type, 400 when there is no body at all (docs/api.md §2).
pub async fn read_json_body(req: Request) -> Result<Bytes, AppError> {
    if is_json(req.headers()) {
        return read_body(req).await;
    }
    // Decided from the head alone: a body is announced by a non-zero Content-Length
    // or by Transfer-Encoding (RFC 9112 §6.3).
    let h = req.headers();
    let announced = h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    Err(if announced {
        AppError::unsupported_media_type()
    } else {
        AppError::bad_request(NOT_AN_OBJECT)
    })
}

/// The message of a body that is not a JSON object.
const NOT_AN_OBJECT: &str = "The request body must be a JSON object.";

/// Parses a JSON body into `T`, with a 400 that says what is wrong. A body must be a
/// JSON object (docs/api.md §2): serde would otherwise read an array as a struct's fields
/// in order, so `["ada@example.com", "…"]` would be a sign-in attempt.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => AppError::bad_request(NOT_AN_OBJECT),
                Err(_) => AppError::bad_request("The request body is not valid JSON."),
            },
        );
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => format!("Invalid request body: {e}."),
            _ => "The request body is not valid JSON.".to_string(),
        };
        AppError::bad_request(what)
    })
}

/// A body for routes that take no fields (logout): empty with any content type, or JSON.
/// A Turnstile token may still come as the body's `turnstileToken` (docs/api.md §6).
pub struct NoFields {
    pub turnstile_token: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for NoFields {
    type Rejection = AppError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers());
        let bytes = read_body(req).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(NoFields {
                turnstile_token: None,
            });
        }
        if !json {
            return Err(AppError::unsupported_media_type());
        }
        let body = parse_json::<serde_json::Value>(&bytes)?;
        Ok(NoFields {
            turnstile_token: body
                .get("turnstileToken")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
        })
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
    fn forwarded_entries_in_every_form_name_the_client() {
        let c = cfg("127.0.0.1/32");
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped_peer: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        for (header, want) in [
            ("junk, 1.2.3.4", "1.2.3.4"),
            ("1.2.3.4:5555", "1.2.3.4"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("1.2.3.4,", "1.2.3.4"),
            ("::ffff:203.0.113.7", "203.0.113.7"),
            ("9.9.9.9, 127.0.0.1", "9.9.9.9"),
            ("9.9.9.9, junk, 127.0.0.1", "127.0.0.1"),
            ("[2001:db8::1", "127.0.0.1"),
        ] {
            let want: IpAddr = want.parse().unwrap();
            assert_eq!(
                client_ip(&c, Some(peer), &xff(header)),
                Some(want),
                "{header}"
            );
            assert_eq!(
                client_ip(&c, Some(mapped_peer), &xff(header)),
                Some(want),
                "mapped peer, {header}"
            );
        }
        // Several headers read as one list, the last header nearest the peer.
        let mut h = xff("5.5.5.5");
        h.append("x-forwarded-for", "127.0.0.1".parse().unwrap());
        assert_eq!(
            client_ip(&c, Some(peer), &h),
            Some("5.5.5.5".parse().unwrap())
        );
        // A mapped untrusted peer is its IPv4 address.
        let far: IpAddr = "::ffff:198.51.100.1".parse().unwrap();
        assert_eq!(
            client_ip(&c, Some(far), &xff("1.2.3.4")),
            Some("198.51.100.1".parse().unwrap())
        );
    }

    #[test]
    fn a_second_binding_cookie_voids_both() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "oauth_state=mine; a=b".parse().unwrap());
        assert_eq!(sole_cookie_value(&h, "oauth_state"), Some("mine"));
        h.append(header::COOKIE, "oauth_state=planted".parse().unwrap());
        assert_eq!(sole_cookie_value(&h, "oauth_state"), None);
        let empty: HeaderMap = [(header::COOKIE, "oauth_state=".parse().unwrap())]
            .into_iter()
            .collect();
        assert_eq!(sole_cookie_value(&empty, "oauth_state"), None);
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
        assert_eq!(
            oauth_state_cookie(&c, "b"),
            "oauth_state=b; HttpOnly; Path=/auth/callback; Max-Age=600; SameSite=Lax"
        );
        assert_eq!(
            clear_oauth_state_cookie(&c),
            "oauth_state=; HttpOnly; Path=/auth/callback; Max-Age=0; SameSite=Lax"
        );
    }
}
