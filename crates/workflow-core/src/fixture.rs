//! The fixture file of SPEC section 8 (FIX-1): tenants, users, knowledge base and definitions,
//! loaded before serving. Loading the same file twice changes nothing.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::ids::{DefinitionId, PathPartId, TenantId, UserId};
use crate::model::{Actor, Capability, Grant, Ingestion, PathPartKind, Role, Tenant, User};
use crate::rules::NewDefinition;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A whole fixture file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Tenants.
    #[serde(default)]
    pub tenants: Vec<FixtureTenant>,
    /// Users with their keys and grants.
    #[serde(default)]
    pub users: Vec<FixtureUser>,
    /// Folders, documents (with versions) and connectors; parents may come in any order.
    #[serde(default)]
    pub path_parts: Vec<FixturePart>,
    /// Definitions.
    #[serde(default)]
    pub definitions: Vec<FixtureDefinition>,
}

/// A tenant entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureTenant {
    /// Id.
    pub id: TenantId,
    /// Name.
    pub name: String,
}

/// A grant entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureGrant {
    /// Path prefix.
    pub path: String,
    /// `read` or `read_write`.
    pub capability: Capability,
}

/// A user entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureUser {
    /// Id.
    pub id: UserId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Role.
    pub role: Role,
    /// Given name.
    #[serde(default)]
    pub first_name: String,
    /// Family name.
    #[serde(default)]
    pub last_name: String,
    /// API key in clear, as clients will send it. Loading stores only its SHA-256 digest
    /// (SEC-3); the fixture file itself is the operator's, not a file the server writes.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Grants.
    #[serde(default)]
    pub grants: Vec<FixtureGrant>,
}

/// A document version entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureVersion {
    /// Id (also its DOCUMENT_VERSION path-part id).
    pub id: PathPartId,
    /// Ingestion status.
    pub ingestion: Ingestion,
    /// Whether it is the active version.
    #[serde(default)]
    pub active: bool,
}

/// A path-part entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixturePart {
    /// Id.
    pub id: PathPartId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Kind.
    pub kind: PathPartKind,
    /// Name.
    pub name: String,
    /// Parent, or null for a root.
    #[serde(default)]
    pub parent_id: Option<PathPartId>,
    /// Versions of a DOCUMENT.
    #[serde(default)]
    pub versions: Vec<FixtureVersion>,
}

/// A definition entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureDefinition {
    /// Id.
    pub id: DefinitionId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Folder.
    pub parent_id: PathPartId,
    /// Name.
    pub name: String,
    /// Instruction DOCUMENT.
    #[serde(default)]
    pub instruction_id: Option<PathPartId>,
    /// Deadline.
    #[serde(default)]
    pub max_run_duration_seconds: Option<u32>,
    /// Approval.
    #[serde(default)]
    pub approval_required: bool,
    /// Active.
    #[serde(default = "yes")]
    pub is_active: bool,
    /// Template.
    #[serde(default)]
    pub is_template: bool,
    /// Common files.
    #[serde(default)]
    pub common_file_ids: Vec<PathPartId>,
    /// Skills.
    #[serde(default)]
    pub selected_skill_ids: Vec<Uuid>,
    /// Owner.
    pub owner_id: UserId,
}

fn yes() -> bool {
    true
}

impl<S: Store> Engine<S> {
    /// Load a fixture (FIX-1). Idempotent: a second load of the same file changes nothing.
    pub fn load_fixture(&self, f: &Fixture) -> Result<()> {
        for t in &f.tenants {
            self.put_tenant(Tenant {
                id: t.id,
                name: t.name.clone(),
            })?;
        }
        for u in &f.users {
            self.put_user(User {
                id: u.id,
                tenant_id: u.tenant_id,
                role: u.role,
                first_name: u.first_name.clone(),
                last_name: u.last_name.clone(),
                api_key: u.api_key.as_deref().map(crate::ApiKeyDigest::of),
                grants: u
                    .grants
                    .iter()
                    .map(|g| Grant {
                        path: g.path.clone(),
                        capability: g.capability,
                    })
                    .collect(),
            })?;
        }
        // Parents first, whatever the file's order.
        let mut left: Vec<&FixturePart> = f.path_parts.iter().collect();
        while !left.is_empty() {
            let before = left.len();
            let mut next = Vec::new();
            for p in left {
                let parent_ready = match p.parent_id {
                    None => true,
                    Some(pid) => self.store().path_part(p.tenant_id, pid)?.is_some(),
                };
                if !parent_ready {
                    next.push(p);
                    continue;
                }
                self.put_part(p.tenant_id, p.id, p.kind, &p.name, p.parent_id)?;
                for v in &p.versions {
                    self.put_version(p.tenant_id, p.id, v.id, v.ingestion, v.active)?;
                }
            }
            if next.len() == before {
                return Err(Error::invalid(
                    "path_parts",
                    format!("parent of {} not found", next[0].id),
                ));
            }
            left = next;
        }
        for d in &f.definitions {
            let owner = self
                .store()
                .user(d.tenant_id, d.owner_id)?
                .ok_or_else(|| Error::invalid("definitions.owner_id", "unknown user"))?;
            // The fixture's author acts as an admin of the tenant.
            let actor = Actor::new(d.tenant_id, owner.id, Role::Owner);
            self.create_definition(
                &actor,
                NewDefinition {
                    id: Some(d.id),
                    parent_id: d.parent_id,
                    name: d.name.clone(),
                    instruction_id: d.instruction_id,
                    max_run_duration_seconds: d.max_run_duration_seconds,
                    approval_required: d.approval_required,
                    is_active: d.is_active,
                    is_template: d.is_template,
                    common_file_ids: d.common_file_ids.clone(),
                    selected_skill_ids: d.selected_skill_ids.clone(),
                    create_empty_instruction: false,
                    ..NewDefinition::default()
                },
            )?;
        }
        Ok(())
    }
}
