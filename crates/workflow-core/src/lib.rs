//! # workflow-core
//!
//! The pure run-lifecycle engine behind an AI-agent workflow API: create a draft run, edit it,
//! start it with a frozen snapshot of its inputs, let a remote runner report COMPLETED or
//! FAILED, stop, retry, clone, approve, delete.
//!
//! ## Design
//!
//! * [`rules`]: one pure decision per operation. A decision reads only its arguments (the run,
//!   catalog facts, the actor, `now`, fresh ids) and returns a [`rules::Transition`] or a typed
//!   [`Error`]. No I/O, no clock reads, no random ids.
//! * [`policy`]: who may do what (VIS-1, VIS-2), shared by every rule.
//! * [`snapshot`]: the frozen configuration built at Start (SPEC section 4).
//! * [`Store`]: the one port to persistence, with a single atomic, version-checked
//!   [`Store::commit`] that writes the run row, its history record and its outbox messages
//!   together. A version conflict is a result, not an error.
//! * [`Engine`]: load → decide → commit; on conflict reload and decide again (bounded). After a
//!   commit, [`Engine::relay_outbox`] hands queued dispatches and cancels to the
//!   [`Dispatcher`] at least once.
//!
//! Adapters: `workflow-store-memory` (one lock) and `workflow-store-sqlite`; both must pass
//! `workflow-conformance`.
//!
//! ## Example
//!
//! ```
//! use std::sync::Arc;
//! use workflow_core::*;
//! use workflow_store_memory::MemoryStore;
//!
//! let engine = Engine::new(MemoryStore::new());
//! let tenant = TenantId(uuid::Uuid::new_v4());
//! let owner = User {
//!     id: UserId(uuid::Uuid::new_v4()), tenant_id: tenant, role: Role::Owner,
//!     first_name: "Ada".into(), last_name: "L".into(), api_key: None, grants: vec![],
//! };
//! engine.put_tenant(Tenant { id: tenant, name: "acme".into() }).unwrap();
//! engine.put_user(owner.clone()).unwrap();
//! let actor = Actor::of(&owner);
//! let shared = engine
//!     .put_part(tenant, PathPartId(uuid::Uuid::new_v4()), PathPartKind::Folder, "shared", None)
//!     .unwrap();
//! let def = engine.create_definition(&actor, NewDefinition {
//!     id: None, parent_id: shared.id, name: "summarise".into(), instruction_id: None,
//!     max_run_duration_seconds: None, approval_required: true, is_active: true,
//!     is_template: false, common_file_ids: vec![], selected_skill_ids: vec![],
//!     create_empty_instruction: true, description: None, schedule: ScheduleFields::default(),
//!     created_from_id: None,
//! }).unwrap();
//!
//! let run = engine.create_run(&actor, def.id, CreateRun::default()).unwrap();
//! assert_eq!(run.execution_state, ExecutionState::NotStarted);
//! let run = engine.start_run(&actor, run.id, StartRun::default()).unwrap();
//! assert_eq!((run.execution_state, run.attempt), (ExecutionState::InProgress, 1));
//! let done = engine.callback(&actor.clone().assumed(), run.id, Callback {
//!     status: CallbackStatus::Completed, error: None, attempt: Some(1),
//! }).unwrap();
//! assert_eq!(done.outcome, CallbackOutcome::Updated);
//! assert_eq!(done.run.approval_state, ApprovalState::Pending);
//! let history = engine.history(tenant, run.id).unwrap();
//! assert_eq!(history.len(), 3);
//! ```

mod api_key;
mod engine;
mod error;
mod fixture;
mod ids;
mod model;
pub mod policy;
pub mod rules;
pub mod schedule;
pub mod snapshot;
mod store;

pub use api_key::ApiKeyDigest;
pub use chrono;
pub use engine::{
    is_terminal_event, schedule_key, CallbackResult, CommitObserver, DefinitionStats, Engine,
    EngineConfig, FireOutcome, FireReport, ListDefinitions, ListRuns, RelayObserver, RelayReport,
    RunsSummary, ScheduleFiring, SummaryQuery, SCHEDULE_KEY_PREFIX,
};
pub use error::{Error, ErrorCode, Result, StoreError, StoreErrorKind};
pub use fixture::{
    Fixture, FixtureDefinition, FixtureGrant, FixturePart, FixtureTenant, FixtureUser,
    FixtureVersion,
};
pub use ids::{DefinitionId, PathPartId, RunId, TenantId, UserId};
pub use model::*;
pub use rules::{
    Approve, Callback, CloneRun, CreateRun, NewDefinition, NewUpload, PutDefinition,
    ScheduleFields, StartRun, UpdateRun,
};
pub use store::{
    nearest_rank, CatalogWrite, Clock, Commit, CommitOutcome, CommitProbe, ConflictKind, Delivery,
    DispatchError, Dispatcher, IdGen, ManualClock, NoopDispatcher, OutboxLease, RandomIds,
    RunQuery, RunSet, RunStats, RunWrite, SeqIds, Store, StoreResult, SystemClock, Visibility,
};
pub use uuid;
