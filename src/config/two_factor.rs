//! The second factor's settings (docs/api.md §1, §8).

use anyhow::bail;
use clap::Args;

/// `LATCH_TWO_FACTOR_*`, `LATCH_TRUSTED_DEVICE_SECS`, `LATCH_TOTP_ISSUER` as given.
#[derive(Debug, Clone, Args)]
pub struct TwoFactorSettings {
    /// Consecutive wrong second-factor codes at each multiple of which a lock starts (1–100).
    #[arg(long, env = "LATCH_TWO_FACTOR_LOCKOUT_THRESHOLD", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub two_factor_lockout_threshold: u32,
    /// How long such a lock lasts, in seconds.
    #[arg(long, env = "LATCH_TWO_FACTOR_LOCKOUT_SECS", default_value_t = 900)]
    pub two_factor_lockout_secs: u64,
    /// Lifetime of a two-factor ticket (a sign-in waiting for its second step), in seconds.
    #[arg(long, env = "LATCH_TWO_FACTOR_TICKET_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub two_factor_ticket_secs: u64,
    /// Lifetime of a trusted device, in seconds; 0 turns trusted devices off.
    #[arg(long, env = "LATCH_TRUSTED_DEVICE_SECS", default_value_t = 2_592_000)]
    pub trusted_device_secs: u64,
    /// Issuer that authenticator apps show (no `:`).
    #[arg(long, env = "LATCH_TOTP_ISSUER", default_value = "latch")]
    pub totp_issuer: String,
}

/// The resolved second-factor settings.
#[derive(Debug, Clone)]
pub struct TwoFactor {
    pub lockout_threshold: u32,
    pub lockout_secs: u64,
    pub ticket_secs: u64,
    /// `None`: trusted devices are off.
    pub trusted_device_secs: Option<u64>,
    pub totp_issuer: String,
}

impl TwoFactorSettings {
    pub fn resolve(&self) -> anyhow::Result<TwoFactor> {
        if !crate::otp::totp_uri_is_valid_issuer(&self.totp_issuer) {
            bail!(
                "LATCH_TOTP_ISSUER: `{}` must be non-empty and must not contain `:`",
                self.totp_issuer
            );
        }
        Ok(TwoFactor {
            lockout_threshold: self.two_factor_lockout_threshold,
            lockout_secs: self.two_factor_lockout_secs,
            ticket_secs: self.two_factor_ticket_secs,
            trusted_device_secs: (self.trusted_device_secs > 0).then_some(self.trusted_device_secs),
            totp_issuer: self.totp_issuer.clone(),
        })
    }
}
