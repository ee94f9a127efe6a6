//! latch's own HTML pages (the landing page, the built-in reset-password page and
//! GraphiQL) and the headers every HTML answer carries (docs/api.md §6): a
//! `Content-Security-Policy` with `frame-ancestors 'none'` that lets scripts run only
//! from latch itself (each inline block by its hash) or, for GraphiQL, from exact
//! package versions checked by Subresource Integrity; `Referrer-Policy: no-referrer`
//! (a reset link's token must not leak to another site) and `X-Frame-Options: DENY`
//! for browsers that predate `frame-ancestors`.
//! OWASP ASVS 5.0 V3.4 (browser security mechanism headers).

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

const LANDING: &str = include_str!("pages/landing.html");
const RESET_PASSWORD: &str = include_str!("pages/reset_password.html");
const GRAPHIQL: &str = include_str!("pages/graphiql.html");

/// What GraphiQL loads from its CDN: exact versions, each also pinned by an
/// `integrity` attribute in `pages/graphiql.html`.
const GRAPHIQL_SCRIPTS: &[&str] = &[
    "https://unpkg.com/react@18.3.1/umd/react.production.min.js",
    "https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js",
    "https://unpkg.com/graphiql@4.1.2/dist/index.umd.js",
];
const GRAPHIQL_STYLES: &[&str] = &["https://unpkg.com/graphiql@4.1.2/dist/style.css"];

/// One page, with the policy that fits its own inline blocks.
pub struct Page {
    html: String,
    csp: HeaderValue,
}

/// Inline `<style>` blocks are allowed by hash, or (GraphiQL, whose editor sets
/// style attributes at run time) with `'unsafe-inline'`, which allows no script.
enum Styles {
    Hashed,
    Inline(&'static [&'static str]),
}

impl Page {
    fn new(html: String, scripts_from: &[&str], styles: Styles) -> Page {
        let mut script_src: Vec<String> = inline_hashes(&html, "script");
        script_src.extend(scripts_from.iter().map(|s| s.to_string()));
        let style_src: Vec<String> = match styles {
            Styles::Hashed => inline_hashes(&html, "style"),
            Styles::Inline(from) => std::iter::once("'unsafe-inline'".to_string())
                .chain(from.iter().map(|s| s.to_string()))
                .collect(),
        };
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "'none'".to_string()
            } else {
                v.join(" ")
            }
        };
        let csp = format!(
            "default-src 'none'; script-src {}; style-src {}; img-src 'self' data:; \
             font-src data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
             frame-ancestors 'none'",
            list(script_src),
            list(style_src)
        );
        Page {
            html,
            csp: HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static(
                "default-src 'none'; frame-ancestors 'none'",
            )),
        }
    }

    pub fn response(&self) -> Response {
        let mut res = axum::response::Html(self.html.clone()).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        res
    }
}

/// `'sha256-…'` sources of every inline `<tag>` block (no attributes) of `html`.
fn inline_hashes(html: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let body_start = &rest[start + open.len()..];
        let Some(end) = body_start.find(&close) else {
            break;
        };
        let digest = Sha256::digest(&body_start.as_bytes()[..end]);
        out.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &body_start[end + close.len()..];
    }
    out
}

/// The landing page, linking GraphiQL, the OpenAPI document and the README at `base`.
pub fn landing(base: &str) -> Page {
    let base = crate::mail::html_escape(base.trim_end_matches('/'));
    Page::new(LANDING.replace("{{BASE}}", &base), &[], Styles::Hashed)
}

/// The built-in reset-password page; `token_present` false adds a notice that the
/// page needs the emailed link. Its script reads the token from the address bar, so
/// the server never echoes it.
pub fn reset_password(token_present: bool) -> Response {
    static PAGES: OnceLock<[Page; 2]> = OnceLock::new();
    let pages = PAGES.get_or_init(|| {
        let page = |notice: &str| {
            Page::new(
                RESET_PASSWORD.replace("{{NOTICE}}", notice),
                &[],
                Styles::Hashed,
            )
        };
        [
            page("This page needs the link from your password reset email."),
            page(""),
        ]
    });
    pages[usize::from(token_present)].response()
}

/// GraphiQL, talking to `/graphql` on latch's own origin.
pub fn graphiql() -> Response {
    static PAGE: OnceLock<Page> = OnceLock::new();
    PAGE.get_or_init(|| {
        Page::new(
            GRAPHIQL.to_string(),
            GRAPHIQL_SCRIPTS,
            Styles::Inline(GRAPHIQL_STYLES),
        )
    })
    .response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csp(res: &Response) -> String {
        res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn every_inline_script_is_allowed_by_its_hash_and_nothing_else() {
        let res = reset_password(true);
        let policy = csp(&res);
        let hashes = inline_hashes(RESET_PASSWORD, "script");
        assert_eq!(hashes.len(), 1, "the reset page has one inline script");
        assert!(
            policy.contains(&format!("script-src {}", hashes[0])),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe"), "{policy}");
        let landing = landing("http://127.0.0.1:8080").response();
        assert!(csp(&landing).contains("script-src 'none'"));
    }

    #[test]
    fn graphiql_loads_exact_versions_with_integrity_only() {
        // Every external script or stylesheet of the page is in the policy, names an
        // exact version and carries an integrity hash; the policy names nothing else.
        let policy = csp(&graphiql());
        let mut seen = 0;
        for tag in GRAPHIQL.split('<').filter(|t| t.contains("https://")) {
            let url = tag.split('"').find(|p| p.starts_with("https://")).unwrap();
            assert!(tag.contains("integrity=\"sha384-"), "no integrity on {url}");
            let version = url.split('@').nth(1).unwrap().split('/').next().unwrap();
            assert!(
                version.split('.').count() == 3
                    && version.split('.').all(|n| n.parse::<u32>().is_ok()),
                "{url} is not an exact version"
            );
            assert!(policy.contains(url), "{url} missing from {policy}");
            seen += 1;
        }
        assert_eq!(seen, GRAPHIQL_SCRIPTS.len() + GRAPHIQL_STYLES.len());
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("'unsafe-eval'"));
    }
}
