//! Beyond ksapi: a run's history (HIST-1) and the long-poll GET of a run (WATCH-1, the waiting
//! itself is [`crate::watch`]).

use super::{call, call_runner, render_run, ApiResult, JsonBytes};
use crate::error::ApiError;
use crate::extract::{Credentials, PathId};
use crate::watch::MAX_WAIT_SECONDS;
use crate::AppState;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;
use workflow_core::{Event, HistoryRecord, RunId, Store};

// ------------------------------------------------------------------------------------ HIST-1

/// One committed transition of a run (HIST-1, AUDIT-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub(crate) struct WorkflowRunHistoryRecord {
    /// 1, 2, 3, ... without gaps; the run's `version` after this transition.
    pub(crate) seq: u64,
    /// The execution state before; null for the creation.
    #[schema(example = "NOT_STARTED")]
    pub(crate) from: Option<String>,
    /// The execution state after; null for the deletion.
    #[schema(example = "IN_PROGRESS")]
    pub(crate) to: Option<String>,
    /// What happened: `created`, `updated`, `upload_added`, `ingestion_changed`, `started`,
    /// `completed`, `failed`, `stopped`, `timed_out`, `retried`, `resumed`, `output_added`,
    /// `approved` or `deleted`.
    #[schema(example = "started")]
    pub(crate) event: String,
    /// The user who did it; null for the system (the reaper, ingestion, a dead letter).
    pub(crate) actor: Option<Uuid>,
    /// Whether an agent acted as that user.
    pub(crate) assumed: bool,
    /// The run's attempt after the transition.
    pub(crate) attempt: u32,
    /// When it was committed.
    pub(crate) time: DateTime<Utc>,
    /// The reason given (an error, an approval note), if any.
    pub(crate) reason: Option<String>,
}

/// Answer of `GET /v1/workflow-runs/{run_id}/history` (HIST-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub(crate) struct WorkflowRunHistoryResponse {
    /// The run.
    pub(crate) run_id: Uuid,
    /// Its history, oldest first (by `seq`).
    pub(crate) items: Vec<WorkflowRunHistoryRecord>,
}

/// The wire string of an event: the domain's serde name (snake_case), so it cannot drift.
fn event_str(e: Event) -> String {
    match serde_json::to_value(e) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{e:?}"),
    }
}

impl From<&HistoryRecord> for WorkflowRunHistoryRecord {
    fn from(r: &HistoryRecord) -> Self {
        WorkflowRunHistoryRecord {
            seq: r.seq,
            from: r.from.map(|s| s.as_str().to_owned()),
            to: r.to.map(|s| s.as_str().to_owned()),
            event: event_str(r.event),
            actor: r.actor.user_id.map(|u| u.0),
            assumed: r.actor.assumed,
            attempt: r.attempt,
            time: r.at,
            reason: r.reason.clone(),
        }
    }
}

/// The history of a run (HIST-1): every committed transition in order, for anyone who can read
/// the run (VIS-1; otherwise 404, like GET).
#[utoipa::path(get, path = "/v1/workflow-runs/{run_id}/history", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses((status = 200, description = "The run's history records, oldest first",
        body = WorkflowRunHistoryResponse)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn run_history<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
) -> ApiResult<JsonBytes> {
    call(&state, creds, move |engine, caller| {
        let records = engine.run_history(&caller.actor, RunId(id))?;
        JsonBytes::of(&WorkflowRunHistoryResponse {
            run_id: id,
            items: records.iter().map(Into::into).collect(),
        })
    })
    .await
}

// ----------------------------------------------------------------------------------- WATCH-1

/// How long a long poll waits when it names a version but no `wait_seconds`.
const DEFAULT_WAIT_SECONDS: f64 = 30.0;

/// The WATCH-1 parameters of `GET /v1/workflow-runs/{run_id}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct WatchQuery {
    /// Answer once the run's version exceeds this.
    pub(crate) version_gt: u64,
    /// Or after this long.
    pub(crate) wait: Duration,
}

/// The WATCH-1 parameters of a GET run query string: `None` when it names no version (answer
/// at once). `wait_seconds` is a number in 0..=60 (default 30), else 422; other parameters are
/// ignored (HTTP-3).
pub(crate) fn parse_watch_query(raw: Option<&str>) -> ApiResult<Option<WatchQuery>> {
    let mut version_gt = None;
    let mut wait = None;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let v = v.trim();
        match k.as_ref() {
            "wait_for_version_gt" => {
                version_gt = Some(v.parse::<u64>().map_err(|_| {
                    ApiError::unprocessable(
                        "wait_for_version_gt: must be an integer 0..=18446744073709551615",
                    )
                })?);
            }
            "wait_seconds" => {
                let secs = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| (0.0..=MAX_WAIT_SECONDS).contains(s))
                    .ok_or_else(|| {
                        ApiError::unprocessable(format!(
                            "wait_seconds: must be a number 0..={MAX_WAIT_SECONDS}"
                        ))
                    })?;
                wait = Some(Duration::from_secs_f64(secs));
            }
            _ => {}
        }
    }
    Ok(version_gt.map(|version_gt| WatchQuery {
        version_gt,
        wait: wait.unwrap_or(Duration::from_secs_f64(DEFAULT_WAIT_SECONDS)),
    }))
}

/// GET-1, and WATCH-1 when the query names a version: registers a waiter on the run BEFORE the
/// first read (so no commit between the read and the wait is missed), answers at once when the
/// run is already past that version, else waits for a commit or the timeout, holding no thread
/// and no engine permit meanwhile, and answers the run as it then is.
pub(crate) async fn get_run_watching<S: Store + 'static>(
    state: AppState<S>,
    creds: Credentials,
    id: Uuid,
    raw_query: Option<String>,
) -> ApiResult<JsonBytes> {
    let run_id = RunId(id);
    let Some(q) = parse_watch_query(raw_query.as_deref())? else {
        return read_run(&state, creds, run_id, None)
            .await?
            .ok_or_else(|| ApiError::internal("no answer"));
    };
    let mut waiter = state.watchers.register(run_id);
    if let Some(answer) = read_run(&state, creds.clone(), run_id, Some(q.version_gt)).await? {
        return Ok(answer);
    }
    waiter.wait_for_version_gt(q.version_gt, q.wait).await;
    drop(waiter);
    read_run(&state, creds, run_id, None)
        .await?
        .ok_or_else(|| ApiError::internal("no answer"))
}

/// The run rendered for the caller; `None` when `past` is given and the run is not past it.
async fn read_run<S: Store + 'static>(
    state: &AppState<S>,
    creds: Credentials,
    run_id: RunId,
    past: Option<u64>,
) -> ApiResult<Option<JsonBytes>> {
    // A runner's callback token may read its own run, whatever attempt it was minted for.
    call_runner(state, creds, run_id, move |engine, caller| {
        let run = engine.get_run(&caller.actor, run_id)?;
        if past.is_some_and(|n| run.version <= n) {
            return Ok(None);
        }
        Ok(Some(JsonBytes::of(&render_run(
            engine, caller, &run, true,
        )?)?))
    })
    .await
}
