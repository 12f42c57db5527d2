//! Unit tests of the pure decisions, beside them: no store, no engine. Every input is a plain
//! value built by the helpers below (one tenant with a definition `/shared/eng/summarise`, the
//! eight actors of the vectors, runs in each state), every successful write is compared whole
//! against an expected [`Transition`] built here field by field, and every refusal by its
//! [`ErrorCode`].
//!
//! * [`table`]: the 704 state × operation × actor cases of `tests/transitions.json`.
//! * [`create_update`], [`start`] (with the snapshot), [`finish`] (stop, callback, retry),
//!   [`clone_approve_delete`] (and get, the thread gate).
//! * [`uploads`]: uploads, ingestion sync, outputs, the reaper.
//! * [`catalog`]: users, parts, versions, definitions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod catalog;
mod clone_approve_delete;
mod create_update;
mod finish;
mod relay;
mod start;
mod table;
mod uploads;

use super::*;
use crate::error::ErrorCode;
use crate::ids::{DefinitionId, TenantId, UserId};
use crate::model::{
    ApprovalRecord, Capability, ExcludedCommonFile, ExclusionReason, InputOrigin, InputSnapshot,
    InstructionSnapshot, Snapshot,
};
use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;

// ------------------------------------------------------------------------------ ids and time

/// A fixed id: `n` in the low bits of a recognisable prefix.
pub(super) fn uid(n: u128) -> Uuid {
    Uuid::from_u128(0x7e57_0000_0000_0000_0000_0000_0000_0000 | n)
}

pub(super) fn pid(n: u128) -> PathPartId {
    PathPartId(uid(n))
}

pub(super) fn tenant() -> TenantId {
    TenantId(uid(1))
}

pub(super) fn other_tenant() -> TenantId {
    TenantId(uid(2))
}

/// When the definition and the runs were created.
pub(super) fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap()
}

/// When the fixture runs were started.
pub(super) fn started() -> Timestamp {
    t0() + Duration::minutes(1)
}

/// When the fixture runs finished.
pub(super) fn finished() -> Timestamp {
    t0() + Duration::minutes(5)
}

/// The time of every call, unless a test says otherwise.
pub(super) fn now() -> Timestamp {
    t0() + Duration::minutes(10)
}

pub(super) const GRACE_SECONDS: i64 = 60;

pub(super) fn grace() -> Duration {
    Duration::seconds(GRACE_SECONDS)
}

/// The deadline of an attempt of the fixture definition (1800 s) starting at `at` (REAP-1).
pub(super) fn deadline_from(at: Timestamp) -> Timestamp {
    at + Duration::seconds(1800 + GRACE_SECONDS)
}

// ------------------------------------------------------------------------------ actors

pub(super) const OWNER: u128 = 10;
pub(super) const ADMIN: u128 = 11;
pub(super) const TRIGGERER: u128 = 12;
pub(super) const USER_READ: u128 = 13;
pub(super) const USER_READ_WRITE: u128 = 14;
pub(super) const USER_NO_GRANT: u128 = 15;
pub(super) const OTHER_OWNER: u128 = 16;

pub(super) fn user_id(n: u128) -> UserId {
    UserId(uid(n))
}

/// An actor and its grants.
#[derive(Clone, Debug)]
pub(super) struct Who {
    pub(super) actor: Actor,
    pub(super) grants: Vec<Grant>,
}

impl Who {
    pub(super) fn ctx(&self) -> Ctx<'_> {
        self.ctx_at(now())
    }

    pub(super) fn ctx_at(&self, at: Timestamp) -> Ctx<'_> {
        Ctx {
            actor: &self.actor,
            grants: &self.grants,
            now: at,
            grace: grace(),
        }
    }

    pub(super) fn id(&self) -> UserId {
        self.actor.user_id
    }

    pub(super) fn assumed(mut self) -> Self {
        self.actor.assumed = true;
        self
    }

    /// The user record of this actor (for ingestion's auto-start).
    pub(super) fn user(&self) -> User {
        User {
            id: self.actor.user_id,
            tenant_id: self.actor.tenant_id,
            role: self.actor.role,
            first_name: "Test".into(),
            last_name: "User".into(),
            api_key: None,
            grants: self.grants.clone(),
        }
    }
}

pub(super) fn grant(path: &str, capability: Capability) -> Grant {
    Grant {
        path: path.into(),
        capability,
    }
}

