//! The JSON shapes of SPEC section 7, field for field those of the ksapi 3.18.2 models
//! (`WorkflowRunResponse`, `WorkflowDefinitionResponse`, `WorkflowCallbackResponse`,
//! `PaginatedResponseWorkflowRunResponse` and the request models), plus the few extra
//! endpoints this server offers (uploads, outputs, ingestion status, thread gate).
//!
//! Enum values are the domain's wire strings (`as_str()`), datetimes RFC 3339 in UTC, UUIDs
//! strings. Where ksapi requires a UUID that the domain may not have (an instruction that was
//! never set), the nil UUID `00000000-0000-0000-0000-000000000000` stands in for it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use workflow_core::policy::{MAX_ERROR_LEN, MAX_INPUT_SCOPE, MAX_REASON_LEN, MAX_USER_MESSAGE_LEN};
use workflow_core::{
    ApprovalState, CallbackStatus, DefinitionOrder, ExecutionState, Ingestion, RunOrder,
    ScheduleCadence, SortDir,
};

/// Minimal user identity (ksapi `UserInfo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserInfo {
    /// User id.
    pub user_id: Uuid,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
}

/// The caller's rights on an item (ksapi `ItemPermissions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ItemPermissions {
    /// VIS-1.
    pub can_read: bool,
    /// Triggerer or admin.
    pub can_write: bool,
    /// Triggerer or admin.
    pub can_delete: bool,
    /// APPROVE-5; always false for assumed actors.
    pub can_approve: bool,
}

/// One input or output of a run (ksapi `WorkflowRunAsset`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowRunAsset {
    /// The item's id (here: its path-part id).
    pub id: Uuid,
    /// The path part.
    pub path_part_id: Uuid,
    /// Last path segment.
    pub name: String,
    /// `DOCUMENT`, `DOCUMENT_VERSION`, `FOLDER`, `DATA_SOURCE` or `API_CONNECTION`.
    #[schema(example = "DOCUMENT")]
    pub part_type: String,
    /// Full path.
    pub materialized_path: String,
    /// `not_required`, `pending` or `approved`.
    #[schema(example = "not_required")]
    pub approval_state: String,
    /// `DEFINITION_COMMON`, `RUN_REFERENCE` or `RUN_UPLOAD` (inputs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// A run subfolder with its assets (ksapi `RunFolder`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunFolder {
    /// The folder's id (its path-part id).
    pub id: Uuid,
    /// The folder's path part.
    pub path_part_id: Uuid,
    /// Full path.
    pub materialized_path: String,
    /// `inputs/`: the snapshot's inputs once started, else uploads and references;
    /// `outputs/`: the documents the agent wrote.
    pub assets: Vec<WorkflowRunAsset>,
}

/// A run subfolder without assets (ksapi `RunFolderRef`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunFolderRef {
    /// The folder's id.
    pub id: Uuid,
    /// The folder's path part.
    pub path_part_id: Uuid,
    /// Full path.
    pub materialized_path: String,
}

/// A common file left out at Start (ksapi `ExcludedCommonFile`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExcludedCommonFile {
    /// The common file as set on the definition.
    pub path_part_id: Uuid,
    /// `NOT_FOUND`, `NO_ACCESS` or `UNRESOLVABLE`.
    #[schema(example = "NOT_FOUND")]
    pub reason: String,
}

/// The pinned instruction (ksapi `InstructionSnapshot`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InstructionSnapshot {
    /// The pinned DOCUMENT_VERSION (nil UUID when there is no instruction).
    pub path_part_id: Uuid,
    /// Its path.
    pub materialized_path: String,
    /// Always `DOCUMENT_VERSION`.
    pub part_type: String,
    /// Where the runner reads the instruction; null when it is empty.
    pub source_s3_uri: Option<String>,
}

/// One pinned input (ksapi `InputSnapshot`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InputSnapshot {
    /// The pinned DOCUMENT_VERSION or the live FOLDER / DATA_SOURCE / API_CONNECTION.
    pub path_part_id: Uuid,
    /// Its path at Start.
    pub materialized_path: String,
    /// `DOCUMENT_VERSION`, `FOLDER`, `DATA_SOURCE` or `API_CONNECTION`.
    pub part_type: String,
    /// `DEFINITION_COMMON`, `RUN_REFERENCE` or `RUN_UPLOAD`.
    pub origin: Option<String>,
}

