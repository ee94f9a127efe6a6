//! Cookies and the session token a request presents: the session cookie, the
//! `oauth_state` binding of social flows (docs/api.md §2, §6), and the one decision of
//! when a session check re-issues the cookie.

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, HeaderValue, header, request::Parts};
use axum::response::Response;

use crate::config::Config;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "session_token";

/// The cookie of a pending second sign-in step (docs/api.md §2, §8).
pub const TWO_FACTOR_TICKET_COOKIE: &str = "two_factor_ticket";
/// The cookie of a trusted device (docs/api.md §2, §8).
pub const TRUSTED_DEVICE_COOKIE: &str = "trusted_device";

/// `Set-Cookie` value carrying a session token. `max_age` `None` makes a
/// browser-session cookie.
pub fn session_cookie(cfg: &Config, token: &str, max_age: Option<i64>) -> String {
    account_cookie(cfg, SESSION_COOKIE, token, max_age)
}

/// A cookie of the account's ones (session, two-factor ticket, trusted device): they
/// share their attributes (docs/api.md §2).
fn account_cookie(cfg: &Config, name: &str, value: &str, max_age: Option<i64>) -> String {
    let mut c = format!(
        "{name}={value}; HttpOnly; Path=/; SameSite={}",
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

/// The session cookie for `session` and its `token`: a persistent session's cookie
/// lives as long as the session (Max-Age rounded up), a `rememberMe: false` session's
/// is a browser-session cookie.
pub fn cookie_for_session(cfg: &Config, token: &str, session: &crate::store::SessionRow) -> String {
    let max_age = session
        .persistent
        .then(|| max_age_until(session.expires_at));
    session_cookie(cfg, token, max_age)
}

/// The cookie to re-issue after a session check, if any: only for a session that was
/// extended and that the request presented in the cookie (a bearer client keeps its
/// token and has no cookie to refresh). Both doors use this one decision.
pub fn refreshed_cookie(
    cfg: &Config,
    presented: &PresentedToken,
    principal: &crate::service::Principal,
) -> Option<String> {
    match (
        principal.refresh,
        presented.from_cookie,
        presented.as_deref(),
    ) {
        (crate::service::Refresh::Extended, true, Some(token)) => {
            Some(cookie_for_session(cfg, token, &principal.session))
        }
        _ => None,
    }
}

/// `Set-Cookie` value that removes account cookie `name`.
fn cleared(cfg: &Config, name: &str) -> String {
    account_cookie(cfg, name, "", Some(0))
}

/// Seconds from now until `until`, rounded up (a cookie's `Max-Age`).
fn max_age_until(until: crate::domain::Timestamp) -> i64 {
    let left = until.millis() - crate::domain::Timestamp::now().millis();
    ((left + 999) / 1000).max(0)
}

/// The cookies of a sign-in's answer (docs/api.md §2, §8): the session cookie, or the
/// `two_factor_ticket` of the second step to take; and the `trusted_device` cookie
/// when the trust was granted, rotated or found no good. `verified`: the answer ends
/// a second step, whose ticket cookie goes.
pub fn sign_in_cookies(
    cfg: &Config,
    outcome: &crate::service::SignInOutcome,
    verified: bool,
) -> Vec<String> {
    use crate::service::{DeviceCookie, SignInStep};
    let mut cookies = Vec::new();
    match &outcome.step {
        SignInStep::Done(s) => {
            cookies.push(cookie_for_session(cfg, &s.token, &s.session));
            if verified {
                cookies.push(cleared(cfg, TWO_FACTOR_TICKET_COOKIE));
            }
        }
        SignInStep::SecondFactor(c) => cookies.push(account_cookie(
            cfg,
            TWO_FACTOR_TICKET_COOKIE,
            &c.ticket,
            Some(max_age_until(c.expires_at)),
        )),
    }
    match &outcome.device {
        DeviceCookie::Set { token, expires_at } => cookies.push(account_cookie(
            cfg,
            TRUSTED_DEVICE_COOKIE,
            token,
            Some(max_age_until(*expires_at)),
        )),
        DeviceCookie::Clear => cookies.push(cleared(cfg, TRUSTED_DEVICE_COOKIE)),
        DeviceCookie::Keep => {}
    }
    cookies
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(cfg: &Config) -> String {
    session_cookie(cfg, "", Some(0))
}

/// `Set-Cookie` values that end a sign-in (logout, revoking one's own session): the
/// session and a pending second step; a trusted device stays trusted (docs/api.md §2).
pub fn clear_sign_in_cookies(cfg: &Config) -> [String; 2] {
    [SESSION_COOKIE, TWO_FACTOR_TICKET_COOKIE].map(|name| cleared(cfg, name))
}

/// `Set-Cookie` values that remove every cookie of an account (delete-user,
/// docs/api.md §11.4): the session, a pending second step, a trusted device.
pub fn clear_account_cookies(cfg: &Config) -> [String; 3] {
    [
        SESSION_COOKIE,
        TWO_FACTOR_TICKET_COOKIE,
        TRUSTED_DEVICE_COOKIE,
    ]
    .map(|name| cleared(cfg, name))
}

/// Name of the cookie that binds a social sign-in flow to its browser (docs/api.md §6).
pub const OAUTH_STATE_COOKIE: &str = "oauth_state";
/// The binding lives as long as the state it binds.
const OAUTH_STATE_MAX_AGE: i64 = 600;

/// `Set-Cookie` value of the `oauth_state` cookie: sent only to the callback path.
/// `SameSite=Lax` (the provider sends the browser back with a top-level GET, which
/// `Strict` would strip), or `None` when latch's cookies are `None`.
pub fn oauth_state_cookie(cfg: &Config, value: &str) -> String {
    oauth_state_cookie_with_age(cfg, value, OAUTH_STATE_MAX_AGE)
}

/// `Set-Cookie` value that removes the `oauth_state` cookie.
pub fn clear_oauth_state_cookie(cfg: &Config) -> String {
    oauth_state_cookie_with_age(cfg, "", 0)
}

fn oauth_state_cookie_with_age(cfg: &Config, value: &str, max_age: i64) -> String {
    let same_site = match cfg.cookie_samesite {
        crate::config::SameSite::None => "None",
        _ => "Lax",
    };
    let mut c = format!(
        "{OAUTH_STATE_COOKIE}={value}; HttpOnly; Path=/auth/callback; Max-Age={max_age}; SameSite={same_site}"
    );
    if cfg.cookie_secure {
        c.push_str("; Secure");
    }
    c
}

/// The value of cookie `name` when the request carries exactly one such cookie: a
/// second one (planted by a sibling subdomain, or over plain http, with a more
/// specific path so it comes first) makes the value untrustworthy.
pub fn sole_cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = cookie_values(headers, name);
    match (values.next(), values.next()) {
        (Some(v), None) if !v.is_empty() => Some(v),
        _ => None,
    }
}

/// The first non-empty value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_values(headers, name).find(|v| !v.is_empty())
}

/// Every value of cookie `name` in the request's `Cookie` headers, in order.
fn cookie_values<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session token a request presents: `Authorization: Bearer …` first, else the
/// `session_token` cookie.
#[derive(Clone, Default)]
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
        match cookie_value(headers, SESSION_COOKIE) {
            Some(v) => PresentedToken {
                token: Some(v.to_string()),
                from_cookie: true,
            },
            None => PresentedToken::default(),
        }
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

/// Adds `Set-Cookie` values to a response.
pub fn append_cookies(res: &mut Response, cookies: &[String]) {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

crate::debug_redacted!(PresentedToken { from_cookie } hiding { token });
