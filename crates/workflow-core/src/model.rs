//! Domain types. Enums convert to and from their SPEC wire strings in exactly one place: the
//! serde attributes here, mirrored by each enum's `as_str`/`FromStr` (see [`wire_enum!`]).

use crate::api_key::ApiKeyDigest;
use crate::ids::{DefinitionId, PathPartId, RunId, TenantId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Timestamps are UTC everywhere.
pub type Timestamp = DateTime<Utc>;

/// Declares a fieldless enum with its wire strings, `as_str`, `FromStr`, `ALL` and serde.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire string.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::error::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(crate::error::Error::invalid(
                        stringify!($name),
                        format!("unknown value {s:?}"),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// A user's role in its tenant.
    Role {
        /// May act on everything in the tenant.
        Owner = "OWNER",
        /// May act on everything in the tenant.
        Admin = "ADMIN",
        /// Acts through path grants.
        User = "USER",
    }
);

impl Role {
    /// OWNER and ADMIN act on everything in their tenant.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

wire_enum!(
    /// What a path grant allows.
    Capability {
        /// Read only.
        Read = "read",
        /// Read and write.
        ReadWrite = "read_write",
    }
);

wire_enum!(
    /// The kind of a knowledge-base node.
    PathPartKind {
        /// A folder.
        Folder = "FOLDER",
        /// A document; has versions, at most one active.
        Document = "DOCUMENT",
        /// One version of a document; its id is also its path-part id.
        DocumentVersion = "DOCUMENT_VERSION",
        /// A live data-source connector.
        DataSource = "DATA_SOURCE",
        /// A live API connector.
        ApiConnection = "API_CONNECTION",
        /// A workflow definition.
        WorkflowDefinition = "WORKFLOW_DEFINITION",
        /// A run folder (`runs/<name>/`).
        WorkflowRun = "WORKFLOW_RUN",
        /// A skill.
        Skill = "SKILL",
    }
);

wire_enum!(
    /// Ingestion status of a document version.
    Ingestion {
        /// Queued.
        Pending = "pending",
        /// Being processed.
        Processing = "processing",
        /// Done; usable.
        Completed = "completed",
        /// Failed; unusable.
        Failed = "failed",
    }
);

impl Ingestion {
    /// Settled means it will not change by itself any more.
    pub fn is_settled(self) -> bool {
        matches!(self, Ingestion::Completed | Ingestion::Failed)
    }
}

wire_enum!(
    /// Execution lifecycle of a run (SPEC section 2).
    ExecutionState {
        /// Uploads still ingesting.
        Pending = "PENDING",
        /// Draft; may be edited and started.
        NotStarted = "NOT_STARTED",
        /// Dispatched to a runner.
        InProgress = "IN_PROGRESS",
        /// Finished successfully; final.
        Completed = "COMPLETED",
        /// Finished unsuccessfully; leaves only through retry.
        Failed = "FAILED",
    }
);

impl PathPartKind {
    /// Kinds a run may reference in its input scope (UPDATE-5): DOCUMENT, DOCUMENT_VERSION,
    /// FOLDER, DATA_SOURCE, API_CONNECTION.
    pub fn is_referencable(self) -> bool {
        matches!(
            self,
            PathPartKind::Document
                | PathPartKind::DocumentVersion
                | PathPartKind::Folder
                | PathPartKind::DataSource
                | PathPartKind::ApiConnection
        )
    }
}

impl ExecutionState {
    /// COMPLETED or FAILED.
    pub fn is_terminal(self) -> bool {
        matches!(self, ExecutionState::Completed | ExecutionState::Failed)
    }
}

wire_enum!(
    /// Why a run is FAILED: a typed value, so that no module matches on error text. The text
    /// itself ([`Run::error`]) is for people.
    FailureKind {
        /// The runner reported FAILED (CB-1).
        Reported = "REPORTED",
        /// Stopped by a user (STOP-1).
        Stopped = "STOPPED",
        /// Reaped past its deadline (REAP-1).
        TimedOut = "TIMED_OUT",
        /// An upload failed to ingest while auto-start was armed (SYNC-3).
        UploadFailed = "UPLOAD_FAILED",
        /// The attempt's dispatch could not be delivered (DISP-5).
        DispatchFailed = "DISPATCH_FAILED",
    }
);

wire_enum!(
    /// Approval state of a run or an output document.
    ApprovalState {
        /// No approval is needed.
        NotRequired = "not_required",
        /// Waiting for an approver.
        Pending = "pending",
        /// Approved.
        Approved = "approved",
    }
);

wire_enum!(
    /// Where a snapshot input came from (SNAP-2..SNAP-4).
    InputOrigin {
        /// A common file of the definition.
        DefinitionCommon = "DEFINITION_COMMON",
        /// A knowledge-base reference in the run's input scope.
        RunReference = "RUN_REFERENCE",
        /// An upload under the run's `inputs/`.
        RunUpload = "RUN_UPLOAD",
    }
);

wire_enum!(
    /// Why a definition common file was left out of a snapshot (SNAP-4).
    ExclusionReason {
        /// The path part no longer exists.
        NotFound = "NOT_FOUND",
        /// The starter cannot read it.
        NoAccess = "NO_ACCESS",
        /// A document without an active version.
        Unresolvable = "UNRESOLVABLE",
    }
);

wire_enum!(
    /// The terminal status a runner reports (CB-1).
    CallbackStatus {
        /// The attempt succeeded.
        Completed = "COMPLETED",
        /// The attempt failed.
        Failed = "FAILED",
    }
);

wire_enum!(
    /// The answer of a callback (CB-3, CB-4, CB-7).
    CallbackOutcome {
        /// The terminal write was committed.
        Updated = "updated",
        /// The run was already terminal; nothing written.
        AlreadyTerminal = "already_terminal",
        /// The callback's attempt is not the current one; nothing written.
        StaleAttempt = "stale_attempt",
    }
);

wire_enum!(
    /// Direction of a listing (LIST-2); rows without the sort time come last either way.
    SortDir {
        /// Oldest first.
        Asc = "ASC",
        /// Newest first (the default).
        Desc = "DESC",
    }
);

/// A time window: `from` inclusive, `to` exclusive (LIST-2); `None` ends are open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// At or after this.
    pub from: Option<Timestamp>,
    /// Strictly before this.
    pub to: Option<Timestamp>,
}

