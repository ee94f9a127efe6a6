//! Passkey sign-ins per second against a running latch (figure 8 of `bench/run`):
//! `passkey_rate URL ORIGIN RP_ID EMAIL PASSWORD WORKERS SECONDS`.
//!
//! Signs in with the password once, registers one passkey per worker (so no two
//! workers race one credential's sign count), then each worker loops over a whole
//! sign-in: generate-authenticate-options, an ES256 assertion made here by the tests'
//! software passkey, sign-in/passkey. Prints `passkey sign-ins/s: R (ok N, failed F)`.

#[path = "../tests/api/passkey_device.rs"]
mod passkey_device;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use passkey_device::PasskeyDevice;
use serde_json::{Value, json};

async fn post(client: &reqwest::Client, url: &str, body: Value, token: Option<&str>) -> Value {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("latch answers");
    let status = res.status();
    let body: Value = res.json().await.expect("a JSON answer");
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [url, origin, rp_id, email, password, workers, secs] = &a[..] else {
        panic!("usage: passkey_rate URL ORIGIN RP_ID EMAIL PASSWORD WORKERS SECONDS");
    };
    let workers: usize = workers.parse().expect("a number of workers");
    let secs: u64 = secs.parse().expect("seconds");
    let client = reqwest::Client::new();
    let signed = post(
        &client,
        &format!("{url}/auth/sign-in/email"),
        json!({"email": email, "password": password}),
        None,
    )
    .await;
    let token = signed["token"]
        .as_str()
        .expect("a session token")
        .to_string();
    let mut devices = Vec::new();
    for _ in 0..workers {
        let mut device = PasskeyDevice::new(origin, rp_id);
        let started = post(
            &client,
            &format!("{url}/auth/passkey/generate-register-options"),
            json!({"password": password}),
            Some(&token),
        )
        .await;
        let credential = device.register(&started["options"]);
        post(
            &client,
            &format!("{url}/auth/passkey/verify-registration"),
            json!({"ceremonyId": started["ceremonyId"], "credential": credential}),
            Some(&token),
        )
        .await;
        devices.push(device);
    }

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut device in devices {
        let (client, url) = (client.clone(), url.clone());
        let (ok, failed) = (ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let res = client
                    .post(format!("{url}/auth/passkey/generate-authenticate-options"))
                    .send()
                    .await;
                let Ok(options) = res else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let options: Value = options.json().await.unwrap_or_default();
                let credential = device.assert(&options["options"]);
                let res = client
                    .post(format!("{url}/auth/sign-in/passkey"))
                    .json(&json!({"ceremonyId": options["ceremonyId"], "credential": credential}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        t.await.expect("a worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    println!(
        "passkey sign-ins/s: {:.1} (ok {ok}, failed {})",
        ok as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
}