/// The eight actors of `transitions.json`.
pub(super) const ACTORS: [&str; 8] = [
    "owner",
    "admin",
    "triggerer",
    "triggerer_assumed",
    "user_read",
    "user_read_write",
    "user_no_grant",
    "other_tenant_owner",
];

/// An actor by its vector name: the triggerer and `user_read` hold a read grant on `/shared/eng`
/// (covering the definition), `user_read_write` a read-write one, `user_no_grant` a grant on
/// an unrelated path; `other_tenant_owner` is an OWNER of another tenant.
pub(super) fn who(name: &str) -> Who {
    let at = |n, role, grants| Who {
        actor: Actor::new(tenant(), user_id(n), role),
        grants,
    };
    let read = || vec![grant("/shared/eng", Capability::Read)];
    match name {
        "owner" => at(OWNER, Role::Owner, vec![]),
        "admin" => at(ADMIN, Role::Admin, vec![]),
        "triggerer" => at(TRIGGERER, Role::User, read()),
        "triggerer_assumed" => who("triggerer").assumed(),
        "user_read" => at(USER_READ, Role::User, read()),
        "user_read_write" => at(
            USER_READ_WRITE,
            Role::User,
            vec![grant("/shared/eng", Capability::ReadWrite)],
        ),
        "user_no_grant" => at(
            USER_NO_GRANT,
            Role::User,
            vec![grant("/shared/other", Capability::ReadWrite)],
        ),
        "other_tenant_owner" => Who {
            actor: Actor::new(other_tenant(), user_id(OTHER_OWNER), Role::Owner),
            grants: vec![],
        },
        other => panic!("unknown actor {other}"),
    }
}

// ------------------------------------------------------------------------------ catalog parts

pub(super) const DEF_PATH: &str = "/shared/eng/summarise";
pub(super) const RUNS_PATH: &str = "/shared/eng/summarise/runs";
pub(super) const RUN_PATH: &str = "/shared/eng/summarise/runs/r1";

pub(super) const ENG: u128 = 101;
pub(super) const DEF: u128 = 102;
pub(super) const RUNS: u128 = 103;
pub(super) const INSTRUCTION: u128 = 104;
pub(super) const INSTRUCTION_V: u128 = 105;
pub(super) const RUN: u128 = 200;
pub(super) const INPUTS: u128 = 201;
pub(super) const OUTPUTS: u128 = 202;
pub(super) const DISCUSSIONS: u128 = 203;
pub(super) const THREAD: u128 = 300;
pub(super) const SKILL_1: u128 = 401;
pub(super) const SKILL_2: u128 = 402;
pub(super) const SKILL_3: u128 = 403;

/// A path part of the fixture tenant, created at [`t0`]; its name is the last segment of `path`.
pub(super) fn part(n: u128, kind: PathPartKind, path: &str, parent: Option<u128>) -> PathPart {
    PathPart {
        id: pid(n),
        tenant_id: tenant(),
        kind,
        name: path.rsplit('/').next().unwrap().to_owned(),
        parent_id: parent.map(pid),
        path: path.to_owned(),
        version: None,
        approval_state: ApprovalState::NotRequired,
        approval: None,
        created_at: t0(),
    }
}

/// A DOCUMENT_VERSION `n` of `doc` (named by its id, as the rules name versions).
pub(super) fn version_of(n: u128, doc: &PathPart, ingestion: Ingestion, active: bool) -> PathPart {
    let mut v = part(
        n,
        PathPartKind::DocumentVersion,
        &format!("{}/{}", doc.path, uid(n)),
        None,
    );
    v.parent_id = Some(doc.id);
    v.version = Some(VersionInfo { ingestion, active });
    v
}

/// A resolved DOCUMENT with its active version (if any).
pub(super) fn resolved_doc(doc: &PathPart, active: Option<&PathPart>) -> Resolved {
    Resolved {
        id: doc.id,
        part: Some(doc.clone()),
        active_version: active.cloned(),
    }
}

/// A resolved part that is not a DOCUMENT (or a document looked up without versions).
pub(super) fn resolved(p: &PathPart) -> Resolved {
    Resolved {
        id: p.id,
        part: Some(p.clone()),
        active_version: None,
    }
}

/// An id that resolves to nothing.
pub(super) fn missing(n: u128) -> Resolved {
    Resolved {
        id: pid(n),
        part: None,
        active_version: None,
    }
}

