//! The OpenAPI 3 document of what is served, generated from the handlers' `#[utoipa::path]`
//! annotations and the wire types' `ToSchema` derives.

use crate::error::ErrorBody;
use crate::handlers;
use crate::wire::*;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Workflow runs API",
        description = "The workflow-runs part of the Knowledge Stack API (wire-compatible with ksapi 3.18.2). Every non-2xx body is {detail, code, request_id}."
    ),
    paths(
        handlers::list_runs,
        handlers::get_run,
        handlers::update_run,
        handlers::delete_run,
        handlers::start_run,
        handlers::stop_run,
        handlers::callback,
        handlers::retry_run,
        handlers::clone_run,
        handlers::approve_run,
        handlers::create_run,
        handlers::list_definition_runs,
        handlers::create_definition,
        handlers::get_definition,
        handlers::add_upload,
        handlers::set_ingestion,
        handlers::add_output,
        handlers::thread_gate,
    ),
    components(schemas(
        ErrorBody,
        WorkflowRunResponse,
        WorkflowDefinitionResponse,
        PaginatedRuns,
        WorkflowCallbackResponse,
        UserInfo,
        ItemPermissions,
        WorkflowRunAsset,
        RunFolder,
        RunFolderRef,
        ExcludedCommonFile,
        InstructionSnapshot,
        InputSnapshot,
        WorkflowRunSnapshot,
        UpdateWorkflowRunRequest,
        StartWorkflowRunRequest,
        WorkflowRunCallbackRequest,
        CloneWorkflowRunRequest,
        SetWorkflowRunApprovalRequest,
        CreateWorkflowDefinitionRequest,
        CreateWorkflowRunForm,
        AddUploadRequest,
        UploadResponse,
        SetIngestionRequest,
        AddOutputRequest,
        OutputResponse,
        ThreadGateResponse,
    )),
    modifiers(&Security)
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookieAuth",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("ks_uat"))),
        );
    }
}

/// The OpenAPI 3 document of the router (also served at `GET /openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
