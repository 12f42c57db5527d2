//! One handler per operation of SPEC section 7. Each parses (extractors), then makes ONE trip to
//! the blocking pool that authenticates the key, calls the engine and renders the answer, so a
//! request holds a blocking thread once and never blocks the async runtime.

use crate::error::ApiError;
use crate::extract::{body_bytes, parse_json, Credentials, JsonBody, OptionalJsonBody, PathId};
use crate::render::{asset, Renderer};
use crate::wire::*;
use crate::AppState;
use axum::extract::{FromRequest, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::str::FromStr;
use uuid::Uuid;
use workflow_core::{
    Actor, ApprovalState, Approve, Callback, CallbackStatus, CloneRun, CreateRun, DefinitionId,
    Engine, Error, ErrorCode, ExecutionState, Ingestion, ListRuns, NewDefinition, NewUpload,
    PathPartId, PathPartKind, RunId, RunOrder, StartRun, Store, UpdateRun,
};

type ApiResult<T> = Result<T, ApiError>;

/// The authenticated caller: the actor, and the user record it came from (whose grants and
/// name the renderer reuses instead of reading them again).
pub(crate) struct Caller {
    pub(crate) actor: Actor,
    pub(crate) user: workflow_core::User,
}

/// Authenticate on the blocking pool, then run `f` there.
async fn call<S, T, F>(state: &AppState<S>, creds: Credentials, f: F) -> ApiResult<T>
where
    S: Store + 'static,
    T: Send + 'static,
    F: FnOnce(&Engine<S>, &Caller) -> ApiResult<T> + Send + 'static,
{
    let engine = state.engine.clone();
    let permit = state
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the engine is shutting down"))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let caller = authenticate(&engine, &creds)?;
        f(&engine, &caller)
    })
    .await
    .map_err(|e| {
        if e.is_panic() {
            tracing::error!("a blocking engine call panicked");
        }
        ApiError::internal("the request could not be completed")
    })?
}

/// API key → user → actor; `x-ks-assumed: true` makes it an assumed actor (a runner).
pub(crate) fn authenticate<S: Store>(engine: &Engine<S>, creds: &Credentials) -> ApiResult<Caller> {
    let user = engine
        .store()
        .user_by_api_key(&creds.key)
        .map_err(Error::from)?
        .ok_or_else(ApiError::unauthorized)?;
    let actor = Actor::of(&user);
    let actor = if creds.assumed {
        actor.assumed()
    } else {
        actor
    };
    Ok(Caller { actor, user })
}

/// A JSON body serialized on the blocking pool (the read paths: the async workers then only
/// move bytes).
pub(crate) struct JsonBytes(axum::body::Bytes);

impl JsonBytes {
    fn of<T: serde::Serialize>(v: &T) -> ApiResult<Self> {
        let mut out = Vec::with_capacity(4096);
        serde_json::to_writer(&mut out, v)
            .map_err(|e| ApiError::internal(format!("serialization: {e}")))?;
        Ok(JsonBytes(out.into()))
    }
}

impl IntoResponse for JsonBytes {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}

fn location(path: String) -> [(header::HeaderName, HeaderValue); 1] {
    // A path of ASCII and a UUID is always a valid header value.
    let v = HeaderValue::from_str(&path).unwrap_or(HeaderValue::from_static("/"));
    [(header::LOCATION, v)]
}

fn run_location(id: Uuid) -> [(header::HeaderName, HeaderValue); 1] {
    location(format!("/v1/workflow-runs/{id}"))
}

fn parse_enum<T: FromStr<Err = Error>>(field: &str, value: &str) -> ApiResult<T> {
    // ksapi sends a list-valued enum query parameter as `str(member)`, e.g.
    // `WorkflowExecutionState.IN_PROGRESS`: accept that form too.
    let v = value.rsplit('.').next().unwrap_or(value);
    T::from_str(v).map_err(|_| ApiError::unprocessable(format!("{field}: unknown value {value:?}")))
}

fn render_run<S: Store>(
    engine: &Engine<S>,
    caller: &Caller,
    run: &workflow_core::Run,
    read: bool,
) -> ApiResult<WorkflowRunResponse> {
    Ok(Renderer::new(engine, caller).run(run, read)?)
}

