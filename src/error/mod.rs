//! One error type for both doors (docs/api.md §3).
//!
//! Every failure is an [`AppError`]: a [`Kind`] and a message a person can act on.
//! The kind alone decides the status, the code and the reason, in [`Kind::status`] and
//! [`Kind::code_and_reason`]; REST renders `{code, reason, message, fields}` with that
//! status ([`IntoResponse`]) and GraphQL the same values in `errors[].extensions`
//! ([`AppError::into_graphql`], [`graphql_extensions`]), including GraphQL's own parse
//! and validation errors.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Field name → messages, keyed by the request's own field names.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

mod kind;

pub use kind::Kind;

/// A failure: its kind, a message a person can act on, and what goes with it.
#[derive(Debug)]
pub struct AppError {
    kind: Kind,
    message: String,
    fields: Option<FieldErrors>,
    /// Seconds for the `Retry-After` header (423, 429, 503).
    retry_after: Option<u64>,
    /// The cause of an internal error: logged, never rendered.
    source: Option<anyhow::Error>,
}

/// Shorthand for service results.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// An error of `kind` with `message`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
            fields: None,
            retry_after: None,
            source: None,
        }
    }

    fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn fields(&self) -> Option<&FieldErrors> {
        self.fields.as_ref()
    }
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, message)
    }
    pub fn invalid_token() -> Self {
        Self::new(
            Kind::InvalidToken,
            "This link is invalid or has expired. Request a new one.",
        )
    }
    pub fn unauthorized() -> Self {
        Self::new(Kind::Unauthorized, "You are not signed in.")
    }
    pub fn invalid_credentials() -> Self {
        Self::new(
            Kind::InvalidCredentials,
            "The email or password is incorrect.",
        )
    }
    pub fn wrong_current_password() -> Self {
        Self::new(
            Kind::InvalidCredentials,
            "The current password is incorrect.",
        )
    }
    pub fn invalid_code() -> Self {
        Self::new(
            Kind::InvalidCode,
            "The code is incorrect or was already used.",
        )
    }
    pub fn invalid_ticket() -> Self {
        Self::new(
            Kind::InvalidTicket,
            "This sign-in has expired or was already finished. Sign in again.",
        )
    }
    pub fn no_pending_enrollment() -> Self {
        Self::new(
            Kind::NoPendingEnrollment,
            "There is no authenticator waiting for confirmation. Start again.",
        )
    }
    pub fn two_factor_not_enabled() -> Self {
        Self::new(
            Kind::TwoFactorNotEnabled,
            "Two-factor authentication is not on.",
        )
    }
    /// An unknown, expired, used, other-kind or other-session ceremony (§10).
    pub fn invalid_ceremony() -> Self {
        Self::new(
            Kind::InvalidCeremony,
            "This passkey request is no longer valid. Start again.",
        )
    }
    /// A passkey sign-in or proof that did not verify, whichever check refused it.
    pub fn passkey_refused() -> Self {
        Self::new(
            Kind::InvalidCredentials,
            "This passkey was not accepted. Try another passkey or sign in another way.",
        )
    }
    pub fn passkey_verification_failed() -> Self {
        Self::new(
            Kind::PasskeyVerificationFailed,
            "The passkey could not be verified.",
        )
    }
    pub fn passkey_already_registered() -> Self {
        Self::new(
            Kind::PasskeyAlreadyRegistered,
            "This passkey is already registered.",
        )
    }
    pub fn passkey_limit_reached() -> Self {
        Self::new(
            Kind::PasskeyLimitReached,
            "You hold the most passkeys allowed. Remove one first.",
        )
    }
    /// 423 for the second factor: `Retry-After` while the lock has an end; none while
    /// it lasts until a password reset (docs/api.md §3, §8.5).
    pub fn two_factor_locked(retry_after: Option<u64>) -> Self {
        let e = Self::new(
            Kind::TwoFactorLocked,
            "Too many wrong codes. Try again later, or reset your password.",
        );
        match retry_after {
            Some(secs) => e.retry_after(secs),
            None => e,
        }
    }
    pub fn reauthentication_required() -> Self {
        Self::new(
            Kind::ReauthenticationRequired,
            "Confirm it is you: send your password (or a code), or sign in again.",
        )
    }
    pub fn api_key_not_allowed() -> Self {
        Self::new(
            Kind::ApiKeyNotAllowed,
            "API keys cannot be used for account and session operations.",
        )
    }
    pub fn email_not_verified() -> Self {
        Self::new(
            Kind::EmailNotVerified,
            "Verify your email address first: follow the link we emailed you.",
        )
    }
    pub fn invalid_redirect() -> Self {
        Self::new(Kind::InvalidRedirect, "The redirect URL is not allowed.")
    }
    pub fn invalid_origin() -> Self {
        Self::new(
            Kind::InvalidOrigin,
            "Requests from this origin are not allowed.",
        )
    }
    pub fn bot_check_failed() -> Self {
        Self::new(
            Kind::BotCheckFailed,
            "The bot check failed. Reload the page and try again.",
        )
    }
    pub fn last_login_method() -> Self {
        Self::new(
            Kind::LastLoginMethod,
            "This is your only way to sign in; add another one before removing it.",
        )
    }
    pub fn invalid_state() -> Self {
        Self::new(
            Kind::InvalidState,
            "This sign-in attempt is invalid or has expired. Start again.",
        )
    }
    pub fn provider_error(message: impl Into<String>) -> Self {
        Self::new(Kind::ProviderError, message)
    }
    pub fn account_already_linked() -> Self {
        Self::new(
            Kind::AccountAlreadyLinked,
            "This account at the provider is already linked to another user.",
        )
    }
    pub fn account_not_linked() -> Self {
        Self::new(
            Kind::AccountNotLinked,
            "An account with this email exists, but the provider did not confirm the email. \
             Sign in with your password, then link the provider from your account.",
        )
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, message)
    }
    pub fn method_not_allowed() -> Self {
        Self::new(
            Kind::MethodNotAllowed,
            "This method is not allowed on this route.",
        )
    }
    /// GraphQL over HTTP: a mutation sent with GET.
    pub fn mutation_over_get() -> Self {
        Self::new(Kind::MethodNotAllowed, "Mutations must be sent with POST.")
    }
    pub fn user_exists() -> Self {
        Self::new(
            Kind::UserExists,
            "An account with this email already exists. Sign in or reset your password.",
        )
    }
    pub fn password_already_set() -> Self {
        Self::new(
            Kind::PasswordAlreadySet,
            "This account already has a password; use change password instead.",
        )
    }
    pub fn payload_too_large() -> Self {
        Self::new(
            Kind::PayloadTooLarge,
            "The request body is larger than 64 KiB.",
        )
    }
    pub fn unsupported_media_type() -> Self {
        Self::new(
            Kind::UnsupportedMediaType,
            "Send the body as JSON with Content-Type: application/json.",
        )
    }
    /// 422 with messages per field.
    pub fn validation(fields: FieldErrors) -> Self {
        // The message repeats every field message, so a client that shows only
        // `message` still tells the person what to change.
        let message = fields
            .values()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        let mut e = Self::new(Kind::Validation, message);
        e.fields = Some(fields);
        e
    }
    /// 422 for one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }
    pub fn account_locked(retry_after: u64) -> Self {
        Self::new(
            Kind::AccountLocked,
            "Too many failed sign-ins. Try again later or reset your password.",
        )
        .retry_after(retry_after)
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        Self::new(
            Kind::RateLimited,
            "Too many requests. Slow down and try again shortly.",
        )
        .retry_after(retry_after)
    }
    /// 408: the request's body did not arrive in time (the client is the slow side).
    pub fn request_timeout() -> Self {
        Self::new(Kind::RequestTimeout, "The request did not arrive in time.")
    }
    /// 503: latch (its database, its hashing) could not answer in time.
    pub fn unavailable(retry_after_secs: u64) -> Self {
        Self::new(
            Kind::Unavailable,
            "The service is busy or its database does not answer. Try again shortly.",
        )
        .retry_after(retry_after_secs)
    }
    /// 500: the cause is logged, the client sees nothing of it.
    pub fn internal(source: anyhow::Error) -> Self {
        let mut e = Self::new(Kind::Internal, "Something went wrong on our side.");
        e.source = Some(source);
        e
    }

    /// The JSON body of docs/api.md §3.
    pub fn body(&self) -> ErrorBody {
        let (code, reason) = self.kind.code_and_reason();
        ErrorBody {
            code: code.to_string(),
            reason: reason.map(str::to_string),
            message: self.message.clone(),
            fields: self.fields.clone(),
        }
    }

    /// Logs internal causes (never secrets: causes are database and I/O errors).
    pub fn log(&self) {
        if let Some(source) = &self.source {
            tracing::error!(error = format!("{source:#}"), "internal error");
        }
    }
}

