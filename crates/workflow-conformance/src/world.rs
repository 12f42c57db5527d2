//! A small populated tenant for tests: the actors of the SPEC's transition vectors, a
//! knowledge base, two definitions, and helpers that bring a run into each state.

use std::sync::{Arc, Mutex};
use workflow_core::chrono::{DateTime, TimeZone, Utc};
use workflow_core::uuid::Uuid;
use workflow_core::*;

/// A dispatcher that captures what it is handed and can be told to fail.
#[derive(Debug, Default)]
pub struct CapturingDispatcher {
    /// Dispatches received, in order (duplicates included).
    pub dispatches: Mutex<Vec<Dispatch>>,
    /// Cancels received, in order.
    pub cancels: Mutex<Vec<Cancel>>,
    /// While true, every call fails (transiently, unless `permanent`).
    pub failing: std::sync::atomic::AtomicBool,
    /// Failures are permanent refusals (DISP-5) rather than transient.
    pub permanent: std::sync::atomic::AtomicBool,
    /// A held run (a slow runner) and how many of its deliveries wait at the gate.
    hold: Mutex<(Option<RunId>, usize)>,
    /// Signalled on release and when a held delivery starts waiting.
    gate: std::sync::Condvar,
}

impl CapturingDispatcher {
    /// Keys of the dispatches received.
    pub fn dispatch_keys(&self) -> Vec<DispatchKey> {
        self.dispatches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|d| d.key)
            .collect()
    }
    /// Keys of the cancels received.
    pub fn cancel_keys(&self) -> Vec<DispatchKey> {
        self.cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|d| d.key)
            .collect()
    }
    /// Make every call fail (or succeed again).
    pub fn set_failing(&self, f: bool) {
        self.failing.store(f, std::sync::atomic::Ordering::SeqCst);
    }
    /// Make failures permanent refusals (`retryable: false`) or transient again.
    pub fn set_permanent(&self, p: bool) {
        self.permanent.store(p, std::sync::atomic::Ordering::SeqCst);
    }
    /// Hold every delivery for `run` (a slow runner) until [`CapturingDispatcher::release`].
    pub fn hold(&self, run: RunId) {
        self.hold.lock().unwrap_or_else(|p| p.into_inner()).0 = Some(run);
    }
    /// Let held deliveries go.
    pub fn release(&self) {
        self.hold.lock().unwrap_or_else(|p| p.into_inner()).0 = None;
        self.gate.notify_all();
    }
    /// Block until a held delivery is waiting at the gate (`false` after 10 s without one).
    pub fn wait_until_held(&self) -> bool {
        let h = self.hold.lock().unwrap_or_else(|p| p.into_inner());
        let (h, _) = self
            .gate
            .wait_timeout_while(h, std::time::Duration::from_secs(10), |h| h.1 == 0)
            .unwrap_or_else(|p| p.into_inner());
        h.1 > 0
    }
    fn check(&self, run: RunId) -> Result<(), DispatchError> {
        let mut h = self.hold.lock().unwrap_or_else(|p| p.into_inner());
        if h.0 == Some(run) {
            h.1 += 1;
            self.gate.notify_all();
            while h.0 == Some(run) {
                h = self.gate.wait(h).unwrap_or_else(|p| p.into_inner());
            }
            h.1 -= 1;
        }
        drop(h);
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            let permanent = self.permanent.load(std::sync::atomic::Ordering::SeqCst);
            Err(DispatchError {
                retryable: !permanent,
                message: if permanent {
                    "runner refused".into()
                } else {
                    "runner unreachable".into()
                },
                retry_after: None,
            })
        } else {
            Ok(())
        }
    }
}

impl Dispatcher for CapturingDispatcher {
    fn dispatch(&self, m: &Dispatch) -> Result<(), DispatchError> {
        self.check(m.key.run_id)?;
        self.dispatches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(m.clone());
        Ok(())
    }
    fn cancel(&self, m: &Cancel) -> Result<(), DispatchError> {
        self.check(m.key.run_id)?;
        self.cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(m.clone());
        Ok(())
    }
}

/// The run states of the SPEC's transition vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setup {
    /// An upload still ingesting.
    Pending,
    /// A fresh draft.
    NotStarted,
    /// Started, attempt 1.
    InProgress,
    /// Completed; its definition requires approval.
    CompletedApprovalPending,
    /// Completed and approved.
    CompletedApproved,
    /// Completed; no approval needed.
    CompletedNotRequired,
    /// Failed after a start (has a snapshot).
    FailedAfterStart,
    /// Failed before any start (auto-start with a failed upload, SYNC-3).
    FailedNeverStarted,
}

