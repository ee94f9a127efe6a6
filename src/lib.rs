//! latch: the account and session service behind a workspace dashboard.
//!
//! Dependencies run one way: `startup → {server, rest, graphql} → service → {store,
//! mail, password, oidc, guard}`; `domain`, `error`, `config`, `secret` and `telemetry`
//! are leaves. The README's Architecture section says what each module may import.

/// Settings from the environment (docs/api.md §1).
pub mod config;
/// Parsed inputs and value types: Email, Name, Password, tokens, timestamps.
pub mod domain;
/// Request id, CORS, Origin check, no-store, request log and latency of every request.
pub mod envelope;
/// The one error type and its REST and GraphQL renderings (docs/api.md §3).
pub mod error;
/// The GraphQL door.
pub mod graphql;
/// Rate limit and Turnstile bot check of credential operations.
pub mod guard;
/// Request inputs shared by both doors.
pub mod inputs;
/// Outgoing mail: file outbox or SMTP.
pub mod mail;
/// Response types shared by both doors.
pub mod model;
/// OpenID Connect relying party (social sign-in).
pub mod oidc;
/// The operator commands (`latch users …`).
pub mod operator;
/// Second-factor codes: TOTP and backup codes.
pub mod otp;
/// latch's HTML pages and their security headers.
pub mod pages;
/// argon2id hashing and the password policy.
pub mod password;
/// Redirect target allowlist.
pub mod redirect;
/// The REST door and its OpenAPI document.
pub mod rest;
/// The key that seals second-factor secrets at rest.
pub mod sealing;
/// Secrets that `Debug` cannot print.
pub mod secret;
/// The HTTP/1 server loop with its connection limits.
pub mod server;
/// Account and session operations.
pub mod service;
/// Building and running the HTTP server.
pub mod startup;
/// SQL over SQLite (and PostgreSQL) through sqlx Any.
pub mod store;
/// Logs, request ids and Prometheus metrics.
pub mod telemetry;
/// HTTP plumbing: cookies, tokens, client IP, body rules.
pub mod web;
/// The WebAuthn relying party: passkey ceremonies.
pub mod webauthn;
