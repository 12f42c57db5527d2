//! Standard Webhooks signatures, symmetric scheme `v1` (HMAC-SHA256).
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the key is the base64-decoded
//! part of a `whsec_<base64>` secret; the header is `webhook-signature: v1,<base64 MAC>`, a
//! space-separated list when several secrets sign (rotation). The MAC is computed by the `hmac`
//! and `sha2` crates and compared in constant time (`Mac::verify_slice`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type HmacSha256 = Hmac<Sha256>;

/// The prefix that marks a symmetric Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The fewest key bytes a secret may have (Standard Webhooks: at least 24).
pub const MIN_SECRET_LEN: usize = 24;

/// The most key bytes a secret may have (Standard Webhooks: at most 64).
pub const MAX_SECRET_LEN: usize = 64;

/// How far a `webhook-timestamp` may be from the verifier's clock, either way: 5 minutes, the
/// tolerance the Standard Webhooks libraries use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// A signing secret: the key bytes of a `whsec_<base64>` string.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// A secret string was unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// After the optional `whsec_` prefix, the text is not standard base64.
    #[error("not base64 after the optional `whsec_` prefix")]
    NotBase64,
    /// The key has too few or too many bytes.
    #[error("{0} key bytes; a Standard Webhooks secret has {MIN_SECRET_LEN} to {MAX_SECRET_LEN}")]
    Length(usize),
}

/// The secret file was unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretFileError {
    /// Reading the file failed.
    #[error(
        "webhook secret file {path}: {source} (create one with: \
         echo \"whsec_$(head -c 32 /dev/urandom | base64)\" > {path} && chmod 600 {path}, \
         and give the same secret to the receiver)"
    )]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a secret.
    #[error("webhook secret file {path}, line {line}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: SecretError,
    },
    /// No secret in the file.
    #[error("webhook secret file {path}: no secret (one `whsec_<base64>` per line)")]
    Empty {
        /// The file.
        path: String,
    },
}

/// Why a delivery did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// `webhook-timestamp` is not a decimal count of seconds since the epoch.
    #[error("webhook-timestamp is not an integer unix timestamp")]
    BadTimestamp,
    /// `webhook-timestamp` is further in the past than the tolerance (a replay, or a clock off).
    #[error("webhook-timestamp is {0} s old, past the tolerance")]
    TooOld(u64),
    /// `webhook-timestamp` is further in the future than the tolerance.
    #[error("webhook-timestamp is {0} s in the future, past the tolerance")]
    TooNew(u64),
    /// No `v1` signature of the header matches the secret, id, timestamp and body.
    #[error("no matching v1 signature")]
    NoMatchingSignature,
}

/// The three Standard Webhooks headers of one delivery, as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedHeaders<'a> {
    /// `webhook-id`.
    pub id: &'a str,
    /// `webhook-timestamp`.
    pub timestamp: &'a str,
    /// `webhook-signature`.
    pub signature: &'a str,
}

impl WebhookSecret {
    /// A secret of these key bytes (24 to 64 of them).
    pub fn new(key: Vec<u8>) -> Result<Self, SecretError> {
        if (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&key.len()) {
            Ok(WebhookSecret(key))
        } else {
            Err(SecretError::Length(key.len()))
        }
    }

    /// Parse `whsec_<base64>` (the prefix is optional; surrounding whitespace is ignored).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        WebhookSecret::new(key)
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The signature `v1,<base64>` of `body` sent as message `id` at `timestamp` (unix seconds).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self
            .mac(id, &timestamp.to_string(), body)
            .finalize()
            .into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }

    /// Verify one delivery at `now`: its timestamp within `tolerance` of `now`, and one `v1`
    /// entry of its signature header matching (constant-time comparison). Entries of other
    /// versions (`v1a`, …) and malformed entries are skipped, as the specification asks.
    pub fn verify(
        &self,
        headers: &SignedHeaders<'_>,
        body: &[u8],
        now: SystemTime,
        tolerance: Duration,
    ) -> Result<(), VerifyError> {
        check_timestamp(headers.timestamp, now, tolerance)?;
        let mac = self.mac(headers.id, headers.timestamp, body);
        let matches = headers
            .signature
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|encoded| STANDARD.decode(encoded).ok())
            .any(|tag| mac.clone().verify_slice(&tag).is_ok());
        if matches {
            Ok(())
        } else {
            Err(VerifyError::NoMatchingSignature)
        }
    }
}

