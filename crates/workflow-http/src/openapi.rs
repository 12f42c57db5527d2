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
        handlers::runs::list_runs,
        handlers::runs::get_run,
        handlers::runs::update_run,
        handlers::runs::delete_run,
        handlers::runs::start_run,
        handlers::runs::stop_run,
        handlers::runs::callback,
        handlers::runs::retry_run,
        handlers::runs::resume_run,
        handlers::definitions::list_definitions,
        handlers::definitions::put_definition,
        handlers::definitions::delete_definition,
        handlers::definitions::instantiate_definition,
        handlers::summary::runs_summary,
        handlers::runs::clone_run,
        handlers::runs::approve_run,
        handlers::runs::create_run,
        handlers::runs::list_definition_runs,
        handlers::definitions::create_definition,
        handlers::definitions::get_definition,
        handlers::host::add_upload,
        handlers::host::set_ingestion,
        handlers::host::add_output,
        handlers::host::thread_gate,
        handlers::history::run_history,
    ),
    components(schemas(
        ErrorBody,
        handlers::summary::WorkflowRunSummaryResponse,
        handlers::summary::WorkflowAdoptionStats,
        handlers::history::WorkflowRunHistoryResponse,
        handlers::history::WorkflowRunHistoryRecord,
        WorkflowRunResponse,
        WorkflowDefinitionResponse,
        PaginatedDefinitions,
        LastRunSummary,
        UpdateWorkflowDefinitionRequest,
        InstantiateWorkflowTemplateRequest,
        ScheduleCadenceValue,
        DefinitionOrderValue,
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
        CallbackStatusValue,
        ApprovalValue,
        IngestionValue,
        ExecutionStateValue,
        ApprovalStateValue,
        SortByValue,
        SortDirValue,
    )),
    modifiers(
        &Security,
        &StandardResponses,
        &UuidPatterns,
        &RequestLimits,
        &FormFieldNames,
        &BodyRules
    )
)]
struct ApiDoc;

struct Security;

/// What a bearer credential may be (SPEC section 7, RTOK-1..4).
const CREDENTIALS: &str = "A user's API key, or a runner's callback token (`wrt1.…`, from the \
dispatch payload's `callback_token`). An API key acts as its user; with the header \
`x-ks-assumed: true`, as that user assumed (an agent, which never approves). A callback token \
acts as the run's triggerer, assumed, and may do exactly three things on its own run: \
GET /v1/workflow-runs/{run_id}, POST /v1/workflow-runs/{run_id}/outputs and \
POST /v1/workflow-runs/{run_id}/callback (a callback without `attempt` reports on the token's \
attempt). The same calls on another run answer 404; every other operation answers 403. A \
forged, altered, truncated or expired token, or one whose user no longer exists, answers 401.";

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(CREDENTIALS))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookieAuth",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "ks_uat",
                "The same credential as bearerAuth (an API key or a runner's callback token), \
                 sent as the ks_uat cookie.",
            ))),
        );
    }
}

/// Adds, to every operation, the error answers it can give (SPEC section 6, all with the
/// [`ErrorBody`] schema) and the `x-request-id` header every answer carries, so the handlers'
/// annotations only list their success answers and their own particular errors:
///
/// * every operation: 401 (credentials), 403 (not allowed for the caller), 404 (no such id, in the path or the body, or not
///   visible: VIS-1), 422 (a path id, query parameter or body field that does not validate),
///   500, 503;
/// * every write (not GET): 409 (the state forbids it, a concurrent change);
/// * with a request body: 400 (unsupported content type, broken multipart) and 413 (over the
///   body limit).
struct StandardResponses;

impl StandardResponses {
    fn error(status: &str) -> (&'static str, &'static str) {
        match status {
            "400" => ("400", "Bad request: unsupported content type or a broken multipart body (`bad_request`)"),
            "401" => ("401", "Missing or unknown credentials (`unauthorized`)"),
            "403" => ("403", "Not allowed for the caller (`forbidden`)"),
            "404" => ("404", "No such id, or not visible to the caller (`not_found`)"),
            "409" => ("409", "The resource's state forbids it, or a concurrent change (`conflict`, `run_busy`)"),
            "413" => ("413", "The body is over the size limit (`payload_too_large`)"),
            "422" => ("422", "A path id, query parameter or body field does not validate (`unprocessable_entity`)"),
            "503" => ("503", "The store is busy; retry (`service_unavailable`)"),
            _ => ("500", "A failure on the server's side (`internal_error`)"),
        }
    }
}

impl StandardResponses {
    /// The description of a `status` answer whose annotation gave none.
    fn default_description(status: &str) -> &'static str {
        match status {
            "200" => "Success",
            "201" => "Created; `Location` points at it",
            "202" => "Accepted; `Location` points at the run",
            "204" => "Done; no body",
            s if s.starts_with('2') => "Success",
            s => Self::error(s).1,
        }
    }
}

