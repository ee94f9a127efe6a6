//! Settings: defaults, checks and the OIDC blocks.

use super::*;

fn settings(args: &[&str]) -> Settings {
    let mut all = vec!["latch"];
    all.extend_from_slice(args);
    Cli::try_parse_from(all).expect("parses").settings
}

#[test]
fn defaults_follow_the_bound_address() {
    let cfg = settings(&[])
        .resolve("127.0.0.1:4321".parse().unwrap())
        .unwrap();
    assert_eq!(cfg.public_url.as_str(), "http://127.0.0.1:4321/");
    assert_eq!(cfg.app_url, cfg.public_url);
    assert_eq!(cfg.allowed_origins, vec!["http://127.0.0.1:4321"]);
    assert!(!cfg.cookie_secure);
}

#[test]
fn samesite_none_requires_secure() {
    let err = settings(&["--cookie-samesite", "None"])
        .resolve("127.0.0.1:1".parse().unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("Secure"), "{err}");
    let ok = settings(&["--cookie-samesite", "none", "--cookie-secure", "true"])
        .resolve("127.0.0.1:1".parse().unwrap());
    assert!(ok.is_ok());
}

#[test]
fn invalid_numbers_are_refused_at_parse() {
    let mut all = vec!["latch", "--lockout-threshold", "zero"];
    assert!(Cli::try_parse_from(all.clone()).is_err());
    all[2] = "0";
    assert!(Cli::try_parse_from(all).is_err());
}

#[test]
fn oidc_blocks_are_grouped_by_name() {
    let vars = [
        ("LATCH_OIDC_ACME_ISSUER", "http://127.0.0.1:9000"),
        ("LATCH_OIDC_ACME_CLIENT_ID", "latch"),
        ("LATCH_OIDC_ACME_CLIENT_SECRET", "s3cret"),
        ("PATH", "/bin"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let providers = oidc_providers(vars.into_iter()).unwrap();
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0].name, "acme");
    assert_eq!(providers[0].scopes, ["openid", "email", "profile"]);
    assert_eq!(providers[0].display_name, "Acme");
    let named = [
        ("LATCH_OIDC_ACME_ISSUER", "http://127.0.0.1:9000"),
        ("LATCH_OIDC_ACME_CLIENT_ID", "latch"),
        ("LATCH_OIDC_ACME_DISPLAY_NAME", "ACME Single Sign-On"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let providers = oidc_providers(named.into_iter()).unwrap();
    assert_eq!(providers[0].display_name, "ACME Single Sign-On");
    let bad = [("LATCH_OIDC_ACME_CLIENT_ID".to_string(), "x".to_string())];
    assert!(oidc_providers(bad.into_iter()).is_err());
    let plain_http = [
        ("LATCH_OIDC_ACME_ISSUER", "http://idp.example.com"),
        ("LATCH_OIDC_ACME_CLIENT_ID", "latch"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let err = oidc_providers(plain_http.into_iter()).unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
}

#[test]
fn bad_origin_and_cidr_are_refused() {
    let bound = "127.0.0.1:1".parse().unwrap();
    assert!(
        settings(&["--allowed-origins", "ftp://x"])
            .resolve(bound)
            .is_err()
    );
    assert!(
        settings(&["--allowed-origins", "http://a.test/path"])
            .resolve(bound)
            .is_err()
    );
    assert!(
        settings(&["--trusted-proxies", "10.0.0.0/8,nonsense"])
            .resolve(bound)
            .is_err()
    );
    assert!(
        settings(&["--turnstile-flows", "sign-up,teleport"])
            .resolve(bound)
            .is_err()
    );
}