// ----------------------------------------------------------------------------------- run reads

/// Get a run (GET-1).
#[utoipa::path(get, path = "/v1/workflow-runs/{run_id}", tag = "workflow-runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses((status = 200, body = WorkflowRunResponse), (status = 404, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn get_run<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
) -> ApiResult<JsonBytes> {
    call(&state, creds, move |engine, caller| {
        let run = engine.get_run(&caller.actor, RunId(id))?;
        JsonBytes::of(&render_run(engine, caller, &run, true)?)
    })
    .await
}

/// Query of the run lists (LIST-1), as ksapi sends it.
#[derive(Debug, Default)]
struct ListQuery {
    list: ListRuns,
    owner: Option<Uuid>,
}

fn parse_list_query(
    raw: Option<&str>,
    definition_id: Option<DefinitionId>,
) -> ApiResult<ListQuery> {
    // ksapi documents STARTED_AT as the default sort (never-started runs last).
    let mut q = ListRuns {
        definition_id,
        order: RunOrder::StartedAt,
        ..ListRuns::default()
    };
    let mut states = Vec::new();
    let mut approvals = Vec::new();
    let mut owner: Option<Uuid> = None;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let v = v.trim();
        match k.as_ref() {
            "limit" => {
                q.limit = v
                    .parse()
                    .ok()
                    .filter(|l| (1..=100).contains(l))
                    .ok_or_else(|| ApiError::unprocessable("limit: must be an integer 1..=100"))?;
            }
            "offset" => {
                q.offset = v
                    .parse()
                    .ok()
                    .filter(|o| i64::try_from(*o).is_ok())
                    .ok_or_else(|| {
                        ApiError::unprocessable(
                            "offset: must be an integer 0..=9223372036854775807",
                        )
                    })?;
            }
            "state" | "execution_state" => {
                states.push(parse_enum::<ExecutionState>("state", v)?);
            }
            "approval_state" => approvals.push(parse_enum::<ApprovalState>("approval_state", v)?),
            "mine" => q.mine = parse_bool("mine", v)?,
            "definition_id" if definition_id.is_none() => {
                q.definition_id = Some(DefinitionId(parse_uuid("definition_id", v)?));
            }
            "owner_id" => owner = Some(parse_uuid("owner_id", v)?),
            "sort_by" | "order" => q.order = parse_enum::<RunOrder>("sort_by", v)?,
            "sort_dir" if !v.eq_ignore_ascii_case("desc") => {
                return Err(ApiError::unprocessable(
                    "sort_dir: only DESC (newest first) is supported",
                ));
            }
            "approvable_by_me" | "created_after" | "created_before" | "updated_after"
            | "updated_before" | "include_tag_ids" | "exclude_tag_ids"
                if !v.is_empty() && v != "false" =>
            {
                return Err(ApiError::unprocessable(format!(
                    "{k}: this filter is not supported by this server"
                )));
            }
            _ => {}
        }
    }
    states.dedup();
    approvals.dedup();
    if states.len() > 1 || approvals.len() > 1 {
        return Err(ApiError::unprocessable(
            "state/approval_state: at most one value per filter is supported",
        ));
    }
    q.execution_state = states.first().copied();
    q.approval_state = approvals.first().copied();
    Ok(ListQuery { list: q, owner })
}

fn parse_bool(field: &str, v: &str) -> ApiResult<bool> {
    match v {
        "true" | "True" | "1" | "on" => Ok(true),
        "false" | "False" | "0" | "off" | "" => Ok(false),
        _ => Err(ApiError::unprocessable(format!(
            "{field}: expected true or false, got {v:?}"
        ))),
    }
}

fn parse_uuid(field: &str, v: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(v.trim())
        .map_err(|_| ApiError::unprocessable(format!("{field}: {v:?} is not a UUID")))
}

