//! The run lifecycle (SPEC section 3): create, get, list, edit, start, stop, callback, retry,
//! clone, approve, delete.

use super::{call, call_runner, render_run, run_location, ApiResult, JsonBytes};
use crate::extract::{
    parse_create_form, parse_enum, parse_list_query, Credentials, JsonBody, OptionalJsonBody,
    PathId,
};
use crate::render::Renderer;
use crate::wire::*;
use crate::AppState;
use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use workflow_core::{
    Actor, ApprovalState, Approve, Callback, CallbackStatus, CloneRun, DefinitionId, Engine, Error,
    ListRuns, PathPartId, Run, RunId, StartRun, Store, UpdateRun,
};

// ----------------------------------------------------------------------------------- run reads

/// Get a run (GET-1); with `wait_for_version_gt`, a long poll (WATCH-1, see
/// [`super::history::get_run_watching`]).
#[utoipa::path(get, path = "/v1/workflow-runs/{run_id}", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Run id"),
        ("wait_for_version_gt" = Option<u64>, Query, description = "WATCH-1 (beyond ksapi): answer as soon as the run's `version` exceeds this (at once when it already does), or after `wait_seconds` with the run as it is"),
        ("wait_seconds" = Option<f64>, Query, minimum = 0, maximum = 60, description = "WATCH-1: the longest wait, in seconds (0..=60, default 30); only with `wait_for_version_gt`")),
    responses((status = 200, description = "The run", body = WorkflowRunResponse), (status = 404, description = "No such run, or not readable by the caller", body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn get_run<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    RawQuery(raw): RawQuery,
) -> ApiResult<JsonBytes> {
    super::history::get_run_watching(state, creds, id, raw).await
}

async fn list_common<S: Store + 'static>(
    state: &AppState<S>,
    creds: Credentials,
    list: ListRuns,
) -> ApiResult<JsonBytes> {
    call(state, creds, move |engine, caller| {
        let page = engine.list_runs(&caller.actor, list)?;
        let mut r = Renderer::new(engine, caller);
        let items = page
            .items
            .iter()
            .map(|run| r.run(run, true))
            .collect::<Result<Vec<_>, Error>>()?;
        JsonBytes::of(&PaginatedRuns {
            items,
            total: page.total,
            limit: page.limit,
            offset: page.offset,
        })
    })
    .await
}

/// List the tenant's runs the caller can read (LIST-1, LIST-2).
#[utoipa::path(get, path = "/v1/workflow-runs", tag = "workflow-runs",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1..=100, default 20"),
        ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "Rows to skip"),
        ("state" = Option<Vec<ExecutionStateValue>>, Query, explode, description = "Any of these execution states (repeatable)"),
        ("approval_state" = Option<Vec<ApprovalStateValue>>, Query, explode, description = "Any of these approval states (repeatable)"),
        ("mine" = Option<bool>, Query, description = "Only runs the caller triggered (overrides owner_id)"),
        ("approvable_by_me" = Option<bool>, Query, description = "Only runs the caller may approve (APPROVE-5)"),
        ("definition_id" = Option<Uuid>, Query, description = "Only runs of this definition"),
        ("owner_id" = Option<Uuid>, Query, description = "Only runs triggered by this user (among those the caller can read)"),
        ("sort_by" = Option<SortByValue>, Query, description = "The time to order by; default: the start time, as ksapi documents (runs without it last)"),
        ("sort_dir" = Option<SortDirValue>, Query, description = "DESC (default) or ASC; runs without the sort time last either way"),
        ("created_after" = Option<String>, Query, format = DateTime, description = "Created at or after (inclusive)"),
        ("created_before" = Option<String>, Query, format = DateTime, description = "Created strictly before"),
        ("updated_after" = Option<String>, Query, format = DateTime, description = "Updated at or after (inclusive)"),
        ("updated_before" = Option<String>, Query, format = DateTime, description = "Updated strictly before"),
        ("include_tag_ids" = Option<Vec<Uuid>>, Query, explode, description = "Runs carrying one of these tags: runs carry no tags, so any value gives an empty page"),
        ("exclude_tag_ids" = Option<Vec<Uuid>>, Query, explode, description = "Runs carrying none of these tags: removes nothing"),
    ),
    responses((status = 200, body = PaginatedRuns), (status = 422, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn list_runs<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    RawQuery(raw): RawQuery,
) -> ApiResult<JsonBytes> {
    let q = parse_list_query(raw.as_deref(), None)?;
    list_common(&state, creds, q).await
}

/// List a definition's runs the caller can read (LIST-1).
#[utoipa::path(get, path = "/v1/workflow-definitions/{definition_id}/runs", tag = "workflow-definitions",
    params(
        ("definition_id" = Uuid, Path, description = "Definition id"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1..=100, default 20"),
        ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "Rows to skip"),
        ("sort_by" = Option<SortByValue>, Query, description = "The time to order by; default: the start time, as ksapi documents (runs without it last)"),
        ("sort_dir" = Option<SortDirValue>, Query, description = "DESC (default) or ASC; runs without the sort time last either way"),
        ("created_after" = Option<String>, Query, format = DateTime, description = "Created at or after (inclusive)"),
        ("created_before" = Option<String>, Query, format = DateTime, description = "Created strictly before"),
        ("updated_after" = Option<String>, Query, format = DateTime, description = "Updated at or after (inclusive)"),
        ("updated_before" = Option<String>, Query, format = DateTime, description = "Updated strictly before"),
    ),
    responses((status = 200, body = PaginatedRuns), (status = 404, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn list_definition_runs<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    RawQuery(raw): RawQuery,
) -> ApiResult<JsonBytes> {
    let q = parse_list_query(raw.as_deref(), Some(DefinitionId(id)))?;
    list_common(&state, creds, q).await
}

// ---------------------------------------------------------------------------------- run writes

/// Create a run of a definition (CREATE-1..7) from ksapi's multipart form (or JSON): 201 and
/// `Location` (HTTP-2).
#[utoipa::path(post, path = "/v1/workflow-definitions/{definition_id}/runs", tag = "workflow-definitions",
    params(("definition_id" = Uuid, Path, description = "Definition id")),
    request_body(content = CreateWorkflowRunForm, content_type = "multipart/form-data"),
    responses((status = 201, body = WorkflowRunResponse, headers(("Location" = String))),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn create_run<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    req: Request,
) -> ApiResult<Response> {
    let cmd = parse_create_form(req, &state).await?;
    let run = call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let run = engine.create_run(actor, DefinitionId(id), cmd)?;
        render_run(engine, caller, &run, false)
    })
    .await?;
    Ok((StatusCode::CREATED, run_location(run.id), Json(run)).into_response())
}

