//! The `LATCH_OIDC_<NAME>_*` blocks: one social provider each.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use url::Url;

use super::OidcProvider;
use crate::secret::Secret;

/// `github` → `Github`: the default display name of a provider.
fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Collects the `LATCH_OIDC_<NAME>_{ISSUER,CLIENT_ID,CLIENT_SECRET,SCOPES,DISPLAY_NAME}`
/// blocks.
pub fn oidc_providers(
    vars: impl Iterator<Item = (String, String)>,
) -> anyhow::Result<Vec<OidcProvider>> {
    let mut blocks: BTreeMap<String, BTreeMap<&'static str, String>> = BTreeMap::new();
    for (key, value) in vars {
        let Some(rest) = key.strip_prefix("LATCH_OIDC_") else {
            continue;
        };
        let field = [
            "_CLIENT_SECRET",
            "_CLIENT_ID",
            "_ISSUER",
            "_SCOPES",
            "_DISPLAY_NAME",
        ]
        .into_iter()
        .find(|suffix| rest.ends_with(suffix));
        let Some(field) = field else {
            bail!(
                "{key}: unknown OIDC setting (expected _ISSUER, _CLIENT_ID, _CLIENT_SECRET, _SCOPES or _DISPLAY_NAME)"
            );
        };
        let name = rest[..rest.len() - field.len()].to_ascii_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("{key}: the provider name must be letters, digits or underscores");
        }
        blocks.entry(name).or_default().insert(field, value);
    }
    blocks
        .into_iter()
        .map(|(name, mut b)| {
            let upper = name.to_ascii_uppercase();
            let issuer = b
                .remove("_ISSUER")
                .with_context(|| format!("LATCH_OIDC_{upper}_ISSUER is required"))?;
            let issuer_url = Url::parse(&issuer)
                .with_context(|| format!("LATCH_OIDC_{upper}_ISSUER: `{issuer}` is not a URL"))?;
            // Plain http only on loopback (test and development providers).
            let loopback = match issuer_url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            };
            match issuer_url.scheme() {
                "https" => {}
                "http" if loopback => {}
                _ => bail!(
                    "LATCH_OIDC_{upper}_ISSUER must be https (plain http only on loopback addresses)"
                ),
            }
            let client_id = b
                .remove("_CLIENT_ID")
                .with_context(|| format!("LATCH_OIDC_{upper}_CLIENT_ID is required"))?;
            let scopes = b
                .remove("_SCOPES")
                .unwrap_or_else(|| "openid email profile".into())
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let display_name = match b.remove("_DISPLAY_NAME").map(|d| d.trim().to_string()) {
                Some(d) if !d.is_empty() => d,
                _ => capitalized(&name),
            };
            Ok(OidcProvider {
                client_secret: b.remove("_CLIENT_SECRET").map(Secret::new),
                name,
                issuer,
                client_id,
                scopes,
                display_name,
            })
        })
        .collect()
}
