//! The benchmark's baseline: a bare axum handler answering a fixed JSON body of the
//! size of `GET /auth/session`, with no database work. `baseline ADDR BODY_BYTES`.

use axum::Router;
use axum::http::header;
use axum::routing::get;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9501".into());
    let size: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(450);
    // A JSON object padded to `size` bytes.
    let pad = size.saturating_sub(r#"{"session":""}"#.len());
    let body: &'static str =
        Box::leak(format!(r#"{{"session":"{}"}}"#, "x".repeat(pad)).into_boxed_str());
    let app = Router::new().route(
        "/auth/session",
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], body) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("listening on {}", listener.local_addr().expect("addr"));
    axum::serve(listener, app).await.expect("serve");
}