async fn list_common<S: Store + 'static>(
    state: &AppState<S>,
    creds: Credentials,
    q: ListQuery,
) -> ApiResult<JsonBytes> {
    call(state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let mut list = q.list;
        if let Some(o) = q.owner {
            if o != actor.user_id.0 {
                return Err(Error::forbidden(
                    "owner_id: only the caller's own id is supported (use mine=true)",
                )
                .into());
            }
            list.mine = true;
        }
        let page = engine.list_runs(actor, list)?;
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

/// List the tenant's runs the caller can read (LIST-1).
#[utoipa::path(get, path = "/v1/workflow-runs", tag = "workflow-runs",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1..=100, default 20"),
        ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "Rows to skip"),
        ("state" = Option<ExecutionStateValue>, Query, description = "Execution state (one value)"),
        ("approval_state" = Option<ApprovalStateValue>, Query, description = "Approval state (one value)"),
        ("mine" = Option<bool>, Query, description = "Only runs the caller triggered"),
        ("definition_id" = Option<Uuid>, Query, description = "Only runs of this definition"),
        ("owner_id" = Option<Uuid>, Query, description = "The caller's own id only"),
        ("sort_by" = Option<SortByValue>, Query, description = "STARTED_AT (default, as ksapi documents; never-started runs last), CREATED_AT or COMPLETED_AT; newest first"),
        ("sort_dir" = Option<SortDirValue>, Query, description = "DESC only"),
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
        ("sort_by" = Option<SortByValue>, Query, description = "STARTED_AT (default, as ksapi documents; never-started runs last), CREATED_AT or COMPLETED_AT; newest first"),
        ("sort_dir" = Option<SortDirValue>, Query, description = "DESC only"),
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

/// A runner's terminal report (CB-1..7). A runner authenticates with the triggerer's key (or
/// an admin's) and `x-ks-assumed: true`.
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
    call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let cmd = Callback {
            status,
            error: body.error,
            attempt: body.attempt,
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
    responses((status = 202, body = WorkflowRunResponse, headers(("Location" = String))),
        (status = 409, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn retry_run<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let run = call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let run = engine.retry_run(actor, RunId(id))?;
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

/// JSON variant of the create form.
#[derive(Debug, Default, serde::Deserialize)]
struct CreateRunJson {
    input_scope: Option<Vec<Uuid>>,
    idempotency_key: Option<String>,
    auto_start: Option<bool>,
    user_message: Option<String>,
    name: Option<String>,
    selected_skill_ids: Option<Vec<Uuid>>,
}

fn parse_id_list(field: &str, v: &str) -> ApiResult<Vec<Uuid>> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(Vec::new());
    }
    if v.starts_with('[') {
        return serde_json::from_str(v).map_err(|e| {
            ApiError::unprocessable(format!("{field}: not a JSON array of UUIDs: {e}"))
        });
    }
    v.split(',').map(|s| parse_uuid(field, s)).collect()
}

async fn parse_create_form<S: Send + Sync>(req: Request, state: &S) -> ApiResult<CreateRun> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut cmd = CreateRun::default();
    if content_type.starts_with("multipart/form-data") {
        let mut form = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("multipart: {e}")))?;
        let multipart_err = |e: axum::extract::multipart::MultipartError| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "request body is over the size limit",
                )
            } else {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("multipart: {}", e.body_text()),
                )
            }
        };
        let mut files = 0usize;
        while let Some(field) = form.next_field().await.map_err(multipart_err)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "files" || field.file_name().is_some() {
                files += 1;
                // A file part carries a file name (`format: binary`); a plain text part named
                // `files` is not an upload.
                let Some(file_name) = field.file_name().map(str::to_owned) else {
                    return Err(ApiError::unprocessable(
                        "files: each part must be a file (Content-Disposition with a filename)",
                    ));
                };
                let file_name = if file_name.is_empty() {
                    format!("upload-{files}")
                } else {
                    file_name
                };
                // The bytes are not kept: this server has no blob store. The upload is a
                // DOCUMENT in `inputs/` whose ingestion is reported later (SYNC-*).
                field.bytes().await.map_err(multipart_err)?;
                cmd.uploads.push(NewUpload {
                    name: file_name,
                    ingestion: Ingestion::Pending,
                });
                continue;
            }
            let text = field.text().await.map_err(multipart_err)?;
            match name.as_str() {
                "input_scope" => cmd.input_scope.extend(
                    parse_id_list("input_scope", &text)?
                        .into_iter()
                        .map(PathPartId),
                ),
                "selected_skill_ids" => cmd
                    .selected_skill_ids
                    .extend(parse_id_list("selected_skill_ids", &text)?),
                "idempotency_key" => cmd.idempotency_key = Some(text),
                "auto_start" => cmd.auto_start = parse_bool("auto_start", text.trim())?,
                "user_message" => cmd.auto_start_user_message = Some(text),
                "name" => cmd.name = Some(text),
                // The documented form has no other fields (`additionalProperties: false`).
                _ => {
                    return Err(ApiError::unprocessable(format!(
                        "unknown form field {name:?}"
                    )))
                }
            }
        }
        return Ok(cmd);
    }
    let bytes = body_bytes(req, state).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(cmd);
    }
    if !content_type.is_empty() && !content_type.contains("json") {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("unsupported content type {content_type:?}: send multipart/form-data or JSON"),
        ));
    }
    let j: CreateRunJson = parse_json(&bytes)?;
    cmd.input_scope = j
        .input_scope
        .unwrap_or_default()
        .into_iter()
        .map(PathPartId)
        .collect();
    cmd.idempotency_key = j.idempotency_key;
    cmd.auto_start = j.auto_start.unwrap_or(false);
    cmd.auto_start_user_message = j.user_message;
    cmd.name = j.name;
    cmd.selected_skill_ids = j.selected_skill_ids.unwrap_or_default();
    Ok(cmd)
}

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

