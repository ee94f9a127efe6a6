//! The operator commands (`latch users …`, docs/api.md §1): each prints what it did;
//! an email with no account changes nothing and fails.

use crate::config::UsersCommand;
use crate::error::AppError;
use crate::service::AppState;

/// What a command did: `Ok` the line to print, `Err` the line to print as its failure
/// (`no account with email EMAIL`).
pub type Outcome = Result<String, String>;

/// Runs one command.
pub async fn run(state: &AppState, command: &UsersCommand) -> anyhow::Result<Outcome> {
    let (email, outcome) = match command {
        UsersCommand::RevokeSessions { email } => (
            email,
            state
                .operator_revoke_sessions(email)
                .await.map_err(failed)?
                .map(|n| format!("revoked {n} session(s) of {email}")),
        ),
        UsersCommand::Unlock { email } => (
            email,
            state
                .operator_unlock(email)
                .await.map_err(failed)?
                .map(|()| format!("unlocked {email}")),
        ),
        UsersCommand::ResetTwoFactor { email } => (
            email,
            state.operator_reset_two_factor(email).await.map_err(failed)?.map(|n| {
                format!("reset two-factor of {email}; revoked {n} session(s); mailed two-factor-reset")
            }),
        ),
    };
    Ok(outcome.ok_or_else(|| format!("no account with email {email}")))
}

/// An error of the service, logged with its cause and printed as its message.
fn failed(e: AppError) -> anyhow::Error {
    e.log();
    anyhow::anyhow!("{}", e.message())
}
