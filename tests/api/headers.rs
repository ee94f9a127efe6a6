//! Security headers (contract §6): `nosniff` on every answer; CSP, framing and
//! referrer policy on every HTML page.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn every_kind_of_answer_carries_nosniff() {
    let app = spawn_app().await;
    let token = app.verified_user("headers@example.com").await;
    let replies = vec![
        ("json 200", app.get("/auth/session", Some(&token)).await),
        ("json 401", app.get("/auth/session", None).await),
        ("404", app.get("/nowhere", None).await),
        ("405", app.get("/auth/sign-in/email", None).await),
        (
            "403 origin",
            app.send(
                app.client
                    .post(app.url("/auth/sign-out"))
                    .header("origin", "https://evil.test"),
            )
            .await,
        ),
        (
            "preflight",
            app.send(
                app.client
                    .request(reqwest::Method::OPTIONS, app.url("/graphql")),
            )
            .await,
        ),
        (
            "302",
            app.get("/auth/verify-email?token=x&callbackURL=/done", None)
                .await,
        ),
        (
            "graphql",
            app.gql("{ session { user { id } } }", json!({}), Some(&token))
                .await,
        ),
        ("sdl", app.get("/graphql/schema.graphql", None).await),
        ("openapi", app.get("/openapi.json", None).await),
        ("metrics", app.get("/metrics", None).await),
        ("healthz", app.get("/healthz", None).await),
        ("landing", app.get("/", None).await),
    ];
    for (what, r) in &replies {
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn html_pages_forbid_framing_referrers_and_foreign_scripts() {
    let app = spawn_app().await;
    let graphiql = app
        .send(
            app.client
                .get(app.url("/graphql"))
                .header("accept", "text/html"),
        )
        .await;
    let pages = [
        ("landing", app.get("/", None).await),
        (
            "reset page",
            app.get("/reset-password?token=abc", None).await,
        ),
        (
            "reset page without token",
            app.get("/reset-password", None).await,
        ),
        ("graphiql", graphiql),
    ];
    for (what, r) in &pages {
        assert_eq!(r.status, 200, "{what}");
        assert!(
            r.header("content-type").unwrap().starts_with("text/html"),
            "{what}"
        );
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
        let script_src = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap_or_else(|| panic!("{what}: no script-src in {csp}"));
        for source in script_src.split_whitespace().skip(1) {
            let allowed = source == "'none'"
                || source.starts_with("'sha256-")
                || (*what == "graphiql" && source.starts_with("https://unpkg.com/"));
            assert!(allowed, "{what}: script source {source}");
        }
        // Every external script names an exact version and an integrity hash.
        for tag in r.text.split("<script").skip(1) {
            let head = tag.split('>').next().unwrap();
            if head.contains("src=") {
                assert!(head.contains("integrity=\"sha384-"), "{what}: {head}");
                assert!(
                    head.contains("@18.3.1/") || head.contains("@4.1.2/"),
                    "{what}: {head}"
                );
            }
        }
    }
}
