//! A software passkey for the integration tests: the browser and the authenticator in one.
//!
//! It is written by hand from the WebAuthn Level 3 and CTAP2 specifications (client data,
//! authenticator data, "none" attestation, COSE keys, ES256 assertions) and shares no code
//! with the WebAuthn library latch uses, so the tests hold latch to the spec rather than
//! letting one crate produce the answers it then checks. Its output is the JSON a browser's
//! `PublicKeyCredential.toJSON()` gives, which is what a front end posts to latch.
//!
//! `Tweaks` break one thing at a time for the tests that expect a refusal.

// Each test uses a few of the knobs; the rest would warn as unused.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE_NO_PAD, URL_SAFE_NO_PAD_INDIFFERENT};
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// Authenticator data flags (WebAuthn §6.1).
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;
/// COSE algorithm ES256: ECDSA on P-256 with SHA-256.
const ES256: i64 = -7;
/// DER SubjectPublicKeyInfo header of an uncompressed P-256 key (id-ecPublicKey, prime256v1);
/// with the 65-byte SEC1 point after it, the `publicKey` of a browser's toJSON().
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Base64url without padding, the encoding of every binary field in WebAuthn JSON.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Base64url, padded or not. Panics on anything else: a fixture or an answer is malformed.
pub fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD_INDIFFERENT
        .decode(s)
        .unwrap_or_else(|e| panic!("not base64url ({e}): {s:?}"))
}

/// One discoverable credential (passkey) held by the device.
#[derive(Clone, Debug)]
pub struct DeviceCredential {
    pub id: Vec<u8>,
    pub user_handle: Vec<u8>,
    key: SigningKey,
    pub counter: u32,
    pub backup_eligible: bool,
    pub backed_up: bool,
}

impl DeviceCredential {
    /// The public key as an uncompressed SEC1 point (0x04 | x | y).
    pub fn public_key_sec1(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_point(false);
        point.as_bytes().to_vec()
    }
}

/// Ways to break one ceremony. Every field left at its default gives the honest answer.
#[derive(Default, Clone, Debug)]
pub struct Tweaks {
    /// clientDataJSON.origin instead of the device's. Keep it a URL: latch's library parses
    /// it as one, and a non-URL fails parsing rather than the origin check.
    pub origin: Option<String>,
    /// Hash this RP ID into the authenticator data instead of the device's.
    pub rp_id: Option<String>,
    /// The UV flag (default true). UP is always set.
    pub user_verified: Option<bool>,
    /// Sign this challenge instead of the one in the options.
    pub challenge: Option<Vec<u8>>,
    /// Sign count to report instead of the usual one; an assertion also stores it.
    pub counter: Option<u32>,
    /// Assertion: report this userHandle instead of the credential's; empty reports null.
    pub user_handle: Option<Vec<u8>>,
    /// Registration: create the credential under this id. Assertion: report this id
    /// (id and rawId) while signing with the chosen credential.
    pub credential_id: Option<Vec<u8>>,
    /// (backup eligible, backed up): the BE and BS flags. An assertion does not store them.
    pub backup: Option<(bool, bool)>,
}

/// A platform authenticator for one origin and RP ID, holding any number of passkeys.
#[derive(Clone, Debug)]
pub struct PasskeyDevice {
    credentials: Vec<DeviceCredential>,
    pub origin: String,
    pub rp_id: String,
    /// Whether sign counts advance on each assertion. Synced passkeys report 0 forever,
    /// which a relying party must accept.
    pub counting: bool,
    /// BE/BS flags of new credentials when `Tweaks::backup` does not say.
    pub backup: (bool, bool),
}

impl PasskeyDevice {
    /// A device-bound authenticator: counters advance, credentials are not backed up.
    pub fn new(origin: &str, rp_id: &str) -> Self {
        Self {
            credentials: Vec::new(),
            origin: origin.to_owned(),
            rp_id: rp_id.to_owned(),
            counting: true,
            backup: (false, false),
        }
    }

    /// A synced passkey provider: counters stay 0, credentials are backup eligible and backed up.
    pub fn new_synced(origin: &str, rp_id: &str) -> Self {
        let device = Self::new(origin, rp_id);
        Self {
            counting: false,
            backup: (true, true),
            ..device
        }
    }

    pub fn credentials(&self) -> &[DeviceCredential] {
        &self.credentials
    }

    /// To change a stored credential between ceremonies (counter, flags).
    pub fn credentials_mut(&mut self) -> &mut [DeviceCredential] {
        &mut self.credentials
    }

    /// Answers `navigator.credentials.create` and stores the new credential.
    pub fn register(&mut self, options: &Value) -> Value {
        self.register_with(options, &Tweaks::default())
    }

