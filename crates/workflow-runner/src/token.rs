//! Callback tokens (RTOK-1..4): like a task token, a runner needs no user's API key.
//!
//! A token is `wrt1.<claims>.<mac>`, both parts unpadded base64url. `claims` is the compact JSON
//! of [`TokenClaims`] in its one canonical form (fixed field order, no spaces: a token whose
//! claims re-encode differently is refused). `mac` is HMAC-SHA256 over `wrt1.<claims>` with a
//! key derived for the token's tenant from the server secret, so a token altered to name another
//! tenant, or signed with another tenant's key, fails the signature. Verification reads no store
//! row; it accepts the current and the previous secret, so the secret can rotate.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::io::Write;
use std::path::Path;
use workflow_core::{RunId, TenantId, Timestamp, UserId};

/// Every token starts with this.
pub const TOKEN_PREFIX: &str = "wrt1.";

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// What a token grants: act as `user_id` (assumed) on one attempt of one run until
/// `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The run's tenant.
    #[serde(rename = "t")]
    pub tenant_id: TenantId,
    /// The run.
    #[serde(rename = "r")]
    pub run_id: RunId,
    /// The attempt it was dispatched for.
    #[serde(rename = "a")]
    pub attempt: u32,
    /// The triggerer, whom the runner acts as (assumed).
    #[serde(rename = "u")]
    pub user_id: UserId,
    /// Unix seconds after which the token is refused (the attempt's deadline + grace).
    #[serde(rename = "e")]
    pub expires_at: i64,
}

/// Why a token was refused. Every variant answers `unauthorized`; the variant is for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token of this format: wrong prefix, parts, base64 or claims.
    #[error("malformed callback token")]
    Malformed,
    /// The signature does not match under the current or the previous secret.
    #[error("callback token signature does not verify")]
    BadSignature,
    /// Past its expiry.
    #[error("callback token expired")]
    Expired,
}

/// A secret was unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Reading or creating the file failed.
    #[error("token secret file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file's content is not one or two lines of hex, each at least 32 bytes.
    #[error("token secret file {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

type HmacSha256 = Hmac<Sha256>;

/// A server secret.
#[derive(Clone)]
struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// The tenant's signing key: HMAC(secret, "workflow-runs/token/v1/" + tenant).
    fn tenant_key(&self, tenant: TenantId) -> HmacSha256 {
        let mut derive = mac_with(&self.0);
        derive.update(b"workflow-runs/token/v1/");
        derive.update(tenant.0.as_bytes());
        mac_with(&derive.finalize().into_bytes())
    }
}

fn mac_with(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// The secrets a server signs with (current) and still accepts (current and previous).
#[derive(Clone, Debug)]
pub struct TokenKeys {
    current: Secret,
    previous: Option<Secret>,
}

impl TokenKeys {
    /// Keys from a current secret and, while rotating, the previous one. Each must be at least
    /// [`MIN_SECRET_LEN`] bytes.
    pub fn new(current: Vec<u8>, previous: Option<Vec<u8>>) -> Result<Self, String> {
        for s in std::iter::once(&current).chain(previous.iter()) {
            if s.len() < MIN_SECRET_LEN {
                return Err(format!("a secret must be at least {MIN_SECRET_LEN} bytes"));
            }
        }
        Ok(TokenKeys {
            current: Secret(current),
            previous: previous.map(Secret),
        })
    }

    /// Keys from a fresh random secret (tests, ephemeral servers).
    pub fn random() -> Result<Self, getrandom::Error> {
        Ok(TokenKeys {
            current: Secret(random_secret()?),
            previous: None,
        })
    }

    /// Read the secret file: its first line is the current secret, an optional second line the
    /// previous one, each in hex. A missing file is created with one fresh random secret,
    /// readable by its owner only (0600, SEC-4); an existing file is never rewritten.
    ///
    /// Rotation: put a new secret on the first line and move the old one to the second; tokens
    /// already handed to runners keep verifying until they expire.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretError> {
        let io = |source| SecretError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = random_secret().map_err(|e| io(std::io::Error::other(e)))?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(path) {
                    Ok(mut f) => {
                        f.write_all(format!("{}\n", hex::encode(&secret)).as_bytes())
                            .and_then(|()| f.sync_all())
                            .map_err(io)?;
                        return Ok(TokenKeys {
                            current: Secret(secret),
                            previous: None,
                        });
                    }
                    // Another process created it first: read theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read_to_string(path).map_err(io)?
                    }
                    Err(e) => return Err(io(e)),
                }
            }
            Err(e) => return Err(io(e)),
        };
        let invalid = |reason: String| SecretError::Invalid {
            path: path.display().to_string(),
            reason,
        };
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if lines.is_empty() || lines.len() > 2 {
            return Err(invalid(format!(
                "expected 1 or 2 non-empty lines, found {}",
                lines.len()
            )));
        }
        let parse = |l: &str| hex::decode(l).map_err(|_| invalid("a line is not hex".into()));
        let current = parse(lines[0])?;
        let previous = lines.get(1).map(|l| parse(l)).transpose()?;
        TokenKeys::new(current, previous).map_err(invalid)
    }

    /// A token for `claims`, signed with the current secret.
    pub fn mint(&self, claims: &TokenClaims) -> String {
        let body = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(encode(claims)));
        let mut mac = self.current.tenant_key(claims.tenant_id);
        mac.update(body.as_bytes());
        let sig = mac.finalize().into_bytes();
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// The claims of a token minted by this server with the current or the previous secret,
    /// not expired at `now` (RTOK-3, RTOK-4). Constant-time signature comparison.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<TokenClaims, TokenError> {
        let rest = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Malformed)?;
        let (claims_b64, sig_b64) = rest.split_once('.').ok_or(TokenError::Malformed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(claims_b64)
            .map_err(|_| TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig_b64)
            .map_err(|_| TokenError::Malformed)?;
        let claims: TokenClaims =
            serde_json::from_slice(&raw).map_err(|_| TokenError::Malformed)?;
        // One encoding per claim set: base64 or JSON spelled another way is not ours.
        if encode(&claims) != raw || URL_SAFE_NO_PAD.encode(&raw) != claims_b64 {
            return Err(TokenError::Malformed);
        }
        let signed = &token[..TOKEN_PREFIX.len() + claims_b64.len()];
        let ok = std::iter::once(&self.current)
            .chain(self.previous.iter())
            .any(|secret| {
                let mut mac = secret.tenant_key(claims.tenant_id);
                mac.update(signed.as_bytes());
                mac.verify_slice(&sig).is_ok()
            });
        if !ok {
            return Err(TokenError::BadSignature);
        }
        if now.timestamp() > claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Whether a credential is shaped like a callback token (as opposed to an API key).
pub fn is_token(credential: &str) -> bool {
    credential.starts_with(TOKEN_PREFIX)
}

fn encode(claims: &TokenClaims) -> Vec<u8> {
    // A struct of ids and integers always serializes.
    serde_json::to_vec(claims).unwrap_or_default()
}

fn random_secret() -> Result<Vec<u8>, getrandom::Error> {
    let mut s = vec![0u8; MIN_SECRET_LEN];
    getrandom::fill(&mut s)?;
    Ok(s)
}
