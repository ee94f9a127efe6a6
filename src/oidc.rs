//! OpenID Connect relying party: provider discovery, authorization URLs and the code
//! exchange with ID-token verification, through the `openidconnect` crate.
//!
//! Providers come from `LATCH_OIDC_<NAME>_*`. Each is discovered at start; one that
//! cannot be discovered is reported and retried (in the background and on first use)
//! without stopping the others.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
};
use tokio::sync::RwLock;
use url::Url;

use crate::config::{Config, OidcProvider};

/// What latch needs from a verified ID token.
#[derive(Debug, Clone)]
pub struct SocialClaims {
    pub subject: String,
    pub email: Option<String>,
    /// True only when the provider asserts `email_verified: true`.
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
}

/// One configured provider.
pub struct Provider {
    pub cfg: OidcProvider,
    redirect: RedirectUrl,
    metadata: RwLock<Option<CoreProviderMetadata>>,
    http: reqwest::Client,
}

/// An authorization request about to be sent to the provider.
pub struct AuthorizationStart {
    pub url: Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// All configured providers, by `:provider` path name.
#[derive(Clone, Default)]
pub struct Providers {
    map: Arc<BTreeMap<String, Arc<Provider>>>,
}

/// Timeout of every call to a provider (discovery, token, JWKS).
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

impl Providers {
    pub fn from_config(cfg: &Config) -> anyhow::Result<Providers> {
        // The crate asks for no redirects, so a provider cannot bounce us elsewhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .context("building the OIDC HTTP client")?;
        let mut map = BTreeMap::new();
        for p in &cfg.oidc_providers {
            let redirect = cfg
                .public_url
                .join(&format!("/auth/callback/{}", p.name))
                .context("redirect URL")?;
            map.insert(
                p.name.clone(),
                Arc::new(Provider {
                    cfg: p.clone(),
                    redirect: RedirectUrl::from_url(redirect),
                    metadata: RwLock::new(None),
                    http: http.clone(),
                }),
            );
        }
        Ok(Providers { map: Arc::new(map) })
    }

    pub fn get(&self, name: &str) -> Option<Arc<Provider>> {
        self.map.get(name).cloned()
    }

    /// Discovers every provider not yet discovered; failures are logged and retried
    /// every `retry` until they succeed.
    pub async fn discover_all(self, retry: Duration) {
        loop {
            let mut pending = 0;
            for p in self.map.values() {
                if p.metadata.read().await.is_some() {
                    continue;
                }
                if let Err(e) = p.discover().await {
                    pending += 1;
                    tracing::warn!(provider = %p.cfg.name, error = format!("{e:#}"), "OpenID provider not discovered; retrying");
                }
            }
            if pending == 0 {
                return;
            }
            tokio::time::sleep(retry).await;
        }
    }
}

impl Provider {
    async fn discover(&self) -> anyhow::Result<CoreProviderMetadata> {
        let issuer = IssuerUrl::new(self.cfg.issuer.clone())
            .map_err(|e| anyhow!("issuer {}: {e}", self.cfg.issuer))?;
        let meta = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| anyhow!("discovery of {}: {e}", self.cfg.issuer))?;
        tracing::info!(provider = %self.cfg.name, issuer = %self.cfg.issuer, "OpenID provider discovered");
        *self.metadata.write().await = Some(meta.clone());
        Ok(meta)
    }

    /// The provider's metadata, discovering it now if the start-up attempt failed.
    async fn metadata(&self) -> anyhow::Result<CoreProviderMetadata> {
        if let Some(m) = self.metadata.read().await.as_ref() {
            return Ok(m.clone());
        }
        self.discover().await
    }

    fn client_id(&self) -> ClientId {
        ClientId::new(self.cfg.client_id.clone())
    }

    fn client_secret(&self) -> Option<ClientSecret> {
        self.cfg
            .client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose().clone()))
    }

    /// The issuer as configured (compared with the callback's `iss`, RFC 9207).
    pub fn issuer(&self) -> &str {
        &self.cfg.issuer
    }

    /// Builds the authorization URL: code flow, PKCE S256, fresh state and nonce.
    pub async fn start(&self) -> anyhow::Result<AuthorizationStart> {
        let meta = self.metadata().await?;
        let client =
            CoreClient::from_provider_metadata(meta, self.client_id(), self.client_secret())
                .set_redirect_uri(self.redirect.clone());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = crate::domain::new_token();
        let nonce = crate::domain::new_token();
        let (state_c, nonce_c) = (state.clone(), nonce.clone());
        let mut req = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state_c),
            move || Nonce::new(nonce_c),
        );
        for s in self.cfg.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, _, _) = req.set_pkce_challenge(challenge).url();
        Ok(AuthorizationStart {
            url,
            state,
            nonce,
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and verifies the ID token (signature against the JWKS,
    /// issuer, audience, expiry, nonce). An unknown key id refreshes the JWKS once.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> anyhow::Result<SocialClaims> {
        let meta = self.metadata().await?;
        let client = CoreClient::from_provider_metadata(
            meta.clone(),
            self.client_id(),
            self.client_secret(),
        )
        .set_redirect_uri(self.redirect.clone());
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| anyhow!("token endpoint: {e}"))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| anyhow!("code exchange: {e}"))?;
        let id_token = token
            .extra_fields()
            .id_token()
            .context("the provider returned no ID token")?;
        let nonce = Nonce::new(nonce.to_string());
        let verified = {
            let verifier = client.id_token_verifier();
            id_token.claims(&verifier, &nonce).map(claims_of)
        };
        match verified {
            Ok(c) => Ok(c),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider rotated its keys: fetch the JWKS again, then retry once.
                let jwks = CoreJsonWebKeySet::fetch_async(meta.jwks_uri(), &self.http)
                    .await
                    .map_err(|e| anyhow!("JWKS refresh: {e}"))?;
                let meta = meta.set_jwks(jwks);
                *self.metadata.write().await = Some(meta.clone());
                let client = CoreClient::from_provider_metadata(
                    meta,
                    self.client_id(),
                    self.client_secret(),
                )
                .set_redirect_uri(self.redirect.clone());
                let verifier = client.id_token_verifier();
                id_token
                    .claims(&verifier, &nonce)
                    .map(claims_of)
                    .map_err(|e| anyhow!("ID token: {e}"))
            }
            Err(e) => Err(anyhow!("ID token: {e}")),
        }
    }
}

fn claims_of(c: &CoreIdTokenClaims) -> SocialClaims {
    SocialClaims {
        subject: c.subject().as_str().to_string(),
        email: c.email().map(|e| e.as_str().to_string()),
        email_verified: c.email_verified() == Some(true),
        name: c
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string()),
        picture: c
            .picture()
            .and_then(|p| p.get(None))
            .and_then(|p| crate::domain::picture_url(p.as_str())),
    }
}
