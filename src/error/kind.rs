//! The kinds of failure and the one table that gives each its status, code and
//! reason (docs/api.md §3).

use axum::http::StatusCode;

/// What went wrong, as clients tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    InvalidState,
    ProviderError,
    InvalidToken,
    Unauthorized,
    InvalidCredentials,
    ApiKeyNotAllowed,
    InvalidCode,
    InvalidTicket,
    NoPendingEnrollment,
    InvalidCeremony,
    PasskeyVerificationFailed,
    BotCheckFailed,
    EmailNotVerified,
    InvalidOrigin,
    InvalidRedirect,
    LastLoginMethod,
    AccountNotLinked,
    ReauthenticationRequired,
    NotFound,
    MethodNotAllowed,
    UserExists,
    PasswordAlreadySet,
    AccountAlreadyLinked,
    TwoFactorNotEnabled,
    PasskeyAlreadyRegistered,
    PasskeyLimitReached,
    PayloadTooLarge,
    UnsupportedMediaType,
    Validation,
    AccountLocked,
    TwoFactorLocked,
    RateLimited,
    RequestTimeout,
    Unavailable,
    Internal,
}

impl Kind {
    /// Every kind, for tests that check each one.
    pub const ALL: [Kind; 36] = [
        Kind::BadRequest,
        Kind::InvalidState,
        Kind::ProviderError,
        Kind::InvalidToken,
        Kind::Unauthorized,
        Kind::InvalidCredentials,
        Kind::ApiKeyNotAllowed,
        Kind::InvalidCode,
        Kind::InvalidTicket,
        Kind::NoPendingEnrollment,
        Kind::InvalidCeremony,
        Kind::PasskeyVerificationFailed,
        Kind::BotCheckFailed,
        Kind::EmailNotVerified,
        Kind::InvalidOrigin,
        Kind::InvalidRedirect,
        Kind::LastLoginMethod,
        Kind::AccountNotLinked,
        Kind::ReauthenticationRequired,
        Kind::NotFound,
        Kind::MethodNotAllowed,
        Kind::UserExists,
        Kind::PasswordAlreadySet,
        Kind::AccountAlreadyLinked,
        Kind::TwoFactorNotEnabled,
        Kind::PasskeyAlreadyRegistered,
        Kind::PasskeyLimitReached,
        Kind::PayloadTooLarge,
        Kind::UnsupportedMediaType,
        Kind::Validation,
        Kind::AccountLocked,
        Kind::TwoFactorLocked,
        Kind::RateLimited,
        Kind::RequestTimeout,
        Kind::Unavailable,
        Kind::Internal,
    ];

