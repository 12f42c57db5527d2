//! The permission policy (VIS-1, VIS-2 and each operation's rule) and shared validation. Pure.

use crate::error::{Error, Result};
use crate::model::{Actor, Capability, Definition, Grant, Run};

/// The materialized path of a child named `name` under `parent_path`.
pub fn child_path(parent_path: &str, name: &str) -> String {
    let mut p = String::with_capacity(parent_path.len() + 1 + name.len());
    p.push_str(parent_path.trim_end_matches('/'));
    p.push('/');
    p.push_str(name);
    p
}

/// Whether the grant prefix `prefix` covers `path` (`/shared/eng` covers `/shared/eng/x/y` but not
/// `/shared/engineering`).
pub fn path_covers(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return true;
    }
    path == prefix || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// The strongest capability the grants give on `path`, if any.
pub fn capability_on(grants: &[Grant], path: &str) -> Option<Capability> {
    grants
        .iter()
        .filter(|g| path_covers(&g.path, path))
        .map(|g| g.capability)
        .max_by_key(|c| matches!(c, Capability::ReadWrite))
}

/// What an actor may do with one run, computed once per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunAccess {
    /// VIS-1.
    pub read: bool,
    /// Triggerer or OWNER/ADMIN: update, start, stop, retry, delete, callback.
    pub manage: bool,
    /// APPROVE-5: write access to the run folder and not assumed.
    pub approve: bool,
}

/// The access of `actor` (holding `grants`) to `run` of `def`.
pub fn run_access(actor: &Actor, grants: &[Grant], run: &Run, def: &Definition) -> RunAccess {
    if actor.tenant_id != run.tenant_id {
        return RunAccess {
            read: false,
            manage: false,
            approve: false,
        };
    }
    let admin = actor.role.is_admin();
    let triggerer = actor.user_id == run.triggered_by;
    let grant = if admin {
        Some(Capability::ReadWrite)
    } else {
        capability_on(grants, &def.path)
    };
    let folder_write =
        admin || capability_on(grants, &run.folders.path) == Some(Capability::ReadWrite);
    RunAccess {
        read: admin || triggerer || grant.is_some(),
        manage: admin || triggerer,
        approve: folder_write && !actor.assumed,
    }
}

/// Whether `actor` can read a knowledge-base node at `path` of `tenant`.
pub fn can_read_path(actor: &Actor, grants: &[Grant], tenant: crate::TenantId, path: &str) -> bool {
    actor.tenant_id == tenant && (actor.role.is_admin() || capability_on(grants, path).is_some())
}

/// The runs `actor` may approve (APPROVE-5: write access to the run folder, never assumed),
/// among runs of `definitions`, for `approvable_by_me` (LIST-2): `None` means every run
/// (OWNER/ADMIN). A read-write grant covering a definition's `runs/` folder covers all its runs;
/// one on a single run folder (`<definition>/runs/<name>`) covers that run.
pub fn approvable_runs(
    actor: &Actor,
    grants: &[Grant],
    definitions: &[Definition],
) -> Option<crate::store::RunSet> {
    let mut set = crate::store::RunSet::default();
    if actor.assumed {
        return Some(set);
    }
    if actor.role.is_admin() {
        return None;
    }
    let writable: Vec<&Grant> = grants
        .iter()
        .filter(|g| g.capability == Capability::ReadWrite)
        .collect();
    for d in definitions
        .iter()
        .filter(|d| d.tenant_id == actor.tenant_id)
    {
        let runs = child_path(&d.path, "runs");
        for g in &writable {
            let path = g.path.trim_end_matches('/');
            if path_covers(path, &runs) {
                set.definitions.push(d.id);
                break;
            }
            if let Some((parent, name)) = path.rsplit_once('/') {
                if parent == runs {
                    set.runs.push((d.id, name.to_owned()));
                }
            }
        }
    }
    Some(set)
}

/// Whether `actor` can write a knowledge-base node at `path` of `tenant`.
pub fn can_write_path(
    actor: &Actor,
    grants: &[Grant],
    tenant: crate::TenantId,
    path: &str,
) -> bool {
    actor.tenant_id == tenant
        && (actor.role.is_admin() || capability_on(grants, path) == Some(Capability::ReadWrite))
}

/// VIS-1 for a run: `not_found` unless readable; the caller checks the operation's own rule next
/// (VIS-2: permission before state).
pub fn require_read(access: RunAccess, run: &Run) -> Result<()> {
    if access.read {
        Ok(())
    } else {
        Err(Error::not_found("workflow run", run.id))
    }
}

/// "Triggerer or admin" (UPDATE-2, START-5, STOP-4, CB-6, RETRY-3, DELETE-2).
pub fn require_manage(access: RunAccess, run: &Run, op: &str) -> Result<()> {
    require_read(access, run)?;
    if access.manage {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "only the triggerer or an admin may {op} this run"
        )))
    }
}

