//! `GET /v1/workflow-runs/summary` (SUM-1): ksapi's `WorkflowRunSummaryResponse`, from the
//! engine's two aggregate queries.

use super::{call, ApiResult};
use crate::extract::query::{parse_time, parse_uuid};
use crate::extract::Credentials;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use workflow_core::{DefinitionId, RunsSummary, Store, SummaryQuery};

/// Adoption proxies (ksapi `WorkflowAdoptionStats`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub(crate) struct WorkflowAdoptionStats {
    /// Runs created in the window.
    pub runs: u64,
    /// Active, non-template definitions in scope now (not windowed).
    pub active_definitions: u64,
    /// Distinct triggerers in the window.
    pub distinct_triggerers: u64,
}

/// The runs summary (ksapi `WorkflowRunSummaryResponse`, SUM-1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub(crate) struct WorkflowRunSummaryResponse {
    /// The window's start (inclusive).
    pub window_start: DateTime<Utc>,
    /// The window's end (inclusive), or null when open.
    pub window_end: Option<DateTime<Utc>>,
    /// Runs created in the window.
    pub total: u64,
    /// Runs per execution state (all five present).
    pub counts_by_state: BTreeMap<String, u64>,
    /// FAILED / (COMPLETED + FAILED); null without terminal runs.
    pub failure_rate: Option<f64>,
    /// Median duration (`completed_at - started_at`) of terminal runs, nearest rank.
    pub duration_p50_seconds: Option<f64>,
    /// 95th percentile of the same.
    pub duration_p95_seconds: Option<f64>,
    /// Runs awaiting approval now (not windowed).
    pub pending_approval_count: u64,
    /// Age of the oldest pending approval (since its run completed); null when none.
    pub oldest_pending_age_seconds: Option<f64>,
    /// Adoption proxies.
    pub adoption: WorkflowAdoptionStats,
}

impl From<RunsSummary> for WorkflowRunSummaryResponse {
    fn from(s: RunsSummary) -> Self {
        WorkflowRunSummaryResponse {
            window_start: s.window_start,
            window_end: s.window_end,
            total: s.total,
            counts_by_state: s
                .counts_by_state
                .iter()
                .map(|(st, n)| (st.as_str().to_owned(), *n))
                .collect(),
            failure_rate: s.failure_rate,
            duration_p50_seconds: s.duration_p50_seconds,
            duration_p95_seconds: s.duration_p95_seconds,
            pending_approval_count: s.pending_approval_count,
            oldest_pending_age_seconds: s.oldest_pending_age_seconds,
            adoption: WorkflowAdoptionStats {
                runs: s.total,
                active_definitions: s.active_definitions,
                distinct_triggerers: s.distinct_triggerers,
            },
        }
    }
}

fn parse_summary_query(raw: Option<&str>) -> ApiResult<SummaryQuery> {
    let mut q = SummaryQuery::default();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let v = v.trim();
        match k.as_ref() {
            "since" => q.since = Some(parse_time("since", v)?),
            "until" => q.until = Some(parse_time("until", v)?),
            "definition_id" => {
                q.definition_id = Some(DefinitionId(parse_uuid("definition_id", v)?));
            }
            _ => {}
        }
    }
    // `until` before `since` is an empty window, not an error.
    Ok(q)
}

/// The runs summary over the runs the caller can read (SUM-1).
#[utoipa::path(get, path = "/v1/workflow-runs/summary", tag = "workflow-runs",
    params(
        ("since" = Option<String>, Query, format = DateTime, description = "Window start (inclusive); default 7 days ago"),
        ("until" = Option<String>, Query, format = DateTime, description = "Window end (inclusive); default open"),
        ("definition_id" = Option<uuid::Uuid>, Query, description = "Only this definition's runs (it must be readable)"),
    ),
    responses((status = 200, description = "The summary", body = WorkflowRunSummaryResponse),
        (status = 404, description = "Unknown or unreadable definition", body = crate::error::ErrorBody),
        (status = 422, description = "Bad query", body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn runs_summary<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<WorkflowRunSummaryResponse>> {
    let q = parse_summary_query(raw.as_deref())?;
    call(&state, creds, move |engine, caller| {
        Ok(Json(engine.runs_summary(&caller.actor, q)?.into()))
    })
    .await
}
