//! The run lifecycle (create, start, callback COMPLETED) through the engine on PostgreSQL,
//! against a raw `postgres` baseline doing the minimal equivalent writes on the same schema
//! (insert + tombstone + history row, then two version-checked updates + history rows, each in
//! its own transaction), on the same server with the same `synchronous_commit`, in the same
//! run. Prints the ratio (baseline time / engine time: 1.0 means the engine is as fast as the
//! raw writes). Skipped when `WORKFLOW_PG_URL` is unset.
//!
//! `WORKFLOW_PG_URL=... cargo bench -p workflow-store-postgres --bench lifecycle`
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::Criterion;
use postgres::{Client, NoTls};
use std::time::{Duration, Instant};
use workflow_conformance::world::World;
use workflow_core::uuid::Uuid;
use workflow_store_postgres::PgStore;

/// A fresh database on the server, dropped at the end.
struct Db {
    admin: String,
    name: String,
    url: String,
}

impl Db {
    fn new(admin: &str) -> Db {
        let name = format!("wf_bench_{}", Uuid::new_v4().simple());
        Client::connect(admin, NoTls)
            .unwrap()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let (base, query) = admin.split_once('?').unwrap_or((admin, ""));
        let cut = base
            .rfind('/')
            .filter(|i| *i > base.find("://").unwrap_or(0) + 2);
        let mut url = format!("{}/{name}", cut.map_or(base, |i| &base[..i]));
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        Db {
            admin: admin.to_owned(),
            name,
            url,
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Ok(mut c) = Client::connect(&self.admin, NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

struct EngineSide {
    world: World<PgStore>,
}

impl EngineSide {
    fn new(url: &str) -> Self {
        EngineSide {
            world: World::new(PgStore::connect(url).unwrap()),
        }
    }

    fn lifecycle(&self) {
        self.world.lifecycle();
    }
}

const RAW_INSERT: &str = "INSERT INTO runs (id, tenant_id, definition_id, name, triggered_by,
    execution_state, approval_state, attempt, version, input_scope, selected_skill_ids,
    auto_start, folders, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, 'NOT_STARTED', 'not_required', 0, 1, '[]', '[]', false, '{}', $6, $6)";
const RAW_TOMBSTONE: &str = "INSERT INTO run_ids (id) VALUES ($1)";
const RAW_START: &str = "UPDATE runs SET execution_state = 'IN_PROGRESS', attempt = 1,
    version = 2, started_at = $2, updated_at = $2 WHERE id = $1 AND version = 1";
const RAW_COMPLETE: &str = "UPDATE runs SET execution_state = 'COMPLETED', version = 3,
    completed_at = $2, updated_at = $2 WHERE id = $1 AND version = 2";
const RAW_HISTORY: &str = "INSERT INTO history (run_id, seq, tenant_id, from_state, to_state,
    event, actor_user_id, actor_assumed, at, attempt, reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7, false, $8, 1, NULL)";

/// The minimal writes of a lifecycle on a raw connection of the same schema.
struct RawSide {
    client: Client,
    n: u64,
    statements: Vec<postgres::Statement>,
}

impl RawSide {
    fn new(url: &str) -> Self {
        drop(PgStore::connect(url).unwrap()); // the same schema
        let mut client = Client::connect(url, NoTls).unwrap();
        let statements = [
            RAW_INSERT,
            RAW_TOMBSTONE,
            RAW_START,
            RAW_COMPLETE,
            RAW_HISTORY,
        ]
        .iter()
        .map(|s| client.prepare(s).unwrap())
        .collect();
        RawSide {
            client,
            n: 0,
            statements,
        }
    }

    fn lifecycle(&mut self) {
        self.n += 1;
        let id = Uuid::new_v4();
        let (tenant, user, def) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let name = format!("run-{}", self.n);
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i64
        };
        let [insert, tombstone, start, complete, history] = &self.statements[..] else {
            unreachable!()
        };
        let steps: [(&postgres::Statement, i64, Option<&str>, &str, &str); 3] = [
            (insert, 1, None, "NOT_STARTED", "created"),
            (start, 2, Some("NOT_STARTED"), "IN_PROGRESS", "started"),
            (complete, 3, Some("IN_PROGRESS"), "COMPLETED", "completed"),
        ];
        for (stmt, seq, from, to, event) in steps {
            let mut tx = self.client.transaction().unwrap();
            let t = now();
            if seq == 1 {
                tx.execute(tombstone, &[&id]).unwrap();
                tx.execute(stmt, &[&id, &tenant, &def, &name, &user, &t])
                    .unwrap();
            } else {
                assert_eq!(tx.execute(stmt, &[&id, &t]).unwrap(), 1);
            }
            tx.execute(
                history,
                &[&id, &seq, &tenant, &from, &to, &event, &user, &t],
            )
            .unwrap();
            tx.commit().unwrap();
        }
    }
}

fn interleaved(engine: &EngineSide, raw: &mut RawSide, rounds: u32) -> [f64; 2] {
    const BATCH: u32 = 10;
    let mut totals = [Duration::ZERO; 2];
    for round in 0..=rounds {
        let t = Instant::now();
        for _ in 0..BATCH {
            engine.lifecycle();
        }
        let e = t.elapsed();
        let t = Instant::now();
        for _ in 0..BATCH {
            raw.lifecycle();
        }
        let r = t.elapsed();
        if round > 0 {
            totals[0] += e;
            totals[1] += r;
        }
    }
    let n = f64::from(rounds * BATCH);
    totals.map(|t| t.as_secs_f64() / n)
}

fn main() {
    let Ok(admin) = std::env::var("WORKFLOW_PG_URL") else {
        println!("skipped: WORKFLOW_PG_URL unset");
        return;
    };
    let db = Db::new(&admin);
    let engine = EngineSide::new(&db.url);
    let mut raw = RawSide::new(&db.url);
    let sync: String = raw
        .client
        .query_one("SHOW synchronous_commit", &[])
        .unwrap()
        .get(0);
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    c.bench_function("postgres lifecycle: engine", |b| {
        b.iter(|| engine.lifecycle())
    });
    c.bench_function("postgres lifecycle: raw minimal writes", |b| {
        b.iter(|| raw.lifecycle())
    });
    c.final_summary();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let rounds = u32::try_from(workflow_conformance::env_count("PG_BENCH_ROUNDS", 30)).unwrap();
    let [e, r] = interleaved(&engine, &mut raw, rounds);
    println!(
        "\nlifecycle (create, start, callback COMPLETED), synchronous_commit={sync}, interleaved \
         batches of 10, mean per lifecycle:\n  engine {:7.1} µs | raw minimal {:7.1} µs -> \
         engine = {:.2}x raw",
        e * 1e6,
        r * 1e6,
        r / e
    );
}
