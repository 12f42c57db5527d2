//! Typed identifiers. Every id is a UUID on the wire; the newtypes keep a run id from being
//! passed where a tenant id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The underlying UUID.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// An organisation; nothing crosses tenants.
    TenantId
);
id_type!(
    /// A user of one tenant.
    UserId
);
id_type!(
    /// A node of the knowledge-base tree (folder, document, version, run folder, ...).
    PathPartId
);
id_type!(
    /// A workflow definition. Equal to the id of its `WORKFLOW_DEFINITION` path part.
    DefinitionId
);
id_type!(
    /// A workflow run. Equal to the id of its `WORKFLOW_RUN` path part (the run folder).
    RunId
);

impl From<RunId> for PathPartId {
    fn from(r: RunId) -> Self {
        PathPartId(r.0)
    }
}

impl From<DefinitionId> for PathPartId {
    fn from(d: DefinitionId) -> Self {
        PathPartId(d.0)
    }
}
