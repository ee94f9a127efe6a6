//! The passkey settings (docs/api.md §1, §10): the relying party and its origins.

use anyhow::{Context, bail};
use clap::Args;
use url::Url;

/// `LATCH_WEBAUTHN_*` and `LATCH_PASSKEY_MAX` as given.
#[derive(Debug, Clone, Args)]
pub struct PasskeySettings {
    /// WebAuthn relying-party ID (default: the app URL's host); passkeys are off when it
    /// is an IP address.
    #[arg(long, env = "LATCH_WEBAUTHN_RP_ID")]
    pub webauthn_rp_id: Option<String>,
    /// Relying-party name that authenticators show.
    #[arg(long, env = "LATCH_WEBAUTHN_RP_NAME", default_value = "latch")]
    pub webauthn_rp_name: String,
    /// Comma-separated exact origins accepted in WebAuthn client data (default: the
    /// allowed origins whose host is the RP ID or under it).
    #[arg(long, env = "LATCH_WEBAUTHN_ORIGINS")]
    pub webauthn_origins: Option<String>,
    /// Most passkeys one user may hold.
    #[arg(long, env = "LATCH_PASSKEY_MAX", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub passkey_max: u32,
}

/// The resolved passkey settings.
#[derive(Debug, Clone)]
pub struct Passkeys {
    /// `Err`: passkeys are off, and why (for the start log).
    pub relying_party: Result<RelyingParty, String>,
    pub max: u32,
}

/// Who the credentials are bound to.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    pub id: String,
    pub name: String,
    /// Never empty.
    pub origins: Vec<Url>,
}

impl PasskeySettings {
    /// `allowed_origins` are the resolved `LATCH_ALLOWED_ORIGINS`.
    pub fn resolve(&self, app_url: &Url, allowed_origins: &[String]) -> anyhow::Result<Passkeys> {
        let max = self.passkey_max;
        let id = match &self.webauthn_rp_id {
            Some(id) => id.trim().to_ascii_lowercase(),
            None => app_url.host_str().unwrap_or_default().to_ascii_lowercase(),
        };
        if id.is_empty() {
            bail!("LATCH_WEBAUTHN_RP_ID: empty");
        }
        let unbracketed = id.trim_start_matches('[').trim_end_matches(']');
        if unbracketed.parse::<std::net::IpAddr>().is_ok() {
            let why = format!(
                "the WebAuthn relying-party ID `{id}` is an IP address; set LATCH_WEBAUTHN_RP_ID \
                 (or serve the app on a host name such as localhost) to turn passkeys on"
            );
            return Ok(Passkeys {
                relying_party: Err(why),
                max,
            });
        }
        let origins: Vec<Url> = match &self.webauthn_origins {
            Some(list) => {
                let mut origins = Vec::new();
                for s in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let u = Url::parse(s)
                        .with_context(|| format!("LATCH_WEBAUTHN_ORIGINS: `{s}` is not a URL"))?;
                    if !matches!(u.scheme(), "http" | "https") || u.path() != "/" {
                        bail!("LATCH_WEBAUTHN_ORIGINS: `{s}` is not an http(s) origin");
                    }
                    // The crate checks only its first origin against the RP ID; every
                    // one is checked here.
                    if !under_rp_id(&u, &id) {
                        bail!(
                            "LATCH_WEBAUTHN_ORIGINS: the host of `{s}` is neither `{id}` \
                             (LATCH_WEBAUTHN_RP_ID) nor under it"
                        );
                    }
                    origins.push(u);
                }
                origins
            }
            None => allowed_origins
                .iter()
                .filter_map(|s| Url::parse(s).ok())
                .filter(|u| under_rp_id(u, &id))
                .collect(),
        };
        if origins.is_empty() && self.webauthn_rp_id.is_none() {
            // The default RP ID with no allowed origin under it: passkeys are off rather
            // than latch refusing to start for a feature nobody configured.
            let why = format!(
                "no allowed origin's host is `{id}` (the app URL's host) or under it; set \
                 LATCH_WEBAUTHN_ORIGINS and LATCH_WEBAUTHN_RP_ID to turn passkeys on"
            );
            return Ok(Passkeys {
                relying_party: Err(why),
                max,
            });
        }
        if origins.is_empty() {
            bail!(
                "no WebAuthn origin: no allowed origin's host is `{id}` (LATCH_WEBAUTHN_RP_ID) \
                 or under it; set LATCH_WEBAUTHN_ORIGINS"
            );
        }
        let name = self.webauthn_rp_name.trim();
        if name.is_empty() {
            bail!("LATCH_WEBAUTHN_RP_NAME: empty");
        }
        Ok(Passkeys {
            relying_party: Ok(RelyingParty {
                id,
                name: name.to_string(),
                origins,
            }),
            max,
        })
    }
}