fn request_id_header() -> utoipa::openapi::header::Header {
    let mut h = utoipa::openapi::header::Header::new(utoipa::openapi::schema::Object::with_type(
        utoipa::openapi::schema::Type::String,
    ));
    h.description =
        Some("The request id: the request's own when it sent one, else generated".into());
    h
}

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                (false, item.get.as_mut()),
                (true, item.put.as_mut()),
                (true, item.post.as_mut()),
                (true, item.delete.as_mut()),
                (true, item.patch.as_mut()),
            ];
            for (write, op) in ops {
                let Some(op) = op else { continue };
                let mut statuses = vec!["401", "403", "404", "422", "500", "503"];
                if write {
                    statuses.extend(["403", "409"]);
                }
                if op.request_body.is_some() {
                    statuses.extend(["400", "413"]);
                }
                for s in statuses {
                    let (status, description) = Self::error(s);
                    let response = ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build();
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::T(response));
                }
                for (status, response) in op.responses.responses.iter_mut() {
                    if let RefOr::T(r) = response {
                        // OpenAPI requires a description on every response: an annotation
                        // that gave none gets the standard one of its status.
                        if r.description.trim().is_empty() {
                            r.description = Self::default_description(status).to_owned();
                        }
                        r.headers
                            .entry(crate::REQUEST_ID_HEADER.to_owned())
                            .or_insert_with(|| RefOr::T(request_id_header()));
                    }
                }
            }
        }
    }
}

/// The pattern of a UUID as this server parses it (hyphenated form).
pub(crate) const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// Gives every `format: uuid` string (components, parameters, request bodies) the
/// [`UUID_PATTERN`]: `format` alone is only an annotation in OpenAPI 3.1, so a client (or a
/// fuzzer) could otherwise consider any string valid where the server wants a UUID.
struct UuidPatterns;

fn add_uuid_pattern(schema: &mut utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>) {
    use utoipa::openapi::schema::{ArrayItems, KnownFormat, Schema, SchemaFormat};
    use utoipa::openapi::RefOr;
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(o) => {
            if matches!(o.format, Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))) {
                o.pattern.get_or_insert_with(|| UUID_PATTERN.to_owned());
            }
            o.properties.values_mut().for_each(add_uuid_pattern);
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                add_uuid_pattern(items);
            }
        }
        Schema::OneOf(x) => x.items.iter_mut().for_each(add_uuid_pattern),
        Schema::AllOf(x) => x.items.iter_mut().for_each(add_uuid_pattern),
        Schema::AnyOf(x) => x.items.iter_mut().for_each(add_uuid_pattern),
        _ => {}
    }
}

