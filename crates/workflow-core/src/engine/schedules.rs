//! The scheduler (SCHED-3..5): each tick, every scheduled definition's latest due occurrence
//! becomes one run, created and started as the definition's owner.
//!
//! * One occurrence, one run (SCHED-3): the run's idempotency key is `schedule:<occurrence in
//!   RFC 3339>`, so a second create of the same occurrence, by this process after a restart or
//!   by another process racing it, answers the run the first made (CREATE-6). The store's
//!   version-checked commit makes that hold across processes.
//! * Catch-up (SCHED-4): only the latest occurrence at or before now fires; the occurrences
//!   between the last one that fired and it are skipped and counted in the report. An
//!   occurrence at or before the latest one that already fired (the clock went back) fires
//!   nothing.
//! * Nothing fires for an inactive definition, a template or one without a schedule
//!   (SCHED-5). A change to the definition takes effect from the next occurrence: occurrences
//!   before its `updated_at` never fire. A start the rules refuse leaves the run NOT_STARTED and
//!   is reported; the schedule goes on (the next occurrence is a new run).

use super::Engine;
use crate::error::{Error, Result};
use crate::ids::{DefinitionId, RunId, TenantId};
use crate::model::{Actor, Definition, ExecutionState, Timestamp};
use crate::policy::MAX_NAME_LEN;
use crate::rules::{CreateRun, StartRun};
use crate::schedule::{latest_occurrence_at_or_before, local_label, occurrences_between};
use crate::store::{RunQuery, Store};
use chrono::SecondsFormat;

/// The idempotency-key prefix of scheduled runs.
pub const SCHEDULE_KEY_PREFIX: &str = "schedule:";

/// Most occurrences counted as skipped per firing (the count saturates there).
const MAX_SKIPPED_COUNTED: usize = 10_000;

/// How many of a definition's newest runs are read to find the latest occurrence that fired.
const RECENT_RUNS: u32 = 100;

/// What became of one definition's due occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FireOutcome {
    /// A run was created (or found, created by a racing scheduler) and started.
    Started,
    /// The occurrence's run already existed: left alone.
    AlreadyFired,
    /// The occurrence is not after the latest one that already fired (the clock went back):
    /// nothing created.
    ClockWentBack,
    /// The run was created but the rules refused to start it (SCHED-5): it stays
    /// NOT_STARTED. The message says why.
    StartRefused(String),
    /// The run could not be created (the owner is gone, a name conflict, a store error).
    CreateFailed(String),
}

/// One definition's firing in a [`FireReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleFiring {
    /// The definition's tenant.
    pub tenant_id: TenantId,
    /// The scheduled definition.
    pub definition_id: DefinitionId,
    /// The occurrence that fired.
    pub occurrence: Timestamp,
    /// The occurrence's run, when there is one.
    pub run_id: Option<RunId>,
    /// Missed occurrences skipped by this catch-up (SCHED-4), at most 10,000 counted.
    pub skipped: u64,
    /// What happened.
    pub outcome: FireOutcome,
}

/// What one [`Engine::fire_due_schedules`] pass did: one entry per scheduled definition with a
/// due occurrence that has not already been handled (definitions whose latest occurrence
/// already has its run are listed as [`FireOutcome::AlreadyFired`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FireReport {
    /// One entry per definition with a due occurrence.
    pub firings: Vec<ScheduleFiring>,
}

impl FireReport {
    /// Firings with this outcome.
    pub fn count(&self, f: impl Fn(&FireOutcome) -> bool) -> usize {
        self.firings.iter().filter(|x| f(&x.outcome)).count()
    }

    /// Runs started by this pass.
    pub fn started(&self) -> usize {
        self.count(|o| *o == FireOutcome::Started)
    }

    /// Occurrences skipped by catch-ups in this pass (SCHED-4).
    pub fn skipped(&self) -> u64 {
        self.firings.iter().map(|f| f.skipped).sum()
    }
}

/// The idempotency key of an occurrence's run (SCHED-3).
pub fn schedule_key(occurrence: Timestamp) -> String {
    format!(
        "{SCHEDULE_KEY_PREFIX}{}",
        occurrence.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    )
}