/// Edit a draft run (UPDATE-1..5).
#[utoipa::path(patch, path = "/v1/workflow-runs/{run_id}", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    request_body = UpdateWorkflowRunRequest,
    responses((status = 200, body = WorkflowRunResponse), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn update_run<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    JsonBody(body): JsonBody<UpdateWorkflowRunRequest>,
) -> ApiResult<Json<WorkflowRunResponse>> {
    call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let cmd = UpdateRun {
            input_scope: body
                .input_scope
                .map(|s| s.into_iter().map(PathPartId).collect()),
            name: body.name,
            auto_start: body.auto_start,
            auto_start_user_message: body.user_message,
        };
        let run = engine.update_run(actor, RunId(id), cmd)?;
        render_run(engine, caller, &run, false)
    })
    .await
    .map(Json)
}

/// Start a draft run (START-1..8): 202 and `Location` (HTTP-2).
#[utoipa::path(post, path = "/v1/workflow-runs/{run_id}/start", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    request_body(content = Option<StartWorkflowRunRequest>, description = "Optional"),
    responses((status = 202, body = WorkflowRunResponse, headers(("Location" = String))),
        (status = 409, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn start_run<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    OptionalJsonBody(body): OptionalJsonBody<StartWorkflowRunRequest>,
) -> ApiResult<Response> {
    let run = call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let cmd = StartRun {
            user_message: body.user_message,
        };
        let run = engine.start_run(actor, RunId(id), cmd)?;
        render_run(engine, caller, &run, false)
    })
    .await?;
    Ok((StatusCode::ACCEPTED, run_location(run.id), Json(run)).into_response())
}

/// Stop a running run (STOP-1..4).
#[utoipa::path(post, path = "/v1/workflow-runs/{run_id}/stop", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses((status = 200, body = WorkflowRunResponse), (status = 403, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn stop_run<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
) -> ApiResult<Json<WorkflowRunResponse>> {
    call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let run = engine.stop_run(actor, RunId(id))?;
        render_run(engine, caller, &run, false)
    })
    .await
    .map(Json)
}