impl TimeRange {
    /// Whether `t` is inside.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
    /// Whether both ends are open.
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

wire_enum!(
    /// Sort key of run listings (LIST-1); newest first unless [`SortDir::Asc`].
    RunOrder {
        /// By creation time.
        CreatedAt = "CREATED_AT",
        /// By first start time.
        StartedAt = "STARTED_AT",
        /// By completion time.
        CompletedAt = "COMPLETED_AT",
    }
);

/// Who makes a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The calling user.
    pub user_id: UserId,
    /// The user's tenant.
    pub tenant_id: TenantId,
    /// The user's role in that tenant.
    pub role: Role,
    /// True when an agent acts as the user (e.g. a runner). Assumed actors never approve.
    pub assumed: bool,
}

impl Actor {
    /// An actor acting as itself.
    pub fn new(tenant_id: TenantId, user_id: UserId, role: Role) -> Self {
        Actor {
            user_id,
            tenant_id,
            role,
            assumed: false,
        }
    }

    /// The same user, acted for by an agent.
    pub fn assumed(mut self) -> Self {
        self.assumed = true;
        self
    }

    /// The actor of a user record.
    pub fn of(user: &User) -> Self {
        Actor::new(user.tenant_id, user.id, user.role)
    }
}

/// A path grant: read or read-write on a path prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Materialized path prefix, e.g. `/shared/eng`.
    pub path: String,
    /// What it allows.
    pub capability: Capability,
}

/// A tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
}

/// A user of one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its role.
    pub role: Role,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// The SHA-256 digest of the API key the HTTP layer authenticates with, if any (SEC-3: the
    /// key itself is never stored; [`ApiKeyDigest::of`] hashes a key in clear).
    pub api_key: Option<ApiKeyDigest>,
    /// Path grants (meaningful for `USER`).
    pub grants: Vec<Grant>,
}

