//! # workflow-conformance
//!
//! The suite every [`workflow_core::Store`] adapter must pass, plus the test scaffolding shared
//! by the other crates' tests ([`world::World`]: a populated tenant with the actors of the SPEC's
//! transition vectors, and [`world::CapturingDispatcher`]).
//!
//! Each case is a `pub fn` taking a fresh store; [`conformance_tests!`] turns the whole list
//! into one `#[test]` per case for an adapter's factory expression, so a failure shows by name
//! and every adapter runs exactly the same list ([`CASES`]).
//!
//! ## Example
//!
//! ```text
//! // in an adapter crate's tests:
//! workflow_conformance::conformance_tests!(workflow_store_memory::MemoryStore::new());
//! ```
//!
//! ```
//! // or one case by hand:
//! workflow_conformance::cases::history_in_order_without_gaps(
//!     workflow_store_memory::MemoryStore::new(),
//! );
//! ```

pub mod cases;
pub mod intercept;
pub mod linearizability;
pub mod model;
pub mod spec_ids;
pub mod world;

/// An iteration count (histories, seeds, trials, cases) from the environment variable `name`,
/// or `default` when it is unset.
///
/// A count of 0 or a value that is not a non-negative integer is a mistake, not a request for
/// an empty run: it **panics** with a message naming the variable, so a test can never pass
/// vacuously because a typo or a 0 turned its loop off.
///
/// ```
/// assert_eq!(workflow_conformance::env_count("SURELY_UNSET_COUNT_VARIABLE", 7), 7);
/// ```
pub fn env_count(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => count_or_panic(name, None, default),
        Err(std::env::VarError::NotUnicode(v)) => {
            panic!("{name}={v:?} is not an iteration count (expected a positive integer)")
        }
        Ok(v) => count_or_panic(name, Some(&v), default),
    }
}

fn count_or_panic(name: &str, value: Option<&str>, default: u64) -> u64 {
    let Some(v) = value else {
        assert!(
            default > 0,
            "{name}: the default iteration count must not be 0"
        );
        return default;
    };
    match v.trim().parse::<u64>() {
        Ok(0) => panic!(
            "{name}=0: an iteration count of 0 would make the test pass without checking \
             anything; unset it for the default ({default}) or give a positive number"
        ),
        Ok(n) => n,
        Err(e) => panic!("{name}={v:?} is not an iteration count (a positive integer): {e}"),
    }
}

/// The names of every case, in the order [`conformance_tests!`] declares them.
pub const CASES: &[&str] = &[
    "create_then_load_returns_the_committed_run",
    "stale_version_is_a_conflict_and_writes_nothing",
    "expected_zero_on_existing_run_conflicts",
    "deleted_run_id_never_comes_back",
    "conflicting_commit_writes_no_outbox_catalog_or_history",
    "duplicate_name_in_definition_conflicts",
    "duplicate_idempotency_key_conflicts",
    "history_in_order_without_gaps",
    "history_survives_delete",
    "outbox_written_with_its_transition",
    "outbox_delivered_at_least_once_after_failures",
    "outbox_pending_in_seq_order",
    "count_runs_by_state_counts_live_runs",
    "outbox_due_keeps_each_runs_order",
    "outbox_permanent_refusal_dead_letters_the_attempt",
    "outbox_dead_after_tries_and_time",
    "outbox_slow_message_does_not_block_others",
    "list_filters_by_state_and_approval",
    "list_orders_newest_first_nulls_last",
    "list_2_every_filter_and_order",
    "sum_1_summary_aggregates",
    "def_1_to_5_definition_administration",
    "sched_3_thirty_days_of_a_daily_schedule_give_thirty_runs",
    "sched_4_jump_forward_catches_up_once_and_backwards_duplicates_nothing",
    "sched_5_inactive_template_cleared_fire_nothing",
    "list_paginates_with_total",
    "list_only_visible_runs",
    "list_mine",
    "list_1_visibility_follows_grant_paths",
    "vis_1_triggerer_without_grant_reads_its_own_run",
    "list_1_triggerer_without_grant_lists_its_own_run",
    "start_6_template_definition_conflicts",
    "catalog_lookups",
    "start_facts_resolve_in_the_runs_tenant",
    "run_with_definition_reads_both",
    "catalog_upserts_are_idempotent",
    "tenant_isolation",
    "expired_runs_are_found",
    "rename_moves_folder_paths",
    "delete_removes_folder_subtree",
    "concurrent_commits_exactly_one_wins",
    "mismatched_commit_is_refused",
];

