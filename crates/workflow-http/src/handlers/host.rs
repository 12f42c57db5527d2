//! What a host and its runners call beyond ksapi's surface: uploads and their ingestion status
//! (SYNC-*), outputs, the thread gate (THREAD-1); and liveness and the fallback.

use super::{call, call_runner, render_run, run_location, ApiResult};
use crate::error::ApiError;
use crate::extract::{parse_enum, Credentials, JsonBody, PathId};
use crate::render::asset;
use crate::wire::*;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use workflow_core::{
    Error, ErrorCode, Ingestion, NewUpload, PathPartId, PathPartKind, RunId, Store,
};

/// Add an upload to a draft run's `inputs/` (SYNC-1 when not yet ingested): 201.
#[utoipa::path(post, path = "/v1/workflow-runs/{run_id}/inputs", tag = "runner-and-host",
    params(("run_id" = Uuid, Path, description = "Run id")),
    request_body = AddUploadRequest,
    responses((status = 201, body = UploadResponse, headers(("Location" = String))),
        (status = 409, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn add_upload<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    JsonBody(body): JsonBody<AddUploadRequest>,
) -> ApiResult<Response> {
    let ingestion: Ingestion = match body.ingestion_status.as_deref() {
        Some(s) => parse_enum("ingestion_status", s)?,
        None => Ingestion::Pending,
    };
    let out = call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let (run, doc) = engine.add_upload(
            actor,
            RunId(id),
            NewUpload {
                name: body.name,
                ingestion,
            },
        )?;
        let version = engine
            .store()
            .children(run.tenant_id, doc.id)
            .map_err(Error::from)?
            .into_iter()
            .find(|v| v.kind == PathPartKind::DocumentVersion)
            .ok_or_else(|| ApiError::internal("upload without a version"))?;
        Ok(UploadResponse {
            document_path_part_id: doc.id.0,
            version_path_part_id: version.id.0,
            ingestion_status: ingestion.as_str().to_owned(),
            run: render_run(engine, caller, &run, false)?,
        })
    })
    .await?;
    Ok((StatusCode::CREATED, run_location(out.run.id), Json(out)).into_response())
}

/// Report a new ingestion status of an upload's version (SYNC-1..4; auto-start fires here).
/// For the ingestion pipeline, which uses an OWNER/ADMIN key of the tenant. (`x-ks-assumed` only
/// ever lowers a key's rights, so it is not a way in here.)
#[utoipa::path(put, path = "/v1/document-versions/{version_id}/ingestion", tag = "runner-and-host",
    params(("version_id" = Uuid, Path, description = "DOCUMENT_VERSION path-part id of the upload")),
    request_body = SetIngestionRequest,
    responses((status = 200, body = WorkflowRunResponse), (status = 403, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn set_ingestion<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    JsonBody(body): JsonBody<SetIngestionRequest>,
) -> ApiResult<Json<WorkflowRunResponse>> {
    let status: Ingestion = parse_enum("status", &body.status)?;
    call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        if !actor.role.is_admin() {
            return Err(Error::forbidden(
                "ingestion status is reported by the ingestion pipeline, with an admin key",
            )
            .into());
        }
        let run = engine.set_upload_ingestion(actor.tenant_id, PathPartId(id), status)?;
        render_run(engine, caller, &run, false)
    })
    .await
    .map(Json)
}

/// A runner writes one output document into `outputs/` of an IN_PROGRESS run: 201.
///
/// With a callback token (RTOK-2), the output belongs to the token's attempt: when the run has
/// moved on to another attempt (a retry), it is refused with `conflict` and nothing is written,
/// so a late runner of attempt n never adds to attempt m's outputs (`Engine::add_output_of`:
/// the check and the write are one version-checked commit).
#[utoipa::path(post, path = "/v1/workflow-runs/{run_id}/outputs", tag = "runner-and-host",
    params(("run_id" = Uuid, Path, description = "Run id")),
    request_body = AddOutputRequest,
    responses((status = 201, body = OutputResponse), (status = 409, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn add_output<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    JsonBody(body): JsonBody<AddOutputRequest>,
) -> ApiResult<Response> {
    let out = call_runner(&state, creds, RunId(id), move |engine, caller| {
        let attempt = caller.token.as_ref().map(|t| t.attempt);
        let doc = engine.add_output_of(&caller.actor, RunId(id), attempt, &body.name)?;
        Ok(OutputResponse {
            asset: asset(&doc, None),
        })
    })
    .await?;
    Ok((StatusCode::CREATED, run_location(id), Json(out)).into_response())
}

/// The run-thread gate (THREAD-1): 200 when a new USER message may be posted on the run's
/// thread, 409 `run_busy` while the run is IN_PROGRESS.
#[utoipa::path(get, path = "/v1/workflow-runs/{run_id}/thread-gate", tag = "runner-and-host",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses((status = 200, body = ThreadGateResponse), (status = 409, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn thread_gate<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
) -> ApiResult<Json<ThreadGateResponse>> {
    call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        engine.check_thread_message(actor, RunId(id))?;
        Ok(ThreadGateResponse {
            accepting_messages: true,
        })
    })
    .await
    .map(Json)
}

/// Liveness: 200 without credentials.
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Unknown route: 404 `not_found`.
pub(crate) async fn fallback() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}