impl Modify for UuidPatterns {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        if let Some(c) = openapi.components.as_mut() {
            c.schemas.values_mut().for_each(add_uuid_pattern);
        }
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                for p in op.parameters.iter_mut().flatten() {
                    if let RefOr::T(p) = p {
                        if let Some(s) = p.schema.as_mut() {
                            add_uuid_pattern(s);
                        }
                    }
                }
                if let Some(RefOr::T(body)) = op.request_body.as_mut() {
                    for c in body.content.values_mut() {
                        if let RefOr::T(c) = c {
                            if let Some(s) = c.schema.as_mut() {
                                add_uuid_pattern(s);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Sets the length and count limits of the request fields, and the CREATE-4 name pattern, from
/// [`REQUEST_LIMITS`]: the numbers are `workflow_core::policy`'s, the pattern
/// [`workflow_core::policy::NAME_PATTERN`], so the document states exactly what the engine
/// enforces and no number is written twice.
struct RequestLimits;

/// Put `limit` on `schema`; false when the schema has no place for it (a unit test keeps every
/// entry of [`REQUEST_LIMITS`] landing).
fn apply_limit(schema: &mut utoipa::openapi::schema::Schema, limit: Limit) -> bool {
    use utoipa::openapi::schema::Schema;
    use workflow_core::policy::{MAX_NAME_LEN, NAME_PATTERN};
    match (schema, limit) {
        (Schema::Object(o), Limit::Name) => {
            o.min_length = Some(1);
            o.max_length = Some(MAX_NAME_LEN);
            o.pattern = Some(NAME_PATTERN.to_owned());
            true
        }
        (Schema::Object(o), Limit::Length(min, max)) => {
            o.min_length = Some(min);
            o.max_length = Some(max);
            true
        }
        (Schema::Object(o), Limit::MaxLength(max)) => {
            o.max_length = Some(max);
            true
        }
        (Schema::Array(a), Limit::MaxItems(max)) => {
            a.max_items = Some(max);
            true
        }
        _ => false,
    }
}

/// Apply [`REQUEST_LIMITS`] to the components of `openapi`; returns the entries that found no
/// property to land on.
fn apply_request_limits(
    openapi: &mut utoipa::openapi::OpenApi,
) -> Vec<(&'static str, &'static str)> {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    let mut missed = Vec::new();
    let schemas = openapi.components.as_mut().map(|c| &mut c.schemas);
    let Some(schemas) = schemas else {
        return REQUEST_LIMITS.iter().map(|(s, p, _)| (*s, *p)).collect();
    };
    for &(schema, property, limit) in REQUEST_LIMITS {
        // An object, or (after BodyRules) an allOf whose first item is the object.
        let object = match schemas.get_mut(schema) {
            Some(RefOr::T(Schema::Object(o))) => Some(o),
            Some(RefOr::T(Schema::AllOf(all))) => match all.items.first_mut() {
                Some(RefOr::T(Schema::Object(o))) => Some(o),
                _ => None,
            },
            _ => None,
        };
        let landed = match object.and_then(|o| o.properties.get_mut(property)) {
            Some(RefOr::T(p)) => apply_limit(p, limit),
            _ => false,
        };
        if !landed {
            missed.push((schema, property));
        }
    }
    missed
}

impl Modify for RequestLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (schema, property) in apply_request_limits(openapi) {
            tracing::error!(
                schema,
                property,
                "OpenAPI: a request limit found no property"
            );
        }
    }
}

/// HTTP-3 ignores unknown fields of the multipart create form, but a multipart part's name
/// travels in a header, where control characters cannot: the form schema allows additional
/// fields whose names have none.
struct FormFieldNames;

/// The names a multipart form part can carry.
const FORM_FIELD_NAME_PATTERN: &str = r"^[^\u0000-\u001F\u007F]+$";

impl Modify for FormFieldNames {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{Object, Schema, Type};
        use utoipa::openapi::RefOr;
        let form = openapi
            .components
            .as_mut()
            .and_then(|c| c.schemas.get_mut("CreateWorkflowRunForm"));
        if let Some(RefOr::T(Schema::Object(o))) = form {
            let mut names = Object::with_type(Type::String);
            names.pattern = Some(FORM_FIELD_NAME_PATTERN.to_owned());
            o.property_names = Some(Box::new(Schema::Object(names)));
        }
    }
}

/// Body rules beyond one property at a time, so that the schema is exactly as strict as the
/// server: a PATCH needs at least one non-null field (UPDATE-3, UPDATE-6), and a schedule's
/// zone is an IANA name (SCHED-1: the list the server validates against).
struct BodyRules;

impl Modify for BodyRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{
            AllOfBuilder, AnyOfBuilder, Object, ObjectBuilder, Schema, SchemaType, Type,
        };
        use utoipa::openapi::RefOr;
        let Some(schemas) = openapi.components.as_mut().map(|c| &mut c.schemas) else {
            return;
        };
        if let Some(patch) = schemas.get_mut("UpdateWorkflowRunRequest") {
            let mut any = AnyOfBuilder::new();
            for (field, ty) in [
                ("input_scope", Type::Array),
                ("name", Type::String),
                ("auto_start", Type::Boolean),
                ("user_message", Type::String),
            ] {
                any = any.item(
                    ObjectBuilder::new()
                        .property(field, Object::with_type(ty))
                        .required(field),
                );
            }
            let original = patch.clone();
            *patch = RefOr::T(Schema::AllOf(
                AllOfBuilder::new().item(original).item(any).build(),
            ));
        }
        // One name per distinct last segment (`Etc/GMT0` and `GMT0`, `America/Buenos_Aires` and
        // `America/Argentina/Buenos_Aires` would give client generators two enum members of
        // one name); the server accepts every IANA name, the schema lists one of each.
        let mut seen = std::collections::BTreeSet::new();
        let zones: Vec<serde_json::Value> = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|z| z.name())
            .filter(|name| {
                let last = name.rsplit('/').next().unwrap_or(name);
                let key: String = last
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .map(|c| c.to_ascii_uppercase())
                    .collect();
                seen.insert(key)
            })
            .map(serde_json::Value::from)
            .chain([serde_json::Value::from(""), serde_json::Value::Null])
            .collect();
        for name in [
            "CreateWorkflowDefinitionRequest",
            "UpdateWorkflowDefinitionRequest",
        ] {
            if let Some(RefOr::T(Schema::Object(o))) = schemas.get_mut(name) {
                if let Some(RefOr::T(Schema::Object(zone))) =
                    o.properties.get_mut("schedule_timezone")
                {
                    zone.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
                    zone.enum_values = Some(zones.clone());
                }
            }
        }
    }
}

/// The OpenAPI 3 document of the router (also served at `GET /openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_limit_lands_on_a_property() {
        let mut doc = ApiDoc::openapi();
        assert_eq!(apply_request_limits(&mut doc), Vec::new());
    }
}
