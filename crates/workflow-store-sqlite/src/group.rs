//! Group commit: concurrent [`Store::commit`](workflow_core::Store::commit) calls of one
//! [`SqliteStore`] share one `BEGIN IMMEDIATE` transaction and so one WAL fsync.
//!
//! Every caller puts its commit in a bounded queue. The caller that finds no batch being
//! written becomes the leader: it takes the writer connection, then everything queued by then
//! (at most [`MAX_BATCH`]), writes each commit inside its own `SAVEPOINT` (a conflict or an
//! error rolls back that commit alone, the others stay), `COMMIT`s once, and only then hands
//! every caller its answer. If the transaction fails as a whole (`BEGIN`, a savepoint, the
//! `COMMIT`), every caller of the batch gets an `Err` and nothing of the batch was written. The
//! other callers sleep until their answer is in, or until the leader's place is free again
//! (then one of them leads the next batch). A lone caller leads a batch of one at once, with no
//! timer and no savepoint: exactly the single-commit transaction of group commit off.
//!
//! The queue order is the serialization order: a later commit of a batch sees the writes of the
//! earlier ones (same transaction), exactly as if each had committed on its own in that order.
//!
//! Why the leader is a caller and not a dedicated writer thread: the queue and the batches are
//! the same, but a lone caller pays no hand-off to another thread and back, no thread has to be
//! started and joined with the store, and reads keep running on the writer connection whenever
//! no batch holds it (its warm page cache halved the engine's lifecycle time).

use crate::conn::map_err;
use crate::{lock, SqliteStore, Writer};
use rusqlite::TransactionBehavior;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use workflow_core::{Commit, CommitOutcome, StoreError, StoreResult};

/// Most commits queued, and so most commits in one batch; a caller that finds the queue full
/// waits for room (back-pressure instead of an unbounded queue).
pub(crate) const MAX_BATCH: usize = 64;

/// The queue and the answers of one store.
#[derive(Debug, Default)]
pub(crate) struct Group {
    state: Mutex<State>,
    /// Signalled after every batch: its answers are in and the leader's place is free.
    done: Condvar,
    /// Signalled when a leader took commits out of the queue.
    room: Condvar,
    batches: AtomicU64,
    commits: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<(u64, Commit)>,
    answers: HashMap<u64, StoreResult<CommitOutcome>>,
    next_ticket: u64,
    /// A caller is writing a batch (it holds, or is about to take, the writer connection).
    leader: bool,
}

/// How many batches a store's group commit wrote and how many commits they held (their ratio
/// is the mean batch size). Not part of the supported API: for tests and benches.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions written by group commit (a batch of one included).
    pub batches: u64,
    /// Commits they held.
    pub commits: u64,
}

fn wait<'a>(cv: &Condvar, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

/// The leader's duty to answer its batch: if the leader unwinds before answering, every caller
/// of the batch gets an `Err` (nothing was committed: the transaction guard rolled back) and
/// the leader's place is freed, so no caller waits for ever.
struct Leadership<'a> {
    group: &'a Group,
    tickets: Vec<u64>,
    answered: bool,
}

impl Leadership<'_> {
    fn finish(
        mut self,
        answers: Vec<StoreResult<CommitOutcome>>,
        mine: u64,
    ) -> StoreResult<CommitOutcome> {
        let mut st = lock(&self.group.state);
        for (t, a) in self.tickets.iter().zip(answers) {
            st.answers.insert(*t, a);
        }
        let answer = st.answers.remove(&mine);
        st.leader = false;
        self.answered = true;
        drop(st);
        self.group.done.notify_all();
        answer.unwrap_or_else(|| Err(StoreError::backend("group commit lost a commit's answer")))
    }
}

impl Drop for Leadership<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let mut st = lock(&self.group.state);
        for t in &self.tickets {
            st.answers.entry(*t).or_insert_with(|| {
                Err(StoreError::backend(
                    "group commit: the batch's writer failed; nothing of the batch was committed",
                ))
            });
        }
        st.leader = false;
        drop(st);
        self.group.done.notify_all();
    }
}