pub(super) fn runs_folder() -> PathPart {
    part(RUNS, PathPartKind::Folder, RUNS_PATH, Some(DEF))
}

pub(super) fn instruction_doc() -> PathPart {
    part(
        INSTRUCTION,
        PathPartKind::Document,
        "/shared/eng/summarise/instruction.md",
        Some(DEF),
    )
}

pub(super) fn instruction_version() -> PathPart {
    version_of(
        INSTRUCTION_V,
        &instruction_doc(),
        Ingestion::Completed,
        true,
    )
}

/// The fixture run's folder (`runs/r1`) and its three subfolders.
pub(super) fn run_folder() -> PathPart {
    part(RUN, PathPartKind::WorkflowRun, RUN_PATH, Some(RUNS))
}

pub(super) fn sub_folder(n: u128, name: &str) -> PathPart {
    part(
        n,
        PathPartKind::Folder,
        &format!("{RUN_PATH}/{name}"),
        Some(RUN),
    )
}

pub(super) fn inputs_folder() -> PathPart {
    sub_folder(INPUTS, "inputs")
}

pub(super) fn outputs_folder() -> PathPart {
    sub_folder(OUTPUTS, "outputs")
}

pub(super) fn discussions_folder() -> PathPart {
    sub_folder(DISCUSSIONS, "discussions")
}

// ------------------------------------------------------------------------------ definitions

/// The fixture definition: active, not a template, 1800 s, one skill, an instruction document.
pub(super) fn definition(approval_required: bool) -> Definition {
    Definition {
        id: DefinitionId(uid(DEF)),
        tenant_id: tenant(),
        parent_id: pid(ENG),
        path: DEF_PATH.into(),
        runs_folder_id: pid(RUNS),
        name: "summarise".into(),
        instruction_id: Some(pid(INSTRUCTION)),
        max_run_duration_seconds: 1800,
        approval_required,
        is_active: true,
        is_template: false,
        common_file_ids: vec![],
        selected_skill_ids: vec![uid(SKILL_1)],
        owner_id: user_id(OWNER),
        created_at: t0(),
        description: None,
        schedule: None,
        created_from_id: None,
        updated_at: t0(),
    }
}

// ------------------------------------------------------------------------------ runs

/// A NOT_STARTED run `r1` of the fixture definition, created by the triggerer at [`t0`].
pub(super) fn draft() -> Run {
    Run {
        id: RunId(uid(RUN)),
        tenant_id: tenant(),
        definition_id: DefinitionId(uid(DEF)),
        name: "r1".into(),
        triggered_by: user_id(TRIGGERER),
        execution_state: ExecutionState::NotStarted,
        approval_state: ApprovalState::NotRequired,
        attempt: 0,
        version: 1,
        input_scope: vec![],
        selected_skill_ids: vec![],
        auto_start: false,
        auto_start_user_message: None,
        idempotency_key: None,
        snapshot: None,
        started_at: None,
        attempt_started_at: None,
        deadline_at: None,
        completed_at: None,
        error: None,
        failure: None,
        run_thread_id: None,
        folders: RunFolders {
            path: RUN_PATH.into(),
            inputs_id: pid(INPUTS),
            outputs_id: pid(OUTPUTS),
            discussions_id: pid(DISCUSSIONS),
        },
        approval: None,
        created_at: t0(),
        updated_at: t0(),
    }
}

/// A PENDING draft (an upload still ingesting).
pub(super) fn pending() -> Run {
    Run {
        execution_state: ExecutionState::Pending,
        ..draft()
    }
}

/// The snapshot the fixture runs were started with.
pub(super) fn snapshot(approval_required: bool) -> Snapshot {
    let v = instruction_version();
    Snapshot {
        workflow_name: "summarise".into(),
        max_run_duration_seconds: 1800,
        approval_required,
        instruction: InstructionSnapshot {
            path_part_id: Some(v.id),
            materialized_path: v.path.clone(),
            source: Some(format!("kb://{}/{}", tenant(), v.id)),
        },
        inputs: vec![InputSnapshot {
            path_part_id: pid(150),
            materialized_path: "/shared/eng/spec.md/v1".into(),
            part_type: PathPartKind::DocumentVersion,
            origin: InputOrigin::RunReference,
        }],
        excluded_common_files: vec![],
        user_message: None,
        selected_skill_ids: vec![uid(SKILL_1)],
        created_at: started(),
    }
}

