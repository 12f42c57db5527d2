//! Workflow definitions (DEF-1..5): create, get, list, replace, delete, instantiate.

use super::{call, location, ApiResult};
use crate::extract::query::{
    parse_bool, parse_enum, parse_limit, parse_offset, parse_time, parse_uuid,
};
use crate::extract::{Credentials, JsonBody, PathId};
use crate::render::Renderer;
use crate::wire::*;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use workflow_core::{
    DefinitionId, DefinitionOrder, ListDefinitions, NewDefinition, PathPartId, PutDefinition,
    ScheduleCadence, ScheduleFields, SortDir, Store,
};

/// The schedule fields of a definition body (SCHED-1): the cadence parsed, the rest as given.
fn schedule_fields(
    cadence: Option<String>,
    start_at: Option<String>,
    timezone: Option<String>,
) -> ApiResult<ScheduleFields> {
    Ok(ScheduleFields {
        cadence: cadence
            .as_deref()
            .map(|c| parse_enum::<ScheduleCadence>("schedule_cadence", c))
            .transpose()?,
        start_at: start_at
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| parse_time("schedule_start_at", s))
            .transpose()?,
        timezone,
    })
}

fn path_part_ids(ids: Option<Vec<uuid::Uuid>>) -> Option<Vec<PathPartId>> {
    ids.map(|v| v.into_iter().map(PathPartId).collect())
}

