//! The catalog administration decisions: users, parts, versions, definitions.

use super::*;

// ================================================================================== users

/// FIX-1: a user with absolute grant paths is written as it is; a relative grant path is refused.
#[test]
fn decide_user_writes_the_user_and_checks_grant_paths() {
    let user = User {
        grants: vec![
            grant("/shared", Capability::Read),
            grant("/shared/eng", Capability::ReadWrite),
        ],
        ..who("user_read").user()
    };
    assert_eq!(
        decide_user(&user).unwrap(),
        Decision::write(vec![CatalogWrite::User(user.clone())], ())
    );
    let no_grants = User {
        grants: vec![],
        ..user.clone()
    };
    assert_eq!(
        decide_user(&no_grants).unwrap(),
        Decision::write(vec![CatalogWrite::User(no_grants.clone())], ())
    );
    let relative = User {
        grants: vec![
            grant("/shared", Capability::Read),
            grant("shared/eng", Capability::Read),
        ],
        ..user
    };
    assert_eq!(code(decide_user(&relative)), ErrorCode::UnprocessableEntity);
}

// ================================================================================== parts

fn eng() -> PathPart {
    part(ENG, PathPartKind::Folder, "/shared/eng", Some(100))
}

/// FIX-1: a part under a parent gets the parent's path + its name and `now` as creation time; a root
/// gets `/name`; a re-write keeps the stored creation time.
#[test]
fn decide_part_paths_and_creation_time() {
    let d = decide_part(
        tenant(),
        pid(150),
        PathPartKind::Document,
        "spec.md",
        Some(&eng()),
        None,
        now(),
    )
    .unwrap();
    let mut expected = part(
        150,
        PathPartKind::Document,
        "/shared/eng/spec.md",
        Some(ENG),
    );
    expected.created_at = now();
    assert_eq!(
        d,
        Decision::write(vec![put_part(expected.clone())], expected.clone())
    );

    let root = decide_part(
        tenant(),
        pid(100),
        PathPartKind::Folder,
        "shared",
        None,
        None,
        now(),
    )
    .unwrap();
    let mut expected_root = part(100, PathPartKind::Folder, "/shared", None);
    expected_root.created_at = now();
    assert_eq!(root.answer, expected_root);

    let later = now() + Duration::days(1);
    let again = decide_part(
        tenant(),
        pid(150),
        PathPartKind::Document,
        "spec.md",
        Some(&eng()),
        Some(&expected),
        later,
    )
    .unwrap();
    assert_eq!(again, d, "a re-write keeps created_at: the same writes");
}

/// FIX-1, CREATE-4: folders, documents, connectors and skills are made here; versions, definitions and run
/// folders by their own calls (`unprocessable_entity`); names follow CREATE-4.
#[test]
fn decide_part_kinds_and_names() {
    let call =
        |kind, name: &str| decide_part(tenant(), pid(150), kind, name, Some(&eng()), None, now());
    for kind in [
        PathPartKind::Folder,
        PathPartKind::Document,
        PathPartKind::DataSource,
        PathPartKind::ApiConnection,
        PathPartKind::Skill,
    ] {
        assert_eq!(call(kind, "x").unwrap().answer.kind, kind);
    }
    for kind in [
        PathPartKind::DocumentVersion,
        PathPartKind::WorkflowDefinition,
        PathPartKind::WorkflowRun,
    ] {
        assert_eq!(
            code(call(kind, "x")),
            ErrorCode::UnprocessableEntity,
            "{kind}"
        );
    }
    for bad in ["", "a/b", "a\nb"] {
        assert_eq!(
            code(call(PathPartKind::Folder, bad)),
            ErrorCode::UnprocessableEntity
        );
    }
}

// ================================================================================== versions