/// Version facts of a `DOCUMENT_VERSION` path part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Ingestion status.
    pub ingestion: Ingestion,
    /// Whether this is its document's active version.
    pub active: bool,
}

/// A recorded approval (APPROVE-3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// Who approved.
    pub by: UserId,
    /// When.
    pub at: Timestamp,
    /// Optional reviewer note.
    pub reason: Option<String>,
}

/// A node of the knowledge-base tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathPart {
    /// Its id.
    pub id: PathPartId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its kind.
    pub kind: PathPartKind,
    /// Its name (last path segment).
    pub name: String,
    /// Its parent; `None` for a root.
    pub parent_id: Option<PathPartId>,
    /// Materialized path from the root, e.g. `/shared/eng/report`.
    pub path: String,
    /// Set on `DOCUMENT_VERSION` parts.
    pub version: Option<VersionInfo>,
    /// Approval state (output documents of a run are approved by APPROVE-3).
    pub approval_state: ApprovalState,
    /// The approval record once approved.
    pub approval: Option<ApprovalRecord>,
    /// Creation time.
    pub created_at: Timestamp,
}

impl PathPart {
    /// A new node under `parent` (or a root when `parent` is `None`).
    pub fn new(
        id: PathPartId,
        tenant_id: TenantId,
        kind: PathPartKind,
        name: &str,
        parent: Option<&PathPart>,
        now: Timestamp,
    ) -> Self {
        let path = match parent {
            Some(p) => crate::policy::child_path(&p.path, name),
            None => crate::policy::child_path("", name),
        };
        PathPart {
            id,
            tenant_id,
            kind,
            name: name.to_owned(),
            parent_id: parent.map(|p| p.id),
            path,
            version: None,
            approval_state: ApprovalState::NotRequired,
            approval: None,
            created_at: now,
        }
    }
}

/// A workflow definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    /// Its id (also its `WORKFLOW_DEFINITION` path-part id).
    pub id: DefinitionId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The folder it lives in.
    pub parent_id: PathPartId,
    /// Materialized path of the definition itself; grants covering it cover its runs.
    pub path: String,
    /// Its `runs/` folder.
    pub runs_folder_id: PathPartId,
    /// Display name.
    pub name: String,
    /// The instruction DOCUMENT, if any.
    pub instruction_id: Option<PathPartId>,
    /// Deadline of one attempt, 60..=7200 seconds.
    pub max_run_duration_seconds: u32,
    /// Whether completed runs need approval.
    pub approval_required: bool,
    /// Inactive definitions cannot have runs.
    pub is_active: bool,
    /// Templates cannot have runs.
    pub is_template: bool,
    /// Path parts attached to every run (SNAP-4).
    pub common_file_ids: Vec<PathPartId>,
    /// Skills force-loaded into every run (SNAP-6).
    pub selected_skill_ids: Vec<Uuid>,
    /// The user who owns it.
    pub owner_id: UserId,
    /// Creation time.
    pub created_at: Timestamp,
    /// Free text (DEF-5).
    pub description: Option<String>,
    /// How often it runs itself (SCHED-1), if at all.
    pub schedule: Option<Schedule>,
    /// The definition it was copied from (DEF-4).
    pub created_from_id: Option<DefinitionId>,
    /// Last change (DEF-2).
    pub updated_at: Timestamp,
}

wire_enum!(
    /// Sort key of the definition list (DEF-1).
    DefinitionOrder {
        /// By creation time (newest first by default).
        CreatedAt = "CREATED_AT",
        /// By last change (newest first by default).
        UpdatedAt = "UPDATED_AT",
        /// By name, case-insensitively (A to Z by default).
        Name = "NAME",
    }
);

wire_enum!(
    /// How often a scheduled definition runs itself (SCHED-1).
    ScheduleCadence {
        /// Every day at the start's local wall time.
        Daily = "DAILY",
        /// Every week on the start's weekday.
        Weekly = "WEEKLY",
        /// Every month on the start's day of month (the last day in shorter months).
        Monthly = "MONTHLY",
    }
);

