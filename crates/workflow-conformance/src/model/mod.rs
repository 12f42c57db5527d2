//! # The reference model
//!
//! A small, independent, sequential model of workflow runs, written from SPEC sections 2 and 3
//! (and the concurrency rules of section 5, which say that every concurrent history must equal
//! some serial run of this model). It does **not** call `workflow-core`'s rules or policy: it only
//! borrows its plain data types (states, error codes) so that answers compare directly.
//!
//! The model knows, for each run: its execution and approval state, its attempt, whether it has
//! a snapshot, whether it is deleted, how many transitions were committed for it (which is the
//! run's `version` while it lives, and its history length), its uploads' ingestion statuses, its
//! auto-start flag, its name and idempotency key, its input scope and snapshot inputs, why it
//! failed and with which error text, who approved it and when, and its timestamps (created,
//! updated, first started, attempt started, deadline, completed) in model seconds: the world's
//! clock is manual, so every time is predictable. [`RunView`] carries all of it, so an answer
//! compares field by field with what the engine answered ([`Driver::view`]).
//! Actors are the eight kinds of the transition vectors ([`ActorKind`]); the world is the one
//! of `crate::world::World` (definitions `def` with approval and `def_plain` without, both under
//! `/shared/eng`, attempt deadline 600 s + 60 s grace).
//!
//! [`Model::apply`] gives the [`Expected`] answer of one [`Op`] by one actor and moves the model.
//!
//! ## Decisions where the SPEC is silent (documented here, checked by the property tests)
//!
//! * Body validation (`unprocessable_entity`: an empty PATCH, a bad name, a bad approval state,
//!   an over-long callback error) is decided before the run is looked up; it reveals nothing
//!   about the run, so VIS-1 still holds.
//! * CREATE-6 is checked before the name (CREATE-4): the repeated create carries the first run's
//!   name, which would otherwise always collide. Only live runs answer an idempotency key or
//!   hold a name: after DELETE-3 both are free again.
//! * CB-4 (stale attempt) is checked before CB-3 (already terminal): both write nothing; the
//!   more specific answer wins.
//! * Uploads are added by the triggerer or an admin, to draft runs (NOT_STARTED, PENDING) only;
//!   anything else is `conflict` (a started run's inputs are frozen in its snapshot).
//! * An ingestion status change of an upload that really changes its status commits one
//!   history record on the run (the status change is part of the run's audit trail) even where
//!   SYNC-4 leaves the execution state alone; reporting the status it already has writes nothing.
//! * Create with uploads that are all settled gives NOT_STARTED and never auto-starts: SYNC-2
//!   fires only when a PENDING run settles.
//! * REAP-1: a run is reaped when its attempt started *more than* duration + grace ago, i.e.
//!   strictly after its deadline.
//! * CLONE-2 with DELETE-3 and START-8: a clone made with `include_inputs` references the
//!   source snapshot's uploads by id, and they stay in the source's `inputs/`; once the source
//!   is deleted they are gone, so the clone's Start is `conflict` (a scope reference that no
//!   longer exists), and an auto-start would settle NOT_STARTED.
//! * Scope entries are checked in order and the first bad one decides: CREATE-5/UPDATE-5
//!   (`not_found`, then `unprocessable_entity`, then `forbidden` for one entry), START-8
//!   (`conflict` for a vanished entry, `forbidden` for one the starter cannot read). Create
//!   checks its scope after CREATE-6 and before the name; Update after UPDATE-1 and before the
//!   name. A clone's pinned inputs are validated like a create's scope, as the cloner (CLONE-2
//!   with CREATE-5): a source whose scope holds `/private/...` cannot be cloned with inputs by
//!   a USER who cannot read it (`forbidden`).

mod driver;
mod invariants;
pub mod strategies;

pub use driver::{check_sequence, resolve, Driver, StoreState, UNKNOWN_RUN};
pub use invariants::check_step;
pub use workflow_core::Ingestion;
use workflow_core::{ApprovalState, CallbackOutcome, CallbackStatus, ErrorCode, ExecutionState};

/// A person of the model's tenant (plus the owner of another tenant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Person {
    /// OWNER of the tenant.
    Owner,
    /// ADMIN of the tenant.
    Admin,
    /// A USER with a read-only grant on `/shared/eng` (the vectors' triggerer).
    Triggerer,
    /// Another USER with a read-only grant on `/shared/eng`.
    UserRead,
    /// Another USER with a read-write grant on `/shared/eng`.
    UserReadWrite,
    /// A USER whose only grant is on `/private`.
    UserNoGrant,
    /// OWNER of another tenant.
    OtherTenantOwner,
}

/// What a person's grants give on `/shared/eng` (both definitions and all their run folders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GrantOnDefs {
    None,
    Read,
    ReadWrite,
}

impl Person {
    fn same_tenant(self) -> bool {
        self != Person::OtherTenantOwner
    }
    fn is_admin(self) -> bool {
        matches!(self, Person::Owner | Person::Admin)
    }
    fn grant(self) -> GrantOnDefs {
        match self {
            Person::Triggerer | Person::UserRead => GrantOnDefs::Read,
            Person::UserReadWrite => GrantOnDefs::ReadWrite,
            _ => GrantOnDefs::None,
        }
    }
    /// CREATE-1: the definitions live under `/shared/eng`.
    fn can_read_definitions(self) -> bool {
        self.same_tenant() && (self.is_admin() || self.grant() != GrantOnDefs::None)
    }
}

/// The eight actor kinds of the transition vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActorKind {
    /// OWNER of the run's tenant.
    Owner,
    /// ADMIN of the run's tenant.
    Admin,
    /// The USER who created the vectors' runs (read-only grant covering the definition).
    Triggerer,
    /// The triggerer, assumed (an agent acting as that user).
    TriggererAssumed,
    /// Another USER with a read-only grant covering the definition.
    UserRead,
    /// Another USER with a read-write grant covering the definition.
    UserReadWrite,
    /// Another USER of the tenant with no grant covering the definition.
    UserNoGrant,
    /// OWNER of another tenant.
    OtherTenantOwner,
}