/// Store requirement 10: an active version is written with an ActivateVersion of it (the
/// store deactivates the others atomically); an inactive one is only written.
#[test]
fn decide_version_activates_only_when_active() {
    let doc = spec_doc();
    let mut v = version_of(151, &doc, Ingestion::Processing, true);
    v.created_at = now();
    let d = decide_version(&doc, pid(151), Ingestion::Processing, true, None, now()).unwrap();
    assert_eq!(
        d,
        Decision::write(
            vec![
                put_part(v.clone()),
                CatalogWrite::ActivateVersion {
                    tenant: tenant(),
                    document: pid(150),
                    version: pid(151),
                },
            ],
            v.clone(),
        )
    );

    let mut inactive = version_of(152, &doc, Ingestion::Completed, false);
    inactive.created_at = now();
    let d = decide_version(&doc, pid(152), Ingestion::Completed, false, None, now()).unwrap();
    assert_eq!(
        d,
        Decision::write(vec![put_part(inactive.clone())], inactive)
    );

    // A re-write keeps the stored creation time.
    let d = decide_version(
        &doc,
        pid(151),
        Ingestion::Completed,
        true,
        Some(&v),
        now() + Duration::hours(2),
    )
    .unwrap();
    assert_eq!(d.answer.created_at, now());
    assert_eq!(
        d.answer.version,
        Some(VersionInfo {
            ingestion: Ingestion::Completed,
            active: true
        })
    );
}

/// FIX-1: a version belongs to a DOCUMENT; anything else is `not_found` as a document.
#[test]
fn decide_version_needs_a_document() {
    assert_eq!(
        code(decide_version(
            &eng(),
            pid(151),
            Ingestion::Completed,
            true,
            None,
            now()
        )),
        ErrorCode::NotFound
    );
}

// ================================================================================== definitions

const NEW_DEF: u128 = 600;

fn new_def(name: &str) -> NewDefinition {
    NewDefinition {
        id: None,
        parent_id: pid(ENG),
        name: name.into(),
        instruction_id: None,
        max_run_duration_seconds: None,
        approval_required: true,
        is_active: true,
        is_template: false,
        common_file_ids: vec![pid(150)],
        selected_skill_ids: vec![uid(SKILL_1)],
        create_empty_instruction: true,
        ..NewDefinition::default()
    }
}

fn def_facts() -> DefinitionFacts {
    DefinitionFacts {
        parent: Some(eng()),
        instruction: None,
        sibling: None,
        existing: None,
        ..DefinitionFacts::default()
    }
}

fn define(
    w: &Who,
    cmd: &NewDefinition,
    facts: &DefinitionFacts,
) -> Result<CatalogDecision<Definition>> {
    decide_definition(&w.ctx(), cmd, DefinitionId(uid(NEW_DEF)), facts)
}

