//! The runs summary (SUM-1): two aggregate queries of the store over the runs the actor can
//! read, never a load of the runs themselves.

use super::Engine;
use crate::error::Result;
use crate::ids::DefinitionId;
use crate::model::{Actor, ApprovalState, ExecutionState, RunOrder, SortDir, TimeRange, Timestamp};
use crate::policy;
use crate::store::{RunQuery, Store};

/// Input of the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SummaryQuery {
    /// Window start, inclusive; default: 7 days before now.
    pub since: Option<Timestamp>,
    /// Window end, inclusive; default: open.
    pub until: Option<Timestamp>,
    /// Only this definition's runs (it must be readable).
    pub definition_id: Option<DefinitionId>,
}

/// The summary (ksapi `WorkflowRunSummaryResponse`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunsSummary {
    /// The window's start.
    pub window_start: Timestamp,
    /// The window's end, if closed.
    pub window_end: Option<Timestamp>,
    /// Runs created in the window.
    pub total: u64,
    /// Runs created in the window per state, all five states present.
    pub counts_by_state: Vec<(ExecutionState, u64)>,
    /// FAILED / (COMPLETED + FAILED) in the window; `None` without terminal runs.
    pub failure_rate: Option<f64>,
    /// Median `completed_at - started_at` of the window's terminal runs (nearest rank).
    pub duration_p50_seconds: Option<f64>,
    /// 95th percentile of the same.
    pub duration_p95_seconds: Option<f64>,
    /// Runs awaiting approval now (not windowed).
    pub pending_approval_count: u64,
    /// Age of the oldest of them (since its completion), in seconds.
    pub oldest_pending_age_seconds: Option<f64>,
    /// Active, non-template definitions in scope now (not windowed).
    pub active_definitions: u64,
    /// Distinct triggerers of the window's runs.
    pub distinct_triggerers: u64,
}

/// The default window: the last 7 days.
const DEFAULT_SUMMARY_DAYS: i64 = 7;

impl<S: Store> Engine<S> {
    /// The runs summary (SUM-1) over the runs `actor` can read (VIS-1).
    pub fn runs_summary(&self, actor: &Actor, q: SummaryQuery) -> Result<RunsSummary> {
        let now = self.clock.now();
        let grants = self.grants_of(actor)?;
        let scope = self.read_scope(actor, &grants, q.definition_id, true)?;
        let window_start = q
            .since
            .unwrap_or_else(|| now - chrono::Duration::days(DEFAULT_SUMMARY_DAYS));
        let base = RunQuery {
            definition_id: q.definition_id,
            visibility: scope.visibility.clone(),
            order: RunOrder::CreatedAt,
            dir: SortDir::Desc,
            ..RunQuery::all(actor.tenant_id)
        };
        let windowed = self.store.run_stats(
            &RunQuery {
                created: TimeRange {
                    from: Some(window_start),
                    // `until` is inclusive; times are stored to the nanosecond.
                    // (the latest representable time has no successor: it stays open-ended).
                    to: q
                        .until
                        .and_then(|u| u.checked_add_signed(chrono::Duration::nanoseconds(1))),
                },
                ..base.clone()
            },
            true,
        )?;
        let pending = self.store.run_stats(
            &RunQuery {
                states: vec![ExecutionState::Completed],
                approval_states: vec![ApprovalState::Pending],
                ..base
            },
            false,
        )?;
        let count = |s: ExecutionState| {
            windowed
                .counts
                .iter()
                .filter(|(x, _)| *x == s)
                .map(|(_, n)| *n)
                .sum::<u64>()
        };
        let counts_by_state: Vec<(ExecutionState, u64)> = ExecutionState::ALL
            .iter()
            .map(|s| (*s, count(*s)))
            .collect();
        let total = counts_by_state.iter().map(|(_, n)| n).sum();
        let (completed, failed) = (
            count(ExecutionState::Completed),
            count(ExecutionState::Failed),
        );
        let failure_rate =
            (completed + failed > 0).then(|| failed as f64 / (completed + failed) as f64);
        let pending_approval_count = pending.counts.iter().map(|(_, n)| n).sum();
        let oldest_pending_age_seconds = pending
            .oldest_completed_at
            .map(|t| ((now - t).num_milliseconds() as f64 / 1000.0).max(0.0));
        let active_definitions = scope
            .definitions
            .iter()
            .filter(|d| q.definition_id.is_none_or(|id| d.id == id))
            .filter(|d| d.is_active && !d.is_template)
            .filter(|d| policy::can_read_path(actor, &grants, actor.tenant_id, &d.path))
            .count() as u64;
        Ok(RunsSummary {
            window_start,
            window_end: q.until,
            total,
            counts_by_state,
            failure_rate,
            duration_p50_seconds: windowed.duration_p50_seconds,
            duration_p95_seconds: windowed.duration_p95_seconds,
            pending_approval_count,
            oldest_pending_age_seconds,
            active_definitions,
            distinct_triggerers: windowed.distinct_triggerers,
        })
    }
}