/// A runner's terminal report (CB-1..7). A runner authenticates with the callback token of its
/// attempt (RTOK-1..3), or with the triggerer's key (or an admin's) and `x-ks-assumed: true`.
///
/// With a token, the callback reports on the token's attempt: a body without `attempt` takes
/// the token's, so the callback of a superseded attempt answers `stale_attempt` (RTOK-3, CB-4);
/// a body `attempt` that differs from the token's is `forbidden` (the token was not issued for
/// that attempt).
#[utoipa::path(post, path = "/v1/workflow-runs/{run_id}/callback", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    request_body = WorkflowRunCallbackRequest,
    responses((status = 200, body = WorkflowCallbackResponse), (status = 409, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn callback<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    JsonBody(body): JsonBody<WorkflowRunCallbackRequest>,
) -> ApiResult<Json<WorkflowCallbackResponse>> {
    let status: CallbackStatus = parse_enum("status", &body.status)?;
    call_runner(&state, creds, RunId(id), move |engine, caller| {
        let actor = &caller.actor;
        let attempt = match (&caller.token, body.attempt) {
            (None, attempt) => attempt,
            (Some(t), None) => Some(t.attempt),
            (Some(t), Some(a)) if a == t.attempt => Some(a),
            (Some(t), Some(a)) => {
                return Err(Error::forbidden(format!(
                    "this callback token was issued for attempt {}, not attempt {a}",
                    t.attempt
                ))
                .into())
            }
        };
        let cmd = Callback {
            status,
            error: body.error,
            attempt,
        };
        let r = engine.callback(actor, RunId(id), cmd)?;
        Ok(WorkflowCallbackResponse {
            status: r.outcome.as_str().to_owned(),
        })
    })
    .await
    .map(Json)
}

/// Retry a failed run in place (RETRY-1..3): 202 and `Location` (HTTP-2).
#[utoipa::path(post, path = "/v1/workflow-runs/{run_id}/retry", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses((status = 202, description = "A new attempt is dispatched",
            body = WorkflowRunResponse, headers(("Location" = String))),
        (status = 409, description = "Not FAILED, or never started", body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn retry_run<S: Store + 'static>(
    state: State<AppState<S>>,
    creds: Credentials,
    id: PathId,
) -> ApiResult<Response> {
    new_attempt(state, creds, id, Engine::retry_run).await
}

/// Resume a failed run from its surviving thread (RESUME-1): Retry's guards, a dispatch with
/// `resume: true`; 202 and `Location` (HTTP-2).
#[utoipa::path(post, path = "/v1/workflow-runs/{run_id}/resume", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses((status = 202, description = "A new attempt is dispatched to resume the thread",
            body = WorkflowRunResponse, headers(("Location" = String))),
        (status = 409, description = "Not FAILED, or never started", body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn resume_run<S: Store + 'static>(
    state: State<AppState<S>>,
    creds: Credentials,
    id: PathId,
) -> ApiResult<Response> {
    new_attempt(state, creds, id, Engine::resume_run).await
}

async fn new_attempt<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    op: fn(&Engine<S>, &Actor, RunId) -> workflow_core::Result<Run>,
) -> ApiResult<Response> {
    let run = call(&state, creds, move |engine, caller| {
        let run = op(engine, &caller.actor, RunId(id))?;
        render_run(engine, caller, &run, false)
    })
    .await?;
    Ok((StatusCode::ACCEPTED, run_location(run.id), Json(run)).into_response())
}

/// Clone a started run into a new draft (CLONE-1..4): 201 and `Location` of the new run.
#[utoipa::path(post, path = "/v1/workflow-runs/{run_id}/clone", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Source run id")),
    request_body = CloneWorkflowRunRequest,
    responses((status = 201, body = WorkflowRunResponse, headers(("Location" = String))),
        (status = 409, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn clone_run<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    JsonBody(body): JsonBody<CloneWorkflowRunRequest>,
) -> ApiResult<Response> {
    let run = call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let cmd = CloneRun {
            include_inputs: body.include_inputs,
        };
        let run = engine.clone_run(actor, RunId(id), cmd)?;
        render_run(engine, caller, &run, false)
    })
    .await?;
    Ok((StatusCode::CREATED, run_location(run.id), Json(run)).into_response())
}

/// Approve a completed run and its outputs (APPROVE-1..5).
#[utoipa::path(post, path = "/v1/workflow-runs/{run_id}/approval", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    request_body = SetWorkflowRunApprovalRequest,
    responses((status = 200, body = WorkflowRunResponse), (status = 409, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn approve_run<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    JsonBody(body): JsonBody<SetWorkflowRunApprovalRequest>,
) -> ApiResult<Json<WorkflowRunResponse>> {
    let approval: ApprovalState = parse_enum("state", &body.state)?;
    call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let cmd = Approve {
            state: approval,
            reason: body.reason,
        };
        let run = engine.approve_run(actor, RunId(id), cmd)?;
        render_run(engine, caller, &run, false)
    })
    .await
    .map(Json)
}

/// Delete a run and its folder (DELETE-1..3): 204.
#[utoipa::path(delete, path = "/v1/workflow-runs/{run_id}", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses((status = 204), (status = 409, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn delete_run<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        engine.delete_run(actor, RunId(id))?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
