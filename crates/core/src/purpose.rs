//! Purpose presets: what a key is for decides its least-privilege scopes and its expiry.

use serde::{Deserialize, Serialize};

use crate::rules::ExpiresInDays;
use crate::scope::Scope;

/// What a new key is for. The app offers these when generating a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Zapier,
    ReportingDashboard,
    FinanceSync,
    DataExport,
    Custom,
}

impl Purpose {
    pub const ALL: [Purpose; 5] =
        [Purpose::Zapier, Purpose::ReportingDashboard, Purpose::FinanceSync, Purpose::DataExport, Purpose::Custom];

    /// The fewest scopes that serve the purpose.
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            // Zapier triggers on new time entries and creates them; it names people and projects.
            Purpose::Zapier => {
                &[Scope::TimeEntriesRead, Scope::TimeEntriesWrite, Scope::EmployeesRead, Scope::ProjectsRead]
            }
            Purpose::ReportingDashboard => &[Scope::ReportsRead, Scope::ProjectsRead, Scope::EmployeesRead],
            Purpose::FinanceSync => &[Scope::TimeEntriesRead, Scope::ProjectsRead, Scope::ReportsRead],
            Purpose::DataExport => {
                &[Scope::TimeEntriesRead, Scope::EmployeesRead, Scope::ProjectsRead, Scope::ReportsRead]
            }
            Purpose::Custom => &[Scope::TimeEntriesRead],
        }
    }

    /// The suggested expiry: long-running integrations get half a year, one-off exports a week.
    pub fn expires_in_days(self) -> Option<ExpiresInDays> {
        let days = match self {
            Purpose::Zapier => 180,
            Purpose::ReportingDashboard | Purpose::FinanceSync | Purpose::Custom => 90,
            Purpose::DataExport => 7,
        };
        ExpiresInDays::new(days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_has_scopes_and_a_valid_expiry() {
        for p in Purpose::ALL {
            assert!(!p.scopes().is_empty());
            assert!(p.expires_in_days().is_some());
        }
        assert!(
            !Purpose::ReportingDashboard
                .scopes()
                .iter()
                .any(|s| matches!(s, Scope::TimeEntriesWrite | Scope::ProjectsWrite))
        );
    }
}
