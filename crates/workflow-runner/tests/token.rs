//! Callback tokens at the crate level: what is minted verifies, and every refusal of RTOK-3
//! (forged, altered, truncated, expired, another tenant's) is refused; RTOK-4 rotation; the
//! secret file (RTOK-1, SEC-4).
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use workflow_core::{RunId, TenantId, UserId};
use workflow_runner::token::{is_token, TokenClaims, TokenError, TokenKeys};

fn claims() -> TokenClaims {
    TokenClaims {
        tenant_id: TenantId(uuid::Uuid::from_u128(1)),
        run_id: RunId(uuid::Uuid::from_u128(2)),
        attempt: 3,
        user_id: UserId(uuid::Uuid::from_u128(4)),
        expires_at: 2_000_000_000,
    }
}

fn at(secs: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

fn keys(byte: u8) -> TokenKeys {
    TokenKeys::new(vec![byte; 32], None).unwrap()
}

/// RTOK-1: a minted token verifies to exactly its claims, up to and including its expiry second.
#[test]
fn rtok_1_minted_tokens_verify_to_their_claims() {
    let k = keys(7);
    let t = k.mint(&claims());
    assert!(is_token(&t));
    assert_eq!(k.verify(&t, at(1_000)), Ok(claims()));
    assert_eq!(k.verify(&t, at(2_000_000_000)), Ok(claims()));
}

/// RTOK-3: expired, forged (another secret), altered (any byte of it), truncated, and another
/// tenant's claims (re-signed by nobody) are all refused.
#[test]
fn rtok_3_every_tampering_is_refused() {
    let k = keys(7);
    let t = k.mint(&claims());
    assert_eq!(k.verify(&t, at(2_000_000_001)), Err(TokenError::Expired));
    assert_eq!(keys(8).verify(&t, at(0)), Err(TokenError::BadSignature));
    for i in 0..t.len() {
        let mut bytes = t.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        assert!(
            k.verify(&altered, at(0)).is_err(),
            "byte {i} altered: {altered}"
        );
    }
    for n in 0..t.len() {
        assert!(k.verify(&t[..n], at(0)).is_err(), "truncated to {n}");
    }
    // Claims naming another tenant, carrying the original signature.
    let (_, sig) = t.rsplit_once('.').unwrap();
    let mut other = claims();
    other.tenant_id = TenantId(uuid::Uuid::from_u128(99));
    let body = k.mint(&other);
    let (body, _) = body.rsplit_once('.').unwrap();
    assert_eq!(
        k.verify(&format!("{body}.{sig}"), at(0)),
        Err(TokenError::BadSignature)
    );
}

/// RTOK-3: a token signed for one tenant does not verify for another: the key is derived per
/// tenant, so the same claims under another tenant's key give another signature.
#[test]
fn rtok_3_keys_are_per_tenant() {
    let k = keys(7);
    let mut a = claims();
    let ta = k.mint(&a);
    a.tenant_id = TenantId(uuid::Uuid::from_u128(5));
    let tb = k.mint(&a);
    let sig = |t: &str| t.rsplit_once('.').unwrap().1.to_owned();
    assert_ne!(sig(&ta), sig(&tb));
}

/// RTOK-4: after rotation (new current, old previous) tokens of both secrets verify; a token of
/// a secret dropped from the file no longer does.
#[test]
fn rtok_4_rotation_accepts_current_and_previous() {
    let old = keys(1).mint(&claims());
    let rotated = TokenKeys::new(vec![2; 32], Some(vec![1; 32])).unwrap();
    let new = rotated.mint(&claims());
    assert_eq!(rotated.verify(&old, at(0)), Ok(claims()));
    assert_eq!(rotated.verify(&new, at(0)), Ok(claims()));
    assert_eq!(keys(2).verify(&old, at(0)), Err(TokenError::BadSignature));
    assert!(
        TokenKeys::new(vec![1; 31], None).is_err(),
        "short secrets are refused"
    );
}

/// RTOK-1, SEC-4: a missing secret file is created 0600 with one random secret; loading it again
/// gives the same keys; the file is never rewritten; a bad file is refused.
#[test]
fn rtok_1_secret_file_created_0600_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.secret");
    let a = TokenKeys::load_or_create(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    let b = TokenKeys::load_or_create(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let t = a.mint(&claims());
    assert_eq!(b.verify(&t, at(0)), Ok(claims()));
    // Rotation through the file: a new first line, the old one second.
    std::fs::write(&path, format!("{}\n{}", "ab".repeat(32), text.trim())).unwrap();
    let c = TokenKeys::load_or_create(&path).unwrap();
    assert_eq!(c.verify(&t, at(0)), Ok(claims()));
    for bad in ["", "zz", "abcd", "ab\nab\nab"] {
        std::fs::write(&path, bad).unwrap();
        assert!(TokenKeys::load_or_create(&path).is_err(), "{bad:?}");
    }
}

proptest! {
    /// RTOK-3: no string is accepted unless it was minted: random strings, and random strings
    /// behind the token prefix, never verify.
    #[test]
    fn rtok_3_random_strings_never_verify(s in ".*", tail in "[A-Za-z0-9_.-]{0,200}") {
        let k = keys(7);
        prop_assert!(k.verify(&s, at(0)).is_err());
        let prefixed = format!("wrt1.{tail}");
        prop_assert!(k.verify(&prefixed, at(0)).is_err());
    }
}