impl Setup {
    /// The vectors' name of the state.
    pub fn from_vector_name(s: &str) -> Option<Setup> {
        Some(match s {
            "PENDING" => Setup::Pending,
            "NOT_STARTED" => Setup::NotStarted,
            "IN_PROGRESS" => Setup::InProgress,
            "COMPLETED_APPROVAL_PENDING" => Setup::CompletedApprovalPending,
            "COMPLETED_APPROVED" => Setup::CompletedApproved,
            "COMPLETED_NOT_REQUIRED" => Setup::CompletedNotRequired,
            "FAILED_AFTER_START" => Setup::FailedAfterStart,
            "FAILED_NEVER_STARTED" => Setup::FailedNeverStarted,
            _ => return None,
        })
    }
}

/// A fixed start time for manual clocks.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000 | n)
}

/// A tenant populated for tests.
pub struct World<S: Store> {
    /// The engine under test.
    pub engine: Engine<S>,
    /// Its clock.
    pub clock: Arc<ManualClock>,
    /// Its dispatcher.
    pub dispatcher: Arc<CapturingDispatcher>,
    /// The tenant.
    pub tenant: TenantId,
    /// OWNER.
    pub owner: Actor,
    /// ADMIN.
    pub admin: Actor,
    /// USER with a read-only grant on `/shared/eng` (creates the runs in [`World::run_in`]).
    pub triggerer: Actor,
    /// Another USER with a read-only grant on `/shared/eng`.
    pub user_read: Actor,
    /// Another USER with a read-write grant on `/shared/eng`.
    pub user_read_write: Actor,
    /// A USER with a grant on `/private` only.
    pub user_no_grant: Actor,
    /// A USER with no grant at all who may still have triggered runs: it held a read grant on
    /// `/shared/eng` while it created them and lost it since ([`World::run_of_former_grantee`]).
    /// It sees such a run only as its triggerer (VIS-1, LIST-1).
    pub former_grantee: Actor,
    /// OWNER of another tenant.
    pub other_owner: Actor,
    /// The other tenant.
    pub other_tenant: TenantId,
    /// `/shared`.
    pub shared: PathPart,
    /// `/shared/eng`.
    pub eng: PathPart,
    /// `/private`.
    pub private: PathPart,
    /// `/shared/eng/spec.md`, with an active completed version.
    pub doc: PathPart,
    /// The active version of `doc`.
    pub doc_v1: PathPart,
    /// `/shared/eng/instructions.md`, with an active version.
    pub instruction: PathPart,
    /// `/shared/eng/crm`, a DATA_SOURCE.
    pub crm: PathPart,
    /// `/private/secret.md`.
    pub secret: PathPart,
    /// `/shared/eng/summarise`: approval required, common file `doc`.
    pub def: Definition,
    /// `/shared/eng/plain`: no approval.
    pub def_plain: Definition,
}

fn user(tenant: TenantId, n: u128, role: Role, grants: Vec<Grant>) -> User {
    User {
        id: UserId(id(n)),
        tenant_id: tenant,
        role,
        first_name: format!("user{n}"),
        last_name: "Test".into(),
        api_key: Some(ApiKeyDigest::of(&format!("sk-test-{n}"))),
        grants,
    }
}

fn grant(path: &str, capability: Capability) -> Grant {
    Grant {
        path: path.into(),
        capability,
    }
}

impl<S: Store> World<S> {
    /// Populate `store`. Panics on failure: it is test scaffolding.
    #[allow(clippy::unwrap_used)]
    pub fn new(store: S) -> Self {
        Self::with_config(store, EngineConfig::default())
    }

