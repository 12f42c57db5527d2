//! The dispatch payload (DISP-1): one documented, versioned JSON object that every adapter sends
//! (Temporal's workflow input, a webhook's body). Its JSON Schema is `schema/workflow-run-dispatch-1.json`.

use crate::token::{TokenClaims, TokenKeys};
use serde::{Deserialize, Serialize};
use workflow_core::{Cancel, DefinitionId, Dispatch, RunId, Snapshot, TenantId, Timestamp, UserId};

/// The `schema` of every payload of this version.
pub const SCHEMA: &str = "workflow-run-dispatch/1";

/// The JSON Schema of the payload, as shipped in the repository.
pub const JSON_SCHEMA: &str = include_str!("../schema/workflow-run-dispatch-1.json");

/// Start attempt `attempt` of run `run_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchPayload {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Always `"dispatch"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The run.
    pub run_id: RunId,
    /// The attempt (1 for the first Start, +1 per Retry or Resume).
    pub attempt: u32,
    /// The run's tenant.
    pub tenant_id: TenantId,
    /// The run's definition (null only for messages queued by an older server).
    pub definition_id: Option<DefinitionId>,
    /// The triggerer, whom the runner acts as.
    pub triggered_by: UserId,
    /// Continue from the run's thread instead of starting cold (RESUME-1).
    pub resume: bool,
    /// The run's chat thread.
    pub run_thread_id: Option<uuid::Uuid>,
    /// The frozen configuration built at Start (SPEC section 4).
    pub snapshot: Snapshot,
    /// The starter's message (START-7), also inside the snapshot.
    pub user_message: Option<String>,
    /// When the attempt is reaped (REAP-1).
    pub deadline_at: Option<Timestamp>,
    /// Where the runner posts its terminal report.
    pub callback_url: String,
    /// The runner's credential for this attempt (`Authorization: Bearer <token>`, RTOK-1).
    pub callback_token: String,
}

/// Abandon attempt `attempt` of run `run_id` (DISP-3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelPayload {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Always `"cancel"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The run.
    pub run_id: RunId,
    /// The attempt to abandon.
    pub attempt: u32,
    /// The run's tenant.
    pub tenant_id: TenantId,
    /// Why (`Stopped by user`, `Timed out`).
    pub reason: String,
}

/// Builds payloads: the server's public URL for callbacks and its token keys.
#[derive(Clone, Debug)]
pub struct PayloadBuilder {
    public_url: String,
    keys: TokenKeys,
    grace: chrono::Duration,
}

impl PayloadBuilder {
    /// Callbacks go to `public_url` (e.g. `https://runs.example.com`); tokens expire `grace`
    /// after the attempt's deadline.
    pub fn new(public_url: &str, keys: TokenKeys, grace: chrono::Duration) -> Self {
        PayloadBuilder {
            public_url: public_url.trim_end_matches('/').to_owned(),
            keys,
            grace,
        }
    }

    /// The keys tokens are minted with.
    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// The payload of a dispatch, with a fresh token for its attempt.
    pub fn dispatch(&self, d: &Dispatch) -> DispatchPayload {
        let deadline = d.deadline_at.unwrap_or_else(|| {
            d.snapshot.created_at
                + chrono::Duration::seconds(i64::from(d.snapshot.max_run_duration_seconds))
        });
        let token = self.keys.mint(&TokenClaims {
            tenant_id: d.tenant_id,
            run_id: d.key.run_id,
            attempt: d.key.attempt,
            user_id: d.triggered_by,
            expires_at: (deadline + self.grace).timestamp(),
        });
        DispatchPayload {
            schema: SCHEMA.to_owned(),
            kind: "dispatch".to_owned(),
            run_id: d.key.run_id,
            attempt: d.key.attempt,
            tenant_id: d.tenant_id,
            definition_id: d.definition_id,
            triggered_by: d.triggered_by,
            resume: d.resume,
            run_thread_id: d.run_thread_id,
            user_message: d.snapshot.user_message.clone(),
            snapshot: d.snapshot.clone(),
            deadline_at: d.deadline_at,
            callback_url: format!(
                "{}/v1/workflow-runs/{}/callback",
                self.public_url, d.key.run_id
            ),
            callback_token: token,
        }
    }

    /// The payload of a cancel.
    pub fn cancel(&self, c: &Cancel) -> CancelPayload {
        CancelPayload {
            schema: SCHEMA.to_owned(),
            kind: "cancel".to_owned(),
            run_id: c.key.run_id,
            attempt: c.key.attempt,
            tenant_id: c.tenant_id,
            reason: c.reason.clone(),
        }
    }
}
