//! Redirect targets (`callbackURL`, `errorCallbackURL`, `redirectTo`), docs/api.md §4.
//!
//! OWASP ASVS 5.0 V3.7 / the unvalidated-redirects rule: nothing user-controlled decides
//! a redirect without the allowlist. A target is either a relative path starting with a
//! single `/`, or an absolute http(s) URL without user info whose origin is exactly one
//! of `LATCH_ALLOWED_ORIGINS`. Whitespace or control characters anywhere refuse it.

use url::Url;

use crate::error::AppError;

/// Longest redirect target accepted.
pub const MAX_REDIRECT_LEN: usize = 2048;

/// Checks `raw` and returns the absolute URL it designates (relative paths resolve
/// against `app_url`).
pub fn parse_redirect(raw: &str, app_url: &Url, allowed: &[String]) -> Result<Url, AppError> {
    if raw.is_empty()
        || raw.len() > MAX_REDIRECT_LEN
        || raw.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AppError::invalid_redirect());
    }
    if raw.starts_with('/') {
        if raw.starts_with("//") || raw.starts_with("/\\") {
            return Err(AppError::invalid_redirect());
        }
        let url = app_url
            .join(raw)
            .map_err(|_| AppError::invalid_redirect())?;
        // The join must not have left the app's origin.
        if url.origin() != app_url.origin() {
            return Err(AppError::invalid_redirect());
        }
        return Ok(url);
    }
    let url = Url::parse(raw).map_err(|_| AppError::invalid_redirect())?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
        || url.host_str().is_none()
    {
        return Err(AppError::invalid_redirect());
    }
    let origin = url.origin().ascii_serialization();
    if !allowed.iter().any(|a| a == &origin) {
        return Err(AppError::invalid_redirect());
    }
    Ok(url)
}

/// Parses an optional target; `None` stays `None`.
pub fn parse_optional(
    raw: Option<&str>,
    app_url: &Url,
    allowed: &[String],
) -> Result<Option<Url>, AppError> {
    raw.map(|r| parse_redirect(r, app_url, allowed)).transpose()
}

/// `url` with the query parameter `key` set to `value`: any `key` it already had is
/// removed, never repeated (docs/api.md §4 forget-password: a `redirectTo` that carries
/// someone else's `token` must not smuggle it into the victim's link).
pub fn with_query(url: &Url, key: &str, value: &str) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut u = url.clone();
    u.set_query(None);
    {
        let mut q = u.query_pairs_mut();
        q.extend_pairs(kept);
        q.append_pair(key, value);
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str) -> Result<String, &'static str> {
        let app = Url::parse("http://app.test:3000").unwrap();
        let allowed = vec![
            "http://app.test:3000".to_string(),
            "https://latch.test".to_string(),
        ];
        parse_redirect(raw, &app, &allowed)
            .map(|u| u.to_string())
            .map_err(|e| e.kind().redirect_code())
    }

    #[test]
    fn relative_paths_resolve_against_the_app_url() {
        assert_eq!(
            check("/welcome?x=1").unwrap(),
            "http://app.test:3000/welcome?x=1"
        );
    }

    #[test]
    fn a_parameter_is_replaced_never_repeated() {
        let base = Url::parse("http://app.test:3000/reset-password?token=ATTACKER&x=1").unwrap();
        let u = with_query(&base, "token", "VICTIM");
        assert_eq!(
            u.as_str(),
            "http://app.test:3000/reset-password?x=1&token=VICTIM"
        );
        let plain = Url::parse("http://app.test:3000/reset-password").unwrap();
        assert_eq!(
            with_query(&plain, "token", "t").as_str(),
            "http://app.test:3000/reset-password?token=t"
        );
        let encoded = Url::parse("http://app.test:3000/r?%74oken=A").unwrap();
        assert_eq!(
            with_query(&encoded, "token", "V").as_str(),
            "http://app.test:3000/r?token=V"
        );
    }

    #[test]
    fn allowed_absolute_origins_pass() {
        assert_eq!(
            check("https://latch.test/done").unwrap(),
            "https://latch.test/done"
        );
    }

    #[test]
    fn everything_else_is_invalid_redirect() {
        for bad in [
            "//evil.test/x",
            "/\\evil.test",
            "https://evil.test/",
            "http://latch.test/",
            "https://latch.test:444/",
            "https://user:pw@latch.test/",
            "https://user@latch.test/",
            "javascript:alert(1)",
            "relative/path",
            "/ spaced",
            "/tab\there",
            "/nl\nhere",
            " /lead",
            "",
            "data:text/html,hi",
        ] {
            assert_eq!(check(bad), Err("INVALID_REDIRECT"), "{bad:?}");
        }
    }
}