    /// [`World::new`] with an engine configured by `config`.
    #[allow(clippy::unwrap_used)]
    pub fn with_config(store: S, config: EngineConfig) -> Self {
        let clock = Arc::new(ManualClock::new(epoch()));
        let dispatcher = Arc::new(CapturingDispatcher::default());
        let engine = Engine::new(store)
            .with_config(config)
            .with_clock(clock.clone())
            .with_dispatcher(dispatcher.clone())
            .with_ids(Arc::new(RandomIds));
        let tenant = TenantId(id(1));
        let other_tenant = TenantId(id(2));
        engine
            .put_tenant(Tenant {
                id: tenant,
                name: "acme".into(),
            })
            .unwrap();
        engine
            .put_tenant(Tenant {
                id: other_tenant,
                name: "globex".into(),
            })
            .unwrap();
        let users = [
            user(tenant, 10, Role::Owner, vec![]),
            user(tenant, 11, Role::Admin, vec![]),
            user(
                tenant,
                12,
                Role::User,
                vec![grant("/shared/eng", Capability::Read)],
            ),
            user(
                tenant,
                13,
                Role::User,
                vec![grant("/shared/eng", Capability::Read)],
            ),
            user(
                tenant,
                14,
                Role::User,
                vec![grant("/shared/eng", Capability::ReadWrite)],
            ),
            user(
                tenant,
                15,
                Role::User,
                vec![grant("/private", Capability::ReadWrite)],
            ),
            user(other_tenant, 20, Role::Owner, vec![]),
            user(tenant, 16, Role::User, vec![]),
        ];
        for u in &users {
            engine.put_user(u.clone()).unwrap();
        }
        let a = |i: usize| Actor::of(&users[i]);
        let part = |n, kind, name: &str, parent: Option<&PathPart>| {
            engine
                .put_part(tenant, PathPartId(id(n)), kind, name, parent.map(|p| p.id))
                .unwrap()
        };
        let shared = part(100, PathPartKind::Folder, "shared", None);
        let private = part(101, PathPartKind::Folder, "private", None);
        let eng = part(102, PathPartKind::Folder, "eng", Some(&shared));
        let doc = part(103, PathPartKind::Document, "spec.md", Some(&eng));
        let doc_v1 = engine
            .put_version(
                tenant,
                doc.id,
                PathPartId(id(104)),
                Ingestion::Completed,
                true,
            )
            .unwrap();
        let instruction = part(105, PathPartKind::Document, "instructions.md", Some(&eng));
        engine
            .put_version(
                tenant,
                instruction.id,
                PathPartId(id(106)),
                Ingestion::Completed,
                true,
            )
            .unwrap();
        let crm = part(107, PathPartKind::DataSource, "crm", Some(&eng));
        let secret = part(108, PathPartKind::Document, "secret.md", Some(&private));
        engine
            .put_version(
                tenant,
                secret.id,
                PathPartId(id(109)),
                Ingestion::Completed,
                true,
            )
            .unwrap();
        let owner = a(0);
        let mk = |n, name: &str, approval| {
            engine
                .create_definition(
                    &owner,
                    NewDefinition {
                        id: Some(DefinitionId(id(n))),
                        parent_id: eng.id,
                        name: name.into(),
                        instruction_id: Some(instruction.id),
                        max_run_duration_seconds: Some(600),
                        approval_required: approval,
                        is_active: true,
                        is_template: false,
                        common_file_ids: vec![doc.id],
                        selected_skill_ids: vec![id(900)],
                        create_empty_instruction: false,
                        ..NewDefinition::default()
                    },
                )
                .unwrap()
        };
        let def = mk(200, "summarise", true);
        let def_plain = mk(201, "plain", false);
        World {
            clock,
            dispatcher,
            tenant,
            owner,
            admin: a(1),
            triggerer: a(2),
            user_read: a(3),
            user_read_write: a(4),
            user_no_grant: a(5),
            other_owner: a(6),
            former_grantee: a(7),
            other_tenant,
            shared,
            eng,
            private,
            doc,
            doc_v1,
            instruction,
            crm,
            secret,
            def,
            def_plain,
            engine,
        }
    }

    /// The actor a vector names.
    pub fn actor(&self, name: &str) -> Option<Actor> {
        Some(match name {
            "owner" => self.owner.clone(),
            "admin" => self.admin.clone(),
            "triggerer" => self.triggerer.clone(),
            "triggerer_assumed" => self.triggerer.clone().assumed(),
            "user_read" => self.user_read.clone(),
            "user_read_write" => self.user_read_write.clone(),
            "user_no_grant" => self.user_no_grant.clone(),
            "other_tenant_owner" => self.other_owner.clone(),
            "former_grantee" => self.former_grantee.clone(),
            _ => return None,
        })
    }

    /// A fresh NOT_STARTED run of `def` created by the triggerer.
    #[allow(clippy::unwrap_used)]
    pub fn draft(&self) -> Run {
        self.engine
            .create_run(&self.triggerer, self.def.id, CreateRun::default())
            .unwrap()
    }