impl ActorKind {
    /// Every kind, in the vectors' order.
    pub const ALL: [ActorKind; 8] = [
        ActorKind::Owner,
        ActorKind::Admin,
        ActorKind::Triggerer,
        ActorKind::TriggererAssumed,
        ActorKind::UserRead,
        ActorKind::UserReadWrite,
        ActorKind::UserNoGrant,
        ActorKind::OtherTenantOwner,
    ];

    /// The vectors' name of the kind (also what `World::actor` accepts).
    pub fn vector_name(self) -> &'static str {
        match self {
            ActorKind::Owner => "owner",
            ActorKind::Admin => "admin",
            ActorKind::Triggerer => "triggerer",
            ActorKind::TriggererAssumed => "triggerer_assumed",
            ActorKind::UserRead => "user_read",
            ActorKind::UserReadWrite => "user_read_write",
            ActorKind::UserNoGrant => "user_no_grant",
            ActorKind::OtherTenantOwner => "other_tenant_owner",
        }
    }

    /// The kind a vector names.
    pub fn from_vector_name(s: &str) -> Option<ActorKind> {
        ActorKind::ALL.into_iter().find(|a| a.vector_name() == s)
    }

    /// The person acting.
    pub fn person(self) -> Person {
        match self {
            ActorKind::Owner => Person::Owner,
            ActorKind::Admin => Person::Admin,
            ActorKind::Triggerer | ActorKind::TriggererAssumed => Person::Triggerer,
            ActorKind::UserRead => Person::UserRead,
            ActorKind::UserReadWrite => Person::UserReadWrite,
            ActorKind::UserNoGrant => Person::UserNoGrant,
            ActorKind::OtherTenantOwner => Person::OtherTenantOwner,
        }
    }

    /// Whether an agent acts as the person.
    pub fn is_assumed(self) -> bool {
        self == ActorKind::TriggererAssumed
    }
}

/// The two definitions of the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefKind {
    /// `def`: approval required.
    Approval,
    /// `def_plain`: no approval.
    Plain,
}

impl DefKind {
    fn requires_approval(self) -> bool {
        self == DefKind::Approval
    }
}

/// A name given to Create or Update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameChoice {
    /// No name: Create defaults it to the run id (unique). Not valid for Update.
    Default,
    /// One of a small pool of names (`name-0`, `name-1`, ...), so collisions happen.
    Pool(u8),
    /// A name never used before.
    Fresh,
    /// An invalid name (contains `/`): `unprocessable_entity`.
    Invalid,
}

/// A run's name as the model needs it: its id (the default), a pool name, or a fresh one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunName {
    /// Its own id (CREATE-3's default; also a clone's, CLONE-1).
    Default,
    /// `name-<n>`.
    Pool(u8),
    /// A name never used before (`fresh-<n>`).
    Fresh,
    /// Anything else: only an engine can answer with it, and no model run has it.
    Other,
}

/// Why a run failed (the `error` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// STOP-1: `Stopped by user`.
    Stopped,
    /// REAP-1: `Timed out`.
    TimedOut,
    /// CB-1: the runner's error.
    Callback,
    /// SYNC-3: an upload failed to ingest (auto-start armed).
    UploadFailed,
    /// DISP-5: the attempt's dispatch was dead-lettered.
    DispatchFailed,
}

/// The name the [`Driver`] gives the `k`-th upload of a run (in addition order).
pub fn upload_name(k: usize) -> String {
    format!("u{k:02}")
}

/// A knowledge-base reference for an input scope (CREATE-5, UPDATE-5), from the world of
/// `crate::world::World`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeItem {
    /// DOCUMENT `/shared/eng/spec.md`, the definitions' common file; pinned to [`ScopeItem::DocV1`].
    Doc,
    /// Its active DOCUMENT_VERSION.
    DocV1,
    /// DATA_SOURCE `/shared/eng/crm` (a live reference).
    Crm,
    /// FOLDER `/shared/eng` (a live reference).
    Eng,
    /// DOCUMENT `/private/secret.md`; pinned to [`ScopeItem::SecretV1`].
    Secret,
    /// Its active DOCUMENT_VERSION.
    SecretV1,
    /// The `def` definition itself: a kind a run cannot reference (`unprocessable_entity`).
    Definition,
    /// An id nobody knows (`not_found`).
    Unknown,
    /// The upload versions of run `n` (CLONE-2 pins them onto a clone's scope).
    Upload(usize),
}

impl ScopeItem {
    /// SNAP-2: a DOCUMENT is pinned to its active version; anything else stays as it is.
    fn pinned(self) -> ScopeItem {
        match self {
            ScopeItem::Doc => ScopeItem::DocV1,
            ScopeItem::Secret => ScopeItem::SecretV1,
            other => other,
        }
    }

    /// Whether `p` can read it (VIS-1 paths: `/shared/eng/...` or `/private/...`).
    fn readable_by(self, p: Person) -> bool {
        match self {
            ScopeItem::Secret | ScopeItem::SecretV1 => {
                p.same_tenant() && (p.is_admin() || p == Person::UserNoGrant)
            }
            ScopeItem::Unknown => false,
            _ => p.can_read_definitions(),
        }
    }
}

