//! Test harness: the real latch on a random port with a fresh database and outbox.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use latch::config::Cli;
use latch::startup::Application;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// A strong password that passes the default policy.
pub const PASSWORD: &str = "correct horse battery staple";
pub const OTHER_PASSWORD: &str = "violet submarine orchestra 1987";

/// A running latch with its own database and outbox.
pub struct TestApp {
    pub addr: String,
    pub client: reqwest::Client,
    pub outbox: PathBuf,
    pub db_url: String,
    /// The running app's service (its store, for what only the inside can see).
    pub state: latch::service::AppState,
    _dir: tempfile::TempDir,
}

/// One HTTP answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The `Set-Cookie` for `session_token`, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("session_token="))
            .map(str::to_string)
    }

    /// The session token from `Set-Cookie`.
    pub fn token(&self) -> String {
        let c = self.session_cookie().expect("a session cookie");
        c["session_token=".len()..]
            .split(';')
            .next()
            .unwrap()
            .to_string()
    }

    /// The `Set-Cookie` header that sets cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}=");
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&prefix))
    }

    /// The value `Set-Cookie` gives cookie `name` (empty when it clears it).
    pub fn cookie(&self, name: &str) -> Option<String> {
        let c = self.set_cookie(name)?;
        Some(c[name.len() + 1..].split(';').next()?.to_string())
    }

    /// The `Max-Age` of the `Set-Cookie` for cookie `name`.
    pub fn cookie_max_age(&self, name: &str) -> Option<i64> {
        self.set_cookie(name)?
            .split("; ")
            .find_map(|attr| attr.strip_prefix("Max-Age="))?
            .parse()
            .ok()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `extensions` of the first GraphQL error.
    pub fn gql_ext(&self) -> &Value {
        &self.body["errors"][0]["extensions"]
    }
}

/// Starts latch with test defaults plus `extra` command-line settings.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    spawn(extra, Vec::new(), false).await
}

/// A latch whose database pool was closed after start: nothing reaches the database.
pub async fn spawn_app_with_db_closed() -> TestApp {
    spawn(&[], Vec::new(), true).await
}

/// A latch with `LATCH_OIDC_*` settings given in code.
pub async fn spawn_app_with_oidc(extra: &[&str], oidc: Vec<(String, String)>) -> TestApp {
    spawn(extra, oidc, false).await
}

/// A second latch on the database and secret key of `first` (another instance of the
/// same deployment), with its own outbox.
pub async fn spawn_beside(first: &TestApp, extra: &[&str]) -> TestApp {
    let key = first.outbox.with_file_name("latch.key");
    spawn_on(Some((first.db_url.clone(), key)), extra, Vec::new(), false).await
}

/// A latch on the database `db_url`, with the secret key file in `key_dir` (the
/// PostgreSQL-only suite's own server; this suite does not use it).
#[allow(dead_code)]
pub async fn spawn_app_on(db_url: &str, key_dir: &Path) -> TestApp {
    let key = key_dir.join("latch.key");
    spawn_on(Some((db_url.to_string(), key)), &[], Vec::new(), false).await
}

async fn spawn(extra: &[&str], oidc: Vec<(String, String)>, close_db: bool) -> TestApp {
    spawn_on(None, extra, oidc, close_db).await
}