/// A definition's schedule (SCHED-1): occurrences fall at `start_at`'s local wall time in
/// `timezone`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Daily, weekly or monthly.
    pub cadence: ScheduleCadence,
    /// The first occurrence.
    pub start_at: Timestamp,
    /// An IANA zone name, resolved when the schedule is set (the tenant's, else UTC).
    pub timezone: String,
}

/// Default of [`Definition::max_run_duration_seconds`].
pub const DEFAULT_MAX_RUN_DURATION_SECONDS: u32 = 1800;

/// A run's folder and its three managed subfolders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFolders {
    /// Materialized path of the run folder (`.../runs/<name>`).
    pub path: String,
    /// `inputs/` (uploads).
    pub inputs_id: PathPartId,
    /// `outputs/` (documents the agent writes).
    pub outputs_id: PathPartId,
    /// `discussions/`.
    pub discussions_id: PathPartId,
}

/// One pinned input of a snapshot (SNAP-2, SNAP-3, SNAP-4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSnapshot {
    /// The pinned `DOCUMENT_VERSION`, or the live FOLDER / DATA_SOURCE / API_CONNECTION.
    pub path_part_id: PathPartId,
    /// Its materialized path at Start.
    pub materialized_path: String,
    /// `DOCUMENT_VERSION`, `FOLDER`, `DATA_SOURCE` or `API_CONNECTION`.
    pub part_type: PathPartKind,
    /// Where it came from.
    pub origin: InputOrigin,
}

/// The instruction pinned at Start (SNAP-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstructionSnapshot {
    /// The pinned `DOCUMENT_VERSION`, or `None` when the definition has no usable instruction.
    pub path_part_id: Option<PathPartId>,
    /// Its materialized path (empty when none).
    pub materialized_path: String,
    /// Where the runner reads the instruction; `None` when the instruction is empty.
    pub source: Option<String>,
}

/// A definition common file left out at Start (SNAP-4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedCommonFile {
    /// The common file's id as set on the definition.
    pub path_part_id: PathPartId,
    /// Why.
    pub reason: ExclusionReason,
}

/// The frozen configuration built at Start (SPEC section 4). Never changes afterwards (SNAP-7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The definition's name at Start.
    pub workflow_name: String,
    /// The definition's deadline at Start.
    pub max_run_duration_seconds: u32,
    /// Whether a COMPLETED run needs approval (CB-2).
    pub approval_required: bool,
    /// The pinned instruction.
    pub instruction: InstructionSnapshot,
    /// Pinned inputs, deduplicated, in deterministic order (SNAP-5).
    pub inputs: Vec<InputSnapshot>,
    /// Common files left out, with reasons.
    pub excluded_common_files: Vec<ExcludedCommonFile>,
    /// The starter's message (START-7).
    pub user_message: Option<String>,
    /// The definition's skills, then the run's (SNAP-6).
    pub selected_skill_ids: Vec<Uuid>,
    /// When it was built.
    pub created_at: Timestamp,
}