/// One operation. `run` indexes [`Model::runs`] (creation order); an index past the end
/// stands for an id nobody knows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// CREATE-*.
    Create {
        /// Which definition.
        def: DefKind,
        /// Its name.
        name: NameChoice,
        /// Uploads with their ingestion status.
        uploads: Vec<Ingestion>,
        /// CREATE-7.
        auto_start: bool,
        /// CREATE-6: one of a few keys.
        idempotency_key: Option<u8>,
        /// CREATE-5: its input scope.
        scope: Vec<ScopeItem>,
    },
    /// GET-1.
    Get {
        /// The run.
        run: usize,
    },
    /// UPDATE-*: no name (or [`NameChoice::Default`]) and no scope is an empty PATCH.
    Update {
        /// The run.
        run: usize,
        /// The new name.
        name: Option<NameChoice>,
        /// UPDATE-5: the new scope, replacing the old one.
        scope: Option<Vec<ScopeItem>>,
    },
    /// START-*.
    Start {
        /// The run.
        run: usize,
    },
    /// STOP-*.
    Stop {
        /// The run.
        run: usize,
    },
    /// CB-*.
    Callback {
        /// The run.
        run: usize,
        /// COMPLETED or FAILED.
        status: CallbackStatus,
        /// The attempt it reports on (`None`: the current one).
        attempt: Option<u32>,
        /// An error over 8192 characters (`unprocessable_entity`).
        error_too_long: bool,
    },
    /// RETRY-*.
    Retry {
        /// The run.
        run: usize,
    },
    /// CLONE-*.
    Clone {
        /// The source.
        run: usize,
        /// CLONE-2.
        include_inputs: bool,
    },
    /// APPROVE-*; `approved: false` sends a state other than `approved`.
    Approve {
        /// The run.
        run: usize,
        /// Whether the body's state is `approved`.
        approved: bool,
    },
    /// DELETE-*.
    Delete {
        /// The run.
        run: usize,
    },
    /// An upload added to `inputs/` (SYNC-1).
    AddUpload {
        /// The run.
        run: usize,
        /// Its ingestion status.
        ingestion: Ingestion,
    },
    /// The host reports an upload's new ingestion status (SYNC-*); the actor is ignored.
    SetIngestion {
        /// The run.
        run: usize,
        /// Which upload, in the order they were added.
        upload: usize,
        /// The new status.
        status: Ingestion,
    },
    /// THREAD-1: a new USER message on the run's thread.
    ThreadMessage {
        /// The run.
        run: usize,
    },
    /// The runner writes a new output document into `outputs/` (approved by APPROVE-3).
    AddOutput {
        /// The run.
        run: usize,
    },
    /// The clock moves forward (the actor is ignored).
    AdvanceClock {
        /// By this many seconds.
        seconds: u32,
    },
    /// A reaper sweep (REAP-*; the actor is ignored).
    Reap,
    /// LIST-1, tenant-wide, no filters.
    List,
}

/// What the caller sees of a run's snapshot (SNAP-*).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SnapshotView {
    /// The definition's approval flag, copied at Start (CB-2).
    pub approval_required: bool,
    /// Its pinned inputs in order: the definition's common file (pinned to [`ScopeItem::DocV1`])
    /// first, then the run's scope (pinned, deduplicated), then its own uploads (SNAP-2, SNAP-3,
    /// SNAP-5).
    pub inputs: Vec<ScopeItem>,
    /// When it was built: the first Start, in model seconds.
    pub created_at: i64,
}

/// What the caller sees of a run's approval (APPROVE-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApprovalView {
    /// Who approved (`None`: a user the model does not know).
    pub by: Option<Person>,
    /// When, in model seconds.
    pub at: i64,
}

/// What the caller sees of a run. Times are model seconds since the world's epoch (the manual
/// clock only moves by [`Op::AdvanceClock`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunView {
    /// Execution state.
    pub execution_state: ExecutionState,
    /// Approval state.
    pub approval_state: ApprovalState,
    /// Attempt counter.
    pub attempt: u32,
    /// Whether a snapshot exists.
    pub has_snapshot: bool,
    /// Committed transitions so far = the run's `version`.
    pub version: u64,
    /// Why it failed, when it did.
    pub error: Option<FailReason>,
    /// The failure's text (STOP-1 `Stopped by user`, REAP-1 `Timed out`, the runner's error of
    /// CB-1, or which upload failed to ingest for SYNC-3).
    pub error_text: Option<String>,
    /// Its name (CREATE-3, CREATE-4, UPDATE-4).
    pub name: RunName,
    /// Its input scope, in order (CREATE-5, UPDATE-5, CLONE-2).
    pub scope: Vec<ScopeItem>,
    /// Its snapshot (START-1, SNAP-7).
    pub snapshot: Option<SnapshotView>,
    /// Its approval record (APPROVE-3).
    pub approval: Option<ApprovalView>,
    /// Creation time.
    pub created_at: i64,
    /// Time of the last committed transition.
    pub updated_at: i64,
    /// First Start (kept by Retry).
    pub started_at: Option<i64>,
    /// Start of the current attempt.
    pub attempt_started_at: Option<i64>,
    /// When the current attempt is reaped (REAP-1); IN_PROGRESS only.
    pub deadline_at: Option<i64>,
    /// When it became terminal; cleared by Retry.
    pub completed_at: Option<i64>,
}

/// The expected answer of an operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expected {
    /// Success, answered with run number `run` as it now stands (for Create/Clone: the new
    /// run, or the existing one of CREATE-6).
    Run {
        /// The run answered with.
        run: usize,
        /// Its state.
        view: RunView,
    },
    /// A callback's answer (CB-3, CB-4, CB-7) and the run as it now stands.
    Callback {
        /// The answer.
        answer: CallbackOutcome,
        /// The run.
        view: RunView,
    },
    /// DELETE-3 succeeded.
    Deleted,
    /// A reaper sweep failed exactly these runs.
    Reaped(Vec<usize>),
    /// A listing shows exactly these runs.
    Listed(Vec<usize>),
    /// An output document was written.
    OutputAdded,
    /// Nothing to answer (clock moves).
    Done,
    /// Refused with this code; nothing changed (ERR-2).
    Error(ErrorCode),
}

/// One run of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunModel {
    /// Its definition.
    pub def: DefKind,
    /// Its triggerer.
    pub triggered_by: Person,
    /// Its name.
    pub name: RunName,
    /// CREATE-6.
    pub idempotency_key: Option<u8>,
    /// Execution state.
    pub execution_state: ExecutionState,
    /// Approval state.
    pub approval_state: ApprovalState,
    /// 0 before the first start; +1 per dispatch.
    pub attempt: u32,
    /// Set by Start, kept forever (SNAP-7).
    pub has_snapshot: bool,
    /// The snapshot's copy of the definition's approval flag (CB-2).
    pub snapshot_requires_approval: bool,
    /// DELETE-3.
    pub deleted: bool,
    /// Committed transitions (history records), the deletion included.
    pub transitions: u64,
    /// Upload ingestion statuses, in the order they were added.
    pub uploads: Vec<Ingestion>,
    /// CREATE-7.
    pub auto_start: bool,
    /// Model time after which the current attempt is reaped (IN_PROGRESS only).
    pub deadline: Option<i64>,
    /// Why it failed.
    pub error: Option<FailReason>,
    /// Its input scope, in order, without duplicates.
    pub scope: Vec<ScopeItem>,
    /// The failure's text.
    pub error_text: Option<String>,
    /// Who approved it, and when.
    pub approval: Option<(Person, i64)>,
    /// Creation time (model seconds).
    pub created_at: i64,
    /// Time of the last committed transition.
    pub updated_at: i64,
    /// First Start; also when the snapshot was built.
    pub started_at: Option<i64>,
    /// Start of the current attempt.
    pub attempt_started_at: Option<i64>,
    /// When it became terminal.
    pub completed_at: Option<i64>,
    /// The snapshot's inputs that came from the run itself (references, then its own uploads),
    /// pinned and deduplicated after the definition's common file (SNAP-2, SNAP-3, SNAP-5):
    /// what CLONE-2 copies.
    pub snapshot_inputs: Vec<ScopeItem>,
}

