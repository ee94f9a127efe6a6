//! TOTP (RFC 6238) with the fixed parameters of docs/api.md §8.1: HMAC-SHA-1, 6 digits,
//! 30-second steps, the current step and one either side (§8.4), through `totp-rs`.

use crate::secret::Secret;

/// 160 bits (§8.1 rule 1; RFC 4226 §4 recommends 160).
const SECRET_LEN: usize = 20;
/// Seconds per step.
const STEP_SECS: u64 = 30;

/// A TOTP secret; `Debug` never prints it.
pub struct TotpSecret(Secret<Vec<u8>>);

impl TotpSecret {
    /// A new secret from the OS CSPRNG.
    pub fn generate() -> TotpSecret {
        let mut bytes = vec![0u8; SECRET_LEN];
        rand::fill(&mut bytes[..]);
        TotpSecret(Secret::new(bytes))
    }

    /// A stored secret (as opened from its sealed form); `None` when it is not one.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<TotpSecret> {
        (bytes.len() == SECRET_LEN).then(|| TotpSecret(Secret::new(bytes)))
    }

    pub fn bytes(&self) -> &[u8] {
        self.0.expose()
    }

    fn totp(&self, issuer: &str, account: &str) -> Result<totp_rs::Totp, totp_rs::TotpError> {
        totp_rs::Builder::new()
            .with_secret(self.0.expose().clone())
            .with_step_duration(STEP_SECS)
            .with_skew(1)
            .with_digits(6)
            .with_issuer(Some(issuer))
            .with_account_name(account)
            .build()
    }

    /// Base32 without padding (32 characters), for typing into an app.
    pub fn base32(&self) -> String {
        totp_rs::Secret::from(self.0.expose().clone()).to_base32()
    }

    /// `otpauth://totp/ISSUER:EMAIL?secret=…&issuer=ISSUER`, the label percent-encoded
    /// and the default parameters left out (§8.1 rule 2).
    pub fn uri(&self, issuer: &str, email: &str) -> anyhow::Result<String> {
        let totp = self
            .totp(issuer, email)
            .map_err(|e| anyhow::anyhow!("building the TOTP URI: {e}"))?;
        totp.to_url()
            .map_err(|e| anyhow::anyhow!("building the TOTP URI: {e}"))
    }

    /// The step (`unix time / 30`) whose code `code` is, within one step of `now_secs`;
    /// the comparison is constant-time (`totp-rs` compares tokens so).
    pub fn matching_step(&self, code: &str, now_secs: u64) -> Option<i64> {
        let totp = self.totp("latch", "check").ok()?;
        totp.check(code, now_secs)
            .and_then(|step| i64::try_from(step).ok())
    }

    /// The code of `step` (for tests, which compute codes from the secret as an
    /// authenticator app does).
    #[cfg(test)]
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp("latch", "check")
            .map(|t| t.generate(step * STEP_SECS).to_string())
            .unwrap_or_default()
    }
}

/// Whether `issuer` can be a TOTP issuer (`LATCH_TOTP_ISSUER`): not empty, no `:`.
pub fn totp_uri_is_valid_issuer(issuer: &str) -> bool {
    !issuer.is_empty() && !issuer.contains(':')
}

/// `uri` as an SVG QR code in a data URI (`data:image/svg+xml;base64,…`).
pub fn qr_data_uri(uri: &str) -> anyhow::Result<String> {
    use base64::Engine;
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| anyhow::anyhow!("QR code: {e}"))?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(image)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8-digit values; the last 6 digits are ours).
    #[test]
    fn codes_follow_rfc_6238() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap();
        for (time, expected) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            let step = time / STEP_SECS;
            assert_eq!(secret.code_at_step(step), expected[2..], "time {time}");
            assert_eq!(
                secret.matching_step(&expected[2..], time),
                Some(step as i64)
            );
        }
    }

    #[test]
    fn one_step_either_side_is_accepted_and_no_more() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_015;
        let step = now / STEP_SECS;
        for offset in [-1i64, 0, 1] {
            let s = (step as i64 + offset) as u64;
            assert_eq!(
                secret.matching_step(&secret.code_at_step(s), now),
                Some(s as i64)
            );
        }
        for offset in [-2i64, 2] {
            let s = (step as i64 + offset) as u64;
            let code = secret.code_at_step(s);
            // A far step's code may collide with a near one by chance (1 in 10^6).
            let near: Vec<String> = (step - 1..=step + 1)
                .map(|n| secret.code_at_step(n))
                .collect();
            if !near.contains(&code) {
                assert_eq!(secret.matching_step(&code, now), None);
            }
        }
    }

    #[test]
    fn secrets_are_160_bits_in_32_base32_characters() {
        let s = TotpSecret::generate();
        assert_eq!(s.bytes().len(), 20);
        let b32 = s.base32();
        assert_eq!(b32.len(), 32);
        assert!(
            b32.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
        assert_ne!(s.bytes(), TotpSecret::generate().bytes());
    }

    #[test]
    fn the_uri_has_the_label_and_issuer_and_no_default_parameters() {
        let s = TotpSecret::from_bytes(vec![0u8; 20]).unwrap();
        let uri = s.uri("Acme Co", "ada+x@example.com").unwrap();
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Co:ada%2Bx%40example.com?secret=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&issuer=Acme%20Co"
        );
    }

    /// The SVG drawn back into pixels (its dark modules are `M{x} {y}h{w}v{h}H{x}V{y}`
    /// rectangles on a light background) and read by a QR decoder, as an authenticator
    /// app's camera reads the screen.
    #[test]
    fn the_qr_code_reads_back_as_the_uri() {
        let secret = TotpSecret::generate();
        let uri = secret.uri("latch", "ada+x@example.com").unwrap();
        let data = qr_data_uri(&uri).unwrap();
        let b64 = data.strip_prefix("data:image/svg+xml;base64,").unwrap();
        use base64::Engine;
        let svg = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let svg = String::from_utf8(svg).unwrap();
        let attr = |name: &str| -> String {
            let key = format!(" {name}=\"");
            svg.split(key.as_str())
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        };
        let size: usize = attr("width").parse().unwrap();
        let path = attr("d");
        let mut dark = vec![false; size * size];
        for rect in path.split('M').filter(|r| !r.is_empty()) {
            let nums: Vec<usize> = rect
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty())
                .map(|n| n.parse().unwrap())
                .collect();
            let (x, y, w, h) = (nums[0], nums[1], nums[2], nums[3]);
            for yy in y..y + h {
                for xx in x..x + w {
                    dark[yy * size + xx] = true;
                }
            }
        }
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(size, size, |x, y| {
            if dark[y * size + x] { 0 } else { 255 }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, uri);
    }

    #[test]
    fn issuers_with_a_colon_are_refused() {
        assert!(totp_uri_is_valid_issuer("latch"));
        assert!(!totp_uri_is_valid_issuer("a:b"));
        assert!(!totp_uri_is_valid_issuer(""));
    }
}