// ---------------------------------------------------------------------------------- definitions

/// Create a workflow definition: 201 and `Location`. Without an instruction, an empty
/// `instruction.md` DOCUMENT is created under the definition (as the Knowledge Stack API does).
#[utoipa::path(post, path = "/v1/workflow-definitions", tag = "workflow-definitions",
    request_body = CreateWorkflowDefinitionRequest,
    responses((status = 201, body = WorkflowDefinitionResponse, headers(("Location" = String))),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn create_definition<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    JsonBody(body): JsonBody<CreateWorkflowDefinitionRequest>,
) -> ApiResult<Response> {
    let def = call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let mut new = NewDefinition {
            id: None,
            parent_id: PathPartId(body.parent_path_part_id),
            name: body.name,
            instruction_id: body.instruction_path_part_id.map(PathPartId),
            max_run_duration_seconds: body.max_run_duration_seconds,
            approval_required: body.approval_required,
            is_active: true,
            is_template: body.is_template.unwrap_or(false),
            common_file_ids: body
                .common_file_path_part_ids
                .unwrap_or_default()
                .into_iter()
                .map(PathPartId)
                .collect(),
            selected_skill_ids: body.selected_skill_ids.unwrap_or_default(),
            create_empty_instruction: false,
        };
        let mut def = engine.create_definition(actor, new.clone())?;
        if def.instruction_id.is_none() {
            let doc = engine.put_part(
                def.tenant_id,
                PathPartId(Uuid::new_v5(&def.id.0, b"instruction.md")),
                PathPartKind::Document,
                "instruction.md",
                Some(def.id.into()),
            )?;
            new.id = Some(def.id);
            new.instruction_id = Some(doc.id);
            def = engine.create_definition(actor, new)?;
        }
        Ok(Renderer::new(engine, caller).definition_response(&def, false)?)
    })
    .await?;
    let loc = location(format!("/v1/workflow-definitions/{}", def.id));
    Ok((StatusCode::CREATED, loc, Json(def)).into_response())
}

/// Get a workflow definition the caller can read.
#[utoipa::path(get, path = "/v1/workflow-definitions/{definition_id}", tag = "workflow-definitions",
    params(("definition_id" = Uuid, Path, description = "Definition id")),
    responses((status = 200, body = WorkflowDefinitionResponse), (status = 404, body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn get_definition<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
) -> ApiResult<Json<WorkflowDefinitionResponse>> {
    call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let def = engine.get_definition(actor, DefinitionId(id))?;
        Ok(Renderer::new(engine, caller).definition_response(&def, true)?)
    })
    .await
    .map(Json)
}

// --------------------------------------------------------------------- host and runner extras

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
    let out = call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let doc = engine.add_output(actor, RunId(id), &body.name)?;
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