impl RunModel {
    /// The caller's view.
    pub fn view(&self) -> RunView {
        let snapshot = self.has_snapshot.then(|| SnapshotView {
            approval_required: self.snapshot_requires_approval,
            inputs: std::iter::once(ScopeItem::DocV1)
                .chain(self.snapshot_inputs.iter().copied())
                .collect(),
            created_at: self.started_at.unwrap_or_default(),
        });
        RunView {
            execution_state: self.execution_state,
            approval_state: self.approval_state,
            attempt: self.attempt,
            has_snapshot: self.has_snapshot,
            version: self.transitions,
            error: self.error,
            error_text: self.error_text.clone(),
            name: self.name,
            scope: self.scope.clone(),
            snapshot,
            approval: self
                .approval
                .map(|(by, at)| ApprovalView { by: Some(by), at }),
            created_at: self.created_at,
            updated_at: self.updated_at,
            started_at: self.started_at,
            attempt_started_at: self.attempt_started_at,
            deadline_at: self.deadline,
            completed_at: self.completed_at,
        }
    }

    fn is_terminal(&self) -> bool {
        matches!(
            self.execution_state,
            ExecutionState::Completed | ExecutionState::Failed
        )
    }
}

/// What one actor may do with one live run (VIS-1 and each operation's rule).
#[derive(Clone, Copy, Debug)]
struct Access {
    manage: bool,
    approve: bool,
    read_definition: bool,
}

/// The reference model of a tenant's runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Model {
    /// Every run ever created, in creation order (deleted ones stay, marked).
    pub runs: Vec<RunModel>,
    /// Model time, seconds since the start.
    pub now: i64,
    /// Duration + grace of one attempt (REAP-1).
    pub attempt_budget: i64,
}

impl Default for Model {
    fn default() -> Self {
        Model::new()
    }
}

const NAME_TAKEN: ErrorCode = ErrorCode::Conflict;

/// STOP-1's error text.
const STOPPED_TEXT: &str = "Stopped by user";
/// REAP-1's error text.
const TIMED_OUT_TEXT: &str = "Timed out";
/// The error every FAILED callback of the [`Driver`] carries (CB-1 stores it as the run's error).
pub const RUNNER_ERROR_TEXT: &str = "boom";

impl Model {
    /// An empty tenant with `World`'s timing: 600 s per attempt plus 60 s of grace.
    pub fn new() -> Self {
        Model::with_attempt_budget(660)
    }

    /// An empty tenant whose attempts are reaped `seconds` after they start.
    pub fn with_attempt_budget(seconds: i64) -> Self {
        Model {
            runs: Vec::new(),
            now: 0,
            attempt_budget: seconds,
        }
    }

    /// Total committed transitions over all runs (a refused or idempotent call leaves it as is).
    pub fn total_transitions(&self) -> u64 {
        self.runs.iter().map(|r| r.transitions).sum()
    }

    /// The live run `i`, if any.
    pub fn live(&self, i: usize) -> Option<&RunModel> {
        self.runs.get(i).filter(|r| !r.deleted)
    }

    /// VIS-1: `None` (→ `not_found`) unless the run lives and the actor can read it.
    fn access(&self, i: usize, actor: ActorKind) -> Option<Access> {
        let r = self.live(i)?;
        let p = actor.person();
        if !p.same_tenant() {
            return None;
        }
        let admin = p.is_admin();
        let triggerer = p == r.triggered_by;
        let grant = p.grant();
        let read = admin || triggerer || grant != GrantOnDefs::None;
        if !read {
            return None;
        }
        Some(Access {
            manage: admin || triggerer,
            // APPROVE-5: write access to the run folder (under /shared/eng), never assumed.
            approve: (admin || grant == GrantOnDefs::ReadWrite) && !actor.is_assumed(),
            read_definition: p.can_read_definitions(),
        })
    }

    fn name_taken(&self, def: DefKind, name: RunName, except: Option<usize>) -> bool {
        let RunName::Pool(_) = name else {
            return false;
        };
        self.runs
            .iter()
            .enumerate()
            .any(|(i, r)| Some(i) != except && !r.deleted && r.def == def && r.name == name)
    }

    fn ok(&self, i: usize) -> Expected {
        Expected::Run {
            run: i,
            view: self.runs[i].view(),
        }
    }

    fn new_run(&mut self, def: DefKind, by: Person, name: RunName) -> usize {
        self.runs.push(RunModel {
            def,
            triggered_by: by,
            name,
            idempotency_key: None,
            execution_state: ExecutionState::NotStarted,
            approval_state: ApprovalState::NotRequired,
            attempt: 0,
            has_snapshot: false,
            snapshot_requires_approval: false,
            deleted: false,
            transitions: 1,
            uploads: Vec::new(),
            auto_start: false,
            deadline: None,
            error: None,
            scope: Vec::new(),
            snapshot_inputs: Vec::new(),
            error_text: None,
            approval: None,
            created_at: self.now,
            updated_at: self.now,
            started_at: None,
            attempt_started_at: None,
            completed_at: None,
        });
        self.runs.len() - 1
    }

