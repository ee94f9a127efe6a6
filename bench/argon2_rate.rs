//! Raw argon2id verification rate at latch's cost on all cores: the ceiling for
//! sign-ins per second. `argon2_rate SECONDS [MEMORY_KIB ITERATIONS PARALLELISM]`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let secs = args.first().copied().unwrap_or(5);
    let (m, t, p) = (
        args.get(1).copied().unwrap_or(19_456) as u32,
        args.get(2).copied().unwrap_or(2) as u32,
        args.get(3).copied().unwrap_or(1) as u32,
    );
    let params = Params::new(m, t, p, None).expect("params");
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let phc = argon
        .hash_password(b"correct horse battery staple")
        .expect("hash")
        .to_string();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let done = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| {
                let parsed = argon2::PasswordHash::new(&phc).expect("phc");
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                while Instant::now() < deadline {
                    argon
                        .verify_password(b"correct horse battery staple", &parsed)
                        .expect("verifies");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("{rate:.2}");
}