/// The frozen configuration (ksapi `WorkflowRunSnapshot`), plus `approval_required`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowRunSnapshot {
    /// The definition's name at Start.
    pub workflow_name: String,
    /// The deadline of one attempt.
    pub max_run_duration_seconds: u32,
    /// Whether a COMPLETED run needs approval.
    pub approval_required: bool,
    /// The pinned instruction.
    pub instruction: InstructionSnapshot,
    /// The pinned inputs.
    pub inputs: Vec<InputSnapshot>,
    /// Common files left out.
    pub excluded_common_files: Vec<ExcludedCommonFile>,
    /// The starter's message.
    pub user_message: Option<String>,
    /// Skills, the definition's then the run's.
    pub selected_skill_ids: Vec<Uuid>,
    /// When it was built.
    pub created_at: DateTime<Utc>,
}

/// A workflow run (ksapi `WorkflowRunResponse`), plus `attempt`, `version` and
/// `input_path_part_ids`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowRunResponse {
    /// Always `WORKFLOW_RUN`.
    pub part_type: String,
    /// The run id.
    pub id: Uuid,
    /// The run folder's path part (same as `id`).
    pub path_part_id: Uuid,
    /// The definition's `runs/` folder.
    pub parent_path_part_id: Option<Uuid>,
    /// The run folder's path.
    pub materialized_path: String,
    /// Tenant.
    pub tenant_id: Uuid,
    /// Display name.
    pub name: String,
    /// Definition.
    pub workflow_definition_id: Uuid,
    /// The user who created it.
    pub triggered_by: UserInfo,
    /// `PENDING`, `NOT_STARTED`, `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    #[schema(example = "NOT_STARTED")]
    pub execution_state: String,
    /// `not_required`, `pending` or `approved`.
    #[schema(example = "not_required")]
    pub approval_state: String,
    /// First Start; null before.
    pub started_at: Option<DateTime<Utc>>,
    /// Set when terminal.
    pub completed_at: Option<DateTime<Utc>>,
    /// Frozen at Start; null before.
    pub run_snapshot: Option<WorkflowRunSnapshot>,
    /// Why it failed.
    pub error: Option<String>,
    /// Start by itself once uploads finish ingesting.
    pub auto_start: bool,
    /// The message used when auto-start fires.
    pub auto_start_user_message: Option<String>,
    /// `inputs/` and its assets.
    pub inputs: RunFolder,
    /// `outputs/` and its assets.
    pub outputs: RunFolder,
    /// `discussions/`.
    pub discussions: RunFolderRef,
    /// Common files left out at Start.
    pub excluded_common_files: Vec<ExcludedCommonFile>,
    /// The run's thread; null before Start.
    pub run_thread_id: Option<Uuid>,
    /// The owner (the triggerer).
    pub owner: Option<UserInfo>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The caller's rights; null on mutation responses (as in the Knowledge Stack API).
    pub permissions: Option<ItemPermissions>,
    /// Current attempt: 0 before the first Start, +1 per dispatch. A runner echoes it in its
    /// callback (CB-4).
    pub attempt: u32,
    /// Optimistic-concurrency version of the run.
    pub version: u64,
    /// The KB references of the run's input scope, in order.
    pub input_path_part_ids: Vec<Uuid>,
}