/// One workflow run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Its id (also its run-folder path-part id).
    pub id: RunId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its definition.
    pub definition_id: DefinitionId,
    /// Display name, unique among the definition's runs; defaults to the id.
    pub name: String,
    /// The user who created it.
    pub triggered_by: UserId,
    /// Execution state.
    pub execution_state: ExecutionState,
    /// Approval state.
    pub approval_state: ApprovalState,
    /// 0 before the first Start; +1 per dispatch.
    pub attempt: u32,
    /// Optimistic-concurrency version: 1 after create, +1 per commit; equals its last history seq.
    pub version: u64,
    /// Knowledge-base references, in order, without duplicates.
    pub input_scope: Vec<PathPartId>,
    /// Skills added on top of the definition's.
    pub selected_skill_ids: Vec<Uuid>,
    /// Start by itself once uploads finish ingesting (SYNC-2).
    pub auto_start: bool,
    /// The message used when auto-start fires.
    pub auto_start_user_message: Option<String>,
    /// The create call's idempotency key (CREATE-6).
    pub idempotency_key: Option<String>,
    /// Frozen at Start.
    pub snapshot: Option<Snapshot>,
    /// First Start.
    pub started_at: Option<Timestamp>,
    /// Start of the current attempt.
    pub attempt_started_at: Option<Timestamp>,
    /// When the current attempt is reaped (REAP-1).
    pub deadline_at: Option<Timestamp>,
    /// Set when terminal.
    pub completed_at: Option<Timestamp>,
    /// Why it failed, for people.
    pub error: Option<String>,
    /// Why it failed, typed: set with `error` when the run becomes FAILED, cleared by Retry.
    #[serde(default)]
    pub failure: Option<FailureKind>,
    /// The run's chat thread, set by Start.
    pub run_thread_id: Option<Uuid>,
    /// The run folder and its subfolders.
    pub folders: RunFolders,
    /// Set by approval.
    pub approval: Option<ApprovalRecord>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// What happened in one committed transition (AUDIT-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Created (also by clone).
    Created,
    /// Edited (name, scope, auto-start).
    Updated,
    /// An upload was added to `inputs/`.
    UploadAdded,
    /// An upload's ingestion status changed (SYNC-*).
    IngestionChanged,
    /// Started (START-1), by a caller or by auto-start.
    Started,
    /// A runner reported COMPLETED.
    Completed,
    /// A runner reported FAILED.
    Failed,
    /// Stopped by a user (STOP-1).
    Stopped,
    /// Failed by the deadline reaper (REAP-1).
    TimedOut,
    /// Retried (RETRY-1).
    Retried,
    /// Resumed from its surviving thread (RESUME-1).
    Resumed,
    /// An output document was added.
    OutputAdded,
    /// Approved (APPROVE-3).
    Approved,
    /// Deleted (DELETE-3).
    Deleted,
}

/// Who caused a transition: a user (maybe assumed), or the system (reaper, ingestion).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorStamp {
    /// The user, or `None` for the system.
    pub user_id: Option<UserId>,
    /// Whether an agent acted as the user.
    pub assumed: bool,
}

impl ActorStamp {
    /// The system itself.
    pub const SYSTEM: ActorStamp = ActorStamp {
        user_id: None,
        assumed: false,
    };
}

impl From<&Actor> for ActorStamp {
    fn from(a: &Actor) -> Self {
        ActorStamp {
            user_id: Some(a.user_id),
            assumed: a.assumed,
        }
    }
}

/// One entry of a run's transition history (AUDIT-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// The run.
    pub run_id: RunId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// 1, 2, 3, ... without gaps; equals the run's version after the commit.
    pub seq: u64,
    /// State before (`None` for a creation).
    pub from: Option<ExecutionState>,
    /// State after (`None` for a deletion).
    pub to: Option<ExecutionState>,
    /// What happened.
    pub event: Event,
    /// Who did it.
    pub actor: ActorStamp,
    /// When.
    pub at: Timestamp,
    /// The run's attempt after the transition.
    pub attempt: u32,
    /// Free-text reason (error message, approval note, ...).
    pub reason: Option<String>,
}

/// Identifies one attempt of one run; a runner uses it to recognise a redelivery (CONC-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DispatchKey {
    /// The run.
    pub run_id: RunId,
    /// The attempt.
    pub attempt: u32,
}

/// Ask a runner to execute one attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispatch {
    /// Run and attempt.
    pub key: DispatchKey,
    /// The run's tenant.
    pub tenant_id: TenantId,
    /// The run's definition (`None` only in messages queued before this field existed).
    #[serde(default)]
    pub definition_id: Option<DefinitionId>,
    /// Continue from the run's surviving thread instead of starting cold (RESUME-1).
    #[serde(default)]
    pub resume: bool,
    /// The triggerer, whom the runner acts as (assumed).
    pub triggered_by: UserId,
    /// The run's thread.
    pub run_thread_id: Option<Uuid>,
    /// The frozen configuration.
    pub snapshot: Snapshot,
    /// When the attempt will be reaped.
    pub deadline_at: Option<Timestamp>,
}

/// Ask a runner to abandon one attempt (best effort).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancel {
    /// Run and attempt.
    pub key: DispatchKey,
    /// The run's tenant.
    pub tenant_id: TenantId,
    /// Why (`Stopped by user`, `Timed out`).
    pub reason: String,
}