/// One `#[test]` per conformance case for the store built by `$factory` (an expression, evaluated
/// afresh for every case).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::conformance_tests!(@cases $factory;
            create_then_load_returns_the_committed_run,
            stale_version_is_a_conflict_and_writes_nothing,
            expected_zero_on_existing_run_conflicts,
            deleted_run_id_never_comes_back,
            conflicting_commit_writes_no_outbox_catalog_or_history,
            duplicate_name_in_definition_conflicts,
            duplicate_idempotency_key_conflicts,
            history_in_order_without_gaps,
            history_survives_delete,
            outbox_written_with_its_transition,
            outbox_delivered_at_least_once_after_failures,
            outbox_pending_in_seq_order,
            count_runs_by_state_counts_live_runs,
            outbox_due_keeps_each_runs_order,
            outbox_permanent_refusal_dead_letters_the_attempt,
            outbox_dead_after_tries_and_time,
            outbox_slow_message_does_not_block_others,
            list_filters_by_state_and_approval,
            list_orders_newest_first_nulls_last,
            list_2_every_filter_and_order,
            sum_1_summary_aggregates,
            def_1_to_5_definition_administration,
            sched_3_thirty_days_of_a_daily_schedule_give_thirty_runs,
            sched_4_jump_forward_catches_up_once_and_backwards_duplicates_nothing,
            sched_5_inactive_template_cleared_fire_nothing,
            list_paginates_with_total,
            list_only_visible_runs,
            list_mine,
            list_1_visibility_follows_grant_paths,
            vis_1_triggerer_without_grant_reads_its_own_run,
            list_1_triggerer_without_grant_lists_its_own_run,
            start_6_template_definition_conflicts,
            catalog_lookups,
            start_facts_resolve_in_the_runs_tenant,
            run_with_definition_reads_both,
            catalog_upserts_are_idempotent,
            tenant_isolation,
            expired_runs_are_found,
            rename_moves_folder_paths,
            delete_removes_folder_subtree,
            concurrent_commits_exactly_one_wins,
            mismatched_commit_is_refused,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::cases::$case($factory);
            }
        )+
        #[test]
        fn every_conformance_case_is_declared() {
            let declared: &[&str] = &[$(stringify!($case)),+];
            assert_eq!(declared, $crate::CASES);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::env_count;

    /// Each test uses its own variable, so they do not race one another.
    fn with_var(name: &str, value: &str) -> std::thread::Result<u64> {
        std::env::set_var(name, value);
        let got = std::panic::catch_unwind(|| env_count(name, 5));
        std::env::remove_var(name);
        got
    }

    #[test]
    fn env_count_unset_gives_the_default() {
        std::env::remove_var("WORKFLOW_CONFORMANCE_TEST_COUNT_UNSET");
        assert_eq!(env_count("WORKFLOW_CONFORMANCE_TEST_COUNT_UNSET", 5), 5);
    }

    #[test]
    fn env_count_reads_a_positive_number() {
        assert_eq!(
            with_var("WORKFLOW_CONFORMANCE_TEST_COUNT_SET", "12").ok(),
            Some(12)
        );
    }

    #[test]
    fn env_count_zero_panics() {
        assert!(with_var("WORKFLOW_CONFORMANCE_TEST_COUNT_ZERO", "0").is_err());
    }

    #[test]
    fn env_count_garbage_panics() {
        for (i, bad) in ["ten", "", "-3", "1.5"].iter().enumerate() {
            let name = format!("WORKFLOW_CONFORMANCE_TEST_COUNT_BAD_{i}");
            assert!(with_var(&name, bad).is_err(), "{bad:?} was accepted");
        }
    }
}