/// FIX-1, DEF-5: a new definition: its WORKFLOW_DEFINITION part under the folder, its `runs/` folder (id
/// v5(id, "runs")), an empty `instruction.md` DOCUMENT (id v5(id, "instruction.md")) when asked,
/// then the definition itself (default 1800 s, owned by the creator, created now), in one batch.
#[test]
fn decide_definition_writes_parts_and_the_definition() {
    let owner = who("owner");
    let d = define(&owner, &new_def("digest"), &def_facts()).unwrap();
    let id = uid(NEW_DEF);
    let runs_id = PathPartId(Uuid::new_v5(&id, b"runs"));
    let instr_id = PathPartId(Uuid::new_v5(&id, b"instruction.md"));
    let at_now = |mut p: PathPart| {
        p.created_at = now();
        p
    };
    let def_part = at_now(part(
        NEW_DEF,
        PathPartKind::WorkflowDefinition,
        "/shared/eng/digest",
        Some(ENG),
    ));
    let runs = PathPart {
        id: runs_id,
        ..at_now(part(
            0,
            PathPartKind::Folder,
            "/shared/eng/digest/runs",
            Some(NEW_DEF),
        ))
    };
    let instruction = PathPart {
        id: instr_id,
        ..at_now(part(
            0,
            PathPartKind::Document,
            "/shared/eng/digest/instruction.md",
            Some(NEW_DEF),
        ))
    };
    // DEF-5: the empty instruction has one active, ingested version, so that a snapshot pins
    // a real instruction version.
    let version_id = PathPartId(Uuid::new_v5(&id, b"instruction.md/1"));
    let version = PathPart {
        id: version_id,
        name: version_id.to_string(),
        parent_id: Some(instr_id),
        version: Some(VersionInfo {
            ingestion: Ingestion::Completed,
            active: true,
        }),
        ..at_now(part(
            0,
            PathPartKind::DocumentVersion,
            &format!("/shared/eng/digest/instruction.md/{version_id}"),
            None,
        ))
    };
    let expected = Definition {
        id: DefinitionId(id),
        tenant_id: tenant(),
        parent_id: pid(ENG),
        path: "/shared/eng/digest".into(),
        runs_folder_id: runs_id,
        name: "digest".into(),
        instruction_id: Some(instr_id),
        max_run_duration_seconds: 1800,
        approval_required: true,
        is_active: true,
        is_template: false,
        common_file_ids: vec![pid(150)],
        selected_skill_ids: vec![uid(SKILL_1)],
        owner_id: user_id(OWNER),
        created_at: now(),
        description: None,
        schedule: None,
        created_from_id: None,
        updated_at: now(),
    };
    assert_eq!(
        d,
        Decision::write(
            vec![
                put_part(def_part),
                put_part(runs),
                put_part(instruction),
                put_part(version),
                CatalogWrite::ActivateVersion {
                    tenant: tenant(),
                    document: instr_id,
                    version: version_id,
                },
                CatalogWrite::Definition(Box::new(expected.clone())),
            ],
            expected,
        )
    );
}

/// FIX-1, SNAP-1: an instruction named by id is used as it is (no `instruction.md` made); without one and
/// without `create_empty_instruction` the definition has no instruction.
#[test]
fn decide_definition_instruction_choices() {
    let owner = who("owner");
    let given = NewDefinition {
        instruction_id: Some(pid(INSTRUCTION)),
        ..new_def("digest")
    };
    let facts = DefinitionFacts {
        instruction: Some(instruction_doc()),
        ..def_facts()
    };
    let d = define(&owner, &given, &facts).unwrap();
    assert_eq!(d.answer.instruction_id, Some(pid(INSTRUCTION)));
    assert_eq!(
        d.change.as_ref().unwrap().len(),
        3,
        "def part, runs, definition"
    );

    let none = NewDefinition {
        create_empty_instruction: false,
        ..new_def("digest")
    };
    let d = define(&owner, &none, &def_facts()).unwrap();
    assert_eq!(d.answer.instruction_id, None);
    assert_eq!(d.change.as_ref().unwrap().len(), 3);

    // A named instruction must exist and be a DOCUMENT.
    assert_eq!(
        code(define(&owner, &given, &def_facts())),
        ErrorCode::NotFound
    );
    let folder_facts = DefinitionFacts {
        instruction: Some(eng()),
        ..def_facts()
    };
    assert_eq!(
        code(define(&owner, &given, &folder_facts)),
        ErrorCode::UnprocessableEntity
    );
}

/// DEF-2, VIS-1: OWNER/ADMIN or a read-write grant on the folder may define; a read grant is `forbidden`; a
/// folder the actor cannot read (or that does not exist, or is another tenant's) is `not_found`;
/// the parent must be a FOLDER.
#[test]
fn decide_definition_permission() {
    let cmd = new_def("digest");
    for w in ["owner", "admin", "user_read_write"] {
        let d = define(&who(w), &cmd, &def_facts()).unwrap();
        assert_eq!(d.answer.owner_id, who(w).id(), "{w}");
    }
    assert_eq!(
        code(define(&who("user_read"), &cmd, &def_facts())),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(define(&who("user_no_grant"), &cmd, &def_facts())),
        ErrorCode::NotFound
    );
    let no_parent = DefinitionFacts {
        parent: None,
        ..def_facts()
    };
    assert_eq!(
        code(define(&who("owner"), &cmd, &no_parent)),
        ErrorCode::NotFound
    );
    let doc_parent = DefinitionFacts {
        parent: Some(spec_doc()),
        ..def_facts()
    };
    assert_eq!(
        code(define(&who("owner"), &cmd, &doc_parent)),
        ErrorCode::UnprocessableEntity
    );
}

