//! Configuration: the environment variables of docs/api.md §1, parsed once at start.
//!
//! Every variable is also a command-line flag (`--session-ttl-secs` for
//! `LATCH_SESSION_TTL_SECS`, …). An invalid value stops latch at start with a
//! message that names the variable.

use crate::secret::Secret;
use std::net::SocketAddr;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use url::Url;

/// Command line of the `latch` binary.
#[derive(Debug, Parser)]
#[command(name = "latch", version, about = "latch: account and session service")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

/// Subcommands; `serve` is the default.
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum Command {
    /// Apply migrations, then serve HTTP (the default).
    Serve,
    /// Apply migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) to standard output.
    PrintSchema,
    /// Operator commands on one account.
    Users {
        #[command(subcommand)]
        action: UsersCommand,
    },
}

/// `latch users …`: each prints what it did; an email with no account changes nothing
/// and exits non-zero.
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum UsersCommand {
    /// Delete every session of the user and print how many.
    RevokeSessions { email: String },
    /// Lift the password lock and the second-factor lock, and reset both counts.
    Unlock { email: String },
    /// Remove the second factor, revoke every session and mail `two-factor-reset`.
    ResetTwoFactor { email: String },
}

/// Raw settings as given by the environment or flags; see [`Config`] for the resolved form.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// `sqlite://…` or `postgres://…`
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://data/latch.db?mode=rwc"
    )]
    pub database_url: Secret<String>,
    /// Listen address; port 0 picks a free port.
    #[arg(long, env = "LATCH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// latch's own base URL (verification links point here).
    #[arg(long, env = "LATCH_PUBLIC_URL")]
    pub public_url: Option<Url>,
    /// The dashboard's base URL (default redirect target, reset links).
    #[arg(long, env = "LATCH_APP_URL")]
    pub app_url: Option<Url>,
    /// Comma-separated exact origins for CORS, the Origin check and redirect targets.
    #[arg(long, env = "LATCH_ALLOWED_ORIGINS")]
    pub allowed_origins: Option<String>,
    /// `Secure` attribute on cookies (default: true iff the public URL is https).
    #[arg(long, env = "LATCH_COOKIE_SECURE", value_parser = clap::builder::BoolishValueParser::new())]
    pub cookie_secure: Option<bool>,
    /// `Lax`, `Strict` or `None`.
    #[arg(long, env = "LATCH_COOKIE_SAMESITE", default_value = "Lax", value_parser = parse_same_site)]
    pub cookie_samesite: SameSite,
    /// Session lifetime in seconds (sliding).
    #[arg(long, env = "LATCH_SESSION_TTL_SECS", default_value_t = 604_800, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_ttl_secs: u64,
    /// A session is extended on use once this many seconds have passed since its last extension.
    #[arg(long, env = "LATCH_SESSION_REFRESH_SECS", default_value_t = 86_400)]
    pub session_refresh_secs: u64,
    /// A session's `lastActiveAt` and `lastIpAddress` are written at most once per this many seconds.
    #[arg(long, env = "LATCH_SESSION_ACTIVITY_SECS", default_value_t = 300)]
    pub session_activity_secs: u64,
    /// A session whose `authenticatedAt` is at most this old needs no step-up proof.
    #[arg(long, env = "LATCH_FRESH_AUTH_SECS", default_value_t = 600)]
    pub fresh_auth_secs: u64,
    /// Absolute session lifetime in seconds.
    #[arg(long, env = "LATCH_SESSION_MAX_AGE_SECS", default_value_t = 2_592_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_max_age_secs: u64,
    /// Directory where each email is written as an `.eml` file when no SMTP URL is set.
    #[arg(long, env = "LATCH_MAIL_OUTBOX", default_value = "data/outbox")]
    pub mail_outbox: String,
    /// Base64 of 32 random bytes: the key that seals second-factor secrets at rest.
    #[arg(long, env = "LATCH_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<Secret<String>>,
    /// The key file read when LATCH_SECRET_KEY is unset (created with a new key, mode 0600, when absent).
    #[arg(long, env = "LATCH_SECRET_KEY_FILE", default_value = "data/latch.key")]
    pub secret_key_file: String,
    /// e.g. `smtp://user:pass@host:587?tls=required`.
    #[arg(long, env = "LATCH_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret<String>>,
    /// From header of every email.
    #[arg(
        long,
        env = "LATCH_MAIL_FROM",
        default_value = "latch <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// Enables the Turnstile bot check.
    #[arg(long, env = "LATCH_TURNSTILE_SECRET", hide_env_values = true)]
    pub turnstile_secret: Option<Secret<String>>,
    /// The public Turnstile site key, published by `sign-in-methods`.
    #[arg(long, env = "LATCH_TURNSTILE_SITE_KEY")]
    pub turnstile_site_key: Option<String>,
    /// Where Turnstile tokens are verified.
    #[arg(
        long,
        env = "LATCH_TURNSTILE_VERIFY_URL",
        default_value = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
    )]
    pub turnstile_verify_url: Url,
    /// Flows that require a Turnstile token when enabled.
    #[arg(
        long,
        env = "LATCH_TURNSTILE_FLOWS",
        default_value = "sign-up,sign-in,forget-password,resend-verification"
    )]
    pub turnstile_flows: String,
    /// Consecutive failed sign-ins that lock an email.
    #[arg(long, env = "LATCH_LOCKOUT_THRESHOLD", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub lockout_threshold: u32,
    /// Failures older than this many seconds are forgotten.
    #[arg(long, env = "LATCH_LOCKOUT_WINDOW_SECS", default_value_t = 900)]
    pub lockout_window_secs: u64,
    /// How long a lock lasts, in seconds.
    #[arg(long, env = "LATCH_LOCKOUT_SECS", default_value_t = 900)]
    pub lockout_secs: u64,
    #[command(flatten)]
    pub two_factor: TwoFactorSettings,
    #[command(flatten)]
    pub passkeys: PasskeySettings,
    /// Requests per second per client IP on credential operations; 0 turns the limiter off.
    #[arg(long, env = "LATCH_RATE_LIMIT_PER_SEC", default_value_t = 5)]
    pub rate_limit_per_sec: u32,
    /// Burst size of the per-IP limiter.
    #[arg(long, env = "LATCH_RATE_LIMIT_BURST", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: u32,
    /// Comma-separated CIDRs whose `X-Forwarded-For` is believed.
    #[arg(long, env = "LATCH_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Minimum password length in Unicode code points.
    #[arg(long, env = "LATCH_PASSWORD_MIN_LENGTH", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=128))]
    pub password_min_length: u32,
    /// Minimum zxcvbn score (0–4).
    #[arg(long, env = "LATCH_PASSWORD_MIN_SCORE", default_value_t = 3, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub password_min_score: u8,
    /// How many of lower case, upper case, digit, symbol a password must mix (0 = no rule).
    #[arg(long, env = "LATCH_PASSWORD_MIN_CLASSES", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub password_min_classes: u8,
    /// argon2id memory cost in KiB.
    #[arg(long, env = "LATCH_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    #[arg(long, env = "LATCH_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,
    /// argon2id parallelism.
    #[arg(long, env = "LATCH_ARGON2_PARALLELISM", default_value_t = 1)]
    pub argon2_parallelism: u32,
    /// Database pool size (default 8 for SQLite, 16 for PostgreSQL).
    #[arg(long, env = "LATCH_DB_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: Option<u32>,
    /// Seconds a request waits for a database connection before failing.
    #[arg(long, env = "LATCH_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout_secs: u64,
    /// Seconds a connection may take to send a complete request head.
    #[arg(long, env = "LATCH_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,
    /// Seconds a request may take to arrive whole and be answered.
    #[arg(long, env = "LATCH_REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, env = "LATCH_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout_secs: u64,
    /// Open connections at most; past it new ones wait in the listen backlog.
    #[arg(long, env = "LATCH_MAX_CONNECTIONS", default_value_t = 10000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Seconds between purges of expired sessions, tokens and social sign-in states.
    #[arg(long, env = "LATCH_PURGE_INTERVAL_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub purge_interval_secs: u64,
    /// Log format: `text` or `json`.
    #[arg(long, env = "LATCH_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// `LATCH_OIDC_*` variables given in code (embedders, tests), read after the
    /// process environment.
    #[arg(skip)]
    pub oidc_vars: OidcVars,
}