/// A workflow definition (ksapi `WorkflowDefinitionResponse`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowDefinitionResponse {
    /// Always `WORKFLOW_DEFINITION`.
    pub part_type: String,
    /// Definition id.
    pub id: Uuid,
    /// Its path part (same as `id`).
    pub path_part_id: Uuid,
    /// The folder it lives in.
    pub parent_path_part_id: Option<Uuid>,
    /// Its path.
    pub materialized_path: String,
    /// Tenant.
    pub tenant_id: Uuid,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// 60..=7200.
    pub max_run_duration_seconds: u32,
    /// The instruction DOCUMENT (nil UUID when none).
    pub instruction_path_part_id: Uuid,
    /// Inactive definitions cannot have runs.
    pub is_active: bool,
    /// Whether completed runs need approval.
    pub approval_required: bool,
    /// Templates cannot have runs.
    pub is_template: bool,
    /// Force-loaded skills.
    pub selected_skill_ids: Vec<Uuid>,
    /// Common files attached to every run.
    pub common_file_path_part_ids: Vec<Uuid>,
    /// The definition it was copied from (DEF-4).
    pub created_from_id: Option<Uuid>,
    /// Definitions copied from it.
    pub copy_count: u64,
    /// Its most recent run the caller can read.
    pub last_run: Option<LastRunSummary>,
    /// This definition's runs awaiting approval (visible to the caller).
    pub pending_approval_count: u64,
    /// Always `not_required`.
    pub approval_state: String,
    /// The owner.
    pub owner: Option<UserInfo>,
    /// DAILY, WEEKLY or MONTHLY (SCHED-1).
    #[schema(value_type = Option<ScheduleCadenceValue>)]
    pub schedule_cadence: Option<String>,
    /// The first occurrence.
    pub schedule_start_at: Option<DateTime<Utc>>,
    /// The IANA zone it fires in.
    pub schedule_timezone: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change (DEF-2).
    pub updated_at: DateTime<Utc>,
    /// The caller's rights; null on mutation responses.
    pub permissions: Option<ItemPermissions>,
}

/// A definition's most recent run (ksapi `LastRunSummary`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LastRunSummary {
    /// Run id.
    pub id: Uuid,
    /// Its execution state.
    #[schema(value_type = ExecutionStateValue)]
    pub execution_state: String,
    /// Its approval state.
    #[schema(value_type = ApprovalStateValue)]
    pub approval_state: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// First start.
    pub started_at: Option<DateTime<Utc>>,
    /// Completion.
    pub completed_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A page of definitions (ksapi `PaginatedResponseWorkflowDefinitionResponse`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaginatedDefinitions {
    /// This page.
    pub items: Vec<WorkflowDefinitionResponse>,
    /// All matches.
    pub total: u64,
    /// The limit asked for.
    pub limit: u32,
    /// The offset asked for.
    pub offset: u64,
}

/// PUT body (ksapi `UpdateWorkflowDefinitionRequest`, DEF-2): full replacement, except the
/// retain-on-null fields (instruction, parent, skills, common files).
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct UpdateWorkflowDefinitionRequest {
    /// Name.
    pub name: String,
    /// Free text (null clears it).
    pub description: Option<String>,
    /// 60..=7200; default 1800.
    #[serde(default, deserialize_with = "opt_u32")]
    #[schema(minimum = 60, maximum = 7200)]
    pub max_run_duration_seconds: Option<u32>,
    /// Retain-on-null: a new instruction DOCUMENT.
    pub instruction_path_part_id: Option<Uuid>,
    /// Retain-on-null: the folder to move it to.
    pub parent_path_part_id: Option<Uuid>,
    /// Whether runs may start.
    pub is_active: bool,
    /// Whether completed runs need approval.
    pub approval_required: bool,
    /// Retain-on-null: skills.
    pub selected_skill_ids: Option<Vec<Uuid>>,
    /// Retain-on-null: common files.
    pub common_file_path_part_ids: Option<Vec<Uuid>>,
    /// DAILY, WEEKLY or MONTHLY (null: no schedule).
    #[schema(value_type = Option<ScheduleCadenceValue>)]
    pub schedule_cadence: Option<String>,
    /// The first occurrence (RFC 3339; empty or omitted with a cadence: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub schedule_start_at: Option<String>,
    /// An IANA zone (omitted: the tenant's, UTC).
    pub schedule_timezone: Option<String>,
}

/// Instantiate body (ksapi `InstantiateWorkflowTemplateRequest`, DEF-4).
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct InstantiateWorkflowTemplateRequest {
    /// The folder to create the copy in (write access needed).
    pub parent_path_part_id: Uuid,
    /// Its name; default: the source's.
    pub name: Option<String>,
}

/// A page of runs (ksapi `PaginatedResponseWorkflowRunResponse`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaginatedRuns {
    /// This page.
    pub items: Vec<WorkflowRunResponse>,
    /// All matches.
    pub total: u64,
    /// The limit asked for.
    pub limit: u32,
    /// The offset asked for.
    pub offset: u64,
}

