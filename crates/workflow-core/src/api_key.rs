//! API keys at rest (SEC-3): a store keeps only the SHA-256 digest of a user's key, and looks a
//! caller up by the digest of the key it presents. [`ApiKeyDigest::of`] is the one place a key
//! is hashed, so every adapter (and the fixture loader) agrees on the bytes.
//!
//! Why an unsalted, fast hash: API keys are random, high-entropy secrets minted by the operator,
//! not passwords a person chose, so a dictionary or rainbow table does not apply, and a lookup
//! must find the user from the key alone (a per-user salt would force a scan of every user).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;

/// The SHA-256 digest of an API key: what stores keep and look users up by, never the key.
///
/// Its `Debug` shows only the first bytes, and it serializes as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyDigest([u8; 32]);

impl ApiKeyDigest {
    /// The digest of a key in clear, as sent by a client (`Authorization: Bearer <key>`).
    pub fn of(key: &str) -> Self {
        ApiKeyDigest(Sha256::digest(key.as_bytes()).into())
    }

    /// A digest from its 32 bytes (as a store reads them back).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ApiKeyDigest(bytes)
    }

    /// A digest from a byte slice; `None` unless it is exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(ApiKeyDigest)
    }

    /// Its 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        use fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// Parse 64 hex digits (either case); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.as_bytes();
        if text.len() != 64 {
            return None;
        }
        let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let mut out = [0u8; 32];
        for (i, pair) in text.chunks_exact(2).enumerate() {
            out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(ApiKeyDigest(out))
    }
}

impl fmt::Debug for ApiKeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeyDigest({}…)", &self.to_hex()[..12])
    }
}

impl Serialize for ApiKeyDigest {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ApiKeyDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ApiKeyDigest::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("an API key digest is 64 hex digits"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// SEC-3: the digest is SHA-256 of the key's UTF-8 bytes (a known vector), so every adapter
    /// and a migration written in another language agree on it.
    #[test]
    fn sec_3_digest_is_sha256_of_the_key() {
        assert_eq!(
            ApiKeyDigest::of("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(ApiKeyDigest::of("sk-1"), ApiKeyDigest::of("sk-2"));
    }

    #[test]
    fn hex_and_bytes_round_trip() {
        let d = ApiKeyDigest::of("sk-test-12");
        assert_eq!(ApiKeyDigest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(ApiKeyDigest::from_hex(&d.to_hex().to_uppercase()), Some(d));
        assert_eq!(ApiKeyDigest::from_slice(d.as_bytes()), Some(d));
        assert_eq!(ApiKeyDigest::from_bytes(*d.as_bytes()), d);
        assert_eq!(ApiKeyDigest::from_slice(&[0; 31]), None);
        assert_eq!(ApiKeyDigest::from_hex("zz"), None);
        assert_eq!(ApiKeyDigest::from_hex(&"g".repeat(64)), None);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<ApiKeyDigest>(&json).unwrap(), d);
        assert!(!format!("{d:?}").contains(&d.to_hex()));
    }
}