/// `LATCH_OIDC_*` variables given in code: `Debug` names the variables, never their
/// values (a client secret is among them).
#[derive(Clone, Default)]
pub struct OidcVars(pub Vec<(String, String)>);

impl std::fmt::Debug for OidcVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

fn parse_same_site(s: &str) -> Result<SameSite, String> {
    match s.to_ascii_lowercase().as_str() {
        "lax" => Ok(SameSite::Lax),
        "strict" => Ok(SameSite::Strict),
        "none" => Ok(SameSite::None),
        _ => Err(format!("`{s}` is not one of Lax, Strict, None")),
    }
}

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

impl SameSite {
    /// The attribute value as written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// One social provider block (`LATCH_OIDC_<NAME>_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// Lower-cased `<NAME>`: the `:provider` path segment.
    pub name: String,
    /// The issuer exactly as configured (it must match the provider's `issuer`
    /// byte for byte, so no trailing slash is added).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret<String>>,
    pub scopes: Vec<String>,
    /// What sign-in pages show (`sign-in-methods`); default: the name with its first
    /// letter upper-cased.
    pub display_name: String,
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// Resolved configuration, with the defaults that depend on the bound address filled in
/// by [`Settings::resolve`].
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret<String>,
    pub bind: SocketAddr,
    pub public_url: Url,
    pub app_url: Url,
    /// Exact origins, serialized as `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
    pub cookie_secure: bool,
    pub cookie_samesite: SameSite,
    pub session_ttl_secs: u64,
    pub session_refresh_secs: u64,
    pub session_max_age_secs: u64,
    pub session_activity_secs: u64,
    pub fresh_auth_secs: u64,
    pub mail_outbox: String,
    pub secret_key: Option<Secret<String>>,
    pub secret_key_file: String,
    pub smtp_url: Option<Secret<String>>,
    pub mail_from: lettre::message::Mailbox,
    pub turnstile_secret: Option<Secret<String>>,
    pub turnstile_site_key: Option<String>,
    pub turnstile_verify_url: Url,
    pub turnstile_flows: Vec<String>,
    pub lockout_threshold: u32,
    pub lockout_window_secs: u64,
    pub lockout_secs: u64,
    pub two_factor: TwoFactor,
    pub passkeys: Passkeys,
    pub rate_limit_per_sec: u32,
    pub rate_limit_burst: u32,
    pub trusted_proxies: Vec<IpNet>,
    pub password_min_length: u32,
    pub password_min_score: u8,
    pub password_min_classes: u8,
    pub argon2: Argon2Cost,
    pub oidc_providers: Vec<OidcProvider>,
    pub db_max_connections: Option<u32>,
    pub db_acquire_timeout_secs: u64,
    pub purge_interval_secs: u64,
    pub header_timeout_secs: u64,
    pub request_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub max_connections: usize,
}