async fn spawn_on(
    shared: Option<(String, PathBuf)>,
    extra: &[&str],
    oidc: Vec<(String, String)>,
    close_db: bool,
) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let outbox = dir.path().join("outbox");
    let (db_url, key_file) = match shared {
        Some((url, key)) => (url, key.display().to_string()),
        None => (
            fresh_database(dir.path()).await,
            dir.path().join("latch.key").display().to_string(),
        ),
    };
    let outbox_s = outbox.display().to_string();
    let mut args = vec![
        "latch",
        "--bind",
        "127.0.0.1:0",
        "--database-url",
        &db_url,
        "--mail-outbox",
        &outbox_s,
        "--secret-key-file",
        &key_file,
        // Tests lower the argon2 cost; the cost itself is checked in password.rs.
        "--argon2-memory-kib",
        "256",
        "--argon2-iterations",
        "1",
    ];
    // Many apps run at once against one PostgreSQL server: keep each pool small.
    if db_url.starts_with("postgres") && !extra.contains(&"--db-max-connections") {
        args.extend_from_slice(&["--db-max-connections", "4"]);
    }
    // The per-IP limiter is off unless a test turns it on: the suite sends many
    // credential requests from 127.0.0.1.
    if !extra.contains(&"--rate-limit-per-sec") {
        args.extend_from_slice(&["--rate-limit-per-sec", "0"]);
    }
    args.extend_from_slice(extra);
    let mut settings = Cli::try_parse_from(args).expect("test settings").settings;
    settings.oidc_vars = latch::config::OidcVars(oidc);
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
    }
    let app = Application::build(settings).await.expect("app builds");
    let addr = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    if close_db {
        app.state().store().close().await;
    }
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("latch-tests")
        .build()
        .unwrap();
    TestApp {
        addr,
        client,
        outbox,
        db_url,
        state,
        _dir: dir,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

async fn read(res: reqwest::Response) -> Reply {
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Reply {
        let mut req = self.client.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.header("cookie", format!("session_token={t}"));
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let mut req = self.client.post(self.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        read(req.send().await.unwrap()).await
    }

    /// A request with arbitrary headers.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        read(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.header("cookie", format!("session_token={t}"));
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> Reply {
        let req = self.client.get(self.url(path)).bearer_auth(token);
        read(req.send().await.unwrap()).await
    }

    /// A GraphQL operation over POST, with the session cookie when given.
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Reply {
        self.post(
            "/graphql",
            json!({"query": query, "variables": variables}),
            token,
        )
        .await
    }

    /// Signs up through REST and asserts success.
    pub async fn sign_up(&self, email: &str, password: &str, name: &str) -> Reply {
        let r = self
            .post(
                "/auth/sign-up/email",
                json!({"email": email, "password": password, "name": name}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r
    }

    /// Signs up, follows the verification link, returns the session token.
    pub async fn verified_user(&self, email: &str) -> String {
        self.sign_up(email, PASSWORD, "Test User").await;
        let link = self.wait_link(email, "verify-email", 1).await;
        let r = self.get(&path_of(&link), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.token()
    }

    /// Resets the password of `email` through the mailed link (the `n`th reset email).
    pub async fn reset_password(&self, email: &str, new_password: &str, n: usize) {
        self.post("/auth/forget-password", json!({"email": email}), None)
            .await;
        let link = self.wait_link(email, "reset-password", n).await;
        let token = query_param(&link, "token").unwrap();
        let r = self
            .post(
                "/auth/reset-password",
                json!({"token": token, "newPassword": new_password}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/auth/sign-in/email",
            json!({"email": email, "password": password}),
            None,
        )
        .await
    }

    /// Emails written to the outbox for `to`, as (subject, text part, html part), oldest first.
    pub fn emails_to(&self, to: &str) -> Vec<(String, String, String)> {
        read_outbox(&self.outbox, to)
    }

    /// The `X-Latch-Notice` kinds of the emails that reached `to`, oldest first.
    pub fn notices_to(&self, to: &str) -> Vec<String> {
        notice_kinds(&self.outbox, to)
    }

    /// Waits until a notice of `kind` reached `to`; returns its (subject, text, html).
    pub async fn wait_notice(&self, to: &str, kind: &str) -> (String, String, String) {
        for _ in 0..200 {
            let kinds = self.notices_to(to);
            if let Some(i) = kinds.iter().position(|k| k == kind) {
                let mails: Vec<_> = read_outbox_raw(&self.outbox, to)
                    .into_iter()
                    .filter(|(raw, _)| header_of(raw, "X-Latch-Notice").is_some())
                    .collect();
                return mails[i].1.clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no {kind} notice reached {to}");
    }

    /// Waits until `n` emails whose link contains `needle` reached `to`, and returns
    /// the link of the newest.
    pub async fn wait_link(&self, to: &str, needle: &str, n: usize) -> String {
        wait_outbox_link(&self.outbox, to, needle, n).await
    }

    /// Asserts that, after the background work had time to run, exactly `n` emails
    /// reached `to`.
    pub async fn settle_and_count(&self, to: &str, n: usize) {
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(self.emails_to(to).len(), n, "emails to {to}");
    }

    /// Sends `n` copies of a request at once and returns their statuses.
    pub async fn concurrent(
        &self,
        n: usize,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Vec<u16> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let req = make();
                tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    /// The id of the user behind a session token.
    pub async fn user_id(&self, token: &str) -> String {
        let me = self.get("/auth/me", Some(token)).await;
        me.body["user"]["id"].as_str().unwrap().to_string()
    }

    /// Links a social identity to a user, as the social sign-in flow stores it.
    pub async fn link_identity(&self, user_id: &str, provider: &str, subject: &str) {
        self.sql(
            "INSERT INTO linked_accounts (id, user_id, provider, subject, created_at) VALUES ($1, $2, $3, $4, 1)",
            &[&format!("{provider}:{subject}"), user_id, provider, subject],
        )
        .await;
    }

    /// Runs a `SELECT COUNT(*) …` against the app's database.
    pub async fn sql_count(&self, query: &str) -> i64 {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db_url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_string()))
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }

    /// The one text value `query` selects.
    pub async fn sql_text(&self, query: &str, binds: &[&str]) -> String {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db_url).await.unwrap();
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_string()));
        for b in binds {
            q = q.bind(b.to_string());
        }
        let v: String = q.fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    }

    /// Every (table, column) of the app's database, whichever backend it is.
    pub async fn columns(&self) -> Vec<(String, String)> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db_url).await.unwrap();
        let query = if self.db_url.starts_with("postgres") {
            "SELECT CAST(table_name AS TEXT) AS t, CAST(column_name AS TEXT) AS c \
             FROM information_schema.columns WHERE table_schema = current_schema()"
        } else {
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p WHERE m.type = 'table'"
        };
        let rows: Vec<(String, String)> = sqlx::query_as(query).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }

    /// Runs one SQL statement against the app's database (seeding what a later
    /// feature's flow would write, e.g. a linked identity).
    pub async fn sql(&self, statement: &str, binds: &[&str]) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db_url).await.unwrap();
        let mut q = sqlx::query(sqlx::AssertSqlSafe(statement.to_string()));
        for b in binds {
            q = q.bind(b.to_string());
        }
        q.execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// A new, empty database for one test: a SQLite file in `dir`, or, when
/// `TEST_DATABASE_URL` names a PostgreSQL server, a database of its own there.
pub async fn fresh_database(dir: &Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => {
            sqlx::any::install_default_drivers();
            let name = format!("latch_test_{}", uuid::Uuid::new_v4().simple());
            let pool = sqlx::AnyPool::connect(&admin)
                .await
                .expect("TEST_DATABASE_URL answers");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&pool)
                .await
                .expect("CREATE DATABASE");
            pool.close().await;
            let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&name);
            url.to_string()
        }
        Ok(other) if !other.is_empty() => {
            panic!("TEST_DATABASE_URL must be a postgres:// URL, not {other}")
        }
        _ => format!("sqlite://{}?mode=rwc", dir.join("latch.db").display()),
    }
}

