//! Response types, shared by REST (serde + OpenAPI) and GraphQL (SimpleObject), so the
//! two doors render the same fields with the same names.
//!
//! They are plain data, so GraphQL resolves their fields one after another
//! (`#[graphql(serial)]`): the same answer without a `FuturesUnordered` per object.
//! `User`, `Session` and `SessionInfo`, on every session check, are declared by
//! `plain_objects!` and answered in place (`graphql/plain.rs`).

use async_graphql::SimpleObject;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Timestamp;
use crate::service::{Account, LinkedMethod, Methods, Principal, SignedIn};
use crate::store::{MembershipRow, SessionRow, UserRow};

crate::graphql::plain::plain_objects! {
    /// An account.
    pub struct User {
        /// UUID.
        id: String => "id",
        /// Lower-case email address.
        email: String => "email",
        name: String => "name",
        email_verified: bool => "emailVerified",
        image: Option<String> => "image",
        created_at: Timestamp => "createdAt",
        updated_at: Timestamp => "updatedAt",
    }

    /// A session; its secret token is never part of it.
    pub struct Session {
        id: String => "id",
        user_id: String => "userId",
        expires_at: Timestamp => "expiresAt",
        created_at: Timestamp => "createdAt",
        /// The IP address of the sign-in that created it.
        ip_address: Option<String> => "ipAddress",
        /// The user agent of the sign-in that created it.
        user_agent: Option<String> => "userAgent",
        /// The last time a factor was proven in it: its sign-in or a step-up.
        authenticated_at: Timestamp => "authenticatedAt",
        /// Its latest use (recorded at most once per `LATCH_SESSION_ACTIVITY_SECS`).
        last_active_at: Timestamp => "lastActiveAt",
        /// The IP address of its latest use.
        last_ip_address: Option<String> => "lastIpAddress",
        /// How it was established, in order: `password`, `oidc:<provider>`, `passkey` or
        /// `email-link`, then the second step's method if any.
        auth_methods: Vec<String> => "authMethods",
    }

    /// One of the user's sessions in `list-sessions`.
    pub struct ActiveSession {
        id: String => "id",
        user_id: String => "userId",
        expires_at: Timestamp => "expiresAt",
        created_at: Timestamp => "createdAt",
        ip_address: Option<String> => "ipAddress",
        user_agent: Option<String> => "userAgent",
        authenticated_at: Timestamp => "authenticatedAt",
        last_active_at: Timestamp => "lastActiveAt",
        last_ip_address: Option<String> => "lastIpAddress",
        auth_methods: Vec<String> => "authMethods",
        /// Whether this is the session of the request.
        current: bool => "current",
    }

    /// `GET /auth/session`, query `session`.
    pub struct SessionInfo {
        session: Session => "session",
        user: User => "user",
    }
}

impl From<UserRow> for User {
    fn from(u: UserRow) -> Self {
        User {
            id: u.id.into_string(),
            email: u.email,
            name: u.name,
            email_verified: u.email_verified,
            image: u.image,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

impl From<&UserRow> for User {
    fn from(u: &UserRow) -> Self {
        User::from(u.clone())
    }
}

impl From<SessionRow> for Session {
    fn from(s: SessionRow) -> Self {
        Session {
            id: s.id.into_string(),
            user_id: s.user_id.into_string(),
            expires_at: s.expires_at,
            created_at: s.created_at,
            ip_address: s.ip_address,
            user_agent: s.user_agent,
            authenticated_at: s.authenticated_at,
            last_active_at: s.last_active_at,
            last_ip_address: s.last_ip_address,
            auth_methods: s.auth_methods,
        }
    }
}

impl From<&SessionRow> for Session {
    fn from(s: &SessionRow) -> Self {
        Session::from(s.clone())
    }
}

/// A workspace the user belongs to, with the user's role in it.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// `owner`, `admin` or `member`.
    pub role: String,
}

/// `GET /auth/me`, query `me`.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub user: User,
    pub workspaces: Vec<Workspace>,
    /// The personal workspace once setup is finalized, else null.
    pub active_workspace_id: Option<String>,
}

/// `POST /auth/sign-up/email`, mutation `signUpEmail`.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct SignUpResult {
    pub user: User,
    /// Always true: the answer does not tell whether an email went out.
    pub verification_sent: bool,
}

