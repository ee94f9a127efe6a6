//! Several latch processes on one database behave as one service, and a process
//! finishes its requests in flight when it gets SIGTERM. Runs on the database the
//! suite runs on (a shared SQLite file, or PostgreSQL with TEST_DATABASE_URL).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// A `latch` process of the binary under test.
pub(crate) struct Instance {
    child: Child,
    pub(crate) addr: String,
    pub(crate) client: reqwest::Client,
    pub(crate) logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_instance(
    db_url: &str,
    outbox: &std::path::Path,
    extra_env: &[(&str, &str)],
) -> Instance {
    start_instance_limited(db_url, outbox, extra_env, None)
}

/// A `latch` process; with `nofile`, under that limit of open files (`ulimit -n`).
pub(crate) fn start_instance_limited(
    db_url: &str,
    outbox: &std::path::Path,
    extra_env: &[(&str, &str)],
    nofile: Option<u32>,
) -> Instance {
    let bin = env!("CARGO_BIN_EXE_latch");
    let mut cmd = match nofile {
        Some(n) => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" serve"), bin]);
            c
        }
        None => {
            let mut c = Command::new(bin);
            c.arg("serve");
            c
        }
    };
    cmd.env("DATABASE_URL", db_url)
        .env("LATCH_BIND", "127.0.0.1:0")
        .env("LATCH_MAIL_OUTBOX", outbox)
        .env("LATCH_SECRET_KEY_FILE", outbox.with_file_name("latch.key"))
        .env("LATCH_LOG_FORMAT", "json")
        .env("LATCH_LOG", "info")
        .env("LATCH_RATE_LIMIT_PER_SEC", "0")
        .env("LATCH_ARGON2_MEMORY_KIB", "256")
        .env("LATCH_ARGON2_ITERATIONS", "1")
        .env("LATCH_LOCKOUT_THRESHOLD", "4")
        .env("LATCH_DB_MAX_CONNECTIONS", "4")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("starts latch");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("latch exited before listening")
            .unwrap();
        let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if let Some(addr) = event["message"]
            .as_str()
            .and_then(|m| m.strip_prefix("listening on "))
        {
            break format!("http://{addr}");
        }
    };
    // Keep reading the logs (the process must never block on a full pipe).
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Instance {
        child,
        addr,
        logs,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl Instance {
    /// The process's `/metrics` text.
    pub(crate) async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.addr))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
        let mut req = self.client.post(format!("{}{path}", self.addr)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, token: &str) -> u16 {
        self.client
            .get(format!("{}{path}", self.addr))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// Signs `email` up on `a` and follows its verification link on `b`.
async fn sign_up_on_a_verify_on_b(
    a: &Instance,
    b: &Instance,
    outbox: &std::path::Path,
    email: &str,
) {
    let (s, _) = a
        .post(
            "/auth/sign-up/email",
            json!({"email": email, "password": PASSWORD, "name": "Shared"}),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let link = wait_outbox_link(outbox, email, "verify-email", 1).await;
    let verified = b
        .client
        .get(format!("{}{}", b.addr, path_of(&link)))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
}

#[tokio::test]
async fn two_instances_on_one_database_behave_as_one_service() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let outbox = dir.path().join("outbox");
    let a = start_instance(&db, &outbox, &[]);
    let b = start_instance(&db, &outbox, &[]);
    let email = "shared@example.com";

    // Sign up on A, verify on B: one-time tokens are global.
    sign_up_on_a_verify_on_b(&a, &b, &outbox, email).await;

    // A session from A works on B; logout on A revokes it on B.
    let (s, body) = a
        .post(
            "/auth/sign-in/email",
            json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(b.get("/auth/session", &token).await, 200);
    assert_eq!(a.post("/auth/logout", json!({}), Some(&token)).await.0, 200);
    assert_eq!(b.get("/auth/session", &token).await, 401);

    // Lockout failures on A and B add up (threshold 4).
    for inst in [&a, &b, &a, &b] {
        let (s, _) = inst
            .post(
                "/auth/sign-in/email",
                json!({"email": email, "password": "wrong password 1"}),
                None,
            )
            .await;
        assert_eq!(s, 401);
    }
    let (s, _) = a
        .post(
            "/auth/sign-in/email",
            json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(s, 423, "locked across instances");

    // A reset token used concurrently on A and B succeeds once (and lifts the lock).
    let (s, _) = b
        .post("/auth/forget-password", json!({"email": email}), None)
        .await;
    assert_eq!(s, 200);
    let link = wait_outbox_link(&outbox, email, "reset-password", 1).await;
    let token = query_param(&link, "token").unwrap();
    let mut tasks = Vec::new();
    for inst in [&a, &b, &a, &b, &a, &b] {
        let req = inst
            .client
            .post(format!("{}/auth/reset-password", inst.addr))
            .json(&json!({"token": token, "newPassword": OTHER_PASSWORD}));
        tasks.push(tokio::spawn(async move {
            req.send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 400),
        "{statuses:?}"
    );
    let (s, body) = b
        .post(
            "/auth/sign-in/email",
            json!({"email": email, "password": OTHER_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(s, 200);

    // The JSON logs carry request ids and no secret.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let session = body["token"].as_str().unwrap();
    let verify_token = query_param(&link, "token").unwrap();
    for inst in [&a, &b] {
        let logs = inst.logs.lock().unwrap().join("\n");
        assert!(
            logs.contains("\"request_id\":\""),
            "request ids in the logs"
        );
        for secret in [session, &token, &verify_token, PASSWORD, OTHER_PASSWORD] {
            assert!(!logs.contains(secret), "a secret reached the logs");
        }
    }
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let outbox = dir.path().join("outbox");
    // A deliberately slow hash keeps a sign-up in flight while the signal arrives.
    let mut inst = start_instance(
        &db,
        &outbox,
        &[
            ("LATCH_ARGON2_MEMORY_KIB", "65536"),
            ("LATCH_ARGON2_ITERATIONS", "24"),
        ],
    );
    let req = inst
        .client
        .post(format!("{}/auth/sign-up/email", inst.addr))
        .json(&json!({"email": "slow@example.com", "password": PASSWORD, "name": "Slow"}));
    let in_flight = tokio::spawn(async move { req.send().await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let pid = inst.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        in_flight.await.unwrap().expect("the request completed"),
        200
    );
    let status = tokio::task::spawn_blocking(move || {
        let s = inst.child.wait().unwrap();
        (s, inst)
    })
    .await
    .unwrap()
    .0;
    assert!(status.success(), "exits cleanly: {status:?}");
}

/// The process's `latch_password_verifications_total` (its own metrics: one process).
async fn verifications(i: &Instance) -> u64 {
    let text = i
        .client
        .get(format!("{}/metrics", i.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("latch_password_verifications_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn a_sign_in_costs_one_hash_whatever_the_account_and_its_sign_ups() {
    // Contract §4: before verification only the newest sign-up request's password is
    // compared, so an account with five outstanding requests costs what an unknown
    // email or a verified account costs (no timing oracle, no seeded slowness).
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let outbox = dir.path().join("outbox");
    let a = start_instance(&db, &outbox, &[("LATCH_LOCKOUT_THRESHOLD", "100")]);
    let sign_in = |email: &'static str, password: &'static str| {
        let a = &a;
        async move {
            a.post(
                "/auth/sign-in/email",
                json!({"email": email, "password": password}),
                None,
            )
            .await
            .0
        }
    };
    for i in 0..5 {
        let (s, _) = a
            .post(
                "/auth/sign-up/email",
                json!({"email": "many@example.com", "password": format!("{OTHER_PASSWORD} {i}"), "name": "Many"}),
                None,
            )
            .await;
        assert_eq!(s, 200);
    }
    let (s, _) = a
        .post(
            "/auth/sign-up/email",
            json!({"email": "done@example.com", "password": PASSWORD, "name": "Done"}),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let link = wait_outbox_link(&outbox, "done@example.com", "verify-email", 1).await;
    a.client
        .get(format!("{}{}", a.addr, path_of(&link)))
        .send()
        .await
        .unwrap();

    for (email, password, status) in [
        ("nobody@example.com", PASSWORD, 401),
        ("done@example.com", OTHER_PASSWORD, 401),
        ("many@example.com", PASSWORD, 401),
        ("many@example.com", "violet submarine orchestra 1987 0", 401),
        ("many@example.com", "violet submarine orchestra 1987 4", 403),
    ] {
        let before = verifications(&a).await;
        assert_eq!(sign_in(email, password).await, status, "{email} {password}");
        assert_eq!(
            verifications(&a).await - before,
            1,
            "{email} with {password}: one argon2 verification"
        );
    }
}

#[tokio::test]
async fn a_revocation_or_deletion_on_one_instance_is_seen_on_the_other_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let outbox = dir.path().join("outbox");
    let a = start_instance(&db, &outbox, &[]);
    let b = start_instance(&db, &outbox, &[]);
    let email = "two-doors@example.com";
    sign_up_on_a_verify_on_b(&a, &b, &outbox, email).await;
    let sign_in = async |inst: &Instance| {
        let (s, body) = inst
            .post(
                "/auth/sign-in/email",
                json!({"email": email, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(s, 200);
        body["token"].as_str().unwrap().to_string()
    };
    let on_a = sign_in(&a).await;
    let on_b = sign_in(&b).await;
    // B has answered for both (and remembers them); A revokes B's session.
    assert_eq!(b.get("/auth/session", &on_b).await, 200);
    assert_eq!(b.get("/auth/session", &on_a).await, 200);
    let (s, list) = {
        let res = a
            .client
            .get(format!("{}/auth/list-sessions", a.addr))
            .bearer_auth(&on_a)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 200);
    let b_id = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false && s["authMethods"] == json!(["password"]))
        .map(|s| s["id"].as_str().unwrap().to_string())
        .unwrap();
    let (s, _) = a
        .post(
            "/auth/revoke-session",
            json!({"sessionId": b_id}),
            Some(&on_a),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        b.get("/auth/session", &on_b).await,
        401,
        "revoked on A, seen on B"
    );

    // A deletion on A leaves nothing B would answer for.
    assert_eq!(b.get("/auth/me", &on_a).await, 200);
    let (s, _) = a
        .post(
            "/auth/delete-user",
            json!({"password": PASSWORD}),
            Some(&on_a),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b.get("/auth/session", &on_a).await, 401);
    assert_eq!(b.get("/auth/me", &on_a).await, 401);
    let (s, _) = b
        .post(
            "/auth/sign-in/email",
            json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(s, 401, "the account is gone for B too");
}

#[tokio::test]
async fn an_instance_with_another_secret_key_refuses_to_start_and_says_which_variables() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let outbox = dir.path().join("outbox");
    // The first instance sets the database up with the key file's key (created now).
    let first = start_instance(&db, &outbox, &[]);
    assert_eq!(first.get("/healthz", "").await, 200);
    let key_file = outbox.with_file_name("latch.key");
    assert!(key_file.exists(), "the key file is created on first start");
    // Another key: refused at start, naming both variables.
    let out = Command::new(env!("CARGO_BIN_EXE_latch"))
        .arg("serve")
        .env("DATABASE_URL", &db)
        .env("LATCH_BIND", "127.0.0.1:0")
        .env("LATCH_MAIL_OUTBOX", &outbox)
        .env(
            "LATCH_SECRET_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("LATCH_SECRET_KEY") && err.contains("LATCH_SECRET_KEY_FILE"),
        "{err}"
    );
    // The same key given as LATCH_SECRET_KEY is accepted.
    let key = std::fs::read_to_string(&key_file).unwrap();
    let second = start_instance(&db, &outbox, &[("LATCH_SECRET_KEY", key.trim())]);
    assert_eq!(second.get("/healthz", "").await, 200);
}