    /// The HTTP status (the REST status, and `extensions.status` in GraphQL).
    pub fn status(self) -> StatusCode {
        match self {
            Kind::BadRequest
            | Kind::InvalidState
            | Kind::ProviderError
            | Kind::InvalidToken
            | Kind::NoPendingEnrollment
            | Kind::InvalidCeremony
            | Kind::PasskeyVerificationFailed => StatusCode::BAD_REQUEST,
            Kind::Unauthorized
            | Kind::InvalidCredentials
            | Kind::ApiKeyNotAllowed
            | Kind::InvalidCode
            | Kind::InvalidTicket => StatusCode::UNAUTHORIZED,
            Kind::BotCheckFailed
            | Kind::EmailNotVerified
            | Kind::InvalidOrigin
            | Kind::InvalidRedirect
            | Kind::LastLoginMethod
            | Kind::AccountNotLinked
            | Kind::ReauthenticationRequired => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::UserExists
            | Kind::PasswordAlreadySet
            | Kind::AccountAlreadyLinked
            | Kind::TwoFactorNotEnabled
            | Kind::PasskeyAlreadyRegistered
            | Kind::PasskeyLimitReached => StatusCode::CONFLICT,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::Validation => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::AccountLocked | Kind::TwoFactorLocked => StatusCode::LOCKED,
            Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Kind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `code`, and the `reason` (null where the table names none).
    pub fn code_and_reason(self) -> (&'static str, Option<&'static str>) {
        match self {
            Kind::BadRequest => ("BAD_REQUEST", None),
            Kind::InvalidState => ("BAD_REQUEST", Some("INVALID_STATE")),
            Kind::ProviderError => ("BAD_REQUEST", Some("PROVIDER_ERROR")),
            Kind::InvalidToken => ("INVALID_TOKEN", None),
            Kind::Unauthorized => ("UNAUTHORIZED", None),
            Kind::InvalidCredentials => ("UNAUTHORIZED", Some("INVALID_CREDENTIALS")),
            Kind::ApiKeyNotAllowed => ("UNAUTHORIZED", Some("API_KEY_NOT_ALLOWED")),
            Kind::InvalidCode => ("UNAUTHORIZED", Some("INVALID_CODE")),
            Kind::InvalidTicket => ("UNAUTHORIZED", Some("INVALID_TICKET")),
            Kind::NoPendingEnrollment => ("BAD_REQUEST", Some("NO_PENDING_ENROLLMENT")),
            Kind::InvalidCeremony => ("BAD_REQUEST", Some("INVALID_CEREMONY")),
            Kind::PasskeyVerificationFailed => ("BAD_REQUEST", Some("PASSKEY_VERIFICATION_FAILED")),
            Kind::BotCheckFailed => ("FORBIDDEN", Some("BOT_CHECK_FAILED")),
            Kind::EmailNotVerified => ("FORBIDDEN", Some("EMAIL_NOT_VERIFIED")),
            Kind::InvalidOrigin => ("FORBIDDEN", Some("INVALID_ORIGIN")),
            Kind::InvalidRedirect => ("FORBIDDEN", Some("INVALID_REDIRECT")),
            Kind::LastLoginMethod => ("FORBIDDEN", Some("LAST_LOGIN_METHOD")),
            Kind::AccountNotLinked => ("FORBIDDEN", Some("ACCOUNT_NOT_LINKED")),
            Kind::ReauthenticationRequired => ("FORBIDDEN", Some("REAUTHENTICATION_REQUIRED")),
            Kind::NotFound => ("NOT_FOUND", None),
            Kind::MethodNotAllowed => ("METHOD_NOT_ALLOWED", None),
            Kind::UserExists => ("USER_EXISTS", None),
            Kind::PasswordAlreadySet => ("CONFLICT", Some("PASSWORD_ALREADY_SET")),
            Kind::AccountAlreadyLinked => ("CONFLICT", Some("ACCOUNT_ALREADY_LINKED")),
            Kind::TwoFactorNotEnabled => ("CONFLICT", Some("TWO_FACTOR_NOT_ENABLED")),
            Kind::PasskeyAlreadyRegistered => ("CONFLICT", Some("PASSKEY_ALREADY_REGISTERED")),
            Kind::PasskeyLimitReached => ("CONFLICT", Some("PASSKEY_LIMIT_REACHED")),
            Kind::PayloadTooLarge => ("PAYLOAD_TOO_LARGE", None),
            Kind::UnsupportedMediaType => ("UNSUPPORTED_MEDIA_TYPE", None),
            Kind::Validation => ("VALIDATION_ERROR", None),
            Kind::AccountLocked => ("ACCOUNT_LOCKED", None),
            Kind::TwoFactorLocked => ("ACCOUNT_LOCKED", Some("TWO_FACTOR_LOCKED")),
            Kind::RateLimited => ("RATE_LIMITED", None),
            Kind::RequestTimeout => ("REQUEST_TIMEOUT", None),
            Kind::Unavailable => ("UNAVAILABLE", None),
            Kind::Internal => ("INTERNAL", None),
        }
    }

    /// What a browser-redirect flow puts in `?error=`: the reason, else the code.
    pub fn redirect_code(self) -> &'static str {
        let (code, reason) = self.code_and_reason();
        reason.unwrap_or(code)
    }
}
