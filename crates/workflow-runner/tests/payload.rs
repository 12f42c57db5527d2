//! DISP-1: the payload every adapter sends, against its JSON Schema file.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{TimeZone, Utc};
use serde_json::Value;
use workflow_core::*;
use workflow_runner::payload::JSON_SCHEMA;
use workflow_runner::{PayloadBuilder, TokenKeys, SCHEMA};

/// The fixed instant the test dispatch was made at.
fn clock() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
}

fn dispatch() -> Dispatch {
    let at = clock();
    Dispatch {
        key: DispatchKey {
            run_id: RunId(uuid::Uuid::from_u128(2)),
            attempt: 2,
        },
        tenant_id: TenantId(uuid::Uuid::from_u128(1)),
        definition_id: Some(DefinitionId(uuid::Uuid::from_u128(3))),
        resume: true,
        triggered_by: UserId(uuid::Uuid::from_u128(4)),
        run_thread_id: Some(uuid::Uuid::from_u128(5)),
        snapshot: Snapshot {
            workflow_name: "summarise".into(),
            max_run_duration_seconds: 600,
            approval_required: true,
            instruction: InstructionSnapshot {
                path_part_id: None,
                materialized_path: String::new(),
                source: None,
            },
            inputs: vec![InputSnapshot {
                path_part_id: PathPartId(uuid::Uuid::from_u128(6)),
                materialized_path: "/shared/spec.md/v1".into(),
                part_type: PathPartKind::DocumentVersion,
                origin: InputOrigin::RunReference,
            }],
            excluded_common_files: vec![],
            user_message: Some("go".into()),
            selected_skill_ids: vec![],
            created_at: at,
        },
        deadline_at: Some(at + chrono::Duration::seconds(660)),
    }
}

fn required(schema: &Value, def: &str) -> Vec<String> {
    let mut r: Vec<String> = schema["$defs"][def]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    r.sort();
    r
}

fn keys_of(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// DISP-1: a dispatch payload has exactly the schema's fields (and the snapshot its), names the
/// schema version, calls back to the public URL, and carries a token for exactly this attempt
/// that expires at the deadline + grace (RTOK-1).
#[test]
fn disp_1_dispatch_payload_matches_its_schema() {
    let schema: Value = serde_json::from_str(JSON_SCHEMA).unwrap();
    let keys = TokenKeys::new(vec![9; 32], None).unwrap();
    let grace = chrono::Duration::seconds(60);
    let b = PayloadBuilder::new("http://127.0.0.1:8000/", keys.clone(), grace);
    let d = dispatch();
    let p = b.dispatch(&d);
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(keys_of(&v), required(&schema, "dispatch"));
    assert_eq!(keys_of(&v["snapshot"]), required(&schema, "snapshot"));
    assert_eq!(v["schema"], SCHEMA);
    assert_eq!(
        schema["$defs"]["dispatch"]["properties"]["schema"]["const"],
        SCHEMA
    );
    assert_eq!(v["type"], "dispatch");
    assert_eq!(v["resume"], true);
    assert_eq!(v["user_message"], "go");
    assert_eq!(
        p.callback_url,
        format!(
            "http://127.0.0.1:8000/v1/workflow-runs/{}/callback",
            d.key.run_id
        )
    );
    // Verified at the dispatch's own clock (a fixed instant), not the wall clock: the token's
    // expiry is derived from the fixed deadline, so `Utc::now()` would make this a time bomb.
    let claims = keys.verify(&p.callback_token, clock()).unwrap();
    assert_eq!(
        (
            claims.tenant_id,
            claims.run_id,
            claims.attempt,
            claims.user_id
        ),
        (d.tenant_id, d.key.run_id, 2, d.triggered_by)
    );
    assert_eq!(
        claims.expires_at,
        (d.deadline_at.unwrap() + grace).timestamp()
    );
    // It reads back as it was written.
    let back: workflow_runner::DispatchPayload = serde_json::from_value(v).unwrap();
    assert_eq!(back, p);
}

/// DISP-1: a cancel carries the run, the attempt and the reason.
#[test]
fn disp_1_cancel_payload_matches_its_schema() {
    let schema: Value = serde_json::from_str(JSON_SCHEMA).unwrap();
    let b = PayloadBuilder::new(
        "http://x",
        TokenKeys::new(vec![9; 32], None).unwrap(),
        chrono::Duration::zero(),
    );
    let c = Cancel {
        key: DispatchKey {
            run_id: RunId(uuid::Uuid::from_u128(2)),
            attempt: 1,
        },
        tenant_id: TenantId(uuid::Uuid::from_u128(1)),
        reason: "Stopped by user".into(),
    };
    let v = serde_json::to_value(b.cancel(&c)).unwrap();
    assert_eq!(keys_of(&v), required(&schema, "cancel"));
    assert_eq!(v["type"], "cancel");
    assert_eq!(v["reason"], "Stopped by user");
    assert_eq!(v["attempt"], 1);
}
