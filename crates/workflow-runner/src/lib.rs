//! # workflow-runner
//!
//! What a runner of workflow runs receives and presents, shared by every dispatcher adapter
//! (Temporal, webhooks) and by the HTTP layer that verifies runners' credentials:
//!
//! * [`payload`]: the dispatch payload of SPEC DISP-1, one versioned JSON object
//!   (`"schema": "workflow-run-dispatch/1"`, JSON Schema in `schema/`), and the cancel payload;
//! * [`token`]: attempt-scoped callback tokens (RTOK-1..4): HMAC-SHA256 signed, bound to
//!   (tenant, run, attempt, triggerer, expiry), verified without a store read, with secret
//!   rotation (current + previous) and a secret file created 0600.
//!
//! It depends on `workflow-core` for the domain types and on maintained crates for the crypto
//! (`hmac`, `sha2`); no adapter depends on another.
//!
//! ## Example
//!
//! ```
//! use workflow_core::*;
//! use workflow_runner::token::{TokenClaims, TokenKeys, TokenError};
//!
//! let keys = TokenKeys::random().unwrap();
//! let claims = TokenClaims {
//!     tenant_id: TenantId(uuid::Uuid::new_v4()),
//!     run_id: RunId(uuid::Uuid::new_v4()),
//!     attempt: 1,
//!     user_id: UserId(uuid::Uuid::new_v4()),
//!     expires_at: chrono::Utc::now().timestamp() + 3600,
//! };
//! let token = keys.mint(&claims);
//! assert!(token.starts_with("wrt1."));
//! assert_eq!(keys.verify(&token, chrono::Utc::now()), Ok(claims));
//! let mut forged = token.clone();
//! forged.push('A');
//! assert!(keys.verify(&forged, chrono::Utc::now()).is_err());
//! assert_eq!(
//!     TokenKeys::random().unwrap().verify(&token, chrono::Utc::now()),
//!     Err(TokenError::BadSignature),
//! );
//! ```

pub mod payload;
pub mod token;

pub use payload::{CancelPayload, DispatchPayload, PayloadBuilder, SCHEMA};
pub use token::{TokenClaims, TokenError, TokenKeys};
