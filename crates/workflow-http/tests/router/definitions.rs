//! The definition endpoints: create (with the empty `instruction.md`) and get.

use super::*;

/// HTTP-1, HTTP-2: definitions: create 201 with `Location` (an empty `instruction.md` is made
/// when none is given), get 200, the `WorkflowDefinitionResponse` shape.
#[tokio::test]
async fn definitions_create_and_get() {
    let w = world();
    let a = w
        .post(
            "/v1/workflow-definitions",
            LINUS,
            json!({"name": "mine", "parent_path_part_id": w.part("eng"), "approval_required": false}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        a.headers[header::LOCATION],
        format!("/v1/workflow-definitions/{id}").as_str()
    );
    assert_eq!(a.body["part_type"], "WORKFLOW_DEFINITION");
    assert_eq!(a.body["max_run_duration_seconds"], 1800);
    assert_ne!(
        a.body["instruction_path_part_id"],
        "00000000-0000-0000-0000-000000000000"
    );
    // The instruction is an empty `instruction.md` DOCUMENT under the definition.
    let tenant = w.fixture.tenants[0].id;
    let instruction = a.body["instruction_path_part_id"].as_str().unwrap();
    let part = w
        .store
        .path_part(tenant, PathPartId(instruction.parse().unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(part.kind, PathPartKind::Document);
    assert_eq!(part.name, "instruction.md");
    assert_eq!(
        part.parent_id.map(|p| p.0.to_string()),
        a.body["path_part_id"].as_str().map(str::to_owned)
    );
    for k in [
        "id",
        "path_part_id",
        "materialized_path",
        "tenant_id",
        "name",
        "instruction_path_part_id",
        "approval_state",
        "created_at",
        "updated_at",
    ] {
        assert!(a.body[k].is_string(), "{k}");
    }
    for k in ["is_active", "approval_required", "is_template"] {
        assert!(a.body[k].is_boolean(), "{k}");
    }
    let a = w
        .get(&format!("/v1/workflow-definitions/{id}"), LINUS)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["permissions"]["can_write"], true);
    // Barbara may only read /shared: no write grant on /shared/eng.
    let a = w
        .post(
            "/v1/workflow-definitions",
            BARBARA,
            json!({"name": "nope", "parent_path_part_id": w.part("eng"), "approval_required": false}),
        )
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "forbidden");
    let a = w
        .post("/v1/workflow-definitions", OWNER, json!({"name": "x", "parent_path_part_id": w.part("eng"), "approval_required": false, "max_run_duration_seconds": 10}))
        .await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
}