    /// START-1 / RETRY-1 / SYNC-2: a new attempt on run `i`.
    fn dispatch(&mut self, i: usize) {
        let now = self.now;
        let budget = self.attempt_budget;
        let r = &mut self.runs[i];
        if !r.has_snapshot {
            r.has_snapshot = true;
            r.snapshot_requires_approval = r.def.requires_approval();
            // SNAP-5: the common file (spec.md, pinned to DocV1) comes first and wins.
            let mut inputs = vec![ScopeItem::DocV1];
            let own = (!r.uploads.is_empty()).then_some(ScopeItem::Upload(i));
            for item in r.scope.iter().map(|s| s.pinned()).chain(own) {
                if !inputs.contains(&item) {
                    inputs.push(item);
                }
            }
            inputs.remove(0);
            r.snapshot_inputs = inputs;
            r.started_at = Some(now); // START-1
        }
        r.execution_state = ExecutionState::InProgress;
        r.attempt += 1;
        r.attempt_started_at = Some(now);
        r.deadline = Some(now + budget);
        r.completed_at = None;
        r.error = None;
        r.error_text = None;
    }

    /// Whether a scope item exists in the tenant (an upload goes with its deleted run).
    fn exists(&self, item: ScopeItem) -> bool {
        match item {
            ScopeItem::Unknown => false,
            ScopeItem::Upload(k) => self
                .runs
                .get(k)
                .is_some_and(|r| !r.deleted && !r.uploads.is_empty()),
            _ => true,
        }
    }

    /// CREATE-5, UPDATE-5: each entry in order must exist in the actor's tenant (`not_found`),
    /// be of a referencable kind (`unprocessable_entity`) and readable (`forbidden`); duplicates
    /// collapse, first position wins.
    fn validate_scope(&self, items: &[ScopeItem], p: Person) -> Result<Vec<ScopeItem>, ErrorCode> {
        let mut out = Vec::new();
        for item in items {
            if !p.same_tenant() || !self.exists(*item) {
                return Err(ErrorCode::NotFound);
            }
            if *item == ScopeItem::Definition {
                return Err(ErrorCode::UnprocessableEntity);
            }
            if !item.readable_by(p) {
                return Err(ErrorCode::Forbidden);
            }
            if !out.contains(item) {
                out.push(*item);
            }
        }
        Ok(out)
    }

    /// START-8 for starter `p`: the first scope entry that no longer exists is `conflict`, one
    /// the starter cannot read `forbidden`; nothing is written.
    fn start_refusal(&self, i: usize, p: Person) -> Option<ErrorCode> {
        self.runs[i].scope.iter().find_map(|item| {
            if !self.exists(*item) {
                Some(ErrorCode::Conflict)
            } else if !item.readable_by(p) {
                Some(ErrorCode::Forbidden)
            } else {
                None
            }
        })
    }

    /// One more committed transition on run `i`, now.
    fn touch(&mut self, i: usize) {
        let r = &mut self.runs[i];
        r.transitions += 1;
        r.updated_at = self.now;
    }

    fn fail(&mut self, i: usize, why: FailReason) {
        let now = self.now;
        let r = &mut self.runs[i];
        r.execution_state = ExecutionState::Failed;
        r.deadline = None;
        r.completed_at = Some(now);
        r.error = Some(why);
        r.error_text = Some(
            match why {
                FailReason::Stopped => STOPPED_TEXT,
                FailReason::TimedOut => TIMED_OUT_TEXT,
                FailReason::Callback => RUNNER_ERROR_TEXT,
                FailReason::UploadFailed => "upload failed", // set by SYNC-3 itself
                FailReason::DispatchFailed => "dispatch failed", // the model never dead-letters
            }
            .to_owned(),
        );
        r.transitions += 1;
        r.updated_at = now;
    }

