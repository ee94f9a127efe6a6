//! Mail over SMTP to a real SMTP server on loopback (Python aiosmtpd, installed by
//! `.ci/run`). Without Python and aiosmtpd this test fails; it never skips.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::*;

struct SmtpServer {
    child: Child,
    maildir: tempfile::TempDir,
    port: u16,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_smtp() -> SmtpServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let maildir = tempfile::tempdir().unwrap();
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir(maildir.path().join(sub)).unwrap();
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let child = Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 with aiosmtpd is needed for the SMTP test (`pip install aiosmtpd`)");
    let server = SmtpServer {
        child,
        maildir,
        port,
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("aiosmtpd did not start on port {port}");
}

#[tokio::test]
async fn verification_mail_goes_out_over_smtp() {
    let smtp = start_smtp().await;
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let app = spawn_app_with(&[
        "--smtp-url",
        &url,
        "--mail-from",
        "Latch Test <auth@latch.test>",
    ])
    .await;
    app.sign_up("smtp@example.com", PASSWORD, "Smtp").await;

    let new = smtp.maildir.path().join("new");
    let mut found = None;
    for _ in 0..200 {
        if let Ok(entries) = std::fs::read_dir(&new)
            && let Some(e) = entries.flatten().next()
        {
            found = Some(std::fs::read(e.path()).unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let raw = found.expect("an email arrived at the SMTP server");
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains("From: \"Latch Test\" <auth@latch.test>")
            || text.contains("From: Latch Test <auth@latch.test>"),
        "{text}"
    );
    let (subject, body, html) =
        parse_mail(&raw, "smtp@example.com").expect("addressed to the user");
    assert_eq!(subject, "Verify your email address");
    let link = link_in(&body).expect("a link in the text part");
    assert!(html.contains(&link.replace('&', "&amp;")));
    // The link is real: it verifies the account.
    let r = app.get(&path_of(&link), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Nothing was written to the outbox.
    assert!(app.emails_to("smtp@example.com").is_empty());
}