/// The callback's answer (ksapi `WorkflowCallbackResponse`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowCallbackResponse {
    /// `updated`, `already_terminal` or `stale_attempt`.
    #[schema(example = "updated")]
    pub status: String,
}

// ------------------------------------------------------------------------------------ requests

/// An optional `u32` given as any JSON number with an integral value (`1800` or `1800.0`: both
/// are JSON Schema integers).
fn opt_u32<'de, D>(d: D) -> Result<Option<u32>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f))
                .map(|f| f as u64)
        })
        .and_then(|x| u32::try_from(x).ok())
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("{n} is not an integer 0..={}", u32::MAX)))
}

/// PATCH body (ksapi `UpdateWorkflowRunRequest`): at least one non-null field (UPDATE-3); a
/// field sent as `null` is absent, "leave unchanged" (UPDATE-6).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[schema(min_properties = 1)]
pub struct UpdateWorkflowRunRequest {
    /// Replaces the KB-reference scope wholesale (UPDATE-5).
    #[serde(default)]
    pub input_scope: Option<Vec<Uuid>>,
    /// New name (CREATE-4).
    #[serde(default)]
    pub name: Option<String>,
    /// Arm or disarm auto-start.
    #[serde(default)]
    pub auto_start: Option<bool>,
    /// The message used when auto-start fires.
    #[serde(default)]
    pub user_message: Option<String>,
}

/// Start body (ksapi `StartWorkflowRunRequest`); the whole body is optional.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct StartWorkflowRunRequest {
    /// Pinned into the snapshot (START-7).
    pub user_message: Option<String>,
}

/// Callback body (ksapi `WorkflowRunCallbackRequest`), plus the optional `attempt` of CB-4.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct WorkflowRunCallbackRequest {
    /// `COMPLETED` or `FAILED`.
    #[schema(value_type = CallbackStatusValue)]
    pub status: String,
    /// Why it failed (FAILED only).
    pub error: Option<String>,
    /// The attempt reported on; a stale one is ignored (CB-4).
    #[serde(default, deserialize_with = "opt_u32")]
    #[schema(maximum = 4294967295_u64)]
    pub attempt: Option<u32>,
}

/// Clone body (ksapi `CloneWorkflowRunRequest`).
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct CloneWorkflowRunRequest {
    /// Pin the source snapshot's own inputs onto the clone (CLONE-2).
    pub include_inputs: bool,
}

/// Approval body (ksapi `SetWorkflowRunApprovalRequest`).
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct SetWorkflowRunApprovalRequest {
    /// Must be `approved`.
    #[schema(value_type = ApprovalValue)]
    pub state: String,
    /// Reviewer note.
    pub reason: Option<String>,
}

/// Definition creation body (ksapi `CreateWorkflowDefinitionRequest`); the schedule fields are
/// accepted and ignored.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct CreateWorkflowDefinitionRequest {
    /// Name (CREATE-4: no `/`, no control characters).
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// DAILY, WEEKLY or MONTHLY (SCHED-1).
    #[schema(value_type = Option<ScheduleCadenceValue>)]
    pub schedule_cadence: Option<String>,
    /// The first occurrence (RFC 3339; empty or omitted with a cadence: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub schedule_start_at: Option<String>,
    /// An IANA zone (omitted: the tenant's, UTC).
    pub schedule_timezone: Option<String>,
    /// 60..=7200; default 1800.
    #[serde(default, deserialize_with = "opt_u32")]
    #[schema(minimum = 60, maximum = 7200)]
    pub max_run_duration_seconds: Option<u32>,
    /// The folder to create it in.
    pub parent_path_part_id: Uuid,
    /// The instruction DOCUMENT; omitted → an empty `instruction.md` is created under the
    /// definition.
    pub instruction_path_part_id: Option<Uuid>,
    /// Whether completed runs need approval.
    pub approval_required: bool,
    /// A non-runnable template.
    #[serde(default)]
    pub is_template: Option<bool>,
    /// Force-loaded skills.
    pub selected_skill_ids: Option<Vec<Uuid>>,
    /// Common files attached to every run.
    pub common_file_path_part_ids: Option<Vec<Uuid>>,
}