    /// The expected answer of `op` by `actor`, moving the model accordingly.
    pub fn apply(&mut self, op: &Op, actor: ActorKind) -> Expected {
        use ExecutionState as S;
        let err = Expected::Error;
        let not_found = err(ErrorCode::NotFound);
        let forbidden = err(ErrorCode::Forbidden);
        let conflict = err(ErrorCode::Conflict);
        let now = self.now;
        match op {
            Op::Create {
                def,
                name,
                uploads,
                auto_start,
                idempotency_key,
                scope,
            } => {
                if *name == NameChoice::Invalid {
                    return err(ErrorCode::UnprocessableEntity); // CREATE-4
                }
                let p = actor.person();
                if !p.can_read_definitions() {
                    return not_found; // CREATE-1
                }
                if let Some(k) = idempotency_key {
                    let first = self.runs.iter().position(|r| {
                        !r.deleted
                            && r.def == *def
                            && r.triggered_by == p
                            && r.idempotency_key == Some(*k)
                    });
                    if let Some(i) = first {
                        return self.ok(i); // CREATE-6
                    }
                }
                let scope = match self.validate_scope(scope, p) {
                    Ok(s) => s, // CREATE-5
                    Err(code) => return err(code),
                };
                let name = match name {
                    NameChoice::Pool(n) => RunName::Pool(*n),
                    NameChoice::Fresh => RunName::Fresh,
                    _ => RunName::Default,
                };
                if self.name_taken(*def, name, None) {
                    return err(NAME_TAKEN); // CREATE-4
                }
                let i = self.new_run(*def, p, name);
                let r = &mut self.runs[i];
                r.scope = scope;
                r.idempotency_key = *idempotency_key;
                r.auto_start = *auto_start;
                r.uploads.clone_from(uploads);
                if uploads.iter().any(|u| !u.is_settled()) {
                    r.execution_state = S::Pending;
                }
                self.ok(i)
            }
            Op::Get { run } => match self.access(*run, actor) {
                None => not_found,
                Some(_) => self.ok(*run), // GET-1
            },
            Op::AddOutput { run } => {
                let Some(a) = self.access(*run, actor) else {
                    return not_found;
                };
                if !a.manage {
                    return forbidden;
                }
                let r = &mut self.runs[*run];
                if r.execution_state != S::InProgress {
                    return conflict;
                }
                r.transitions += 1;
                r.updated_at = now;
                Expected::OutputAdded
            }
            Op::ThreadMessage { run } => match self.access(*run, actor) {
                None => not_found,
                Some(_) if self.runs[*run].execution_state == S::InProgress => {
                    err(ErrorCode::RunBusy) // THREAD-1
                }
                Some(_) => self.ok(*run),
            },
            Op::Update { run, name, scope } => {
                let name = match name {
                    Some(NameChoice::Invalid) => {
                        return err(ErrorCode::UnprocessableEntity); // UPDATE-4
                    }
                    None | Some(NameChoice::Default) if scope.is_none() => {
                        return err(ErrorCode::UnprocessableEntity); // UPDATE-3
                    }
                    None | Some(NameChoice::Default) => None,
                    Some(NameChoice::Pool(n)) => Some(RunName::Pool(*n)),
                    Some(NameChoice::Fresh) => Some(RunName::Fresh),
                };
                let Some(a) = self.access(*run, actor) else {
                    return not_found;
                };
                if !a.manage {
                    return forbidden; // UPDATE-2
                }
                let r = &self.runs[*run];
                if r.execution_state != S::NotStarted {
                    return conflict; // UPDATE-1
                }
                let scope = match scope
                    .as_ref()
                    .map(|s| self.validate_scope(s, actor.person()))
                {
                    Some(Err(code)) => return err(code), // UPDATE-5
                    Some(Ok(s)) => Some(s),
                    None => None,
                };
                if let Some(name) = name {
                    if r.name != name && self.name_taken(r.def, name, Some(*run)) {
                        return err(NAME_TAKEN); // UPDATE-4
                    }
                }
                let r = &mut self.runs[*run];
                if let Some(name) = name {
                    r.name = name;
                }
                if let Some(scope) = scope {
                    r.scope = scope; // UPDATE-5: replaced wholesale
                }
                r.transitions += 1;
                r.updated_at = now;
                self.ok(*run)
            }
            Op::Start { run } => {
                let Some(a) = self.access(*run, actor) else {
                    return not_found;
                };
                if !a.manage {
                    return forbidden; // START-5
                }
                let r = &self.runs[*run];
                match r.execution_state {
                    S::InProgress => self.ok(*run),                    // START-2
                    S::Completed | S::Failed | S::Pending => conflict, // START-3, START-4
                    S::NotStarted if r.uploads.iter().any(|u| *u != Ingestion::Completed) => {
                        conflict // START-4
                    }
                    S::NotStarted => match self.start_refusal(*run, actor.person()) {
                        Some(code) => err(code), // START-8
                        None => {
                            self.dispatch(*run); // START-1
                            self.touch(*run);
                            self.ok(*run)
                        }
                    },
                }
            }
            Op::Stop { run } => {
                let Some(a) = self.access(*run, actor) else {
                    return not_found;
                };
                if !a.manage {
                    return forbidden; // STOP-4
                }
                if self.runs[*run].execution_state == S::InProgress {
                    self.fail(*run, FailReason::Stopped); // STOP-1
                }
                self.ok(*run) // STOP-2
            }
            Op::Callback {
                run,
                status,
                attempt,
                error_too_long,
            } => {
                if *error_too_long {
                    return err(ErrorCode::UnprocessableEntity); // CB-1
                }
                let Some(a) = self.access(*run, actor) else {
                    return not_found;
                };
                if !a.manage {
                    return forbidden; // CB-6
                }
                let r = &self.runs[*run];
                if matches!(r.execution_state, S::Pending | S::NotStarted) {
                    return conflict; // CB-5
                }
                let answer = if attempt.is_some_and(|n| n != r.attempt) {
                    CallbackOutcome::StaleAttempt // CB-4
                } else if r.is_terminal() {
                    CallbackOutcome::AlreadyTerminal // CB-3
                } else {
                    match status {
                        CallbackStatus::Completed => {
                            let r = &mut self.runs[*run];
                            r.execution_state = S::Completed; // CB-1
                            r.deadline = None;
                            r.completed_at = Some(now);
                            r.transitions += 1;
                            r.updated_at = now;
                            r.updated_at = now;
                            if r.snapshot_requires_approval {
                                r.approval_state = ApprovalState::Pending; // CB-2
                            }
                        }
                        CallbackStatus::Failed => self.fail(*run, FailReason::Callback),
                    }
                    CallbackOutcome::Updated // CB-7
                };
                Expected::Callback {
                    answer,
                    view: self.runs[*run].view(),
                }
            }
            Op::Retry { run } => {
                let Some(a) = self.access(*run, actor) else {
                    return not_found;
                };
                if !a.manage {
                    return forbidden; // RETRY-3
                }
                let r = &self.runs[*run];
                if r.execution_state != S::Failed || !r.has_snapshot {
                    return conflict; // RETRY-2
                }
                self.dispatch(*run); // RETRY-1
                self.touch(*run);
                self.ok(*run)
            }
            Op::Clone {
                run,
                include_inputs,
            } => {
                let Some(a) = self.access(*run, actor) else {
                    return not_found;
                };
                let source = &self.runs[*run];
                if !source.has_snapshot {
                    return conflict; // CLONE-3
                }
                if !a.read_definition {
                    return not_found; // CLONE-4 (CREATE-1)
                }
                let def = source.def;
                let scope = if *include_inputs {
                    // CLONE-2, validated as a create's scope is (CREATE-5).
                    match self.validate_scope(&source.snapshot_inputs, actor.person()) {
                        Ok(s) => s,
                        Err(code) => return err(code),
                    }
                } else {
                    Vec::new()
                };
                let i = self.new_run(def, actor.person(), RunName::Default); // CLONE-1
                self.runs[i].scope = scope;
                self.ok(i)
            }
            Op::Approve { run, approved } => {
                if !approved {
                    return err(ErrorCode::UnprocessableEntity); // APPROVE-1
                }
                let Some(a) = self.access(*run, actor) else {
                    return not_found;
                };
                if !a.approve {
                    return forbidden; // APPROVE-5
                }
                let r = &self.runs[*run];
                if r.approval_state == ApprovalState::Approved {
                    return self.ok(*run); // APPROVE-4
                }
                if r.execution_state != S::Completed || !r.snapshot_requires_approval {
                    return conflict; // APPROVE-2
                }
                let r = &mut self.runs[*run];
                r.approval_state = ApprovalState::Approved; // APPROVE-3
                r.approval = Some((actor.person(), now));
                r.transitions += 1;
                r.updated_at = now;
                self.ok(*run)
            }
            Op::Delete { run } => {
                let Some(a) = self.access(*run, actor) else {
                    return not_found;
                };
                if !a.manage {
                    return forbidden; // DELETE-2
                }
                let r = &mut self.runs[*run];
                if r.execution_state == S::InProgress {
                    return conflict; // DELETE-1
                }
                r.deleted = true; // DELETE-3
                r.transitions += 1;
                r.updated_at = now;
                Expected::Deleted
            }
            Op::AddUpload { run, ingestion } => {
                let Some(a) = self.access(*run, actor) else {
                    return not_found;
                };
                if !a.manage {
                    return forbidden;
                }
                let r = &mut self.runs[*run];
                if !matches!(r.execution_state, S::NotStarted | S::Pending) {
                    return conflict;
                }
                r.uploads.push(*ingestion);
                if !ingestion.is_settled() {
                    r.execution_state = S::Pending; // SYNC-1
                }
                r.transitions += 1;
                r.updated_at = now;
                self.ok(*run)
            }
            Op::SetIngestion {
                run,
                upload,
                status,
            } => {
                let Some(r) = self.live(*run) else {
                    return not_found;
                };
                match r.uploads.get(*upload) {
                    None => return not_found,
                    Some(s) if s == status => return self.ok(*run),
                    Some(_) => {}
                }
                let r = &mut self.runs[*run];
                r.uploads[*upload] = *status;
                r.transitions += 1;
                r.updated_at = now;
                let unsettled = r.uploads.iter().any(|u| !u.is_settled());
                let failed = r.uploads.contains(&Ingestion::Failed);
                match r.execution_state {
                    S::NotStarted if unsettled => r.execution_state = S::Pending, // SYNC-1
                    S::Pending if unsettled => {}
                    S::Pending if failed && r.auto_start => {
                        // SYNC-3 with auto-start: failed, never started; the error names the
                        // first upload (in name = addition order) that failed.
                        let k = r
                            .uploads
                            .iter()
                            .position(|u| *u == Ingestion::Failed)
                            .unwrap_or_default();
                        r.execution_state = S::Failed;
                        r.completed_at = Some(now);
                        r.error = Some(FailReason::UploadFailed);
                        r.error_text =
                            Some(format!("Upload \"{}\" failed to ingest", upload_name(k)));
                    }
                    S::Pending if failed => r.execution_state = S::NotStarted, // SYNC-3
                    S::Pending if r.auto_start => {
                        // SYNC-2: the start is the triggerer's (START-8 with its grants).
                        let starter = r.triggered_by;
                        if self.start_refusal(*run, starter).is_some() {
                            // SYNC-2: START-8 refuses; the run settles NOT_STARTED.
                            self.runs[*run].execution_state = S::NotStarted;
                        } else {
                            self.dispatch(*run);
                        }
                    }
                    S::Pending => r.execution_state = S::NotStarted, // SYNC-2
                    _ => {}                                          // SYNC-4
                }
                self.ok(*run)
            }
            Op::AdvanceClock { seconds } => {
                self.now += i64::from(*seconds);
                Expected::Done
            }
            Op::Reap => {
                let now = self.now;
                let due: Vec<usize> = (0..self.runs.len())
                    .filter(|i| {
                        let r = &self.runs[*i];
                        !r.deleted
                            && r.execution_state == S::InProgress
                            && r.deadline.is_some_and(|d| now > d)
                    })
                    .collect();
                for i in &due {
                    self.fail(*i, FailReason::TimedOut); // REAP-1
                }
                Expected::Reaped(due)
            }
            Op::List => Expected::Listed(
                (0..self.runs.len())
                    .filter(|i| self.access(*i, actor).is_some())
                    .collect(),
            ),
        }
    }