/// A message queued in the outbox in the same commit as its transition (CONC-5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
// Built once per transition and serialized into the outbox; boxing the dispatch would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum OutboxMessage {
    /// Start an attempt.
    Dispatch(Dispatch),
    /// Cancel an attempt.
    Cancel(Cancel),
}

impl OutboxMessage {
    /// The run and attempt the message is about.
    pub fn key(&self) -> DispatchKey {
        match self {
            OutboxMessage::Dispatch(d) => d.key,
            OutboxMessage::Cancel(c) => c.key,
        }
    }

    /// The message's id: the same on every redelivery, and different for every message ever
    /// queued (a run has at most one dispatch and one cancel per attempt). Runners deduplicate
    /// by it: Temporal's request id, a webhook's `webhook-id`.
    pub fn message_id(&self) -> Uuid {
        let (kind, key) = match self {
            OutboxMessage::Dispatch(d) => ("dispatch", d.key),
            OutboxMessage::Cancel(c) => ("cancel", c.key),
        };
        key.message_id(kind)
    }
}

impl DispatchKey {
    /// The id of this attempt's message of `kind` (`dispatch` or `cancel`): a v5 UUID of the run
    /// id and `kind/attempt`.
    pub fn message_id(&self, kind: &str) -> Uuid {
        Uuid::new_v5(
            &self.run_id.0,
            format!("{kind}/{}", self.attempt).as_bytes(),
        )
    }
}

impl Dispatch {
    /// [`OutboxMessage::message_id`] of this dispatch.
    pub fn message_id(&self) -> Uuid {
        self.key.message_id("dispatch")
    }
}

impl Cancel {
    /// [`OutboxMessage::message_id`] of this cancel.
    pub fn message_id(&self) -> Uuid {
        self.key.message_id("cancel")
    }
}

/// A queued outbox message and its store-assigned sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Monotonic per store; delivery order.
    pub seq: u64,
    /// The message.
    pub message: OutboxMessage,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Whether the dispatcher accepted it.
    pub delivered: bool,
    /// Dead-lettered: it will never be delivered (DISP-5).
    #[serde(default)]
    pub dead: bool,
    /// The last failed attempt's error (DISP-4).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Not offered again before this (backoff, DISP-4); `None`: due now.
    #[serde(default)]
    pub next_try_at: Option<Timestamp>,
    /// When its first attempt failed.
    #[serde(default)]
    pub first_failed_at: Option<Timestamp>,
}

impl OutboxEntry {
    /// A message queued now, never tried.
    pub fn queued(seq: u64, message: OutboxMessage) -> Self {
        OutboxEntry {
            seq,
            message,
            attempts: 0,
            delivered: false,
            dead: false,
            last_error: None,
            next_try_at: None,
            first_failed_at: None,
        }
    }

    /// Not delivered and not dead-lettered.
    pub fn is_pending(&self) -> bool {
        !self.delivered && !self.dead
    }

    /// Pending and due at `now`.
    pub fn is_due(&self, now: Timestamp) -> bool {
        self.is_pending() && self.next_try_at.is_none_or(|t| t <= now)
    }

    /// This entry after one delivery attempt at `at` with `outcome`. A delivered or dead entry
    /// never changes again.
    pub fn after(&self, at: Timestamp, outcome: &crate::store::Delivery) -> OutboxEntry {
        use crate::store::Delivery;
        let mut e = self.clone();
        if !self.is_pending() {
            return e;
        }
        e.attempts += 1;
        match outcome {
            Delivery::Delivered => {
                e.delivered = true;
                e.next_try_at = None;
            }
            Delivery::Retry { error, next_try_at } => {
                e.last_error = Some(error.clone());
                e.next_try_at = Some(*next_try_at);
                e.first_failed_at.get_or_insert(at);
            }
            Delivery::Dead { error } => {
                e.dead = true;
                e.last_error = Some(error.clone());
                e.next_try_at = None;
                e.first_failed_at.get_or_insert(at);
            }
        }
        e
    }
}

/// A page of runs (LIST-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// This page.
    pub items: Vec<T>,
    /// All matches, ignoring limit and offset.
    pub total: u64,
    /// The limit asked for.
    pub limit: u32,
    /// The offset asked for.
    pub offset: u64,
}
