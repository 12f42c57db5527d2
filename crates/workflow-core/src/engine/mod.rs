//! The [`Engine`]: one method per operation. Each call loads, decides (pure, in
//! [`crate::rules`]), and commits with the version it decided on; a conflict means someone else
//! committed first, so it reloads and decides again, a bounded number of times.
//!
//! * `facts`: the catalog reads the rules need (resolved references, uploads, folders);
//! * `commit`: the load → decide → commit loop and the commit itself;
//! * `runs`: one method per run operation of SPEC section 3;
//! * `summary`: the runs summary (SUM-1), from the store's aggregates;
//! * `maintenance`: the outbox relay and the reaper;
//! * `history`: a run's readable history (HIST-1) and the post-commit observers (WATCH-1);
//! * `catalog`: tenants, users, knowledge-base parts, versions, definition creation;
//! * `definitions`: the definition list, replacement, deletion and instantiation (DEF-1..5).

use crate::error::Result;
use crate::model::{Actor, CallbackOutcome, Event, Grant, Run, Timestamp};
use crate::store::{Clock, Dispatcher, IdGen, NoopDispatcher, RandomIds, Store, SystemClock};
use std::sync::Arc;

mod catalog;
mod commit;
mod definitions;
mod facts;
mod history;
mod maintenance;
mod runs;
mod schedules;
mod summary;

pub use definitions::{DefinitionStats, ListDefinitions};
pub use history::CommitObserver;
pub use maintenance::{RelayObserver, RelayReport};
pub use runs::ListRuns;
pub use schedules::{schedule_key, FireOutcome, FireReport, ScheduleFiring, SCHEDULE_KEY_PREFIX};
pub use summary::{RunsSummary, SummaryQuery};

/// Tunables of an [`Engine`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Added to `max_run_duration_seconds` before the reaper fails a run (REAP-1).
    pub grace: chrono::Duration,
    /// How many times a call reloads and decides again after a version conflict.
    pub max_conflict_retries: u32,
    /// Relay the outbox right after each commit that queued messages (best effort; the
    /// background relay catches up with whatever fails).
    pub relay_after_commit: bool,
    /// Due messages read per look at the outbox.
    pub relay_batch: u32,
    /// Deliveries in flight at once in [`Engine::relay_outbox`] (at least 1). Each run's
    /// messages go one at a time, in order; different runs' in parallel, so one slow runner
    /// holds up only its own runs (DISP-6).
    pub relay_parallelism: usize,
    /// Backoff and dead-lettering (DISP-4, DISP-5).
    pub relay: crate::rules::RelayPolicy,
    /// How long a relay's claim on a message keeps other processes' relays off it (SCALE-2):
    /// longer than a delivery can take (the dispatcher's own timeouts), so that in a crash-free
    /// run no message is delivered twice; a relay that dies holding claims delays their
    /// messages by at most this.
    pub relay_lease: std::time::Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            grace: chrono::Duration::seconds(60),
            max_conflict_retries: 64,
            relay_after_commit: true,
            relay_batch: 256,
            relay_parallelism: 4,
            relay: crate::rules::RelayPolicy::default(),
            relay_lease: std::time::Duration::from_secs(120),
        }
    }
}

/// A callback's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackResult {
    /// CB-3, CB-4, CB-7.
    pub outcome: CallbackOutcome,
    /// The run as it now stands.
    pub run: Run,
}

/// The lifecycle engine over a [`Store`].
pub struct Engine<S> {
    store: S,
    dispatcher: Arc<dyn Dispatcher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    config: EngineConfig,
    relay: maintenance::RelayState,
    commit_observers: history::CommitObservers,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish()
    }
}

impl<S: Store> Engine<S> {
    /// An engine with the wall clock, random ids and a dispatcher that does nothing.
    pub fn new(store: S) -> Self {
        Engine {
            store,
            dispatcher: Arc::new(NoopDispatcher),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            config: EngineConfig::default(),
            relay: maintenance::RelayState::default(),
            commit_observers: history::CommitObservers::default(),
        }
    }

    /// Use this dispatcher.
    pub fn with_dispatcher(mut self, d: Arc<dyn Dispatcher>) -> Self {
        self.dispatcher = d;
        self
    }

    /// Use this clock.
    pub fn with_clock(mut self, c: Arc<dyn Clock>) -> Self {
        self.clock = c;
        self
    }

    /// Use this id generator.
    pub fn with_ids(mut self, ids: Arc<dyn IdGen>) -> Self {
        self.ids = ids;
        self
    }

    /// Use this configuration.
    pub fn with_config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// Tell `observer` about every delivery attempt (logs and metrics, DISP-7).
    pub fn with_relay_observer(mut self, observer: Arc<dyn RelayObserver>) -> Self {
        self.relay.observer = Some(observer);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The clock's time now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The path grants of `actor` (empty for OWNER/ADMIN, who need none).
    pub fn grants_of(&self, actor: &Actor) -> Result<Vec<Grant>> {
        if actor.role.is_admin() {
            return Ok(Vec::new());
        }
        Ok(self
            .store
            .user(actor.tenant_id, actor.user_id)?
            .map(|u| u.grants)
            .unwrap_or_default())
    }
}

/// Events that end an attempt (a terminal write).
pub fn is_terminal_event(e: Event) -> bool {
    matches!(
        e,
        Event::Completed | Event::Failed | Event::Stopped | Event::TimedOut
    )
}
