//! The rest of the ksapi 3.18.2 run surface (SPEC section 10) through the router: PATCH with
//! `null`s and arming (UPDATE-6, UPDATE-7), resume (RESUME-1), every list filter and order as
//! ksapi encodes them in the query string (LIST-2), and the runs summary (SUM-1).

use super::*;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use std::collections::BTreeSet;
use std::time::Duration;

impl World {
    fn user(&self, first_name: &str) -> String {
        self.fixture
            .users
            .iter()
            .find(|u| u.first_name == first_name)
            .unwrap()
            .id
            .to_string()
    }

    async fn patch(&self, id: &str, key: &str, body: Value) -> Answer {
        self.call(
            Method::PATCH,
            &format!("/v1/workflow-runs/{id}"),
            Some(key),
            Some(body),
        )
        .await
    }

    /// A draft run of `def` with one upload whose ingestion is still running (PENDING); returns
    /// the run id and the upload's version id.
    async fn pending(&self, def: &str, key: &str, name: &str) -> (String, String) {
        let run = self.create(def, key, json!({ "name": name })).await;
        let id = run["id"].as_str().unwrap().to_owned();
        let a = self
            .post(
                &format!("/v1/workflow-runs/{id}/inputs"),
                key,
                json!({"name": "notes.txt"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        assert_eq!(a.body["run"]["execution_state"], "PENDING");
        let version = a.body["version_path_part_id"].as_str().unwrap().to_owned();
        (id, version)
    }

    /// The host reports an upload's ingestion as `completed` (an admin key, as the host calls).
    async fn ingested(&self, version: &str) -> Answer {
        let a = self
            .call(
                Method::PUT,
                &format!("/v1/document-versions/{version}/ingestion"),
                Some(ADMIN),
                Some(json!({"status": "completed"})),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a
    }

    /// Report the current attempt FAILED, assumed, as the runner would.
    async fn fail(&self, id: &str, key: &str) {
        let attempt = self.last_dispatch().key.attempt;
        let req = Request::post(format!("/v1/workflow-runs/{id}/callback"))
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header("x-ks-assumed", "true")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"status": "FAILED", "error": "boom", "attempt": attempt}).to_string(),
            ))
            .unwrap();
        let a = self.raw(req).await;
        assert_eq!(
            (a.status, a.body["status"].as_str()),
            (StatusCode::OK, Some("updated")),
            "{}",
            a.body
        );
    }

    fn dispatch_count(&self) -> usize {
        self.dispatches.0.lock().unwrap().len()
    }