impl Group {
    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            batches: self.batches.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
        }
    }

    /// Commits waiting for a leader (tests).
    #[cfg(feature = "fault-injection")]
    pub(crate) fn queued(&self) -> usize {
        lock(&self.state).queue.len()
    }
}

impl SqliteStore {
    /// [`Store::commit`](workflow_core::Store::commit) with group commit on.
    pub(crate) fn commit_grouped(&self, commit: Commit) -> StoreResult<CommitOutcome> {
        let g = &self.group;
        let mut st = lock(&g.state);
        while st.queue.len() >= MAX_BATCH {
            st = wait(&g.room, st);
        }
        let mine = st.next_ticket;
        st.next_ticket += 1;
        st.queue.push_back((mine, commit));
        loop {
            if let Some(answer) = st.answers.remove(&mine) {
                return answer;
            }
            if !st.leader {
                break;
            }
            st = wait(&g.done, st);
        }
        // No batch is being written and ours is unanswered, so it is still queued: lead.
        st.leader = true;
        drop(st);
        let mut lead = Leadership {
            group: g,
            tickets: Vec::new(),
            answered: false,
        };
        // The writer connection first, the queue second: whatever was queued while the
        // connection was busy (a read on it, a delivery mark) joins this batch.
        let mut w = lock(&self.writer);
        let batch: Vec<Commit> = {
            let mut st = lock(&g.state);
            // The queue never holds more than MAX_BATCH, so this takes all of it, ours included.
            let n = st.queue.len().min(MAX_BATCH);
            let mut batch = Vec::with_capacity(n);
            for (t, c) in st.queue.drain(..n) {
                lead.tickets.push(t);
                batch.push(c);
            }
            batch
        };
        g.room.notify_all();
        g.batches.fetch_add(1, Ordering::Relaxed);
        g.commits.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let answers = self.write_batch(&mut w, &batch);
        drop(w);
        lead.finish(answers, mine)
    }

    /// Write `batch` in one transaction; one answer per commit, in order. A batch of one is the
    /// plain single-commit transaction.
    fn write_batch(&self, w: &mut Writer, batch: &[Commit]) -> Vec<StoreResult<CommitOutcome>> {
        if let [one] = batch {
            return vec![self.write_locked(w, |c| self.commit_in(c, one))];
        }
        match self.batch_tx(w, batch) {
            Ok(answers) => answers,
            Err(e) => batch.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    /// The batch transaction: `Err` when it failed as a whole (nothing of it was written),
    /// else the answer of each commit (an `Err` or a `Conflict` there wrote nothing: its
    /// savepoint was rolled back).
    fn batch_tx(
        &self,
        w: &mut Writer,
        batch: &[Commit],
    ) -> StoreResult<Vec<StoreResult<CommitOutcome>>> {
        self.restore_full(w)?;
        self.fault_point()?;
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let mut answers = Vec::with_capacity(batch.len());
        for cm in batch {
            self.exec(&tx, "SAVEPOINT group_commit", [])?;
            let answer = self.commit_in(&tx, cm);
            if !matches!(answer, Ok(CommitOutcome::Committed)) {
                // Some errors (I/O, a full disk) make SQLite roll the whole transaction back;
                // then the batch is lost and every caller must hear so.
                if tx.is_autocommit() {
                    return Err(answer.err().unwrap_or_else(|| {
                        StoreError::backend("group commit transaction rolled back")
                    }));
                }
                tx.execute_batch("ROLLBACK TO group_commit")
                    .map_err(map_err)?;
            }
            self.exec(&tx, "RELEASE group_commit", [])?;
            answers.push(answer);
        }
        self.commit_point()?;
        tx.commit().map_err(map_err)?;
        Ok(answers)
    }
}
