//! The run lists (LIST-1): both list endpoints, their paging, filters and default order.

use super::*;

/// LIST-1: without `sort_by` the lists sort by STARTED_AT, newest first, never-started runs
/// last, as ksapi documents its default; `sort_by=CREATED_AT` sorts by creation.
#[tokio::test]
async fn list_default_order_is_started_at() {
    let w = world();
    let older = w
        .create(&w.def("summarise"), OWNER, json!({"name": "older"}))
        .await;
    let newer = w
        .create(&w.def("summarise"), OWNER, json!({"name": "newer"}))
        .await;
    let older_id = older["id"].as_str().unwrap();
    let a = w
        .post(
            &format!("/v1/workflow-runs/{older_id}/start"),
            OWNER,
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let names = |a: &Answer| -> Vec<String> {
        a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let by_default = w.get("/v1/workflow-runs", OWNER).await;
    assert_eq!(
        names(&by_default),
        ["older", "newer"],
        "{}",
        by_default.body
    );
    let by_created = w.get("/v1/workflow-runs?sort_by=CREATED_AT", OWNER).await;
    assert_eq!(names(&by_created)[0], newer["name"].as_str().unwrap());
}

/// LIST-1, HTTP-1: both lists answer `{items, total, limit, offset}` with the query ksapi sends.
#[tokio::test]
async fn list_runs_pages() {
    let w = world();
    for n in 0..3 {
        w.create(&w.def("summarise"), OWNER, json!({"name": format!("s{n}")}))
            .await;
    }
    w.create(&w.def("triage"), LINUS, json!({"name": "t"}))
        .await;
    let a = w
        .get(
            "/v1/workflow-runs?limit=2&offset=1&sort_by=CREATED_AT&sort_dir=DESC",
            OWNER,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        (
            a.body["total"].as_u64(),
            a.body["limit"].as_u64(),
            a.body["offset"].as_u64()
        ),
        (Some(4), Some(2), Some(1))
    );
    assert_eq!(a.body["items"].as_array().unwrap().len(), 2);
    a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .for_each(assert_run_shape);
    // ksapi sends list-valued enums as `str(member)`.
    let a = w
        .get(
            "/v1/workflow-runs?state=WorkflowExecutionState.NOT_STARTED&mine=true",
            LINUS,
        )
        .await;
    assert_eq!(a.body["total"], 1, "{}", a.body);
    let a = w
        .get(
            &format!(
                "/v1/workflow-definitions/{}/runs?limit=100",
                w.def("summarise")
            ),
            BARBARA,
        )
        .await;
    assert_eq!(a.body["total"], 3);
    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "offset=-1",
        "state=DONE",
        "sort_dir=SIDEWAYS",
    ] {
        let a = w.get(&format!("/v1/workflow-runs?{bad}"), OWNER).await;
        assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
    }
}
