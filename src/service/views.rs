//! What the service answers beyond rows: plain data the doors render in their own
//! response types (`model`).

use crate::domain::Timestamp;
use crate::store::{MembershipRow, UserRow};

/// The signed-in user with their workspaces (`me`).
#[derive(Debug, Clone)]
pub struct Account {
    pub user: UserRow,
    pub workspaces: Vec<MembershipRow>,
    /// The personal workspace once setup is finalized.
    pub active_workspace_id: Option<String>,
}

/// One way the user signs in: `credential` (the password) or a linked provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedMethod {
    pub provider: String,
    /// The user's id for `credential`; the provider's subject otherwise.
    pub account_id: String,
    pub created_at: Timestamp,
}

/// The user's second factors.
#[derive(Debug, Clone)]
pub struct TwoFactorState {
    pub enabled: bool,
    pub methods: Vec<String>,
    /// Unused backup codes; 0 without 2FA.
    pub backup_codes_remaining: i64,
    /// Whether an enrollment waits for its first code.
    pub pending_enrollment: bool,
}

/// What a sign-in page can offer (docs/api.md §4 `sign-in-methods`).
#[derive(Debug, Clone)]
pub struct Methods {
    pub password: bool,
    pub passkey: bool,
    /// `(id, display name)` of each configured provider, sorted by id.
    pub providers: Vec<(String, String)>,
    /// The bot check when Turnstile is on: its site key and guarded flows.
    pub turnstile: Option<(Option<String>, Vec<String>)>,
}