const TURNSTILE_FLOWS: &[&str] = &[
    "sign-up",
    "sign-in",
    "forget-password",
    "resend-verification",
    "reset-password",
    "change-password",
    "set-password",
    "verify-email",
    "passkey-sign-in",
];

impl Settings {
    /// Checks every value and fills the defaults that depend on `bound`, the address the
    /// listener actually got (differs from `bind` when the port is 0).
    pub fn resolve(&self, bound: SocketAddr) -> anyhow::Result<Config> {
        let (public_url, app_url, allowed_origins) = self.urls(bound)?;
        let cookie_secure = self.cookie_secure.unwrap_or(public_url.scheme() == "https");
        if self.cookie_samesite == SameSite::None && !cookie_secure {
            bail!("LATCH_COOKIE_SAMESITE=None requires Secure cookies (LATCH_COOKIE_SECURE=true)");
        }
        let mail_from = self
            .mail_from
            .parse()
            .with_context(|| format!("LATCH_MAIL_FROM: `{}` is not a mailbox", self.mail_from))?;
        if let Some(smtp) = &self.smtp_url {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(smtp.expose())
                .map_err(|e| anyhow::anyhow!("LATCH_SMTP_URL is invalid: {e}"))?;
        }
        let turnstile_flows = comma_list(&self.turnstile_flows, |s| {
            if TURNSTILE_FLOWS.contains(&s) {
                Ok(s.to_string())
            } else {
                bail!(
                    "LATCH_TURNSTILE_FLOWS: unknown flow `{s}` (known: {})",
                    TURNSTILE_FLOWS.join(", ")
                )
            }
        })?;
        let trusted_proxies = comma_list(&self.trusted_proxies, |s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| anyhow::anyhow!("LATCH_TRUSTED_PROXIES: `{s}` is not a CIDR"))
        })?;
        let argon2 = Argon2Cost {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        };
        argon2::Params::new(
            argon2.memory_kib,
            argon2.iterations,
            argon2.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("LATCH_ARGON2_*: invalid argon2id cost: {e}"))?;
        let database_url = self.database_url.expose();
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            bail!("DATABASE_URL must start with sqlite:// or postgres://");
        }
        let passkeys = self.passkeys.resolve(&app_url, &allowed_origins)?;
        Ok(Config {
            database_url: self.database_url.clone(),
            bind: self.bind,
            public_url,
            app_url,
            allowed_origins,
            cookie_secure,
            cookie_samesite: self.cookie_samesite,
            session_ttl_secs: self.session_ttl_secs,
            session_refresh_secs: self.session_refresh_secs,
            session_max_age_secs: self.session_max_age_secs,
            session_activity_secs: self.session_activity_secs,
            fresh_auth_secs: self.fresh_auth_secs,
            mail_outbox: self.mail_outbox.clone(),
            secret_key: self.secret_key.clone(),
            secret_key_file: self.secret_key_file.clone(),
            smtp_url: self.smtp_url.clone(),
            mail_from,
            turnstile_secret: self
                .turnstile_secret
                .clone()
                .filter(|s| !s.expose().is_empty()),
            turnstile_site_key: self.turnstile_site_key.clone().filter(|s| !s.is_empty()),
            turnstile_verify_url: self.turnstile_verify_url.clone(),
            turnstile_flows,
            lockout_threshold: self.lockout_threshold,
            lockout_window_secs: self.lockout_window_secs,
            lockout_secs: self.lockout_secs,
            two_factor: self.two_factor.resolve()?,
            passkeys,
            rate_limit_per_sec: self.rate_limit_per_sec,
            rate_limit_burst: self.rate_limit_burst,
            trusted_proxies,
            password_min_length: self.password_min_length,
            password_min_score: self.password_min_score,
            password_min_classes: self.password_min_classes,
            argon2,
            oidc_providers: oidc_providers(
                std::env::vars().chain(self.oidc_vars.0.iter().cloned()),
            )?,
            db_max_connections: self.db_max_connections,
            db_acquire_timeout_secs: self.db_acquire_timeout_secs,
            purge_interval_secs: self.purge_interval_secs,
            header_timeout_secs: self.header_timeout_secs,
            request_timeout_secs: self.request_timeout_secs,
            idle_timeout_secs: self.idle_timeout_secs,
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        })
    }

    /// The public URL, the app URL and the allowed origins (default: the origins of
    /// those two URLs).
    fn urls(&self, bound: SocketAddr) -> anyhow::Result<(Url, Url, Vec<String>)> {
        let public_url = match &self.public_url {
            Some(u) => base_url(u, "LATCH_PUBLIC_URL")?,
            None => Url::parse(&format!("http://{bound}")).context("bound address")?,
        };
        let app_url = match &self.app_url {
            Some(u) => base_url(u, "LATCH_APP_URL")?,
            None => public_url.clone(),
        };
        let allowed_origins = match &self.allowed_origins {
            Some(list) => comma_list(list, |s| {
                let u = Url::parse(s)
                    .with_context(|| format!("LATCH_ALLOWED_ORIGINS: `{s}` is not a URL"))?;
                if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                    bail!("LATCH_ALLOWED_ORIGINS: `{s}` is not an http(s) origin");
                }
                if u.path() != "/" || u.query().is_some() || !u.username().is_empty() {
                    bail!(
                        "LATCH_ALLOWED_ORIGINS: `{s}` must be an origin only (scheme://host[:port])"
                    );
                }
                Ok(u.origin().ascii_serialization())
            })?,
            None => {
                let mut v = vec![public_url.origin().ascii_serialization()];
                let app = app_url.origin().ascii_serialization();
                if !v.contains(&app) {
                    v.push(app);
                }
                v
            }
        };
        Ok((public_url, app_url, allowed_origins))
    }
}

/// A base URL: http(s), no query or fragment, trailing slash removed from the path.
fn base_url(u: &Url, var: &str) -> anyhow::Result<Url> {
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        bail!("{var}: `{u}` is not an http(s) URL");
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        bail!("{var}: `{u}` must not carry a query, fragment or user info");
    }
    let mut u = u.clone();
    let path = u.path().trim_end_matches('/').to_string();
    u.set_path(&path);
    Ok(u)
}

/// Parses a comma-separated setting, skipping empty entries.
fn comma_list<T>(raw: &str, parse: impl Fn(&str) -> anyhow::Result<T>) -> anyhow::Result<Vec<T>> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse)
        .collect()
}

mod oidc;
mod passkeys;
#[cfg(test)]
mod tests;
mod two_factor;

pub use passkeys::{PasskeySettings, Passkeys, RelyingParty};
pub use two_factor::{TwoFactor, TwoFactorSettings};

pub use oidc::oidc_providers;
