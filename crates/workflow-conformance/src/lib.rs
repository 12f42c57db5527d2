//! # workflow-conformance
//!
//! The suite every [`workflow_core::Store`] adapter must pass, plus the test scaffolding shared
//! by the other crates' tests ([`world::World`]: a populated tenant with the actors of the SPEC's
//! transition vectors, and [`world::RecordingDispatcher`]).
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
pub mod world;

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
    "list_filters_by_state_and_approval",
    "list_orders_newest_first_nulls_last",
    "list_paginates_with_total",
    "list_only_visible_runs",
    "list_mine",
    "catalog_lookups",
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
            list_filters_by_state_and_approval,
            list_orders_newest_first_nulls_last,
            list_paginates_with_total,
            list_only_visible_runs,
            list_mine,
            catalog_lookups,
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