/// The multipart form of run creation, as ksapi sends it (each field a form part; a JSON body
/// with the same fields is accepted too). Documentation only: the handler parses the form.
// Every field is optional; no container `#[serde(default)]`, whose `""` defaults the document
// would publish, and which `name`'s own schema (minLength 1, pattern) refuses.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct CreateWorkflowRunForm {
    /// Uploads: each becomes a DOCUMENT in `inputs/`, ingestion `pending` (the run is PENDING).
    #[schema(value_type = Vec<String>, format = Binary)]
    #[serde(default)]
    pub files: Vec<String>,
    /// Path-part UUIDs (at most `maxItems`): one form part per id, or one part holding a JSON array
    /// (as ksapi sends it) or a comma-separated list.
    #[serde(default)]
    pub input_scope: Vec<Uuid>,
    /// The idempotency key (CREATE-6).
    #[serde(default)]
    pub idempotency_key: String,
    /// `true`/`false` (CREATE-7).
    #[serde(default)]
    pub auto_start: bool,
    /// The auto-start message (CREATE-7).
    #[serde(default)]
    pub user_message: String,
    /// Display name (CREATE-4).
    #[serde(default)]
    pub name: String,
    /// Skill UUIDs: one form part per id, or one part holding a JSON array or a
    /// comma-separated list.
    #[serde(default)]
    pub selected_skill_ids: Vec<Uuid>,
}

/// Upload body of `POST /v1/workflow-runs/{run_id}/inputs`: adds a DOCUMENT to `inputs/`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct AddUploadRequest {
    /// The document's name in `inputs/`.
    pub name: String,
    /// `pending` (default), `processing`, `completed` or `failed`.
    #[schema(value_type = Option<IngestionValue>)]
    pub ingestion_status: Option<String>,
}

/// Answer of an upload: the document made, and the run as it now stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UploadResponse {
    /// The new DOCUMENT.
    pub document_path_part_id: Uuid,
    /// Its only version; report its ingestion on
    /// `PUT /v1/document-versions/{version_id}/ingestion`.
    pub version_path_part_id: Uuid,
    /// Its ingestion status.
    pub ingestion_status: String,
    /// The run.
    pub run: WorkflowRunResponse,
}

/// Body of `PUT /v1/document-versions/{version_id}/ingestion` (SYNC-1..4).
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct SetIngestionRequest {
    /// `pending`, `processing`, `completed` or `failed`.
    #[schema(value_type = IngestionValue)]
    pub status: String,
}

/// Body of `POST /v1/workflow-runs/{run_id}/outputs`: a runner writes one output document.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct AddOutputRequest {
    /// The document's name in `outputs/`.
    pub name: String,
}

/// An output document just written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OutputResponse {
    /// The document.
    pub asset: WorkflowRunAsset,
}

/// Answer of the thread gate (THREAD-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ThreadGateResponse {
    /// True: a new USER message may be posted on the run's thread.
    pub accepting_messages: bool,
}

// ------------------------------------------------------------------------- request limits

/// The longest idempotency key (CREATE-6). workflow-core checks it in its create rule without a
/// named constant; this is the HTTP side's only copy of that number.
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;

/// A constraint of a request field in the OpenAPI document. The numbers and the name pattern
/// come from `workflow_core::policy`, the constants the engine enforces, so the document cannot
/// drift from what is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// CREATE-4: 1..=[`workflow_core::policy::MAX_NAME_LEN`] characters matching
    /// [`workflow_core::policy::NAME_PATTERN`].
    Name,
    /// `min..=max` characters.
    Length(usize, usize),
    /// At most this many characters.
    MaxLength(usize),
    /// At most this many items.
    MaxItems(usize),
}