    /// A fresh NOT_STARTED run of `def` triggered by [`World::former_grantee`]: the user is
    /// given a read grant on `/shared/eng`, creates the run, and loses the grant again, so it
    /// holds no grant covering the definition afterwards (VIS-1, LIST-1: "or its triggerer").
    #[allow(clippy::unwrap_used)]
    pub fn run_of_former_grantee(&self) -> Run {
        let who = |grants| user(self.tenant, 16, Role::User, grants);
        self.engine
            .put_user(who(vec![grant("/shared/eng", Capability::Read)]))
            .unwrap();
        let run = self
            .engine
            .create_run(&self.former_grantee, self.def.id, CreateRun::default())
            .unwrap();
        self.engine.put_user(who(vec![])).unwrap();
        run
    }

    /// A template definition `/shared/eng/<name>` and a NOT_STARTED run of it by the triggerer:
    /// the definition is created active and not a template, the run is created, and only then
    /// does the definition become a template (START-6: starting that run is `conflict`). Each
    /// call needs its own `name`.
    #[allow(clippy::unwrap_used)]
    pub fn template_with_draft(&self, name: &str) -> (Definition, Run) {
        let def = self
            .engine
            .create_definition(
                &self.owner,
                NewDefinition {
                    id: None,
                    parent_id: self.eng.id,
                    name: name.into(),
                    instruction_id: Some(self.instruction.id),
                    max_run_duration_seconds: Some(600),
                    approval_required: false,
                    is_active: true,
                    is_template: false,
                    common_file_ids: vec![],
                    selected_skill_ids: vec![],
                    create_empty_instruction: false,
                    ..NewDefinition::default()
                },
            )
            .unwrap();
        let run = self
            .engine
            .create_run(&self.triggerer, def.id, CreateRun::default())
            .unwrap();
        let template = Definition {
            is_template: true,
            ..def
        };
        self.engine
            .store()
            .apply_catalog(&[CatalogWrite::Definition(Box::new(template.clone()))])
            .unwrap();
        (template, run)
    }

    /// The largest Start the rules allow, for benches: a definition (`name`) with 20 common
    /// files, and [`policy::MAX_INPUT_SCOPE`] more documents for a run to reference, every one
    /// a document under `/shared/eng` with an active, ingested version. Returns the definition
    /// and the references. Call once per name.
    ///
    /// [`policy::MAX_INPUT_SCOPE`]: workflow_core::policy::MAX_INPUT_SCOPE
    #[allow(clippy::unwrap_used)]
    pub fn big_scope(&self, name: &str) -> (Definition, Vec<PathPartId>) {
        let e = &self.engine;
        let doc = |file: String| {
            let id = PathPartId(Uuid::new_v4());
            e.put_part(
                self.tenant,
                id,
                PathPartKind::Document,
                &file,
                Some(self.eng.id),
            )
            .unwrap();
            let version = PathPartId(Uuid::new_v4());
            e.put_version(self.tenant, id, version, Ingestion::Completed, true)
                .unwrap();
            id
        };
        let common = (0..20)
            .map(|i| doc(format!("{name}-common-{i}.md")))
            .collect();
        let scope = (0..workflow_core::policy::MAX_INPUT_SCOPE)
            .map(|i| doc(format!("{name}-ref-{i}.md")))
            .collect();
        let def = e
            .create_definition(
                &self.owner,
                NewDefinition {
                    parent_id: self.eng.id,
                    name: name.into(),
                    instruction_id: Some(self.instruction.id),
                    max_run_duration_seconds: Some(600),
                    is_active: true,
                    common_file_ids: common,
                    ..NewDefinition::default()
                },
            )
            .unwrap();
        (def, scope)
    }

    /// One whole lifecycle of a fresh run of [`World::def_plain`] by the triggerer: create,
    /// start, callback COMPLETED (the benches' unit of work). Returns the completed run.
    #[allow(clippy::unwrap_used)]
    pub fn lifecycle(&self) -> Run {
        let e = &self.engine;
        let run = e
            .create_run(&self.triggerer, self.def_plain.id, CreateRun::default())
            .unwrap();
        let run = e
            .start_run(&self.triggerer, run.id, StartRun::default())
            .unwrap();
        let cb = Callback {
            status: CallbackStatus::Completed,
            error: None,
            attempt: Some(run.attempt),
        };
        let done = e
            .callback(&self.triggerer.clone().assumed(), run.id, cb)
            .unwrap();
        assert_eq!(done.outcome, CallbackOutcome::Updated);
        done.run
    }