/// `GET /auth/verify-email`, mutation `verifyEmail`.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct VerifyEmailResult {
    pub user: User,
    pub session: Session,
}

/// `{status: true}` answers.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
pub struct StatusResult {
    pub status: bool,
}

/// `{success: true}`, the logout and delete-user answer.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
pub struct SuccessResult {
    pub success: bool,
}

/// One way to sign in.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct LinkedAccount {
    /// `credential` or a provider name.
    pub provider: String,
    /// The user's id for `credential`; the provider's subject (`sub`) otherwise.
    pub account_id: String,
    pub created_at: Timestamp,
}

/// `GET /auth/linked-accounts`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkedAccounts {
    pub accounts: Vec<LinkedAccount>,
}

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    pub status: String,
}

/// `POST /auth/sign-in/social`, `POST /auth/link-social`: where to send the browser.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
pub struct SocialUrl {
    /// The provider's authorization URL.
    pub url: String,
}

/// `GET /auth/sign-in-methods`, query `signInMethods`: what a sign-in page can offer.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(serial)]
pub struct SignInMethods {
    /// Email and password: always.
    pub password: bool,
    /// Passkeys; false while they are off.
    pub passkey: bool,
    /// The configured social providers, sorted by id.
    pub providers: Vec<SignInProvider>,
    /// The bot check, or null when Turnstile is off.
    pub turnstile: Option<TurnstileMethod>,
}

/// A configured social provider.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(serial)]
pub struct SignInProvider {
    /// The `:provider` path segment (`LATCH_OIDC_<NAME>` lower-cased).
    pub id: String,
    pub display_name: String,
}

/// How Turnstile guards the flows.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(serial)]
pub struct TurnstileMethod {
    /// `LATCH_TURNSTILE_SITE_KEY`, or null when unset.
    pub site_key: Option<String>,
    /// The flows that need a token (`LATCH_TURNSTILE_FLOWS`).
    pub flows: Vec<String>,
}

// The service's answers in the doors' shapes.

impl From<Principal> for SessionInfo {
    fn from(p: Principal) -> Self {
        SessionInfo {
            session: Session::from(p.session),
            user: User::from(p.user),
        }
    }
}

impl From<&SignedIn> for VerifyEmailResult {
    fn from(s: &SignedIn) -> Self {
        VerifyEmailResult {
            user: User::from(&s.user),
            session: Session::from(&s.session),
        }
    }
}

impl From<UserRow> for SignUpResult {
    fn from(user: UserRow) -> Self {
        SignUpResult {
            user: User::from(user),
            verification_sent: true,
        }
    }
}

impl From<MembershipRow> for Workspace {
    fn from(m: MembershipRow) -> Self {
        Workspace {
            id: m.workspace_id,
            name: m.name,
            slug: m.slug,
            role: m.role,
        }
    }
}

impl From<Account> for Me {
    fn from(a: Account) -> Self {
        Me {
            user: User::from(a.user),
            workspaces: a.workspaces.into_iter().map(Workspace::from).collect(),
            active_workspace_id: a.active_workspace_id,
        }
    }
}

impl From<LinkedMethod> for LinkedAccount {
    fn from(l: LinkedMethod) -> Self {
        LinkedAccount {
            provider: l.provider,
            account_id: l.account_id,
            created_at: l.created_at,
        }
    }
}

impl From<Methods> for SignInMethods {
    fn from(m: Methods) -> Self {
        SignInMethods {
            password: m.password,
            passkey: m.passkey,
            providers: m
                .providers
                .into_iter()
                .map(|(id, display_name)| SignInProvider { id, display_name })
                .collect(),
            turnstile: m
                .turnstile
                .map(|(site_key, flows)| TurnstileMethod { site_key, flows }),
        }
    }
}

mod account;
mod passkey;
mod two_factor;
pub use account::*;
pub use passkey::*;
pub use two_factor::*;
