//! Integration tests: the real latch on a random port with a fresh database,
//! exercised through REST and GraphQL. One test binary (zero2prod style).

mod account_deletion;
mod accounts;
mod authenticator;
mod code_limits;
mod connections;
mod email_change;
mod forwarded;
mod headers;
mod helpers;
mod hostile;
mod http;
mod instances;
mod passkey_device;
mod passkey_limits;
mod passkey_rules;
mod passkeys;
mod passwords;
mod resolvers;
mod scale_out;
mod second_step;
mod security;
mod session_management;
mod sessions;
mod sign_up;
mod smtp;
mod social;
mod social_binding;
mod step_up;
mod tooling;
mod trusted_devices;
mod two_factor;
mod unverified;