    /// A model holding one run of the triggerer brought into a vector state by model operations
    /// (so the path there is itself checked), or `None` for an unknown state name.
    pub fn in_vector_state(state: &str) -> Option<Model> {
        let mut m = Model::new();
        let t = ActorKind::Triggerer;
        let create = |def, uploads: Vec<Ingestion>, auto_start| Op::Create {
            def,
            name: NameChoice::Default,
            uploads,
            auto_start,
            idempotency_key: None,
            scope: vec![],
        };
        let callback = |status| Op::Callback {
            run: 0,
            status,
            attempt: None,
            error_too_long: false,
        };
        let plan: Vec<(Op, ActorKind)> = match state {
            "PENDING" => vec![(
                create(DefKind::Approval, vec![Ingestion::Processing], false),
                t,
            )],
            "NOT_STARTED" => vec![(create(DefKind::Approval, vec![], false), t)],
            "IN_PROGRESS" => vec![
                (create(DefKind::Approval, vec![], false), t),
                (Op::Start { run: 0 }, t),
            ],
            "COMPLETED_APPROVAL_PENDING" | "COMPLETED_APPROVED" | "COMPLETED_NOT_REQUIRED" => {
                let def = if state == "COMPLETED_NOT_REQUIRED" {
                    DefKind::Plain
                } else {
                    DefKind::Approval
                };
                let mut p = vec![
                    (create(def, vec![], false), t),
                    (Op::Start { run: 0 }, t),
                    (callback(CallbackStatus::Completed), t),
                ];
                if state == "COMPLETED_APPROVED" {
                    p.push((
                        Op::Approve {
                            run: 0,
                            approved: true,
                        },
                        ActorKind::Owner,
                    ));
                }
                p
            }
            "FAILED_AFTER_START" => vec![
                (create(DefKind::Approval, vec![], false), t),
                (Op::Start { run: 0 }, t),
                (callback(CallbackStatus::Failed), t),
            ],
            "FAILED_NEVER_STARTED" => vec![
                (
                    create(DefKind::Approval, vec![Ingestion::Processing], true),
                    t,
                ),
                (
                    Op::SetIngestion {
                        run: 0,
                        upload: 0,
                        status: Ingestion::Failed,
                    },
                    t,
                ),
            ],
            _ => return None,
        };
        for (op, actor) in plan {
            if let Expected::Error(_) = m.apply(&op, actor) {
                return None;
            }
        }
        Some(m)
    }

