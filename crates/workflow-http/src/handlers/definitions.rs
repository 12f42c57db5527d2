//! Workflow definitions: create and get.

use super::{call, location, ApiResult};
use crate::extract::{Credentials, JsonBody, PathId};
use crate::render::Renderer;
use crate::wire::*;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use workflow_core::{DefinitionId, NewDefinition, PathPartId, Store};

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
            common_file_ids: body
                .common_file_path_part_ids
                .unwrap_or_default()
                .into_iter()
                .map(PathPartId)
                .collect(),
            selected_skill_ids: body.selected_skill_ids.unwrap_or_default(),
            create_empty_instruction: true,
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
