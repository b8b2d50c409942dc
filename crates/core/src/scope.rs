//! Permission scopes: what a key may read or write. Kept as a small bit set on the hot path.

use serde::{Deserialize, Serialize};

/// One permission a key can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    #[serde(rename = "time_entries:read")]
    TimeEntriesRead,
    #[serde(rename = "time_entries:write")]
    TimeEntriesWrite,
    #[serde(rename = "employees:read")]
    EmployeesRead,
    #[serde(rename = "reports:read")]
    ReportsRead,
    #[serde(rename = "projects:read")]
    ProjectsRead,
    #[serde(rename = "projects:write")]
    ProjectsWrite,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::TimeEntriesRead,
        Scope::TimeEntriesWrite,
        Scope::EmployeesRead,
        Scope::ReportsRead,
        Scope::ProjectsRead,
        Scope::ProjectsWrite,
    ];

    /// The wire name, e.g. `time_entries:read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TimeEntriesRead => "time_entries:read",
            Scope::TimeEntriesWrite => "time_entries:write",
            Scope::EmployeesRead => "employees:read",
            Scope::ReportsRead => "reports:read",
            Scope::ProjectsRead => "projects:read",
            Scope::ProjectsWrite => "projects:write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// The scope's name as screens and `kdk` show it: "Read time entries".
    pub fn label(self) -> &'static str {
        match self {
            Scope::TimeEntriesRead => "Read time entries",
            Scope::TimeEntriesWrite => "Create time entries",
            Scope::EmployeesRead => "Read people",
            Scope::ReportsRead => "Read reports",
            Scope::ProjectsRead => "Read projects",
            Scope::ProjectsWrite => "Create projects",
        }
    }

    /// What the scope lets a key do, in a sentence.
    pub fn explanation(self) -> &'static str {
        match self {
            Scope::TimeEntriesRead => "See time entries and who is clocked in.",
            Scope::TimeEntriesWrite => "Add new time entries.",
            Scope::EmployeesRead => "See employee names and profiles.",
            Scope::ReportsRead => "See summary reports.",
            Scope::ProjectsRead => "See projects.",
            Scope::ProjectsWrite => "Add new projects.",
        }
    }

    /// A short phrase for people: "read time entries".
    pub fn describe(self) -> &'static str {
        match self {
            Scope::TimeEntriesRead => "read time entries and clock status",
            Scope::TimeEntriesWrite => "create time entries",
            Scope::EmployeesRead => "read employee profiles",
            Scope::ReportsRead => "read reports",
            Scope::ProjectsRead => "read projects",
            Scope::ProjectsWrite => "create projects",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of scopes, ordered as [`Scope::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopeSet(u8);

impl ScopeSet {
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    pub fn to_vec(self) -> Vec<Scope> {
        self.iter().collect()
    }

    /// Space-separated wire names: how scopes are stored.
    pub fn to_storage(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }

    /// Reads [`ScopeSet::to_storage`]; unknown words are dropped.
    pub fn from_storage(s: &str) -> ScopeSet {
        s.split_whitespace().filter_map(Scope::parse).collect()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::default();
        for scope in iter {
            set.insert(scope);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_serde_and_storage() {
        for scope in Scope::ALL {
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        let set: ScopeSet = [Scope::ProjectsWrite, Scope::TimeEntriesRead].into_iter().collect();
        assert_eq!(set.to_storage(), "time_entries:read projects:write");
        assert_eq!(ScopeSet::from_storage(&set.to_storage()), set);
        assert!(!set.contains(Scope::ReportsRead));
    }
}