/// The `webhook-signature` header of a delivery: one `v1,<base64>` per secret, space-separated.
pub fn signature_header(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_timestamp(text: &str, now: SystemTime, tolerance: Duration) -> Result<(), VerifyError> {
    // Digits only: the signed bytes are the header's text, so `+1`, ` 1` or `01` must not pass
    // as the same instant.
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    let sent: u64 = text.parse().map_err(|_| VerifyError::BadTimestamp)?;
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let tolerance = tolerance.as_secs();
    if sent + tolerance < now {
        Err(VerifyError::TooOld(now - sent))
    } else if sent > now + tolerance {
        Err(VerifyError::TooNew(sent - now))
    } else {
        Ok(())
    }
}

/// Read the secret file: one `whsec_<base64>` per non-empty line. Every secret signs each
/// delivery (the signature header lists one signature per secret), so a receiver holding any of
/// them verifies it: to rotate, add the new secret as a line, move the receivers to it, then
/// remove the old line. The file is never created: the same secret must be given to the
/// receiver, so it is made by whoever sets both up.
pub fn load_secrets(path: &Path) -> Result<Vec<WebhookSecret>, SecretFileError> {
    let display = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SecretFileError::Io {
        path: display(),
        source,
    })?;
    let mut secrets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let secret = WebhookSecret::parse(line).map_err(|reason| SecretFileError::Invalid {
            path: display(),
            line: i + 1,
            reason,
        })?;
        secrets.push(secret);
    }
    if secrets.is_empty() {
        return Err(SecretFileError::Empty { path: display() });
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // The test vector of the Standard Webhooks reference libraries (their `sign` tests).
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1614265330;
    const VECTOR_BODY: &str = r#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(secs: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    }

    fn vector_headers<'a>(timestamp: &'a str, signature: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            id: VECTOR_ID,
            timestamp,
            signature,
        }
    }

    /// HOOK-1: the signature of the Standard Webhooks test vector, with and without the
    /// `whsec_` prefix.
    #[test]
    fn hook_1_signature_matches_the_standard_webhooks_test_vector() {
        for text in [VECTOR_SECRET, &VECTOR_SECRET[SECRET_PREFIX.len()..]] {
            let secret = WebhookSecret::parse(text).unwrap();
            assert_eq!(
                secret.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY.as_bytes()),
                VECTOR_SIGNATURE
            );
        }
    }

    /// HOOK-1: several secrets give a space-separated list, one `v1` entry per secret, in order.
    #[test]
    fn hook_1_several_secrets_give_a_space_separated_list() {
        let a = WebhookSecret::parse(VECTOR_SECRET).unwrap();
        let b = WebhookSecret::new(vec![9; 32]).unwrap();
        let header = signature_header(&[a, b.clone()], VECTOR_ID, VECTOR_TIMESTAMP, b"{}");
        let entries: Vec<&str> = header.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1], b.sign(VECTOR_ID, VECTOR_TIMESTAMP, b"{}"));
        assert!(entries[0].starts_with("v1,") && entries[0] != entries[1]);
    }

    /// HOOK-2: the test vector verifies at its own time and within the tolerance; a list with
    /// foreign versions and garbage before the matching entry verifies too.
    #[test]
    fn hook_2_the_test_vector_verifies() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).unwrap();
        let ts = VECTOR_TIMESTAMP.to_string();
        let body = VECTOR_BODY.as_bytes();
        for now in [
            VECTOR_TIMESTAMP,
            VECTOR_TIMESTAMP + 300,
            VECTOR_TIMESTAMP - 300,
        ] {
            assert_eq!(
                secret.verify(
                    &vector_headers(&ts, VECTOR_SIGNATURE),
                    body,
                    at(now),
                    DEFAULT_TOLERANCE
                ),
                Ok(())
            );
        }
        let list = format!(
            "v1a,AAAA v2,{} v1,!!notbase64 {VECTOR_SIGNATURE}",
            &VECTOR_SIGNATURE[3..]
        );
        assert_eq!(
            secret.verify(
                &vector_headers(&ts, &list),
                body,
                at(VECTOR_TIMESTAMP),
                DEFAULT_TOLERANCE
            ),
            Ok(())
        );
    }

    /// HOOK-2: a tampered body, id or timestamp, a wrong secret and a stale or future timestamp
    /// are refused.
    #[test]
    fn hook_2_tampering_wrong_secret_and_stale_timestamps_are_refused() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).unwrap();
        let ts = VECTOR_TIMESTAMP.to_string();
        let now = at(VECTOR_TIMESTAMP);
        let body = VECTOR_BODY.as_bytes();
        let ok = vector_headers(&ts, VECTOR_SIGNATURE);
        let verify = |s: &WebhookSecret, h: &SignedHeaders<'_>, body: &[u8], now| {
            s.verify(h, body, now, DEFAULT_TOLERANCE)
        };
        assert_eq!(verify(&secret, &ok, body, now), Ok(()));
        // Tampered body: one byte changed, one appended.
        assert_eq!(
            verify(&secret, &ok, br#"{"test": 2432232315}"#, now),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verify(&secret, &ok, format!("{VECTOR_BODY} ").as_bytes(), now),
            Err(VerifyError::NoMatchingSignature)
        );
        // Another id; another timestamp (still within the tolerance).
        let other_id = SignedHeaders {
            id: "msg_p5jXN8AQM9LWM0D4loKWxJel",
            ..ok
        };
        assert_eq!(
            verify(&secret, &other_id, body, now),
            Err(VerifyError::NoMatchingSignature)
        );
        let later = (VECTOR_TIMESTAMP + 1).to_string();
        assert_eq!(
            verify(
                &secret,
                &vector_headers(&later, VECTOR_SIGNATURE),
                body,
                now
            ),
            Err(VerifyError::NoMatchingSignature)
        );
        // Wrong secret.
        let wrong = WebhookSecret::new(vec![0x42; 24]).unwrap();
        assert_eq!(
            verify(&wrong, &ok, body, now),
            Err(VerifyError::NoMatchingSignature)
        );
        // Stale and future timestamps, just past the tolerance, even with a valid signature.
        assert_eq!(
            verify(&secret, &ok, body, at(VECTOR_TIMESTAMP + 301)),
            Err(VerifyError::TooOld(301))
        );
        assert_eq!(
            verify(&secret, &ok, body, at(VECTOR_TIMESTAMP - 301)),
            Err(VerifyError::TooNew(301))
        );
        // Not an integer, or not in canonical digits.
        for bad in [
            "",
            "hello",
            "+1614265330",
            " 1614265330",
            "1614265330.0",
            "-5",
        ] {
            assert_eq!(
                verify(&secret, &vector_headers(bad, VECTOR_SIGNATURE), body, now),
                Err(VerifyError::BadTimestamp),
                "{bad:?}"
            );
        }
        // No signature, or only other versions.
        for header in [
            "",
            "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v1,",
        ] {
            assert_eq!(
                verify(&secret, &vector_headers(&ts, header), body, now),
                Err(VerifyError::NoMatchingSignature)
            );
        }
    }

    /// Secrets: base64 with an optional prefix, 24 to 64 key bytes.
    #[test]
    fn secrets_parse_with_bounds() {
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!"),
            Err(SecretError::NotBase64)
        );
        assert_eq!(
            WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([1u8; 23]))),
            Err(SecretError::Length(23))
        );
        assert_eq!(
            WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([1u8; 65]))),
            Err(SecretError::Length(65))
        );
        assert!(WebhookSecret::parse(&format!("  whsec_{}\n", STANDARD.encode([1u8; 64]))).is_ok());
        assert_eq!(
            format!("{:?}", WebhookSecret::new(vec![1; 24]).unwrap()),
            "WebhookSecret(..)"
        );
    }

    /// The secret file: one secret per non-empty line; a bad line is named; an empty file and a
    /// missing one are errors (never created).
    #[test]
    fn secret_file_lines() {
        let dir = std::env::temp_dir().join(format!("wf-webhook-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        std::fs::write(
            &path,
            format!("{VECTOR_SECRET}\n\nwhsec_{}\n", STANDARD.encode([5u8; 32])),
        )
        .unwrap();
        assert_eq!(load_secrets(&path).unwrap().len(), 2);
        std::fs::write(&path, format!("{VECTOR_SECRET}\nwhsec_???\n")).unwrap();
        assert!(matches!(
            load_secrets(&path),
            Err(SecretFileError::Invalid {
                line: 2,
                reason: SecretError::NotBase64,
                ..
            })
        ));
        std::fs::write(&path, "\n \n").unwrap();
        assert!(matches!(
            load_secrets(&path),
            Err(SecretFileError::Empty { .. })
        ));
        std::fs::remove_file(&path).unwrap();
        let missing = load_secrets(&path).unwrap_err();
        assert!(matches!(missing, SecretFileError::Io { .. }));
        assert!(missing.to_string().contains("whsec_"), "{missing}");
        assert!(!path.exists(), "a missing secret file is not created");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