    /// `register` with tweaks. `options` is PublicKeyCredentialCreationOptionsJSON, bare or
    /// wrapped in `{"publicKey": ...}`. Like a lenient browser it does not judge rp.id,
    /// pubKeyCredParams or excludeCredentials: that is the server's job under test.
    pub fn register_with(&mut self, options: &Value, tweaks: &Tweaks) -> Value {
        let options = public_key(options);
        let client_data = self.client_data("webauthn.create", options, tweaks);
        let user_handle = unb64(field(options, &["user", "id"]));
        let id = tweaks
            .credential_id
            .clone()
            .unwrap_or_else(|| random_bytes(32));
        let (key, backup) = (new_key(), tweaks.backup.unwrap_or(self.backup));
        let counter = tweaks.counter.unwrap_or(0);

        let point = key.verifying_key().to_sec1_point(false);
        let sec1 = point.as_bytes(); // 0x04 | x | y
        let mut auth_data = self.auth_data(tweaks, FLAG_AT, backup, counter);
        auth_data.extend_from_slice(&[0; 16]); // AAGUID: zero under "none" attestation
        let id_len = u16::try_from(id.len()).expect("a credential id fits in 16 bits");
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose_es256_key(&sec1[1..33], &sec1[33..65]));

        // {"fmt": "none", "attStmt": {}, "authData": ...}, keys in CTAP2 canonical order.
        let mut attestation = Vec::new();
        cbor_head(&mut attestation, MAP, 3);
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        cbor_head(&mut attestation, MAP, 0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);

        // A browser answers credProps for a discoverable credential it made.
        let extensions = match options["extensions"]["credProps"].as_bool() {
            Some(true) => json!({"credProps": {"rk": true}}),
            _ => json!({}),
        };
        let response = json!({
            "clientDataJSON": b64(&client_data),
            "attestationObject": b64(&attestation),
            "transports": ["internal"],
            "authenticatorData": b64(&auth_data),
            "publicKey": b64(&[&SPKI_P256_PREFIX[..], sec1].concat()),
            "publicKeyAlgorithm": ES256,
        });
        let answer = credential_json(&id, response, extensions);
        let (backup_eligible, backed_up) = backup;
        let credential = DeviceCredential {
            id,
            user_handle,
            key,
            counter,
            backup_eligible,
            backed_up,
        };
        self.credentials.push(credential);
        answer
    }

    /// Answers `navigator.credentials.get` with the most recent credential named in
    /// allowCredentials, or the most recent of all when the list is empty (discoverable
    /// sign-in) or names none of them (then the server should refuse).
    pub fn assert(&mut self, options: &Value) -> Value {
        let allowed: Vec<Vec<u8>> = public_key(options)["allowCredentials"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|c| c["id"].as_str())
                    .map(unb64)
                    .collect()
            })
            .unwrap_or_default();
        let last = self
            .credentials
            .len()
            .checked_sub(1)
            .expect("the device holds no credential");
        let index = self
            .credentials
            .iter()
            .rposition(|c| allowed.contains(&c.id))
            .unwrap_or(last);
        self.assert_with(options, index, &Tweaks::default())
    }

    /// Answers `navigator.credentials.get` with the credential at `index`. Its counter goes up
    /// by one first (to `tweaks.counter` if set; unchanged when the device does not count).
    pub fn assert_with(&mut self, options: &Value, index: usize, tweaks: &Tweaks) -> Value {
        let held = self.credentials.len();
        assert!(
            index < held,
            "no credential {index}: the device holds {held}"
        );
        let client_data = self.client_data("webauthn.get", public_key(options), tweaks);

        let counting = self.counting;
        let stored = &mut self.credentials[index];
        stored.counter = match tweaks.counter {
            Some(counter) => counter,
            None if counting => stored.counter.wrapping_add(1),
            None => stored.counter,
        };

        let credential = &self.credentials[index];
        let backup = tweaks
            .backup
            .unwrap_or((credential.backup_eligible, credential.backed_up));
        let auth_data = self.auth_data(tweaks, 0, backup, credential.counter);
        // The signature covers authenticatorData || SHA-256(clientDataJSON) (WebAuthn §6.3.3).
        let signed = [auth_data.as_slice(), &sha256(&client_data)[..]].concat();
        let signature: Signature = credential.key.sign(&signed);
        let handle = tweaks
            .user_handle
            .as_ref()
            .unwrap_or(&credential.user_handle);
        let user_handle = (!handle.is_empty()).then(|| b64(handle)); // empty: null
        let response = json!({
            "clientDataJSON": b64(&client_data),
            "authenticatorData": b64(&auth_data),
            "signature": b64(signature.to_der().as_bytes()),
            "userHandle": user_handle,
        });
        let id = tweaks.credential_id.as_ref().unwrap_or(&credential.id);
        credential_json(id, response, json!({}))
    }

    /// CollectedClientData as browsers serialize it: members in spec order, no spaces.
    fn client_data(&self, kind: &str, options: &Value, tweaks: &Tweaks) -> Vec<u8> {
        let challenge = match &tweaks.challenge {
            Some(challenge) => b64(challenge),
            None => field(options, &["challenge"]).to_owned(),
        };
        let origin = tweaks.origin.as_deref().unwrap_or(&self.origin);
        let [kind, challenge, origin] = [kind, challenge.as_str(), origin].map(Value::from);
        format!(
            r#"{{"type":{kind},"challenge":{challenge},"origin":{origin},"crossOrigin":false}}"#
        )
        .into_bytes()
    }

    /// rpIdHash | flags | signCount: authenticator data up to the attested credential data.
    fn auth_data(&self, tweaks: &Tweaks, flags: u8, backup: (bool, bool), counter: u32) -> Vec<u8> {
        let rp_id = tweaks.rp_id.as_deref().unwrap_or(&self.rp_id);
        let mut flags = flags | FLAG_UP;
        for (on, flag) in [
            (tweaks.user_verified.unwrap_or(true), FLAG_UV),
            (backup.0, FLAG_BE),
            (backup.1, FLAG_BS),
        ] {
            if on {
                flags |= flag;
            }
        }
        let mut data = sha256(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&counter.to_be_bytes());
        data
    }
}

