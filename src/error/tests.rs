//! The one error type's statuses, codes and renderings.

use super::*;

#[test]
fn every_kind_answers_the_same_code_and_status_through_both_doors() {
    for kind in Kind::ALL {
        let (code, reason) = kind.code_and_reason();
        let rest = AppError::new(kind, "m").into_response();
        assert_eq!(rest.status(), kind.status(), "{kind:?}");
        let body = AppError::new(kind, "m").body();
        assert_eq!((body.code.as_str(), body.reason.as_deref()), (code, reason));
        let gql = AppError::new(kind, "m").into_graphql();
        let ext = gql.extensions.unwrap();
        assert_eq!(ext.get("code"), Some(&async_graphql::Value::from(code)));
        assert_eq!(
            ext.get("status"),
            Some(&async_graphql::Value::from(kind.status().as_u16()))
        );
        let want_reason = reason.map_or(async_graphql::Value::Null, async_graphql::Value::from);
        assert_eq!(ext.get("reason"), Some(&want_reason), "{kind:?}");
    }
}

#[test]
fn the_kinds_answer_the_documented_rows() {
    // docs/api.md §3, row by row.
    for (kind, status, code, reason) in [
        (Kind::BadRequest, 400, "BAD_REQUEST", None),
        (
            Kind::InvalidState,
            400,
            "BAD_REQUEST",
            Some("INVALID_STATE"),
        ),
        (
            Kind::ProviderError,
            400,
            "BAD_REQUEST",
            Some("PROVIDER_ERROR"),
        ),
        (Kind::InvalidToken, 400, "INVALID_TOKEN", None),
        (Kind::Unauthorized, 401, "UNAUTHORIZED", None),
        (
            Kind::InvalidCredentials,
            401,
            "UNAUTHORIZED",
            Some("INVALID_CREDENTIALS"),
        ),
        (
            Kind::ApiKeyNotAllowed,
            401,
            "UNAUTHORIZED",
            Some("API_KEY_NOT_ALLOWED"),
        ),
        (
            Kind::BotCheckFailed,
            403,
            "FORBIDDEN",
            Some("BOT_CHECK_FAILED"),
        ),
        (
            Kind::EmailNotVerified,
            403,
            "FORBIDDEN",
            Some("EMAIL_NOT_VERIFIED"),
        ),
        (
            Kind::InvalidOrigin,
            403,
            "FORBIDDEN",
            Some("INVALID_ORIGIN"),
        ),
        (
            Kind::InvalidRedirect,
            403,
            "FORBIDDEN",
            Some("INVALID_REDIRECT"),
        ),
        (
            Kind::LastLoginMethod,
            403,
            "FORBIDDEN",
            Some("LAST_LOGIN_METHOD"),
        ),
        (
            Kind::AccountNotLinked,
            403,
            "FORBIDDEN",
            Some("ACCOUNT_NOT_LINKED"),
        ),
        (Kind::NotFound, 404, "NOT_FOUND", None),
        (Kind::MethodNotAllowed, 405, "METHOD_NOT_ALLOWED", None),
        (Kind::UserExists, 409, "USER_EXISTS", None),
        (
            Kind::PasswordAlreadySet,
            409,
            "CONFLICT",
            Some("PASSWORD_ALREADY_SET"),
        ),
        (
            Kind::AccountAlreadyLinked,
            409,
            "CONFLICT",
            Some("ACCOUNT_ALREADY_LINKED"),
        ),
        (Kind::PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE", None),
        (
            Kind::UnsupportedMediaType,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            None,
        ),
        (Kind::Validation, 422, "VALIDATION_ERROR", None),
        (Kind::AccountLocked, 423, "ACCOUNT_LOCKED", None),
        (
            Kind::TwoFactorLocked,
            423,
            "ACCOUNT_LOCKED",
            Some("TWO_FACTOR_LOCKED"),
        ),
        (
            Kind::InvalidTicket,
            401,
            "UNAUTHORIZED",
            Some("INVALID_TICKET"),
        ),
        (
            Kind::NoPendingEnrollment,
            400,
            "BAD_REQUEST",
            Some("NO_PENDING_ENROLLMENT"),
        ),
        (
            Kind::TwoFactorNotEnabled,
            409,
            "CONFLICT",
            Some("TWO_FACTOR_NOT_ENABLED"),
        ),
        (Kind::RateLimited, 429, "RATE_LIMITED", None),
        (Kind::RequestTimeout, 408, "REQUEST_TIMEOUT", None),
        (Kind::Unavailable, 503, "UNAVAILABLE", None),
        (Kind::Internal, 500, "INTERNAL", None),
    ] {
        assert_eq!(kind.status().as_u16(), status, "{kind:?}");
        assert_eq!(kind.code_and_reason(), (code, reason), "{kind:?}");
    }
}

#[test]
fn a_401_names_its_scheme_and_waits_are_announced() {
    let r = AppError::unauthorized().into_response();
    assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
    let r = AppError::rate_limited(0).into_response();
    assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    let r = AppError::not_found("x").into_response();
    assert!(!r.headers().contains_key(header::WWW_AUTHENTICATE));
}

#[test]
fn graphqls_own_errors_are_bad_requests_and_ours_keep_their_code() {
    let mut own = async_graphql::ServerError::new("Unknown field \"x\".", None);
    graphql_extensions(&mut own);
    let ext = own.extensions.unwrap();
    assert_eq!(
        ext.get("code"),
        Some(&async_graphql::Value::from("BAD_REQUEST"))
    );
    assert_eq!(ext.get("status"), Some(&async_graphql::Value::from(400u16)));
}