/// Every length and count limit of the request schemas: (schema, property, limit). Applied to
/// the generated document by `openapi::RequestLimits`; a unit test there checks that each
/// entry lands on a property.
pub(crate) const REQUEST_LIMITS: &[(&str, &str, Limit)] = &[
    (
        "UpdateWorkflowRunRequest",
        "input_scope",
        Limit::MaxItems(MAX_INPUT_SCOPE),
    ),
    ("UpdateWorkflowRunRequest", "name", Limit::Name),
    (
        "UpdateWorkflowRunRequest",
        "user_message",
        Limit::MaxLength(MAX_USER_MESSAGE_LEN),
    ),
    (
        "StartWorkflowRunRequest",
        "user_message",
        Limit::MaxLength(MAX_USER_MESSAGE_LEN),
    ),
    (
        "WorkflowRunCallbackRequest",
        "error",
        Limit::MaxLength(MAX_ERROR_LEN),
    ),
    (
        "SetWorkflowRunApprovalRequest",
        "reason",
        Limit::MaxLength(MAX_REASON_LEN),
    ),
    ("CreateWorkflowDefinitionRequest", "name", Limit::Name),
    ("UpdateWorkflowDefinitionRequest", "name", Limit::Name),
    ("InstantiateWorkflowTemplateRequest", "name", Limit::Name),
    (
        "CreateWorkflowDefinitionRequest",
        "description",
        Limit::MaxLength(workflow_core::rules::MAX_DESCRIPTION_LEN),
    ),
    (
        "UpdateWorkflowDefinitionRequest",
        "description",
        Limit::MaxLength(workflow_core::rules::MAX_DESCRIPTION_LEN),
    ),
    (
        "CreateWorkflowRunForm",
        "input_scope",
        Limit::MaxItems(MAX_INPUT_SCOPE),
    ),
    (
        "CreateWorkflowRunForm",
        "idempotency_key",
        Limit::Length(1, IDEMPOTENCY_KEY_MAX_LEN),
    ),
    (
        "CreateWorkflowRunForm",
        "user_message",
        Limit::MaxLength(MAX_USER_MESSAGE_LEN),
    ),
    ("CreateWorkflowRunForm", "name", Limit::Name),
    ("AddUploadRequest", "name", Limit::Name),
    ("AddOutputRequest", "name", Limit::Name),
];

// ------------------------------------------------------------- enum values (documentation only)

/// A string enum schema whose values are `values` (a domain enum's `ALL`, as `as_str`).
fn string_enum(
    description: &str,
    values: impl IntoIterator<Item = &'static str>,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

/// Declares a documentation-only type whose schema is a string enum of the given values.
macro_rules! value_enum {
    ($(#[doc = $doc:literal])+ $name:ident => $values:expr) => {
        $(#[doc = $doc])+
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                string_enum(concat!($($doc),+).trim(), $values)
            }
        }

        impl ToSchema for $name {}
    };
}

value_enum!(
    /// A runner's terminal report (`CallbackStatus`).
    CallbackStatusValue => CallbackStatus::ALL.iter().map(|v| v.as_str())
);
value_enum!(
    /// The only approval a reviewer can set.
    ApprovalValue => [ApprovalState::Approved.as_str()]
);
value_enum!(
    /// An upload's ingestion status.
    IngestionValue => Ingestion::ALL.iter().map(|v| v.as_str())
);
value_enum!(
    /// A run's execution state (list filter).
    ExecutionStateValue => ExecutionState::ALL.iter().map(|v| v.as_str())
);
value_enum!(
    /// A run's approval state (list filter).
    ApprovalStateValue => ApprovalState::ALL.iter().map(|v| v.as_str())
);
value_enum!(
    /// The order of run lists (always newest first).
    SortByValue => RunOrder::ALL.iter().map(|v| v.as_str())
);
value_enum!(
    /// How often a definition runs itself (SCHED-1).
    ScheduleCadenceValue => ScheduleCadence::ALL.iter().map(|v| v.as_str())
);
value_enum!(
    /// Sort key of the definition list (DEF-1).
    DefinitionOrderValue => DefinitionOrder::ALL.iter().map(|v| v.as_str())
);
value_enum!(
    /// Sort direction (LIST-2); rows without the sort time come last either way.
    SortDirValue => SortDir::ALL.iter().map(|v| v.as_str())
);