    /// The ids of a list answer, in order (and checks every item's shape).
    async fn list_ids(&self, uri: &str, key: &str) -> Vec<String> {
        let a = self.get(uri, key).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.body);
        let items = a.body["items"].as_array().unwrap();
        items.iter().for_each(assert_run_shape);
        assert_eq!(
            a.body["total"].as_u64(),
            Some(items.len() as u64),
            "{uri}: one page expected"
        );
        items
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

fn as_set(ids: Vec<String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}

/// A time as ksapi 3.18.2 puts it in a query string: `strftime("%Y-%m-%dT%H:%M:%S.%f%z")` (an
/// offset without a colon, microseconds), then `urllib.parse.quote` (`+` → `%2B`, `:` → `%3A`).
fn ksapi_time(t: DateTime<FixedOffset>) -> String {
    let s = t.format("%Y-%m-%dT%H:%M:%S%.6f%z").to_string();
    s.replace(':', "%3A").replace('+', "%2B")
}

fn time_of(run: &Value, field: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(run[field].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// UPDATE-6, UPDATE-3: a field sent as `null` is absent, so ksapi's
/// `UpdateWorkflowRunRequest(input_scope=[...], name=None)` edits only the scope; a body whose
/// every field is `null` (or `{}`) is 422; `user_message: ""` clears the stored message.
#[tokio::test]
async fn update_6_null_is_absent() {
    let w = world();
    let run = w
        .create(&w.def("summarise"), OWNER, json!({"name": "keep-me"}))
        .await;
    let id = run["id"].as_str().unwrap();
    let a = w
        .patch(
            id,
            OWNER,
            json!({"input_scope": [w.part("spec.md")], "name": null, "auto_start": null, "user_message": null}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_run_shape(&a.body);
    assert_eq!(a.body["name"], "keep-me");
    assert_eq!(a.body["auto_start"], false);
    let assets = a.body["inputs"]["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 1, "{}", a.body);
    assert_eq!(assets[0]["name"], "spec.md");

    // `name` alone, the other fields null: the scope stays.
    let a = w
        .patch(id, OWNER, json!({"input_scope": null, "name": "renamed"}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["name"], "renamed");
    assert_eq!(a.body["inputs"]["assets"].as_array().unwrap().len(), 1);

    for empty in [
        json!({"input_scope": null, "name": null, "auto_start": null, "user_message": null}),
        json!({"name": null}),
        json!({}),
    ] {
        let a = w.patch(id, OWNER, empty.clone()).await;
        assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
    }
    let a = w
        .patch(id, OWNER, json!({"user_message": "x".repeat(4001)}))
        .await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");

    // user_message is stored, and "" clears it.
    let a = w
        .patch(id, OWNER, json!({"user_message": "hello", "name": null}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["auto_start_user_message"], "hello");
    let a = w.patch(id, OWNER, json!({"user_message": ""})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        a.body["auto_start_user_message"].is_null() || a.body["auto_start_user_message"] == "",
        "{}",
        a.body
    );
    // Nothing of the above touched the state.
    assert_eq!(a.body["execution_state"], "NOT_STARTED");
    assert_eq!(w.dispatch_count(), 0);
}

/// UPDATE-7, UPDATE-1, SYNC-2: a PENDING run accepts a PATCH that only arms it (`auto_start`,
/// `user_message`, 200) and refuses a rename or a scope edit (409); once its upload is ingested
/// the armed run starts by itself with the stored message.
#[tokio::test]
async fn update_7_pending_run_accepts_arming_only() {
    let w = world();
    let (id, version) = w.pending(&w.def("triage"), OWNER, "armed").await;
    let a = w
        .patch(
            &id,
            OWNER,
            json!({"auto_start": true, "user_message": "go", "name": null, "input_scope": null}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_run_shape(&a.body);
    assert_eq!(
        (&a.body["execution_state"], &a.body["auto_start"]),
        (&json!("PENDING"), &json!(true))
    );
    for edit in [
        json!({"name": "other"}),
        json!({"input_scope": [w.part("spec.md")]}),
        json!({"name": "other", "auto_start": true}),
    ] {
        let a = w.patch(&id, OWNER, edit).await;
        assert_error(&a, StatusCode::CONFLICT, "conflict");
    }
    // A reader may not arm (UPDATE-2 before UPDATE-1, VIS-2).
    let a = w.patch(&id, BARBARA, json!({"auto_start": true})).await;
    assert_error(&a, StatusCode::FORBIDDEN, "forbidden");

    assert_eq!(w.dispatch_count(), 0);
    let a = w.ingested(&version).await;
    assert_eq!(a.body["execution_state"], "IN_PROGRESS", "{}", a.body);
    assert_eq!(w.dispatch_count(), 1);
    assert_eq!(
        w.last_dispatch().snapshot.user_message.as_deref(),
        Some("go")
    );
    // A started run is no longer armable.
    let a = w.patch(&id, OWNER, json!({"auto_start": false})).await;
    assert_error(&a, StatusCode::CONFLICT, "conflict");
}

/// UPDATE-7, START-1: arming `auto_start: true` on a NOT_STARTED run whose uploads are all
/// ingested (upload, then the host's `PUT /v1/document-versions/{id}/ingestion`) starts it at
/// once, as the caller: the answer is the run IN_PROGRESS, attempt 1, one dispatch.
#[tokio::test]
async fn update_7_arming_an_ingested_draft_starts_it() {
    let w = world();
    let (id, version) = w.pending(&w.def("triage"), OWNER, "draft").await;
    let a = w.ingested(&version).await;
    assert_eq!(a.body["execution_state"], "NOT_STARTED", "{}", a.body);
    assert_eq!(w.dispatch_count(), 0);

    let a = w
        .patch(
            &id,
            OWNER,
            json!({"auto_start": true, "user_message": "now", "name": null}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_run_shape(&a.body);
    assert_eq!(a.body["execution_state"], "IN_PROGRESS", "{}", a.body);
    assert_eq!(a.body["attempt"], 1);
    assert!(a.body["run_snapshot"].is_object() && a.body["started_at"].is_string());
    assert_eq!(w.dispatch_count(), 1);
    let d = w.last_dispatch();
    assert_eq!(d.key.attempt, 1);
    assert!(!d.resume);
    assert_eq!(d.snapshot.user_message.as_deref(), Some("now"));
    // The answer is what a GET then reads.
    let got = w.get(&format!("/v1/workflow-runs/{id}"), OWNER).await;
    assert_eq!(got.body["execution_state"], "IN_PROGRESS");
}

/// RESUME-1, RETRY-2, RETRY-3, HTTP-2: resume of a FAILED run answers 202 with `Location`, the
/// run IN_PROGRESS at attempt + 1, a dispatch with `resume: true`, and the history records
/// `resumed`; a reader is forbidden, a draft or a COMPLETED run is a conflict.
#[tokio::test]
async fn resume_1_202_location_and_history() {
    let w = world();
    let id = w.started(&w.def("triage"), OWNER).await;
    let resume = |key: &'static str, id: String| {
        let w = &w;
        async move {
            w.call(
                Method::POST,
                &format!("/v1/workflow-runs/{id}/resume"),
                Some(key),
                None,
            )
            .await
        }
    };
    // IN_PROGRESS: nothing to resume.
    assert_error(
        &resume(OWNER, id.clone()).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    w.fail(&id, OWNER).await;
    assert_error(
        &resume(BARBARA, id.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &resume(LINUS, id.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let before = w.dispatch_count();

    let a = resume(OWNER, id.clone()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    assert_run_shape(&a.body);
    assert_eq!(
        a.headers.get(header::LOCATION).unwrap(),
        &format!("/v1/workflow-runs/{id}")
    );
    assert_eq!(a.body["execution_state"], "IN_PROGRESS");
    assert_eq!(a.body["attempt"], 2);
    assert!(a.body["error"].is_null() && a.body["completed_at"].is_null());
    assert_eq!(w.dispatch_count(), before + 1);
    let d = w.last_dispatch();
    assert!(d.resume, "a resume dispatches with resume: true");
    assert_eq!(d.key.attempt, 2);

    let h = w
        .get(&format!("/v1/workflow-runs/{id}/history"), OWNER)
        .await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.body);
    let events: Vec<&str> = h.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["event"].as_str().unwrap())
        .collect();
    assert_eq!(events.last(), Some(&"resumed"), "{events:?}");
    let last = h.body["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["from"], &last["to"], &last["attempt"]),
        (&json!("FAILED"), &json!("IN_PROGRESS"), &json!(2))
    );

    // A never-started run and a COMPLETED one: conflict; an unknown run: 404.
    let draft = w.create(&w.def("triage"), OWNER, json!({})).await;
    assert_error(
        &resume(OWNER, draft["id"].as_str().unwrap().to_owned()).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_eq!(w.complete(&id, OWNER).await, "updated");
    assert_error(
        &resume(OWNER, id.clone()).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_error(
        &resume(OWNER, uuid::Uuid::new_v4().to_string()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

/// The runs of the LIST-2 and SUM-1 tests, created in this order (a few ms apart):
/// `a` Ada summarise NOT_STARTED; `b` Ada summarise IN_PROGRESS; `c` Linus triage COMPLETED
/// (approval not required); `d` Ada summarise COMPLETED, approval pending; `e` Linus triage
/// FAILED (stopped); `f` Ada triage PENDING (an upload ingesting).
struct Six {
    a: Value,
    b: Value,
    c: Value,
    d: Value,
    e: Value,
    f: Value,
}

impl Six {
    fn ids(&self) -> [&String; 6] {
        [&self.a, &self.b, &self.c, &self.d, &self.e, &self.f].map(|v| match &v["id"] {
            Value::String(s) => s,
            other => panic!("no id: {other}"),
        })
    }
}

async fn six_runs(w: &World) -> Six {
    let pause = || tokio::time::sleep(Duration::from_millis(3));
    let summarise = w.def("summarise");
    let triage = w.def("triage");
    let get =
        |id: String| async move { w.get(&format!("/v1/workflow-runs/{id}"), OWNER).await.body };
    let a = w.create(&summarise, OWNER, json!({"name": "a"})).await;
    pause().await;
    let b = w.started(&summarise, OWNER).await;
    pause().await;
    let c = w.started(&triage, LINUS).await;
    assert_eq!(w.complete(&c, LINUS).await, "updated");
    pause().await;
    let d = w.started(&summarise, OWNER).await;
    assert_eq!(w.complete(&d, OWNER).await, "updated");
    pause().await;
    let e = w.started(&triage, LINUS).await;
    let s = w
        .post(&format!("/v1/workflow-runs/{e}/stop"), LINUS, json!({}))
        .await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    pause().await;
    let (f, _) = w.pending(&triage, OWNER, "f").await;
    let six = Six {
        a: get(a["id"].as_str().unwrap().to_owned()).await,
        b: get(b).await,
        c: get(c).await,
        d: get(d).await,
        e: get(e).await,
        f: get(f).await,
    };
    for (v, state, approval) in [
        (&six.a, "NOT_STARTED", "not_required"),
        (&six.b, "IN_PROGRESS", "not_required"),
        (&six.c, "COMPLETED", "not_required"),
        (&six.d, "COMPLETED", "pending"),
        (&six.e, "FAILED", "not_required"),
        (&six.f, "PENDING", "not_required"),
    ] {
        assert_eq!(
            (v["execution_state"].as_str(), v["approval_state"].as_str()),
            (Some(state), Some(approval)),
            "{v}"
        );
    }
    six
}

/// LIST-2: every filter and order of `GET /v1/workflow-runs`, sent exactly as ksapi 3.18.2
/// encodes them: repeated `state=WorkflowExecutionState.X` (`str(member)`) and
/// `approval_state=PathPartApprovalState.x`, `sort_dir=ASC`/`DESC` (runs without the sort time
/// last either way), RFC 3339 dates with offsets (ksapi's `+0000` without a colon, `%2B02:00`,
/// `Z`, and a `+` left unescaped), `owner_id` of another user (never 403; `mine` overrides it),
/// `approvable_by_me` (APPROVE-5), tags; a bad date, direction or state is 422.
#[tokio::test]
async fn list_2_filters_as_ksapi_encodes_them() {
    let w = world();
    let six = six_runs(&w).await;
    let [a, b, c, d, e, f] = six.ids();
    let all = set(&[a, b, c, d, e, f]);
    let l = |q: String| {
        let w = &w;
        async move { w.list_ids(&format!("/v1/workflow-runs?{q}"), OWNER).await }
    };

    // Repeatable states, in ksapi's `str(member)` form and plain.
    assert_eq!(
        as_set(
            l(
                "state=WorkflowExecutionState.IN_PROGRESS&state=WorkflowExecutionState.PENDING"
                    .into()
            )
            .await
        ),
        set(&[b, f])
    );
    assert_eq!(
        as_set(l("state=COMPLETED&state=FAILED&state=COMPLETED".into()).await),
        set(&[c, d, e])
    );
    assert_eq!(
        as_set(
            l("approval_state=PathPartApprovalState.pending&approval_state=not_required".into())
                .await
        ),
        all
    );
    assert_eq!(
        l("approval_state=pending".into()).await,
        vec![d.clone()],
        "approval_state=pending"
    );
    assert_eq!(
        as_set(l("state=COMPLETED&approval_state=not_required".into()).await),
        set(&[c])
    );

    // Orders: CREATED_AT both ways; STARTED_AT both ways with the never-started runs last.
    assert_eq!(
        l("sort_by=CREATED_AT&sort_dir=ASC".into()).await,
        vec![a, b, c, d, e, f]
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        l("sort_by=WorkflowRunOrder.CREATED_AT&sort_dir=DESC".into()).await,
        vec![f, e, d, c, b, a]
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    );
    let asc = l("sort_by=STARTED_AT&sort_dir=ASC".into()).await;
    assert_eq!(&asc[..4], &[b.clone(), c.clone(), d.clone(), e.clone()]);
    assert_eq!(as_set(asc[4..].to_vec()), set(&[a, f]), "nulls last (ASC)");
    let desc = l("sort_dir=DESC".into()).await;
    assert_eq!(&desc[..4], &[e.clone(), d.clone(), c.clone(), b.clone()]);
    assert_eq!(
        as_set(desc[4..].to_vec()),
        set(&[a, f]),
        "nulls last (DESC)"
    );
    let done = l("sort_by=COMPLETED_AT&sort_dir=asc".into()).await;
    assert_eq!(&done[..3], &[c.clone(), d.clone(), e.clone()]);
    // Paging keeps the order.
    let a2 = w
        .get(
            "/v1/workflow-runs?sort_by=CREATED_AT&sort_dir=ASC&limit=2&offset=1",
            OWNER,
        )
        .await;
    assert_eq!(a2.body["total"], 6);
    assert_eq!(a2.body["items"][0]["id"], b.as_str());
    assert_eq!(a2.body["items"][1]["id"], c.as_str());

    // Creation window: after is inclusive, before exclusive, whatever the offset's spelling.
    let c_created = time_of(&six.c, "created_at");
    let plus2 = FixedOffset::east_opt(2 * 3600).unwrap();
    let spellings = [
        ksapi_time(c_created.fixed_offset()),
        ksapi_time(c_created.with_timezone(&plus2)),
        c_created.to_rfc3339_opts(SecondsFormat::Nanos, true),
        c_created
            .with_timezone(&plus2)
            .to_rfc3339_opts(SecondsFormat::Nanos, false)
            .replace('+', "%2B"),
        // A `+` left unescaped arrives as a space.
        c_created
            .with_timezone(&plus2)
            .to_rfc3339_opts(SecondsFormat::Nanos, false),
    ];
    for t in &spellings {
        assert_eq!(
            as_set(l(format!("created_after={t}")).await),
            set(&[c, d, e, f]),
            "created_after={t}"
        );
        assert_eq!(
            as_set(l(format!("created_before={t}")).await),
            set(&[a, b]),
            "created_before={t}"
        );
        assert_eq!(
            as_set(
                l(format!(
                    "created_after={t}&created_before={}",
                    ksapi_time(time_of(&six.e, "created_at").fixed_offset())
                ))
                .await
            ),
            set(&[c, d]),
            "created window from {t}"
        );
    }
    // ksapi sends a naive datetime without an offset: taken as UTC.
    let naive = c_created.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    assert_eq!(
        as_set(l(format!("created_before={naive}")).await),
        set(&[a, b])
    );

    // Update window: touch `a` last.
    let touched = w.patch(a, OWNER, json!({"name": "a2"})).await;
    assert_eq!(touched.status, StatusCode::OK, "{}", touched.body);
    let t = ksapi_time(time_of(&touched.body, "updated_at").fixed_offset());
    assert_eq!(l(format!("updated_after={t}")).await, vec![a.clone()]);
    assert_eq!(
        as_set(l(format!("updated_before={t}")).await),
        set(&[b, c, d, e, f])
    );

    // owner_id: another user's runs, among those the caller can read; never 403.
    let (ada, linus) = (w.user("Ada"), w.user("Linus"));
    for key in [OWNER, BARBARA, LINUS] {
        let ids = w
            .list_ids(&format!("/v1/workflow-runs?owner_id={linus}"), key)
            .await;
        assert_eq!(as_set(ids), set(&[c, e]), "{key}");
        let ids = w
            .list_ids(&format!("/v1/workflow-runs?owner_id={ada}"), key)
            .await;
        assert_eq!(as_set(ids), set(&[a, b, d, f]), "{key}");
    }
    let nobody = uuid::Uuid::new_v4();
    assert!(w
        .list_ids(&format!("/v1/workflow-runs?owner_id={nobody}"), BARBARA)
        .await
        .is_empty());
    // mine overrides owner_id.
    let ids = w
        .list_ids(
            &format!("/v1/workflow-runs?owner_id={ada}&mine=true"),
            LINUS,
        )
        .await;
    assert_eq!(as_set(ids), set(&[c, e]));

    // approvable_by_me (APPROVE-5): admins and a read-write grant approve, a reader does not.
    for (key, expect) in [
        (OWNER, set(&[d])),
        (ADMIN, set(&[d])),
        (LINUS, set(&[d])),
        (BARBARA, BTreeSet::new()),
    ] {
        let ids = w
            .list_ids(
                "/v1/workflow-runs?approvable_by_me=true&approval_state=PathPartApprovalState.pending",
                key,
            )
            .await;
        assert_eq!(as_set(ids), expect, "{key}");
    }
    assert_eq!(
        as_set(
            w.list_ids("/v1/workflow-runs?approvable_by_me=true", LINUS)
                .await
        ),
        all
    );
    assert!(w
        .list_ids("/v1/workflow-runs?approvable_by_me=true", BARBARA)
        .await
        .is_empty());
    assert_eq!(
        w.list_ids("/v1/workflow-runs?approvable_by_me=false", BARBARA)
            .await
            .len(),
        6
    );

    // Tags: no run carries one.
    let tag = uuid::Uuid::new_v4();
    assert!(l(format!("include_tag_ids={tag}")).await.is_empty());
    assert_eq!(as_set(l(format!("exclude_tag_ids={tag}")).await), all);

    // Refusals: 422, never 500 or 403.
    for bad in [
        "created_after=yesterday",
        "created_after=2026-13-01T00:00:00Z",
        "updated_after=2026-01-01T00:00:00%2B25:00",
        "updated_before=",
        "sort_dir=UP",
        "sort_by=NAME",
        "state=WorkflowExecutionState.DONE",
        "approval_state=rejected",
        "owner_id=ada",
        "approvable_by_me=maybe",
        "include_tag_ids=x",
        "exclude_tag_ids=x",
    ] {
        let a = w.get(&format!("/v1/workflow-runs?{bad}"), OWNER).await;
        assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
    }
}

/// LIST-2 on `GET /v1/workflow-definitions/{id}/runs`: `sort_dir`, the date windows and the
/// repeatable state filter keep to the definition's runs.
#[tokio::test]
async fn list_2_definition_runs_filters() {
    let w = world();
    let six = six_runs(&w).await;
    let [a, b, _c, d, _e, _f] = six.ids();
    let base = format!("/v1/workflow-definitions/{}/runs", w.def("summarise"));
    let asc = w
        .list_ids(&format!("{base}?sort_by=CREATED_AT&sort_dir=ASC"), BARBARA)
        .await;
    assert_eq!(asc, vec![a.clone(), b.clone(), d.clone()]);
    let desc = w
        .list_ids(&format!("{base}?sort_by=CREATED_AT&sort_dir=DESC"), BARBARA)
        .await;
    assert_eq!(desc, vec![d.clone(), b.clone(), a.clone()]);
    let t = ksapi_time(time_of(&six.b, "created_at").fixed_offset());
    assert_eq!(
        w.list_ids(
            &format!("{base}?created_after={t}&sort_by=CREATED_AT&sort_dir=ASC"),
            OWNER
        )
        .await,
        vec![b.clone(), d.clone()]
    );
    assert_eq!(
        w.list_ids(&format!("{base}?created_before={t}"), OWNER)
            .await,
        vec![a.clone()]
    );
    assert_eq!(
        as_set(
            w.list_ids(
                &format!("{base}?state=WorkflowExecutionState.COMPLETED&state=NOT_STARTED"),
                OWNER
            )
            .await
        ),
        set(&[a, d])
    );
    let a = w.get(&format!("{base}?updated_after=soon"), OWNER).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
}

/// SUM-1: `GET /v1/workflow-runs/summary` answers ksapi's `WorkflowRunSummaryResponse` with all
/// five states in `counts_by_state` and numbers that match the runs created; scoped by
/// `definition_id` and the window; a bad `since` is 422 (`until` before `since` an empty window), an unknown
/// definition 404.
#[tokio::test]
async fn sum_1_summary_shape_and_numbers() {
    let w = world();
    let before = Utc::now();
    let six = six_runs(&w).await;
    let a = w.get("/v1/workflow-runs/summary", OWNER).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let s = &a.body;
    for k in [
        "window_start",
        "window_end",
        "total",
        "counts_by_state",
        "failure_rate",
        "duration_p50_seconds",
        "duration_p95_seconds",
        "pending_approval_count",
        "oldest_pending_age_seconds",
        "adoption",
    ] {
        assert!(s.get(k).is_some(), "{k} missing: {s}");
    }
    let start = DateTime::parse_from_rfc3339(s["window_start"].as_str().unwrap()).unwrap();
    let week = (before - start.with_timezone(&Utc)).num_seconds();
    assert!(
        (7 * 86400 - 5..=7 * 86400 + 5).contains(&week),
        "window_start defaults to 7 days ago: {s}"
    );
    assert!(s["window_end"].is_null());
    assert_eq!(s["total"], 6);
    assert_eq!(
        s["counts_by_state"],
        json!({"PENDING": 1, "NOT_STARTED": 1, "IN_PROGRESS": 1, "COMPLETED": 2, "FAILED": 1})
    );
    let rate = s["failure_rate"].as_f64().unwrap();
    assert!((rate - 1.0 / 3.0).abs() < 1e-9, "{s}");
    let (p50, p95) = (
        s["duration_p50_seconds"].as_f64().unwrap(),
        s["duration_p95_seconds"].as_f64().unwrap(),
    );
    assert!(0.0 <= p50 && p50 <= p95 && p95 < 60.0, "{s}");
    assert_eq!(s["pending_approval_count"], 1);
    let age = s["oldest_pending_age_seconds"].as_f64().unwrap();
    assert!((0.0..60.0).contains(&age), "{s}");
    assert_eq!(
        s["adoption"],
        json!({"runs": 6, "active_definitions": 2, "distinct_triggerers": 2})
    );

    // A reader of /shared sees the same runs; the definition scope keeps summarise's.
    let r = w.get("/v1/workflow-runs/summary", BARBARA).await;
    assert_eq!(r.body["total"], 6, "{}", r.body);
    let one = w
        .get(
            &format!(
                "/v1/workflow-runs/summary?definition_id={}",
                w.def("summarise")
            ),
            OWNER,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(
        one.body["counts_by_state"],
        json!({"PENDING": 0, "NOT_STARTED": 1, "IN_PROGRESS": 1, "COMPLETED": 1, "FAILED": 0})
    );
    assert_eq!(one.body["failure_rate"].as_f64(), Some(0.0));
    assert_eq!(one.body["adoption"]["distinct_triggerers"], 1);
    assert_eq!(one.body["pending_approval_count"], 1);

    // The window: since = c's creation (ksapi's spelling) keeps c..f; until = d's keeps c, d.
    let since = ksapi_time(time_of(&six.c, "created_at").fixed_offset());
    let until = time_of(&six.d, "created_at").to_rfc3339_opts(SecondsFormat::Nanos, true);
    let win = w
        .get(
            &format!("/v1/workflow-runs/summary?since={since}&until={until}"),
            OWNER,
        )
        .await;
    assert_eq!(win.status, StatusCode::OK, "{}", win.body);
    assert_eq!(
        win.body["counts_by_state"],
        json!({"PENDING": 0, "NOT_STARTED": 0, "IN_PROGRESS": 0, "COMPLETED": 2, "FAILED": 0}),
        "{}",
        win.body
    );
    assert!(win.body["window_end"].is_string());
    assert_eq!(win.body["adoption"]["distinct_triggerers"], 2);
    // An empty window: zero counts, null rates, still all five states; the backlog is
    // point-in-time.
    let future = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let empty = w
        .get(
            &format!(
                "/v1/workflow-runs/summary?since={}",
                future.replace('+', "%2B")
            ),
            OWNER,
        )
        .await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(
        empty.body["counts_by_state"],
        json!({"PENDING": 0, "NOT_STARTED": 0, "IN_PROGRESS": 0, "COMPLETED": 0, "FAILED": 0})
    );
    assert!(empty.body["failure_rate"].is_null());
    assert!(empty.body["duration_p50_seconds"].is_null());
    assert_eq!(empty.body["pending_approval_count"], 1);

    for bad in [
        "since=yesterday".to_owned(),
        "since=2026-02-30T00:00:00Z".to_owned(),
        "until=x".to_owned(),
        "definition_id=nope".to_owned(),
    ] {
        let a = w
            .get(&format!("/v1/workflow-runs/summary?{bad}"), OWNER)
            .await;
        assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
    }
    // `until` before `since` is an empty window (the schema cannot say otherwise), not 422.
    let inverted = w
        .get(
            &format!("/v1/workflow-runs/summary?since={since}&until=2000-01-01T00:00:00Z"),
            OWNER,
        )
        .await;
    assert_eq!(inverted.status, StatusCode::OK, "{}", inverted.body);
    assert_eq!(inverted.body["total"], 0);
    let a = w
        .get(
            &format!(
                "/v1/workflow-runs/summary?definition_id={}",
                uuid::Uuid::new_v4()
            ),
            OWNER,
        )
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "not_found");
    let a = w
        .call(Method::GET, "/v1/workflow-runs/summary", None, None)
        .await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "unauthorized");
}
