//! The picture URL of an account (`image`), from update-user or a provider's `picture`
//! claim: one rule for both (docs/api.md §6, §11.1).

use url::Url;

/// Longest picture URL kept, in characters.
pub const MAX_PICTURE_LEN: usize = 2048;

/// An absolute `http:` or `https:` URL with a host and no userinfo, of at most 2048
/// characters, without whitespace or control characters; else `None`. latch hands it
/// to dashboards as `image`, and a `javascript:` or `data:` URL there would run or
/// render whatever the sender chose. The URL is kept as parsed (normalized).
pub fn picture_url(raw: &str) -> Option<String> {
    if raw.chars().count() > MAX_PICTURE_LEN
        || raw.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let url = Url::parse(raw).ok()?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none();
    ok.then(|| url.to_string())
        .filter(|u| u.chars().count() <= MAX_PICTURE_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_absolute_web_urls_only() {
        assert_eq!(
            picture_url("https://cdn.test/a.png").as_deref(),
            Some("https://cdn.test/a.png")
        );
        assert!(picture_url("http://cdn.test/a.png").is_some());
        for bad in [
            "javascript:alert(document.domain)",
            "data:image/png;base64,AAAA",
            "/relative.png",
            "ftp://cdn.test/a.png",
            "https://user:pass@cdn.test/a.png",
            "https://cdn.test/a b.png",
            "https://cdn.test/a\u{1}.png",
            "https://cdn.test/a\n.png",
            "",
        ] {
            assert_eq!(picture_url(bad), None, "{bad:?}");
        }
        let long = format!("https://cdn.test/{}", "a".repeat(MAX_PICTURE_LEN));
        assert_eq!(picture_url(&long), None);
    }
}
