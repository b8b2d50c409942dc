//! The project file, `.keydeck.toml`, found in the current directory or the nearest one above
//! it: which workspace a project uses and which keys go into which environment variables, so
//! that `kdk run -- npm start` needs no flags.
//!
//! ```toml
//! workspace = "ws_3kT9..."          # optional: else the workspace used last
//! TIMESHEET_API_KEY = "Reporting dashboard"
//! ZAPIER_KEY = "Zapier"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = ".keydeck.toml";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    /// Where it was read from.
    pub path: PathBuf,
    pub workspace: Option<String>,
    /// Variable name → key name.
    pub env: BTreeMap<String, String>,
}

/// Whether `name` can be an environment variable's name everywhere (letters, digits and `_`,
/// not starting with a digit).
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variable a key is put in when none is named: its name in capitals, with `_` for
/// anything but letters and digits ("Reporting dashboard (EU)" → `REPORTING_DASHBOARD_EU`).
pub fn variable_for(key_name: &str) -> String {
    let mut out = String::new();
    for c in key_name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_owned();
    if out.starts_with(|c: char| c.is_ascii_digit()) { format!("_{out}") } else { out }
}

/// The nearest project file at or above `dir`, parsed; `Ok(None)` when there is none.
pub fn find(dir: &Path) -> Result<Option<Project>, String> {
    for d in dir.ancestors() {
        let path = d.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => return parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("Could not read {}: {e}", path.display())),
        }
    }
    Ok(None)
}

fn parse(text: &str, path: PathBuf) -> Result<Project, String> {
    let where_ = path.display().to_string();
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| format!("{where_} is not valid TOML: {}", e.message()))?;
    let mut project = Project { path, ..Project::default() };
    for (name, value) in table {
        let Some(text) = value.as_str() else {
            return Err(format!(
                "{where_}: `{name}` must be text in quotes, such as {name} = \"Reporting dashboard\"."
            ));
        };
        if name == "workspace" {
            project.workspace = Some(text.to_owned());
        } else if is_variable_name(&name) {
            project.env.insert(name, text.to_owned());
        } else {
            return Err(format!(
                "{where_}: `{name}` cannot be an environment variable's name: use letters, digits and _, such as TIMESHEET_API_KEY."
            ));
        }
    }
    Ok(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_file_above_is_found_and_read() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("app/src/bin");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(
            root.path().join("app").join(FILE_NAME),
            "workspace = \"ws_1\"\nTIMESHEET_API_KEY = \"Reporting dashboard\"\n",
        )
        .unwrap();
        let p = find(&deep).unwrap().unwrap();
        assert_eq!(p.path, root.path().join("app").join(FILE_NAME));
        assert_eq!(p.workspace.as_deref(), Some("ws_1"));
        assert_eq!(p.env.get("TIMESHEET_API_KEY").map(String::as_str), Some("Reporting dashboard"));
        assert_eq!(find(root.path()).unwrap(), None);
    }

    #[test]
    fn a_bad_file_is_named_with_what_to_change() {
        let e = parse("PORT = 8080", PathBuf::from("/p/.keydeck.toml")).unwrap_err();
        assert!(e.contains("/p/.keydeck.toml") && e.contains("PORT") && e.contains("in quotes"), "{e}");
        let e = parse("my-key = \"x\"", PathBuf::from("f")).unwrap_err();
        assert!(e.contains("my-key") && e.contains("TIMESHEET_API_KEY"), "{e}");
        let e = parse("KEY = ", PathBuf::from("f")).unwrap_err();
        assert!(e.contains("not valid TOML"), "{e}");
    }

    #[test]
    fn a_key_name_becomes_a_variable_name() {
        assert_eq!(variable_for("Reporting dashboard (EU)"), "REPORTING_DASHBOARD_EU");
        assert_eq!(variable_for("Timesheet sync (demo integration)"), "TIMESHEET_SYNC_DEMO_INTEGRATION");
        assert_eq!(variable_for("2024 export"), "_2024_EXPORT");
        assert!(is_variable_name(&variable_for("Zapier — café")));
    }
}
