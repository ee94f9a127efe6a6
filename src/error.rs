//! One error type for both doors (contract §3).
//!
//! Every failure the service layer can report is an [`AppError`]. REST renders it as
//! `{code, reason, message, fields}` with the contract's status; GraphQL renders the same
//! values in `errors[].extensions`. This file is the only place where codes and statuses
//! are decided.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Field name → messages, keyed by the request's own field names.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// A failure with its contract code, reason and message.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub reason: Option<&'static str>,
    pub message: String,
    pub fields: Option<FieldErrors>,
    /// Seconds for the `Retry-After` header (423, 429).
    pub retry_after: Option<u64>,
    /// The cause of an internal error: logged, never rendered.
    source: Option<anyhow::Error>,
}

/// Shorthand for service results.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            reason: None,
            message: message.into(),
            fields: None,
            retry_after: None,
            source: None,
        }
    }

    fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_TOKEN",
            "This link is invalid or has expired. Request a new one.",
        )
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "You are not signed in.",
        )
    }
    pub fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "The email or password is incorrect.",
        )
        .with_reason("INVALID_CREDENTIALS")
    }
    pub fn wrong_current_password() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "The current password is incorrect.",
        )
        .with_reason("INVALID_CREDENTIALS")
    }
    pub fn api_key_not_allowed() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "API keys cannot be used for account and session operations.",
        )
        .with_reason("API_KEY_NOT_ALLOWED")
    }
    pub fn email_not_verified() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "Verify your email address first: follow the link we emailed you.",
        )
        .with_reason("EMAIL_NOT_VERIFIED")
    }
    pub fn invalid_redirect() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "The redirect URL is not allowed.",
        )
        .with_reason("INVALID_REDIRECT")
    }
    pub fn invalid_origin() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "Requests from this origin are not allowed.",
        )
        .with_reason("INVALID_ORIGIN")
    }
    pub fn bot_check_failed() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "The bot check failed. Reload the page and try again.",
        )
        .with_reason("BOT_CHECK_FAILED")
    }
    pub fn last_login_method() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "This is your only way to sign in; add another one before removing it.",
        )
        .with_reason("LAST_LOGIN_METHOD")
    }
    pub fn invalid_state() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "This sign-in attempt is invalid or has expired. Start again.",
        )
        .with_reason("INVALID_STATE")
    }
    pub fn provider_error(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message).with_reason("PROVIDER_ERROR")
    }
    pub fn account_already_linked() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "CONFLICT",
            "This account at the provider is already linked to another user.",
        )
        .with_reason("ACCOUNT_ALREADY_LINKED")
    }
    pub fn account_not_linked() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "An account with this email exists, but the provider did not confirm the email. \
             Sign in with your password, then link the provider from your account.",
        )
        .with_reason("ACCOUNT_NOT_LINKED")
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "This method is not allowed on this route.",
        )
    }
    pub fn user_exists() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "USER_EXISTS",
            "An account with this email already exists. Sign in or reset your password.",
        )
    }
    pub fn password_already_set() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "CONFLICT",
            "This account already has a password; use change password instead.",
        )
        .with_reason("PASSWORD_ALREADY_SET")
    }
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "The request body is larger than 64 KiB.",
        )
    }
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
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
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            message,
        );
        e.fields = Some(fields);
        e
    }
    /// 422 for one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }
    pub fn account_locked(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::LOCKED,
            "ACCOUNT_LOCKED",
            "Too many failed sign-ins. Try again later or reset your password.",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "Too many requests. Slow down and try again shortly.",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }
    /// 500: the cause is logged, the client sees nothing of it.
    /// 408: the request's body did not arrive in time (the client is the slow side).
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            "The request did not arrive in time.",
        )
    }

    /// 503: latch (its database, its hashing) could not answer in time.
    pub fn unavailable(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "The service is busy or its database does not answer. Try again shortly.",
        );
        e.retry_after = Some(retry_after_secs);
        e
    }

    pub fn internal(source: anyhow::Error) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "Something went wrong on our side.",
        );
        e.source = Some(source);
        e
    }

    /// The JSON body of contract §3.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.to_string(),
            reason: self.reason.map(str::to_string),
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
    /// pool, a broken connection) is 503 `UNAVAILABLE` (contract §3); anything else is
    /// a bug or a broken schema: 500.
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
    /// Error code of contract §3, e.g. `VALIDATION_ERROR`.
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
        let mut res = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
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
        ext.set("code", self.code);
        ext.set(
            "reason",
            match self.reason {
                Some(r) => async_graphql::Value::from(r),
                None => async_graphql::Value::Null,
            },
        );
        ext.set("status", self.status.as_u16());
        let fields = match &self.fields {
            Some(f) => async_graphql::to_value(f).unwrap_or(async_graphql::Value::Null),
            None => async_graphql::Value::Null,
        };
        ext.set("fields", fields);
        if let Some(secs) = self.retry_after {
            ext.set("retryAfter", secs);
        }
        err.extensions = Some(ext);
        err
    }
}