    /// A fresh IN_PROGRESS run (attempt 1).
    #[allow(clippy::unwrap_used)]
    pub fn running(&self) -> Run {
        self.run_in(Setup::InProgress)
    }

    /// A fresh run of the triggerer brought into `setup`.
    #[allow(clippy::unwrap_used)]
    pub fn run_in(&self, setup: Setup) -> Run {
        let e = &self.engine;
        let t = &self.triggerer;
        let def = if setup == Setup::CompletedNotRequired {
            &self.def_plain
        } else {
            &self.def
        };
        let upload = |ingestion| NewUpload {
            name: "upload.txt".into(),
            ingestion,
        };
        match setup {
            Setup::Pending => {
                let cmd = CreateRun {
                    uploads: vec![upload(Ingestion::Processing)],
                    ..CreateRun::default()
                };
                e.create_run(t, def.id, cmd).unwrap()
            }
            Setup::FailedNeverStarted => {
                let cmd = CreateRun {
                    uploads: vec![upload(Ingestion::Processing)],
                    auto_start: true,
                    ..CreateRun::default()
                };
                let run = e.create_run(t, def.id, cmd).unwrap();
                let v = self.upload_version(&run);
                e.set_upload_ingestion(self.tenant, v, Ingestion::Failed)
                    .unwrap()
            }
            Setup::NotStarted => e.create_run(t, def.id, CreateRun::default()).unwrap(),
            _ => {
                let run = e.create_run(t, def.id, CreateRun::default()).unwrap();
                let run = e.start_run(t, run.id, StartRun::default()).unwrap();
                let cb = |status, error: Option<&str>| Callback {
                    status,
                    error: error.map(Into::into),
                    attempt: None,
                };
                match setup {
                    Setup::InProgress => run,
                    Setup::FailedAfterStart => {
                        e.callback(t, run.id, cb(CallbackStatus::Failed, Some("boom")))
                            .unwrap()
                            .run
                    }
                    _ => {
                        let run = e
                            .callback(t, run.id, cb(CallbackStatus::Completed, None))
                            .unwrap()
                            .run;
                        if setup == Setup::CompletedApproved {
                            let approve = Approve {
                                state: ApprovalState::Approved,
                                reason: None,
                            };
                            e.approve_run(&self.owner, run.id, approve).unwrap()
                        } else {
                            run
                        }
                    }
                }
            }
        }
    }

    /// The version id of the first upload of `run`.
    #[allow(clippy::unwrap_used)]
    pub fn upload_version(&self, run: &Run) -> PathPartId {
        let docs = self
            .engine
            .documents_in(self.tenant, run.folders.inputs_id)
            .unwrap();
        let doc = docs.first().unwrap();
        self.engine
            .store()
            .children(self.tenant, doc.id)
            .unwrap()
            .first()
            .unwrap()
            .id
    }

    /// The history of a run.
    #[allow(clippy::unwrap_used)]
    pub fn history(&self, run: RunId) -> Vec<HistoryRecord> {
        self.engine.history(self.tenant, run).unwrap()
    }

    /// Asserts AUDIT-1: seq 1..=n, each record's `from` is the previous `to`.
    pub fn assert_history_gapless(&self, run: RunId) {
        let h = self.history(run);
        for (i, r) in h.iter().enumerate() {
            assert_eq!(r.seq, i as u64 + 1, "history of {run} has a gap: {h:#?}");
            if i > 0 {
                assert_eq!(
                    r.from,
                    h[i - 1].to,
                    "history of {run} does not chain: {h:#?}"
                );
            } else {
                assert_eq!(r.from, None);
            }
        }
    }
}

/// A commit of `write` on `run` decided at version `expected`: an `Updated` history record by
/// the system at the run's `updated_at`, no outbox or catalog writes, every pre-check on
/// (`keys_unchanged: false`). For tests that drive `Store::commit` directly.
pub fn commit_of(run: &Run, expected: u64, write: RunWrite) -> Commit {
    Commit {
        tenant_id: run.tenant_id,
        run_id: run.id,
        expected_version: expected,
        write,
        history: HistoryRecord {
            run_id: run.id,
            tenant_id: run.tenant_id,
            seq: expected + 1,
            from: Some(run.execution_state),
            to: Some(run.execution_state),
            event: Event::Updated,
            actor: ActorStamp::SYSTEM,
            at: run.updated_at,
            attempt: run.attempt,
            reason: None,
        },
        outbox: vec![],
        catalog: vec![],
        keys_unchanged: false,
    }
}
