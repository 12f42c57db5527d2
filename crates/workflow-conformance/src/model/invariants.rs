//! The invariants that must hold between any two consecutive store states (ERR-2, section 2,
//! AUDIT-1, SNAP-7, CONC-3, CONC-5, APPROVE-3, STOP-1, REAP-1), whatever the operation.

use super::driver::StoreState;

/// Checks the invariants of one step from `before` to `after` (both taken with
/// [`super::Driver::state`]; `after` may know more runs). `retried` is the run a Retry or a callback
/// was aimed at, the only one allowed to leave FAILED; `refused` says the call was refused.
///
/// * ERR-2: a refused call changes nothing (rows, histories, outboxes, folders).
/// * Section 2: COMPLETED stays COMPLETED; FAILED leaves only by Retry (to IN_PROGRESS).
/// * Versions only grow.
/// * AUDIT-1: each history is seq 1..=n, chained `from` = previous `to`, starting from nothing;
///   a live run's version is its last seq; a deleted run's last record goes to nothing.
/// * SNAP-7: a snapshot, once written, never changes.
/// * CONC-5: an IN_PROGRESS run has a dispatch of its current attempt in the outbox.
/// * APPROVE-3: an approved run's output documents are all approved.
/// * CONC-3, START-1, RETRY-1: exactly one dispatch per attempt, in order, and nothing else;
///   STOP-1, REAP-1: exactly one cancel per stop or time-out, of the attempt it ended.
pub fn check_step(
    before: &StoreState,
    after: &StoreState,
    refused: bool,
    retried: Option<usize>,
) -> Result<(), String> {
    use workflow_core::ExecutionState as S;
    if refused {
        let n = before.runs.len();
        let same = before.runs[..] == after.runs[..n]
            && before.histories[..] == after.histories[..n]
            && before.outboxes[..] == after.outboxes[..n]
            && before.folders[..] == after.folders[..n];
        if !same {
            return Err("ERR-2: a refused call changed the store".into());
        }
    }
    for (i, (b, a)) in before.runs.iter().zip(&after.runs).enumerate() {
        let (Some(b), Some(a)) = (b, a) else {
            if b.is_none() && a.is_some() {
                return Err(format!("run {i}: a deleted run came back"));
            }
            continue;
        };
        match (b.execution_state, a.execution_state) {
            (S::Completed, s) if s != S::Completed => {
                return Err(format!("run {i}: COMPLETED became {s}"))
            }
            (S::Failed, S::InProgress) if retried == Some(i) => {}
            (S::Failed, s) if s != S::Failed => {
                return Err(format!("run {i}: FAILED became {s} without a retry"))
            }
            _ => {}
        }
        if a.version < b.version {
            return Err(format!(
                "run {i}: version went {} -> {}",
                b.version, a.version
            ));
        }
        if b.snapshot.is_some() && a.snapshot != b.snapshot {
            return Err(format!("SNAP-7: run {i}: the snapshot changed"));
        }
    }
    for (i, h) in after.histories.iter().enumerate() {
        let mut prev = None;
        for (k, r) in h.iter().enumerate() {
            if r.seq != k as u64 + 1 || r.from != prev {
                return Err(format!(
                    "AUDIT-1: run {i}: history gap or break at {k}: {h:?}"
                ));
            }
            prev = r.to;
        }
        match &after.runs[i] {
            Some(run) if h.last().map(|r| r.seq) != Some(run.version) => {
                return Err(format!(
                    "AUDIT-1: run {i}: version {} vs history {}",
                    run.version,
                    h.len()
                ))
            }
            None if h.last().is_some_and(|r| r.to.is_some()) => {
                return Err(format!("AUDIT-1: run {i}: deleted but history ends alive"))
            }
            _ => {}
        }
    }
    for (i, run) in after.runs.iter().enumerate() {
        let Some(run) = run else { continue };
        if run.execution_state == S::InProgress
            && !after.outboxes[i].iter().any(|e| {
                matches!(&e.message, workflow_core::OutboxMessage::Dispatch(d) if d.key.attempt == run.attempt)
            })
        {
            return Err(format!("CONC-5: run {i} IN_PROGRESS without a dispatch of attempt {}", run.attempt));
        }
    }
    for (i, run) in after.runs.iter().enumerate() {
        let Some(run) = run else { continue };
        if run.approval_state == workflow_core::ApprovalState::Approved {
            let pending = after.folders[i].iter().find(|p| {
                p.parent_id == Some(run.folders.outputs_id)
                    && p.kind == workflow_core::PathPartKind::Document
                    && p.approval_state != workflow_core::ApprovalState::Approved
            });
            if let Some(p) = pending {
                return Err(format!(
                    "APPROVE-3: run {i} approved but its output {} is not",
                    p.name
                ));
            }
        }
    }
    for (i, (outbox, history)) in after.outboxes.iter().zip(&after.histories).enumerate() {
        let attempts = history.last().map_or(0, |r| r.attempt);
        let mut dispatched = Vec::new();
        let mut cancelled = Vec::new();
        for e in outbox {
            match &e.message {
                workflow_core::OutboxMessage::Dispatch(d) => dispatched.push(d.key.attempt),
                workflow_core::OutboxMessage::Cancel(c) => cancelled.push(c.key.attempt),
            }
        }
        if dispatched != (1..=attempts).collect::<Vec<_>>() {
            return Err(format!(
                "CONC-3: run {i}: dispatches {dispatched:?} for {attempts} attempts (one each)"
            ));
        }
        let ended: Vec<u32> = history
            .iter()
            .filter(|r| {
                matches!(
                    r.event,
                    workflow_core::Event::Stopped | workflow_core::Event::TimedOut
                )
            })
            .map(|r| r.attempt)
            .collect();
        if cancelled != ended {
            return Err(format!(
                "STOP-1, REAP-1: run {i}: cancels {cancelled:?}, stops and time-outs {ended:?}"
            ));
        }
    }
    Ok(())
}
