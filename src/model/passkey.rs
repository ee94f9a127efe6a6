//! Answers of the passkey routes (docs/api.md §10).

use async_graphql::{Json, SimpleObject};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Timestamp;
use crate::service::Ceremony;
use crate::store::PasskeyRow;

/// One of the user's passkeys.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct Passkey {
    /// latch's UUID for it (not the credential id).
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    /// Its latest sign-in or proof; null until the first.
    pub last_used_at: Option<Timestamp>,
    /// The authenticator's backup state: a synced passkey.
    pub backed_up: bool,
}

impl From<PasskeyRow> for Passkey {
    fn from(r: PasskeyRow) -> Passkey {
        Passkey {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            backed_up: r.backed_up,
        }
    }
}

/// `generate-register-options`, `generate-authenticate-options`: a ceremony to finish
/// within `expiresAt`.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyOptions {
    pub ceremony_id: String,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`.
    #[schema(value_type = Object)]
    pub options: Json<serde_json::Value>,
    pub expires_at: Timestamp,
}

impl From<Ceremony> for PasskeyOptions {
    fn from(c: Ceremony) -> PasskeyOptions {
        PasskeyOptions {
            ceremony_id: c.id,
            options: Json(c.options),
            expires_at: c.expires_at,
        }
    }
}

/// `{passkey}`.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
pub struct PasskeyResult {
    pub passkey: Passkey,
}

/// `GET /auth/passkey/list-user-passkeys`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<Passkey>,
}