/// The `PublicKeyCredential.toJSON()` envelope around a response.
fn credential_json(id: &[u8], response: Value, extensions: Value) -> Value {
    json!({
        "id": b64(id),
        "rawId": b64(id),
        "type": "public-key",
        "response": response,
        "clientExtensionResults": extensions,
        "authenticatorAttachment": "platform",
    })
}

/// webauthn-rs wraps options as `{"publicKey": {...}}`; the browser JSON form is the inner object.
fn public_key(options: &Value) -> &Value {
    options.get("publicKey").unwrap_or(options)
}

fn field<'a>(options: &'a Value, path: &[&str]) -> &'a str {
    let value = path.iter().fold(options, |value, key| &value[*key]);
    value
        .as_str()
        .unwrap_or_else(|| panic!("options lack {}: {options}", path.join(".")))
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(&Sha256::digest(data));
    out
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rand::fill(&mut bytes[..]);
    bytes
}

/// A fresh P-256 key from 32 random bytes; the rare out-of-range scalar is drawn again.
fn new_key() -> SigningKey {
    loop {
        if let Ok(key) = SigningKey::from_slice(&random_bytes(32)) {
            return key;
        }
    }
}

/// The credential public key as a COSE_Key (RFC 9053 EC2), keys in canonical order:
/// {1 (kty): 2 (EC2), 3 (alg): -7 (ES256), -1 (crv): 1 (P-256), -2 (x): .., -3 (y): ..}.
fn cose_es256_key(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    cbor_head(&mut out, MAP, 5);
    for (key, value) in [(1, 2), (3, ES256), (-1, 1)] {
        cbor_int(&mut out, key);
        cbor_int(&mut out, value);
    }
    cbor_int(&mut out, -2);
    cbor_bytes(&mut out, x);
    cbor_int(&mut out, -3);
    cbor_bytes(&mut out, y);
    out
}

// A minimal CBOR encoder (RFC 8949): the major types WebAuthn needs, shortest heads.
const UINT: u8 = 0;
const NEGINT: u8 = 1;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const MAP: u8 = 5;

fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let major = major << 5;
    if n < 24 {
        out.push(major | n as u8);
    } else if let Ok(n) = u8::try_from(n) {
        out.extend_from_slice(&[major | 24, n]);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(major | 25);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = u32::try_from(n) {
        out.push(major | 26);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn cbor_int(out: &mut Vec<u8>, v: i64) {
    match u64::try_from(v) {
        Ok(n) => cbor_head(out, UINT, n),
        Err(_) => cbor_head(out, NEGINT, v.unsigned_abs() - 1), // encodes -1 - v
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    cbor_head(out, BYTES, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, TEXT, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

#[test]
fn cbor_encodes_small_and_long_lengths() {
    let heads: [(u8, u64, &[u8]); 9] = [
        (UINT, 0, &[0x00]),
        (UINT, 23, &[0x17]),
        (UINT, 24, &[0x18, 24]),
        (UINT, 255, &[0x18, 0xff]),
        (UINT, 256, &[0x19, 0x01, 0x00]),
        (UINT, 65_536, &[0x1a, 0, 1, 0, 0]),
        (UINT, 1 << 32, &[0x1b, 0, 0, 0, 1, 0, 0, 0, 0]),
        (MAP, 5, &[0xa5]),
        (BYTES, 300, &[0x59, 0x01, 0x2c]),
    ];
    for (major, n, want) in heads {
        let mut out = Vec::new();
        cbor_head(&mut out, major, n);
        assert_eq!(out, want, "head of major type {major}, length {n}");
    }
    let ints: [(i64, &[u8]); 6] = [
        (1, &[0x01]),
        (-1, &[0x20]),
        (-7, &[0x26]),
        (-24, &[0x37]),
        (-25, &[0x38, 0x18]),
        (-257, &[0x39, 0x01, 0x00]),
    ];
    for (v, want) in ints {
        let mut out = Vec::new();
        cbor_int(&mut out, v);
        assert_eq!(out, want, "integer {v}");
    }
    let mut out = Vec::new();
    cbor_text(&mut out, "fmt");
    cbor_bytes(&mut out, &[7; 32]);
    assert_eq!(out[..6], *b"\x63fmt\x58\x20");
    assert_eq!(out.len(), 4 + 2 + 32);
}

#[test]
fn signature_verifies_with_the_public_key() {
    use p256::ecdsa::{VerifyingKey, signature::Verifier};
    let text = |value: &Value| unb64(value.as_str().expect("a base64url string"));

    let mut device = PasskeyDevice::new("https://login.example.test", "example.test");
    let registration = device.register(&json!({"publicKey": {
        "challenge": b64(b"registration challenge"),
        "rp": {"id": "example.test", "name": "Example"},
        "user": {"id": b64(b"user-1"), "name": "ada", "displayName": "Ada"},
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
    }}));
    let client_data: Value =
        serde_json::from_slice(&text(&registration["response"]["clientDataJSON"])).unwrap();
    assert_eq!(client_data["type"], "webauthn.create");
    assert_eq!(client_data["challenge"], b64(b"registration challenge"));
    assert_eq!(client_data["origin"], "https://login.example.test");

    // Read the key back out of the attestation object, as a relying party does.
    let attestation = text(&registration["response"]["attestationObject"]);
    let auth_data = text(&registration["response"]["authenticatorData"]);
    assert_eq!(
        attestation[..28],
        b"\xa3\x63fmt\x64none\x67attStmt\xa0\x68authData"[..]
    );
    assert_eq!(attestation[28..30], [0x58, 164]);
    assert_eq!(attestation[30..], auth_data[..]);
    assert_eq!(auth_data[..32], sha256(b"example.test"));
    assert_eq!(auth_data[32], FLAG_UP | FLAG_UV | FLAG_AT);
    assert_eq!(auth_data[33..53], [0u8; 20]); // sign count 0, zero AAGUID
    assert_eq!(auth_data[53..55], [0, 32]); // credential id length
    assert_eq!(auth_data[55..87], text(&registration["rawId"])[..]);
    let cose = &auth_data[87..];
    assert_eq!(cose.len(), 77);
    assert_eq!(
        cose[..10],
        [0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]
    );
    assert_eq!(cose[42..45], [0x22, 0x58, 0x20]);
    let sec1 = [&[0x04][..], &cose[10..42], &cose[45..77]].concat();
    assert_eq!(sec1, device.credentials()[0].public_key_sec1());
    let public_key = VerifyingKey::from_sec1_bytes(&sec1).unwrap();

    let assertion = device.assert(&json!({"publicKey": {
        "challenge": b64(b"assertion challenge"),
        "rpId": "example.test",
        "allowCredentials": [],
        "userVerification": "required",
    }}));
    let response = &assertion["response"];
    let auth_data = text(&response["authenticatorData"]);
    assert_eq!(auth_data.len(), 37);
    assert_eq!(auth_data[32], FLAG_UP | FLAG_UV);
    assert_eq!(auth_data[33..37], 1u32.to_be_bytes());
    assert_eq!(text(&response["userHandle"]), b"user-1");
    assert_eq!(assertion["rawId"], registration["rawId"]);

    let mut signed = [
        auth_data.as_slice(),
        &sha256(&text(&response["clientDataJSON"]))[..],
    ]
    .concat();
    let signature = Signature::from_der(&text(&response["signature"])).unwrap();
    public_key
        .verify(&signed, &signature)
        .expect("the assertion signature verifies");
    signed[33] ^= 1;
    assert!(public_key.verify(&signed, &signature).is_err());
}