/// Create a workflow definition: 201 and `Location`. Without an instruction, an empty
/// `instruction.md` DOCUMENT is created under the definition (as the Knowledge Stack API does):
/// the engine does it in the same atomic catalog write (`create_empty_instruction`).
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
    let schedule = schedule_fields(
        body.schedule_cadence,
        body.schedule_start_at,
        body.schedule_timezone,
    )?;
    let def = call(&state, creds, move |engine, caller| {
        let actor = &caller.actor;
        let new = NewDefinition {
            id: None,
            parent_id: PathPartId(body.parent_path_part_id),
            name: body.name,
            instruction_id: body.instruction_path_part_id.map(PathPartId),
            max_run_duration_seconds: body.max_run_duration_seconds,
            approval_required: body.approval_required,
            is_active: true,
            is_template: body.is_template.unwrap_or(false),
            common_file_ids: path_part_ids(body.common_file_path_part_ids).unwrap_or_default(),
            selected_skill_ids: body.selected_skill_ids.unwrap_or_default(),
            create_empty_instruction: true,
            description: body.description,
            schedule,
            created_from_id: None,
        };
        let def = engine.create_definition(actor, new)?;
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

/// Parse the definition list's query string as ksapi sends it (DEF-1). The flag is set when
/// `include_tag_ids` was given: no definition carries a tag, so the page is empty (as LIST-2
/// answers for runs); `exclude_tag_ids` removes nothing. Both must be UUIDs.
fn parse_definition_query(raw: Option<&str>) -> ApiResult<(ListDefinitions, bool)> {
    let mut q = ListDefinitions::default();
    let mut tagged_only = false;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let v = v.trim();
        match k.as_ref() {
            "limit" => q.limit = parse_limit(v)?,
            "offset" => q.offset = parse_offset(v)?,
            "mine" => q.mine = parse_bool("mine", v)?,
            "search" if !v.is_empty() => q.search = Some(v.to_owned()),
            "is_template" => q.is_template = Some(parse_bool("is_template", v)?),
            "needs_approval" => q.needs_approval = Some(parse_bool("needs_approval", v)?),
            "sort_by" => q.order = parse_enum::<DefinitionOrder>("sort_by", v)?,
            "sort_dir" => q.dir = Some(parse_enum::<SortDir>("sort_dir", &v.to_ascii_uppercase())?),
            "created_after" => q.created.from = Some(parse_time("created_after", v)?),
            "created_before" => q.created.to = Some(parse_time("created_before", v)?),
            "updated_after" => q.updated.from = Some(parse_time("updated_after", v)?),
            "updated_before" => q.updated.to = Some(parse_time("updated_before", v)?),
            "include_tag_ids" => {
                parse_uuid("include_tag_ids", v)?;
                tagged_only = true;
            }
            "exclude_tag_ids" => {
                parse_uuid("exclude_tag_ids", v)?;
            }
            _ => {}
        }
    }
    Ok((q, tagged_only))
}

/// List the definitions the caller can read (DEF-1): ksapi's filters and orders; templates
/// only with `is_template=true`.
#[utoipa::path(get, path = "/v1/workflow-definitions", tag = "workflow-definitions",
    params(
        ("mine" = Option<bool>, Query, description = "Only definitions the caller owns"),
        ("search" = Option<String>, Query, description = "Case-insensitive substring of the name or description"),
        ("is_template" = Option<bool>, Query, description = "Templates (true) or runnable definitions (false, the default)"),
        ("needs_approval" = Option<bool>, Query, description = "Only definitions with a run awaiting approval"),
        ("sort_by" = Option<DefinitionOrderValue>, Query, description = "CREATED_AT (default), UPDATED_AT or NAME"),
        ("sort_dir" = Option<SortDirValue>, Query, description = "Default: DESC for times, ASC for NAME"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1..=100, default 20"),
        ("offset" = Option<u64>, Query, maximum = 9_223_372_036_854_775_807_u64, description = "Rows to skip"),
        ("created_after" = Option<String>, Query, format = DateTime, description = "Created at or after (inclusive)"),
        ("created_before" = Option<String>, Query, format = DateTime, description = "Created strictly before"),
        ("updated_after" = Option<String>, Query, format = DateTime, description = "Updated at or after (inclusive)"),
        ("updated_before" = Option<String>, Query, format = DateTime, description = "Updated strictly before"),
        ("include_tag_ids" = Option<Vec<Uuid>>, Query, explode, description = "Definitions carrying one of these tags: definitions carry no tags, so any value gives an empty page"),
        ("exclude_tag_ids" = Option<Vec<Uuid>>, Query, explode, description = "Definitions carrying none of these tags: removes nothing"),
    ),
    responses((status = 200, description = "A page of definitions", body = PaginatedDefinitions),
        (status = 422, description = "Bad query", body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn list_definitions<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<PaginatedDefinitions>> {
    let (q, tagged_only) = parse_definition_query(raw.as_deref())?;
    call(&state, creds, move |engine, caller| {
        if tagged_only {
            return Ok(PaginatedDefinitions {
                items: Vec::new(),
                total: 0,
                limit: q.limit,
                offset: q.offset,
            });
        }
        let page = engine.list_definitions(&caller.actor, q)?;
        let mut r = Renderer::new(engine, caller);
        let items = page
            .items
            .iter()
            .map(|d| r.definition_response(d, true))
            .collect::<Result<Vec<_>, workflow_core::Error>>()?;
        Ok(PaginatedDefinitions {
            items,
            total: page.total,
            limit: page.limit,
            offset: page.offset,
        })
    })
    .await
    .map(Json)
}

/// Replace a definition (DEF-2).
#[utoipa::path(put, path = "/v1/workflow-definitions/{definition_id}", tag = "workflow-definitions",
    params(("definition_id" = Uuid, Path, description = "Definition id")),
    request_body = UpdateWorkflowDefinitionRequest,
    responses((status = 200, description = "The definition as replaced", body = WorkflowDefinitionResponse),
        (status = 403, description = "Read-only", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown or unreadable", body = crate::error::ErrorBody),
        (status = 409, description = "A move while a run is IN_PROGRESS, or a name clash", body = crate::error::ErrorBody),
        (status = 422, description = "Bad body", body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn put_definition<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    JsonBody(body): JsonBody<UpdateWorkflowDefinitionRequest>,
) -> ApiResult<Json<WorkflowDefinitionResponse>> {
    let schedule = schedule_fields(
        body.schedule_cadence,
        body.schedule_start_at,
        body.schedule_timezone,
    )?;
    let put = PutDefinition {
        name: body.name,
        description: body.description,
        max_run_duration_seconds: body.max_run_duration_seconds,
        instruction_id: body.instruction_path_part_id.map(PathPartId),
        parent_id: body.parent_path_part_id.map(PathPartId),
        is_active: body.is_active,
        approval_required: body.approval_required,
        selected_skill_ids: body.selected_skill_ids,
        common_file_ids: path_part_ids(body.common_file_path_part_ids),
        schedule,
    };
    call(&state, creds, move |engine, caller| {
        let def = engine.put_definition(&caller.actor, DefinitionId(id), put)?;
        Ok(Renderer::new(engine, caller).definition_response(&def, false)?)
    })
    .await
    .map(Json)
}

/// Delete a definition and its runs (DEF-3): 204.
#[utoipa::path(delete, path = "/v1/workflow-definitions/{definition_id}", tag = "workflow-definitions",
    params(("definition_id" = Uuid, Path, description = "Definition id")),
    responses((status = 204, description = "Deleted, with its runs"),
        (status = 403, description = "Read-only", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown or unreadable", body = crate::error::ErrorBody),
        (status = 409, description = "A run is IN_PROGRESS", body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn delete_definition<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    call(&state, creds, move |engine, caller| {
        engine.delete_definition(&caller.actor, DefinitionId(id))?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Copy a definition (usually a template) into a new runnable one (DEF-4): 201 and `Location`.
#[utoipa::path(post, path = "/v1/workflow-definitions/{definition_id}/instantiate", tag = "workflow-definitions",
    params(("definition_id" = Uuid, Path, description = "Source definition id")),
    request_body = InstantiateWorkflowTemplateRequest,
    responses((status = 201, description = "The new definition", body = WorkflowDefinitionResponse, headers(("Location" = String))),
        (status = 403, description = "No write access to the folder", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown source or folder", body = crate::error::ErrorBody),
        (status = 409, description = "Name taken in the folder", body = crate::error::ErrorBody)),
    security(("bearerAuth" = []), ("cookieAuth" = [])))]
pub(crate) async fn instantiate_definition<S: Store + 'static>(
    State(state): State<AppState<S>>,
    creds: Credentials,
    PathId(id): PathId,
    JsonBody(body): JsonBody<InstantiateWorkflowTemplateRequest>,
) -> ApiResult<Response> {
    let def = call(&state, creds, move |engine, caller| {
        let def = engine.instantiate_definition(
            &caller.actor,
            DefinitionId(id),
            PathPartId(body.parent_path_part_id),
            body.name,
        )?;
        Ok(Renderer::new(engine, caller).definition_response(&def, false)?)
    })
    .await?;
    let loc = location(format!("/v1/workflow-definitions/{}", def.id));
    Ok((StatusCode::CREATED, loc, Json(def)).into_response())
}