/// CREATE-4 (for definitions): another child of the folder with the same name is `conflict`; the definition's own part
/// (a replacement) is not a clash.
#[test]
fn decide_definition_name_clash() {
    let owner = who("owner");
    let cmd = new_def("digest");
    let clash = DefinitionFacts {
        sibling: Some(part(
            170,
            PathPartKind::Document,
            "/shared/eng/digest",
            Some(ENG),
        )),
        ..def_facts()
    };
    assert_eq!(code(define(&owner, &cmd, &clash)), ErrorCode::Conflict);
    let itself = DefinitionFacts {
        sibling: Some(part(
            NEW_DEF,
            PathPartKind::WorkflowDefinition,
            "/shared/eng/digest",
            Some(ENG),
        )),
        ..def_facts()
    };
    assert!(define(&owner, &cmd, &itself).is_ok());
    assert_eq!(
        code(define(&owner, &new_def("a/b"), &def_facts())),
        ErrorCode::UnprocessableEntity
    );
}

/// SPEC section 1 (Definition): `max_run_duration_seconds` is 60..=7200, 1800 when absent.
#[test]
fn decide_definition_max_duration_bounds() {
    let owner = who("owner");
    for (max, ok) in [
        (59, false),
        (60, true),
        (7200, true),
        (7201, false),
        (0, false),
    ] {
        let cmd = NewDefinition {
            max_run_duration_seconds: Some(max),
            ..new_def("digest")
        };
        match define(&owner, &cmd, &def_facts()) {
            Ok(d) => {
                assert!(ok, "{max}");
                assert_eq!(d.answer.max_run_duration_seconds, max);
            }
            Err(e) => {
                assert!(!ok, "{max}");
                assert_eq!(e.code(), ErrorCode::UnprocessableEntity);
            }
        }
    }
}

/// DEF-2: a replacement (same id) keeps the stored creation time (of the definition and of its
/// parts) and its owner, whoever replaces it; everything else comes from the command.
#[test]
fn decide_definition_replace_keeps_created_at_and_owner() {
    let rw = who("user_read_write");
    let existing = Definition {
        id: DefinitionId(uid(NEW_DEF)),
        created_at: t0(),
        owner_id: user_id(OWNER),
        ..definition(true)
    };
    let facts = DefinitionFacts {
        existing: Some(existing),
        sibling: Some(part(
            NEW_DEF,
            PathPartKind::WorkflowDefinition,
            "/shared/eng/digest",
            Some(ENG),
        )),
        ..def_facts()
    };
    let cmd = NewDefinition {
        approval_required: false,
        max_run_duration_seconds: Some(600),
        ..new_def("digest")
    };
    let d = define(&rw, &cmd, &facts).unwrap();
    assert_eq!(d.answer.created_at, t0());
    assert_eq!(d.answer.owner_id, user_id(OWNER));
    assert_eq!(
        (
            d.answer.approval_required,
            d.answer.max_run_duration_seconds
        ),
        (false, 600)
    );
    for w in d.change.unwrap().iter() {
        match w {
            CatalogWrite::PutPart(p) => assert_eq!(p.created_at, t0(), "{}", p.path),
            CatalogWrite::Definition(def) => assert_eq!(**def, d.answer),
            CatalogWrite::ActivateVersion { .. } => {}
            other => panic!("unexpected write {other:?}"),
        }
    }
}
