//! HTTP-4: the workflow routes ksapi 3.18.2 knows and this server does not serve. Each answers
//! 501 `not_implemented` with a `detail` naming the route, the ksapi method and what to use
//! instead, never a 404 that reads as "run not found" or a 405. This table is the one list of
//! them (the README repeats it; `tests/router/ksapi_routes.rs` checks every ksapi workflow route
//! against the router, from the fixture `tests/ksapi_routes.txt`).

use crate::error::ApiError;
use crate::AppState;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use workflow_core::{ErrorCode, Store};

/// Why a family of routes is not served, and what to use instead.
const MEMORY: &str = "workflow memory (chunks) is not part of this server";
const REPOSITORY: &str = "workflow memory repositories are not part of this server";
const ADMIN: &str = "the admin workflow analytics are not served; \
    GET /v1/workflow-runs/summary summarises the runs the caller can read";
const DIAGNOSTICS: &str = "run diagnostics are not served; \
    GET /v1/workflow-runs/{run_id}/history lists every transition of a run";

/// One unserved route: method, path template (ksapi's), ksapi's `Api.method`, why.
pub(crate) struct Unserved {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    pub(crate) ksapi: &'static str,
    pub(crate) why: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    ksapi: &'static str,
    why: &'static str,
) -> Unserved {
    Unserved {
        method,
        path,
        ksapi,
        why,
    }
}

/// Every unserved ksapi 3.18.2 workflow route (HTTP-4).
pub(crate) const UNSERVED: &[Unserved] = &[
    r(
        "GET",
        "/v1/admin/workflows/by-hour",
        "AdminWorkflowsApi.get_admin_workflow_by_hour",
        ADMIN,
    ),
    r(
        "GET",
        "/v1/admin/workflows/leaderboard",
        "AdminWorkflowsApi.get_admin_workflow_leaderboard",
        ADMIN,
    ),
    r(
        "GET",
        "/v1/admin/workflows/output-stats",
        "AdminWorkflowsApi.get_admin_workflow_output_stats",
        ADMIN,
    ),
    r(
        "GET",
        "/v1/admin/workflows/summary",
        "AdminWorkflowsApi.get_admin_workflow_summary",
        ADMIN,
    ),
    r(
        "GET",
        "/v1/admin/workflows/timeseries",
        "AdminWorkflowsApi.get_admin_workflow_timeseries",
        ADMIN,
    ),
    r(
        "POST",
        "/v1/diagnostics/workflow-runs/{run_id}",
        "DiagnosticsApi.compute_workflow_run_diagnostics",
        DIAGNOSTICS,
    ),
    r(
        "GET",
        "/v1/workflow-definitions/{definition_id}/memory",
        "WorkflowMemoryApi.list_workflow_memory_chunks",
        MEMORY,
    ),
    r(
        "POST",
        "/v1/workflow-definitions/{definition_id}/memory/chunks",
        "WorkflowMemoryApi.append_workflow_memory_chunk",
        MEMORY,
    ),
    r(
        "DELETE",
        "/v1/workflow-definitions/{definition_id}/memory/chunks/{chunk_id}",
        "WorkflowMemoryApi.forget_workflow_memory_chunk",
        MEMORY,
    ),
    r(
        "GET",
        "/v1/workflow-definitions/{definition_id}/memory/chunks/{chunk_id}",
        "WorkflowMemoryApi.get_workflow_memory_chunk",
        MEMORY,
    ),
    r(
        "PATCH",
        "/v1/workflow-definitions/{definition_id}/memory/chunks/{chunk_id}",
        "WorkflowMemoryApi.edit_workflow_memory_chunk",
        MEMORY,
    ),
    r(
        "GET",
        "/v1/workflow-definitions/{definition_id}/memory/repo",
        "WorkflowRepositoryApi.get_workflow_repo",
        REPOSITORY,
    ),
    r(
        "GET",
        "/v1/workflow-definitions/{definition_id}/memory/repo/branches/{run_id}",
        "WorkflowRepositoryApi.get_workflow_repo_branch",
        REPOSITORY,
    ),
    r(
        "GET",
        "/v1/workflow-definitions/{definition_id}/memory/repo/branches/{run_id}/bundle",
        "WorkflowRepositoryApi.download_workflow_repo_branch_bundle",
        REPOSITORY,
    ),
    r(
        "POST",
        "/v1/workflow-definitions/{definition_id}/memory/repo/branches/{run_id}/versions",
        "WorkflowRepositoryApi.save_workflow_repo_branch",
        REPOSITORY,
    ),
    r(
        "GET",
        "/v1/workflow-definitions/{definition_id}/memory/repo/bundle",
        "WorkflowRepositoryApi.download_workflow_repo_bundle",
        REPOSITORY,
    ),
    r(
        "POST",
        "/v1/workflow-definitions/{definition_id}/memory/repo/skipped-saves",
        "WorkflowRepositoryApi.record_workflow_repo_skipped_save",
        REPOSITORY,
    ),
    r(
        "GET",
        "/v1/workflow-definitions/{definition_id}/memory/repo/tree",
        "WorkflowRepositoryApi.get_workflow_repo_tree",
        REPOSITORY,
    ),
    r(
        "GET",
        "/v1/workflow-definitions/{definition_id}/memory/repo/versions",
        "WorkflowRepositoryApi.list_workflow_repo_versions",
        REPOSITORY,
    ),
    r(
        "POST",
        "/v1/workflow-definitions/{definition_id}/memory/repo/versions",
        "WorkflowRepositoryApi.save_workflow_repo_version",
        REPOSITORY,
    ),
];

fn filter(method: &str) -> MethodFilter {
    match method {
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    }
}

/// The routes of [`UNSERVED`], each answering 501 `not_implemented` whatever the request
/// (credentials, ids and body are not looked at: nothing is served there to protect).
pub(crate) fn routes<S: Store + 'static>() -> Router<AppState<S>> {
    let mut paths: Vec<(&'static str, MethodRouter<AppState<S>>)> = Vec::new();
    for u in UNSERVED {
        let detail = format!(
            "{} {} (ksapi {}) is not implemented by this server: {}",
            u.method, u.path, u.ksapi, u.why
        );
        let handler = move || {
            let detail = detail.clone();
            async move { ApiError::new(ErrorCode::NotImplemented, detail) }
        };
        match paths.iter_mut().find(|(p, _)| *p == u.path) {
            Some((_, m)) => *m = std::mem::take(m).on(filter(u.method), handler),
            None => paths.push((u.path, on(filter(u.method), handler))),
        }
    }
    paths
        .into_iter()
        .fold(Router::new(), |router, (path, m)| router.route(path, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HTTP-4: the table names only methods [`filter`] knows, and no route twice.
    #[test]
    fn http_4_the_table_is_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for u in UNSERVED {
            assert!(
                ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&u.method),
                "{}",
                u.method
            );
            assert!(seen.insert((u.method, u.path)), "{} {}", u.method, u.path);
            assert!(u.path.starts_with("/v1/") && !u.why.is_empty());
        }
    }
}