/// The occurrence an idempotency key names, if it is a schedule's.
fn occurrence_of_key(key: &str) -> Option<Timestamp> {
    let t = key.strip_prefix(SCHEDULE_KEY_PREFIX)?;
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `name` cut to `max` characters.
fn cut(name: &str, max: usize) -> String {
    name.chars().take(max).collect()
}

impl<S: Store> Engine<S> {
    /// Fire every due schedule at the clock's time now (SCHED-3..5): for each active,
    /// non-template definition with a schedule, the latest occurrence at or before now is
    /// created (idempotency key [`schedule_key`]) and started as the definition's owner. Safe
    /// to call from any number of processes at once and as often as wanted.
    ///
    /// # Errors
    /// Only when the scheduled definitions cannot be read; each definition's own failure is
    /// reported in its [`ScheduleFiring`].
    pub fn fire_due_schedules(&self) -> Result<FireReport> {
        let now = self.clock.now();
        let mut report = FireReport::default();
        for def in self.store.scheduled_definitions()? {
            if let Some(f) = self.fire_one(&def, now) {
                report.firings.push(f);
            }
        }
        Ok(report)
    }

    /// The firing of one definition's due occurrence, if it has one.
    fn fire_one(&self, def: &Definition, now: Timestamp) -> Option<ScheduleFiring> {
        let schedule = def.schedule.as_ref()?;
        if !def.is_active || def.is_template {
            return None;
        }
        let occurrence = latest_occurrence_at_or_before(schedule, now)?;
        // A change takes effect from the next occurrence (SCHED-5).
        if occurrence < def.updated_at {
            return None;
        }
        let mut firing = ScheduleFiring {
            tenant_id: def.tenant_id,
            definition_id: def.id,
            occurrence,
            run_id: None,
            skipped: 0,
            outcome: FireOutcome::AlreadyFired,
        };
        match self.fire_occurrence(def, occurrence, &mut firing) {
            Ok(outcome) => firing.outcome = outcome,
            Err(e) => firing.outcome = FireOutcome::CreateFailed(e.to_string()),
        }
        Some(firing)
    }

    fn fire_occurrence(
        &self,
        def: &Definition,
        occurrence: Timestamp,
        firing: &mut ScheduleFiring,
    ) -> Result<FireOutcome> {
        let schedule = def
            .schedule
            .as_ref()
            .ok_or_else(|| Error::invalid("schedule", "the definition has no schedule any more"))?;
        let tenant = def.tenant_id;
        let key = schedule_key(occurrence);
        if let Some(run) = self
            .store
            .run_by_idempotency_key(tenant, def.id, def.owner_id, &key)?
        {
            firing.run_id = Some(run.id);
            return Ok(FireOutcome::AlreadyFired);
        }
        // The latest occurrence that already fired, from the owner's newest runs of it.
        let recent = self.store.list_runs(&RunQuery {
            definition_id: Some(def.id),
            triggered_by: Some(def.owner_id),
            limit: RECENT_RUNS,
            ..RunQuery::all(tenant)
        })?;
        let last_fired = recent
            .items
            .iter()
            .filter_map(|r| r.idempotency_key.as_deref().and_then(occurrence_of_key))
            .max();
        match last_fired {
            // Another scheduler made it since the key was read.
            Some(l) if l == occurrence => return Ok(FireOutcome::AlreadyFired),
            Some(l) if l > occurrence => return Ok(FireOutcome::ClockWentBack),
            _ => {}
        }
        let lower = last_fired.map_or(def.updated_at, |l| l.max(def.updated_at));
        let missed = occurrences_between(schedule, lower, occurrence, MAX_SKIPPED_COUNTED)
            .into_iter()
            .filter(|t| *t >= def.updated_at && *t < occurrence)
            .count();
        firing.skipped = missed as u64;
        let owner = self
            .store
            .user(tenant, def.owner_id)?
            .ok_or_else(|| Error::not_found("user", def.owner_id))?;
        let actor = Actor::of(&owner);
        let label = format!(" {}", local_label(schedule, occurrence));
        let name = format!(
            "{}{label}",
            cut(&def.name, MAX_NAME_LEN - label.chars().count())
        );
        let run = self.create_run(
            &actor,
            def.id,
            CreateRun {
                name: Some(name),
                idempotency_key: Some(key),
                ..CreateRun::default()
            },
        )?;
        firing.run_id = Some(run.id);
        if run.execution_state != ExecutionState::NotStarted {
            return Ok(FireOutcome::Started);
        }
        match self.start_run(&actor, run.id, StartRun::default()) {
            Ok(_) => Ok(FireOutcome::Started),
            Err(e) => Ok(FireOutcome::StartRefused(e.to_string())),
        }
    }
}