/// Any unexpected failure (database, I/O, …) becomes a 500 that hides its detail.
impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::internal(e)
    }
}

impl From<sqlx::Error> for AppError {
    /// A database that does not answer (no connection within the pool's wait, a closed
    /// pool, a broken connection) is 503 `UNAVAILABLE`; anything else is a bug or a
    /// broken schema: 500.
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %e, "database unavailable");
                AppError::unavailable(1)
            }
            e => AppError::internal(anyhow::Error::new(e).context("database")),
        }
    }
}

/// The REST error body.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Error code of docs/api.md §3, e.g. `VALIDATION_ERROR`.
    pub code: String,
    /// Finer reason, e.g. `INVALID_CREDENTIALS`, or null.
    pub reason: Option<String>,
    /// A sentence a person can act on.
    pub message: String,
    /// Messages per request field, or null.
    #[schema(value_type = Option<std::collections::HashMap<String, Vec<String>>>)]
    pub fields: Option<FieldErrors>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.kind.status();
        let mut res = (status, axum::Json(self.body())).into_response();
        let h = res.headers_mut();
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        // RFC 9110 §15.5.2: a 401 names how to authenticate (a bearer token, or the
        // session cookie that carries the same token).
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"latch\""),
            );
        }
        res
    }
}

impl AppError {
    /// The GraphQL rendering: same code, reason, status and fields in `extensions`.
    pub fn into_graphql(self) -> async_graphql::Error {
        self.log();
        let mut err = async_graphql::Error::new(self.message.clone());
        let mut ext = async_graphql::ErrorExtensionValues::default();
        self.set_extensions(&mut ext);
        err.extensions = Some(ext);
        err
    }

    fn set_extensions(&self, ext: &mut async_graphql::ErrorExtensionValues) {
        let (code, reason) = self.kind.code_and_reason();
        ext.set("code", code);
        ext.set(
            "reason",
            reason.map_or(async_graphql::Value::Null, async_graphql::Value::from),
        );
        ext.set("status", self.kind.status().as_u16());
        let fields = match &self.fields {
            Some(f) => async_graphql::to_value(f).unwrap_or(async_graphql::Value::Null),
            None => async_graphql::Value::Null,
        };
        ext.set("fields", fields);
        if let Some(secs) = self.retry_after {
            ext.set("retryAfter", secs);
        }
    }
}

/// Gives a GraphQL error from outside latch's resolvers (parsing, validation, the
/// limits, variables) the extensions of a `BAD_REQUEST`, unless it has a code already.
pub fn graphql_extensions(err: &mut async_graphql::ServerError) {
    let ext = err.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        AppError::bad_request(err.message.clone()).set_extensions(ext);
    }
}

#[cfg(test)]
mod tests;
