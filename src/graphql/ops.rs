//! What needs no session: sign-in discovery.

use super::*;

#[derive(Default)]
pub struct OpsQuery;

#[Object]
impl OpsQuery {
    /// The sign-in methods a page can offer; no session needed.
    async fn sign_in_methods(&self, ctx: &Context<'_>) -> SignInMethods {
        state(ctx).sign_in_methods().into()
    }
}