/// IN_PROGRESS at attempt 1, started at [`started`].
pub(super) fn running(approval_required: bool) -> Run {
    Run {
        execution_state: ExecutionState::InProgress,
        attempt: 1,
        version: 2,
        snapshot: Some(snapshot(approval_required)),
        started_at: Some(started()),
        attempt_started_at: Some(started()),
        deadline_at: Some(deadline_from(started())),
        run_thread_id: Some(uid(THREAD)),
        updated_at: started(),
        ..draft()
    }
}

/// COMPLETED at [`finished`], with the given approval state.
pub(super) fn completed(approval_required: bool, approval_state: ApprovalState) -> Run {
    let approval = (approval_state == ApprovalState::Approved).then(|| ApprovalRecord {
        by: user_id(OWNER),
        at: finished(),
        reason: None,
    });
    Run {
        execution_state: ExecutionState::Completed,
        approval_state,
        approval,
        version: 3,
        deadline_at: None,
        completed_at: Some(finished()),
        updated_at: finished(),
        ..running(approval_required)
    }
}

/// FAILED after a start (the runner reported "boom").
pub(super) fn failed_after_start() -> Run {
    Run {
        execution_state: ExecutionState::Failed,
        version: 3,
        deadline_at: None,
        completed_at: Some(finished()),
        error: Some("boom".into()),
        failure: Some(FailureKind::Reported),
        updated_at: finished(),
        ..running(true)
    }
}

/// FAILED without ever starting: an upload failed while auto-start was armed (SYNC-3).
pub(super) fn failed_never_started() -> Run {
    Run {
        execution_state: ExecutionState::Failed,
        version: 3,
        auto_start: true,
        completed_at: Some(finished()),
        error: Some("Upload \"upload.txt\" failed to ingest".into()),
        failure: Some(FailureKind::UploadFailed),
        updated_at: finished(),
        ..draft()
    }
}

// ------------------------------------------------------------------------------ expected values

pub(super) fn put(run: Run, event: Event) -> Transition {
    Transition {
        write: RunWrite::Put(Box::new(run)),
        event,
        reason: None,
        outbox: vec![],
        catalog: vec![],
    }
}

pub(super) fn put_part(p: PathPart) -> CatalogWrite {
    CatalogWrite::PutPart(Box::new(p))
}

pub(super) fn dispatch(run: &Run) -> OutboxMessage {
    OutboxMessage::Dispatch(Dispatch {
        key: DispatchKey {
            run_id: run.id,
            attempt: run.attempt,
        },
        tenant_id: tenant(),
        definition_id: Some(DefinitionId(uid(DEF))),
        resume: false,
        triggered_by: user_id(TRIGGERER),
        run_thread_id: run.run_thread_id,
        snapshot: run.snapshot.clone().unwrap(),
        deadline_at: run.deadline_at,
    })
}

pub(super) fn fresh_ids() -> FreshIds {
    FreshIds {
        run: uid(500),
        inputs: uid(501),
        outputs: uid(502),
        discussions: uid(503),
        extra: [uid(504), uid(505)],
    }
}

pub(super) fn create_facts(scope: Vec<Resolved>) -> CreateFacts {
    CreateFacts {
        runs_folder: runs_folder(),
        existing: None,
        name_taken: false,
        scope,
    }
}

/// A readable DOCUMENT and FOLDER under `/shared/eng`.
pub(super) fn spec_doc() -> PathPart {
    part(
        150,
        PathPartKind::Document,
        "/shared/eng/spec.md",
        Some(ENG),
    )
}

pub(super) fn eng_folder() -> PathPart {
    part(151, PathPartKind::Folder, "/shared/eng/data", Some(ENG))
}

// ------------------------------------------------------------------------------ assertions

/// The code of a refusal.
pub(super) fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
    r.expect_err("expected a refusal").code()
}

/// The one transition of a decision that writes.
pub(super) fn change<A: std::fmt::Debug>(d: Decision<A>) -> (Transition, A) {
    let t = d.change.expect("expected a write");
    (*t, d.answer)
}

/// Asserts a decision writes nothing and answers `answer`.
pub(super) fn assert_unchanged<A: std::fmt::Debug + PartialEq>(d: Result<Decision<A>>, answer: A) {
    assert_eq!(d.expect("expected an answer"), Decision::unchanged(answer));
}
