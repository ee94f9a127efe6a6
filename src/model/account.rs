//! Answers of step-up, session management and account self-service.

use async_graphql::SimpleObject;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ActiveSession, User};
use crate::domain::Timestamp;
use crate::store::SessionRow;

/// `POST /auth/reauthenticate`, mutation `reauthenticate`.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct Reauthenticated {
    pub status: bool,
    /// Until when the session needs no step-up proof.
    pub fresh_until: Timestamp,
}

/// `GET /auth/list-sessions`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<ActiveSession>,
}

/// `POST /auth/revoke-other-sessions`, mutation `revokeOtherSessions`.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
pub struct RevokedSessions {
    pub status: bool,
    /// How many sessions were ended.
    pub revoked: u64,
}

/// `POST /auth/update-user`, `GET /auth/confirm-email-change` and their mutations.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
pub struct UserResult {
    pub user: User,
}

impl From<(SessionRow, bool)> for ActiveSession {
    fn from((s, current): (SessionRow, bool)) -> Self {
        ActiveSession {
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
            current,
        }
    }
}