/// Waits until `n` emails to `to` in `outbox` carry a link containing `needle`, and
/// returns the link of the `n`th.
pub async fn wait_outbox_link(outbox: &Path, to: &str, needle: &str, n: usize) -> String {
    for _ in 0..200 {
        let links: Vec<String> = read_outbox(outbox, to)
            .iter()
            .filter_map(|(_, text, _)| link_in(text))
            .filter(|l| l.contains(needle))
            .collect();
        if links.len() >= n {
            return links[n - 1].clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no email #{n} with a {needle} link reached {to}");
}

/// The notice kinds of the emails to `to`, oldest first.
pub fn notice_kinds(dir: &Path, to: &str) -> Vec<String> {
    read_outbox_raw(dir, to)
        .iter()
        .filter_map(|(raw, _)| header_of(raw, "X-Latch-Notice"))
        .collect()
}

/// A header's value in a raw message.
pub fn header_of(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// The raw text and the parsed (subject, text, html) of the emails to `to`, oldest first.
pub fn read_outbox_raw(dir: &Path, to: &str) -> Vec<(String, (String, String, String))> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut mails = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "eml") {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if let Some(parsed) = parse_mail(&bytes, to) {
            let time = e.metadata().and_then(|m| m.modified()).unwrap();
            mails.push((time, String::from_utf8_lossy(&bytes).into_owned(), parsed));
        }
    }
    mails.sort_by(|a, b| (a.0, &a.2.1).cmp(&(b.0, &b.2.1)));
    mails.into_iter().map(|m| (m.1, m.2)).collect()
}

/// Reads `.eml` files addressed to `to`.
pub fn read_outbox(dir: &Path, to: &str) -> Vec<(String, String, String)> {
    read_outbox_raw(dir, to).into_iter().map(|m| m.1).collect()
}

/// (subject, text, html) of a message addressed to `to`.
pub fn parse_mail(bytes: &[u8], to: &str) -> Option<(String, String, String)> {
    let msg = mail_parser::MessageParser::default().parse(bytes)?;
    let rcpt = msg
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_string)?;
    if !rcpt.eq_ignore_ascii_case(to) {
        return None;
    }
    Some((
        msg.subject().unwrap_or_default().to_string(),
        msg.body_text(0).unwrap_or_default().to_string(),
        msg.body_html(0).unwrap_or_default().to_string(),
    ))
}

/// The first http(s) URL in a text.
pub fn link_in(text: &str) -> Option<String> {
    let start = text.find("http")?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '<' || c == '"')
        .unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// Path and query of an absolute URL.
pub fn path_of(link: &str) -> String {
    let u = url::Url::parse(link).unwrap();
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// The value of a query parameter of a URL.
pub fn query_param(link: &str, key: &str) -> Option<String> {
    let u = url::Url::parse(link).unwrap();
    u.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Replaces values that change per run (ids, times, tokens) so a snapshot pins shape.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let r = match (k.as_str(), v) {
                        (_, Value::Null) => Value::Null,
                        ("id" | "userId" | "activeWorkspaceId" | "accountId", _) => {
                            json!("[uuid]")
                        }
                        ("token" | "ticket" | "trustedDeviceToken", _) => json!("[token]"),
                        ("slug", _) => json!("[slug]"),
                        (k, Value::String(_)) if k.ends_with("At") => json!("[timestamp]"),
                        _ => redact(v),
                    };
                    (k.clone(), r)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Snapshot settings: files under `snapshots/` at the repository root.
#[macro_export]
macro_rules! snap {
    ($name:expr, $value:expr) => {{
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        let redacted = $crate::helpers::redact(&$value);
        settings.bind(|| {
            insta::assert_json_snapshot!($name, redacted);
        });
    }};
}