/// Whether `origin`'s host is `rp_id` or a subdomain of it (WebAuthn §5.1.3's
/// "registrable domain suffix", without the public-suffix list).
fn under_rp_id(origin: &Url, rp_id: &str) -> bool {
    origin
        .domain()
        .map(|h| h.to_ascii_lowercase())
        .is_some_and(|h| h == rp_id || h.ends_with(&format!(".{rp_id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rp_id: Option<&str>, origins: Option<&str>) -> PasskeySettings {
        PasskeySettings {
            webauthn_rp_id: rp_id.map(String::from),
            webauthn_rp_name: "latch".into(),
            webauthn_origins: origins.map(String::from),
            passkey_max: 10,
        }
    }

    fn app(u: &str) -> Url {
        Url::parse(u).unwrap()
    }

    #[test]
    fn an_ip_app_url_turns_passkeys_off_with_a_reason() {
        let p = settings(None, None)
            .resolve(
                &app("http://127.0.0.1:8080"),
                &["http://127.0.0.1:8080".into()],
            )
            .unwrap();
        let why = p.relying_party.unwrap_err();
        assert!(why.contains("127.0.0.1") && why.contains("LATCH_WEBAUTHN_RP_ID"));
        let p = settings(None, None)
            .resolve(&app("http://[::1]:8080"), &[])
            .unwrap();
        assert!(p.relying_party.is_err());
    }

    #[test]
    fn the_default_origins_are_the_allowed_ones_under_the_rp_id() {
        let allowed = [
            "https://app.example.com".to_string(),
            "https://api.example.com".to_string(),
            "https://example.org".to_string(),
        ];
        let p = settings(Some("example.com"), None)
            .resolve(&app("https://app.example.com"), &allowed)
            .unwrap();
        let rp = p.relying_party.unwrap();
        assert_eq!(rp.id, "example.com");
        let origins: Vec<_> = rp.origins.iter().map(Url::as_str).collect();
        assert_eq!(
            origins,
            ["https://app.example.com/", "https://api.example.com/"]
        );
    }

    #[test]
    fn an_origin_outside_the_rp_id_is_refused() {
        let e = settings(
            Some("example.com"),
            Some("https://example.com,https://evil.com"),
        )
        .resolve(&app("https://example.com"), &[])
        .unwrap_err();
        assert!(e.to_string().contains("evil.com"), "{e}");
        // A look-alike suffix is not a subdomain.
        let e = settings(Some("example.com"), Some("https://notexample.com"))
            .resolve(&app("https://example.com"), &[])
            .unwrap_err();
        assert!(e.to_string().contains("notexample.com"), "{e}");
        let e = settings(Some("localhost"), None)
            .resolve(
                &app("http://localhost:3000"),
                &["http://127.0.0.1:3000".into()],
            )
            .unwrap_err();
        assert!(e.to_string().contains("LATCH_WEBAUTHN_ORIGINS"), "{e}");
        // The same with the RP ID left to its default: passkeys off, latch starts.
        let p = settings(None, None)
            .resolve(
                &app("http://localhost:3000"),
                &["http://127.0.0.1:3000".into()],
            )
            .unwrap();
        assert!(
            p.relying_party
                .unwrap_err()
                .contains("LATCH_WEBAUTHN_ORIGINS")
        );
    }
}