/// Maximum length of a run name (CREATE-4).
pub const MAX_NAME_LEN: usize = 255;
/// Maximum length of a user message (CREATE-7, START-7).
pub const MAX_USER_MESSAGE_LEN: usize = 4000;
/// Maximum length of a callback error (CB-1).
pub const MAX_ERROR_LEN: usize = 8192;
/// Maximum length of an approval reason (APPROVE-1).
pub const MAX_REASON_LEN: usize = 2048;
/// Maximum number of input-scope entries (UPDATE-5).
pub const MAX_INPUT_SCOPE: usize = 200;

/// The character rule of [`validate_name`] as an ECMA-262 regular expression (what OpenAPI and
/// JSON Schema `pattern` use): at least one character, none of them `/` or a control character
/// (`char::is_control`: U+0000..=U+001F and U+007F..=U+009F). The length limit is separate
/// ([`MAX_NAME_LEN`] characters, a schema's `maxLength`).
pub const NAME_PATTERN: &str = r"^[^/\u0000-\u001F\u007F-\u009F]+$";

/// CREATE-4: 1..=255 characters, no `/`, no control characters.
pub fn validate_name(field: &str, name: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_LEN {
        return Err(Error::invalid(
            field,
            format!("must be 1..={MAX_NAME_LEN} characters"),
        ));
    }
    if name.contains('/') {
        return Err(Error::invalid(field, "must not contain '/'"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// A text field of at most `max` characters.
pub fn validate_len(field: &str, value: Option<&str>, max: usize) -> Result<()> {
    match value {
        Some(v) if v.chars().count() > max => Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn grant_prefix_covers_descendants_only() {
        assert!(path_covers("/shared/eng", "/shared/eng"));
        assert!(path_covers("/shared/eng", "/shared/eng/x/y"));
        assert!(path_covers("/shared/eng/", "/shared/eng/x"));
        assert!(!path_covers("/shared/eng", "/shared/engineering"));
        assert!(!path_covers("/shared/eng", "/shared"));
        assert!(path_covers("/", "/anything"));
    }

    #[test]
    fn read_write_beats_read() {
        let g = vec![
            Grant {
                path: "/a".into(),
                capability: Capability::Read,
            },
            Grant {
                path: "/a/b".into(),
                capability: Capability::ReadWrite,
            },
        ];
        assert_eq!(capability_on(&g, "/a/b/c"), Some(Capability::ReadWrite));
        assert_eq!(capability_on(&g, "/a/c"), Some(Capability::Read));
        assert_eq!(capability_on(&g, "/z"), None);
    }

    /// CREATE-4: names are 1..=255 chars, no slash, no control characters.
    #[test]
    fn create_4_name_rules() {
        assert!(validate_name("name", "ok name").is_ok());
        assert!(validate_name("name", &"x".repeat(255)).is_ok());
        assert!(validate_name("name", &"é".repeat(255)).is_ok());
        assert!(
            validate_name("name", "..").is_ok(),
            "SPEC forbids only '/' and control chars"
        );
        for bad in ["", "a/b", "a\nb", "\u{7f}", "\u{85}"] {
            assert_eq!(
                validate_name("name", bad).map_err(|e| e.code()),
                Err(crate::ErrorCode::UnprocessableEntity),
                "{bad:?}"
            );
        }
        assert!(validate_name("name", &"x".repeat(256)).is_err());
    }

    /// The excluded characters of [`NAME_PATTERN`]'s class `^[^...]+$`: literal characters,
    /// `\uXXXX` escapes and `a-b` ranges (all the pattern uses).
    fn pattern_excludes(pattern: &str) -> Vec<(char, char)> {
        let class = pattern
            .strip_prefix("^[^")
            .and_then(|p| p.strip_suffix("]+$"))
            .expect("NAME_PATTERN is ^[^...]+$");
        let mut chars = Vec::new();
        let mut it = class.chars();
        while let Some(c) = it.next() {
            let c = if c == '\\' {
                assert_eq!(it.next(), Some('u'), "only \\uXXXX escapes are used");
                let hex: String = it.by_ref().take(4).collect();
                char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap()
            } else {
                c
            };
            chars.push(c);
        }
        // Fold `a - b` triples into ranges (a '-' between two characters).
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if i + 2 < chars.len() && chars[i + 1] == '-' {
                ranges.push((chars[i], chars[i + 2]));
                i += 3;
            } else {
                ranges.push((chars[i], chars[i]));
                i += 1;
            }
        }
        ranges
    }

    #[test]
    fn name_pattern_agrees_with_validate_name() {
        let excluded = pattern_excludes(NAME_PATTERN);
        // Every character: a one-character name is valid iff the pattern's class admits it.
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let by_pattern = !excluded.iter().any(|&(a, b)| (a..=b).contains(&c));
            assert_eq!(
                validate_name("name", &c.to_string()).is_ok(),
                by_pattern,
                "U+{:04X}",
                c as u32
            );
        }
        // `+`: the empty name matches neither.
        assert!(validate_name("name", "").is_err());
    }
}