    /// The model operation of a vector's op name, on run 0.
    pub fn vector_op(name: &str) -> Option<Op> {
        let callback = |status| Op::Callback {
            run: 0,
            status,
            attempt: None,
            error_too_long: false,
        };
        Some(match name {
            "get" => Op::Get { run: 0 },
            "update_name" => Op::Update {
                run: 0,
                name: Some(NameChoice::Fresh),
                scope: None,
            },
            "start" => Op::Start { run: 0 },
            "stop" => Op::Stop { run: 0 },
            "callback_completed" => callback(CallbackStatus::Completed),
            "callback_failed" => callback(CallbackStatus::Failed),
            "retry" => Op::Retry { run: 0 },
            "clone_with_inputs" => Op::Clone {
                run: 0,
                include_inputs: true,
            },
            "approve" => Op::Approve {
                run: 0,
                approved: true,
            },
            "delete" => Op::Delete { run: 0 },
            "post_user_message" => Op::ThreadMessage { run: 0 },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../../../workflow-core/tests/transitions.json");

    fn check_case(case: &Value) -> Result<(), String> {
        let state = case["state"].as_str().unwrap();
        let op_name = case["op"].as_str().unwrap();
        let actor = ActorKind::from_vector_name(case["actor"].as_str().unwrap()).unwrap();
        let expect = &case["expect"];
        let mut m = Model::in_vector_state(state).ok_or("unknown state")?;
        let before = m.clone();
        let op = Model::vector_op(op_name).ok_or("unknown op")?;
        let got = m.apply(&op, actor);
        let source = &m.runs[0];
        let (exec, approval) = if source.deleted {
            ("DELETED".to_owned(), Value::Null)
        } else {
            (
                source.execution_state.as_str().to_owned(),
                Value::from(source.approval_state.as_str()),
            )
        };
        if expect["execution_state"] != exec.as_str() || expect["approval_state"] != approval {
            return Err(format!(
                "state after: {exec} {approval}, model answered {got:?}"
            ));
        }
        match expect["result"].as_str().unwrap() {
            "error" => {
                let code = expect["code"].as_str().unwrap();
                match got {
                    Expected::Error(c) if c.as_str() == code => {}
                    other => return Err(format!("expected {code}, model: {other:?}")),
                }
                if m != before {
                    return Err("a refused op changed the model (ERR-2)".into());
                }
            }
            _ => {
                if let Expected::Error(c) = got {
                    return Err(format!("expected ok, model: {c}"));
                }
                let answer = expect.get("answer").and_then(Value::as_str);
                match (answer, &got) {
                    (
                        Some(a @ ("updated" | "already_terminal")),
                        Expected::Callback { answer, .. },
                    ) if answer.as_str() == a => {}
                    (Some(a), Expected::Run { run, view }) if a.starts_with("new NOT_STARTED") => {
                        // CLONE-1: a new draft, the source untouched.
                        if *run == 0 || view.execution_state != ExecutionState::NotStarted {
                            return Err(format!("clone answered {got:?}"));
                        }
                        if m.runs[0] != before.runs[0] {
                            return Err("clone changed its source".into());
                        }
                    }
                    (Some(a), _) if a.contains("Stopped by user") => {
                        if source.error != Some(FailReason::Stopped) {
                            return Err(format!("error after stop: {:?}", source.error));
                        }
                    }
                    (None, Expected::Run { run: 0, .. } | Expected::Deleted) => {}
                    (a, g) => return Err(format!("answer {a:?} vs model {g:?}")),
                }
            }
        }
        Ok(())
    }

    /// Validates the model against all 704 cases of the transition vectors (SPEC sections 3 and
    /// 6; VIS-1, VIS-2, GET-1, UPDATE-1, UPDATE-2, START-1..5, STOP-1, STOP-2, STOP-4, CB-1..7,
    /// RETRY-1..3, CLONE-1, CLONE-3, APPROVE-2, APPROVE-4, APPROVE-5, DELETE-1..3, THREAD-1).
    #[test]
    fn model_agrees_with_all_704_transition_vectors() {
        let v: Value = serde_json::from_str(VECTORS).unwrap();
        let cases = v["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 704);
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|c| {
                check_case(c)
                    .err()
                    .map(|e| format!("{} / {} / {}: {e}", c["state"], c["op"], c["actor"]))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} cases disagree:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// Every vector state, op and actor name is known to the model.
    #[test]
    fn model_knows_every_vector_name() {
        let v: Value = serde_json::from_str(VECTORS).unwrap();
        for s in v["states"].as_object().unwrap().keys() {
            assert!(Model::in_vector_state(s).is_some(), "{s}");
        }
        for o in v["ops"].as_object().unwrap().keys() {
            assert!(Model::vector_op(o).is_some(), "{o}");
        }
        for a in v["actors"].as_object().unwrap().keys() {
            assert!(ActorKind::from_vector_name(a).is_some(), "{a}");
        }
    }

    /// REAP-1: reaped strictly after the deadline, and a reaped run can be retried.
    #[test]
    fn reap_1_strictly_after_deadline_then_retry() {
        let mut m = Model::in_vector_state("IN_PROGRESS").unwrap();
        m.apply(&Op::AdvanceClock { seconds: 660 }, ActorKind::Owner);
        assert_eq!(
            m.apply(&Op::Reap, ActorKind::Owner),
            Expected::Reaped(vec![])
        );
        m.apply(&Op::AdvanceClock { seconds: 1 }, ActorKind::Owner);
        assert_eq!(
            m.apply(&Op::Reap, ActorKind::Owner),
            Expected::Reaped(vec![0])
        );
        assert_eq!(m.runs[0].error, Some(FailReason::TimedOut));
        let got = m.apply(&Op::Retry { run: 0 }, ActorKind::Triggerer);
        assert!(
            matches!(got, Expected::Run { view, .. } if view.attempt == 2 && view.error.is_none())
        );
    }

    /// CREATE-6: the same key by the same person on the same definition answers the first run.
    #[test]
    fn create_6_same_key_returns_first_run() {
        let mut m = Model::new();
        let op = Op::Create {
            def: DefKind::Approval,
            name: NameChoice::Pool(0),
            uploads: vec![],
            auto_start: false,
            idempotency_key: Some(1),
            scope: vec![],
        };
        let first = m.apply(&op, ActorKind::Triggerer);
        assert_eq!(m.apply(&op, ActorKind::TriggererAssumed), first);
        assert_eq!(
            m.apply(&op, ActorKind::UserRead),
            Expected::Error(ErrorCode::Conflict)
        );
        assert_eq!(m.runs.len(), 1);
    }
}
