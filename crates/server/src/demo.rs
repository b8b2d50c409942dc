//! The demo data that `--demo` seeds into an empty database: a Business workspace whose keys
//! show every state a key card can show (seven keys, leaving room under the limit of ten for
//! the app's demo integration and the keys a visitor makes), a Solo Pro workspace (no API access), a read-only
//! one, and employees, projects and time entries so every API endpoint returns real data.
//!
//! Seeded keys get random secrets that are thrown away at once: nobody can use them, which is
//! what a demo of other people's keys should be. The app's simulated integration makes its own
//! key through the API.

use keydeck_core::key::random_base62;
use keydeck_core::rules::RateLimit;
use keydeck_core::wire::{BillingStatus, Plan, Role, TimeEntry};
use keydeck_core::{KeySecret, Scope, ScopeSet};
use rand::{Rng, SeedableRng};

use crate::clock::Clock;
use crate::store::{Audit, day_of};
use crate::store::{NewKeyRow, PendingUsage, RequestMethod, RequestRecord, Store, StoreResult};

/// The accounts of the demo, for signing in.
#[derive(Debug, Clone)]
pub struct DemoAccounts {
    pub owner_email: String,
    pub admin_email: String,
    pub member_email: String,
    pub password: String,
    pub business_workspace: String,
    pub solo_workspace: String,
    pub read_only_workspace: String,
}

pub const DEMO_PASSWORD: &str = "keydeck-demo";
/// The demo's owner, who belongs to all three workspaces.
pub const OWNER_EMAIL: &str = "owner@example.com";
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

struct DemoKey {
    name: &'static str,
    scopes: &'static [Scope],
    age: i64,
    expires_days: Option<i64>,
    /// (ago, total requests over the last 14 days)
    used: Option<(i64, u64)>,
    enabled: bool,
    by_removed_admin: bool,
}

/// A session for the demo's owner, without a password: for an app that runs the demo server
/// in its own process (it owns the database anyway), so opening the demo costs no password
/// hashing. Fails when the database has no demo owner.
pub async fn owner_session(state: &crate::AppState) -> StoreResult<keydeck_core::wire::SessionCreated> {
    let owner = state.store.user_by_email(OWNER_EMAIL).await?;
    crate::routes::sessions::issue(state, owner).await
}

/// Seeds the demo into an empty database. Does nothing (and returns `None`) when any user
/// exists, so restarting with `--demo` keeps what was there.
pub async fn seed(store: &Store, clock: &Clock) -> StoreResult<Option<DemoAccounts>> {
    if store.user_for_sign_in("owner@example.com").await?.is_some() {
        return Ok(None);
    }
    let any_user: Option<String> =
        sqlx::query_scalar("SELECT id FROM users LIMIT 1").fetch_optional(store.reader()).await?;
    if any_user.is_some() {
        return Ok(None);
    }
    let now = clock.now_ms();
    let hash = crate::password::hash(DEMO_PASSWORD).map_err(|e| crate::store::StoreError::Conflict(e.to_string()))?;
    let id = |prefix: &str| format!("{prefix}_{}", random_base62(&mut rand::rng(), 16));
    let owner = match store.insert_user(&id("usr"), "owner@example.com", "Alex Morgan", &hash, now - 400 * DAY).await {
        // Another process, starting at the same moment on the same SQLite file, seeds it.
        // (On PostgreSQL the start-up lock keeps that from happening.)
        Err(crate::store::StoreError::Conflict(_)) => return Ok(None),
        other => other?,
    };
    let admin = store.insert_user(&id("usr"), "admin@example.com", "Priya Shah", &hash, now - 300 * DAY).await?;
    let member = store.insert_user(&id("usr"), "member@example.com", "Sam Lee", &hash, now - 200 * DAY).await?;
    let former = store.insert_user(&id("usr"), "jordan@example.com", "Jordan Blake", &hash, now - 350 * DAY).await?;

    let business = id("ws");
    store
        .insert_workspace(&business, "Harbor Design Co.", Plan::Business, &owner.id, &Audit::server(now - 400 * DAY))
        .await?;
    store.upsert_member(&business, &admin.id, Role::Admin, &Audit::server(now)).await?;
    store.upsert_member(&business, &member.id, Role::Member, &Audit::server(now)).await?;
    let solo = id("ws");
    store
        .insert_workspace(&solo, "Alex Morgan Studio", Plan::SoloPro, &owner.id, &Audit::server(now - 100 * DAY))
        .await?;
    let read_only = id("ws");
    store
        .insert_workspace(&read_only, "Cedar Bookkeeping", Plan::Team, &owner.id, &Audit::server(now - 500 * DAY))
        .await?;

    use Scope::*;
    let keys = [
        DemoKey {
            name: "Reporting dashboard",
            scopes: &[ReportsRead, ProjectsRead, EmployeesRead],
            age: 60 * DAY,
            expires_days: Some(365),
            used: Some((20 * 1000, 48_310)),
            enabled: true,
            by_removed_admin: false,
        },
        DemoKey {
            name: "Payroll export (new)",
            scopes: &[TimeEntriesRead, EmployeesRead],
            age: 2 * DAY,
            expires_days: Some(90),
            used: None,
            enabled: true,
            by_removed_admin: false,
        },
        DemoKey {
            name: "Old CRM sync",
            scopes: &[ProjectsRead, ProjectsWrite],
            age: 70 * DAY,
            expires_days: Some(180),
            used: Some((12 * DAY, 2_150)),
            enabled: false,
            by_removed_admin: false,
        },
        DemoKey {
            name: "Q3 audit export",
            scopes: &[TimeEntriesRead, ReportsRead],
            age: 40 * DAY,
            expires_days: Some(30),
            used: Some((15 * DAY, 96)),
            enabled: true,
            by_removed_admin: false,
        },
        DemoKey {
            name: "Finance sync",
            scopes: &[TimeEntriesRead, ProjectsRead, ReportsRead],
            age: 87 * DAY,
            expires_days: Some(90),
            used: Some((2 * HOUR, 6_420)),
            enabled: true,
            by_removed_admin: false,
        },
        DemoKey {
            name: "Legacy invoicing",
            scopes: &[TimeEntriesRead, ProjectsRead],
            age: 200 * DAY,
            expires_days: None,
            used: Some((26 * HOUR, 3_305)),
            enabled: true,
            by_removed_admin: false,
        },
        DemoKey {
            name: "Client portal",
            scopes: &[ProjectsRead, ReportsRead],
            age: 150 * DAY,
            expires_days: None,
            used: Some((9 * DAY, 712)),
            enabled: true,
            by_removed_admin: true,
        },
    ];
    let mut usage = Vec::new();
    for k in &keys {
        let secret = KeySecret::generate(&mut rand::rng());
        let created_at = now - k.age;
        let row = NewKeyRow {
            id: id("key"),
            workspace_id: business.clone(),
            name: k.name.to_owned(),
            secret_hash: secret.sha256(),
            prefix: secret.display_prefix().to_owned(),
            hint: secret.hint().to_owned(),
            scopes: k.scopes.iter().copied().collect::<ScopeSet>(),
            created_at,
            created_by: if k.by_removed_admin {
                former.id.clone()
            } else if k.age > 100 * DAY {
                owner.id.clone()
            } else {
                admin.id.clone()
            },
            expires_at: k.expires_days.map(|d| created_at + d * DAY),
            rate_limit: RateLimit::default(),
            replaces: None,
            allowed_ips: Default::default(),
            inherits_allowed_ips: false,
        };
        store.insert_keys(std::slice::from_ref(&row), Some(&Audit::server(now))).await?;
        if !k.enabled {
            store
                .update_key(
                    &business,
                    &row.id,
                    &keydeck_core::rules::KeyChanges { enabled: Some(false), ..Default::default() },
                    &Audit::server(now),
                )
                .await
                .map_err(|e| crate::store::StoreError::Conflict(e.to_string()))?;
        }
        if let Some((ago, total)) = k.used {
            usage.push((row.id.clone(), history(now - ago, total, k.scopes)));
        }
    }
    // Jordan made "Client portal" as an admin and has since left.
    store.upsert_member(&business, &former.id, Role::Admin, &Audit::server(now)).await?;
    store.delete_member(&business, &former.id, &Audit::server(now)).await?;
    store.flush_usage(&usage).await?;

    // The read-only workspace has one key, made before billing lapsed.
    let secret = KeySecret::generate(&mut rand::rng());
    store
        .insert_keys(
            &[NewKeyRow {
                id: id("key"),
                workspace_id: read_only.clone(),
                name: "Accounting export".to_owned(),
                secret_hash: secret.sha256(),
                prefix: secret.display_prefix().to_owned(),
                hint: secret.hint().to_owned(),
                scopes: [TimeEntriesRead, ReportsRead].into_iter().collect(),
                created_at: now - 120 * DAY,
                created_by: owner.id.clone(),
                expires_at: None,
                rate_limit: RateLimit::default(),
                replaces: None,
                allowed_ips: Default::default(),
                inherits_allowed_ips: false,
            }],
            Some(&Audit::server(now)),
        )
        .await?;
    store.set_billing(&read_only, BillingStatus::ReadOnly).await?;

    seed_time_tracking(
        store,
        &business,
        now,
        &["Mia Chen", "Noah Patel", "Olivia Brown", "Lucas Garcia", "Emma Wilson", "Ethan Kim"],
        &["Website redesign", "Brand refresh", "Mobile app", "Internal"],
    )
    .await?;
    seed_time_tracking(store, &read_only, now, &["Ruth Adler", "Tom Becker"], &["Year-end close", "Payroll"]).await?;
    seed_time_tracking(store, &solo, now, &["Alex Morgan"], &["Client work"]).await?;

    Ok(Some(DemoAccounts {
        owner_email: owner.email,
        admin_email: admin.email,
        member_email: member.email,
        password: DEMO_PASSWORD.to_owned(),
        business_workspace: business,
        solo_workspace: solo,
        read_only_workspace: read_only,
    }))
}

/// Fourteen days of requests ending at `last_used`, and the most recent of them.
fn history(last_used: i64, total: u64, scopes: &[Scope]) -> PendingUsage {
    let mut rng = rand::rng();
    let mut usage = PendingUsage { count: total, last_used_at: last_used, ..Default::default() };
    let last_day = day_of(last_used);
    let weights: Vec<u64> = (0..14).map(|_| rng.random_range(50..150)).collect();
    let sum: u64 = weights.iter().sum();
    let mut left = total;
    for (i, w) in weights.iter().enumerate() {
        let n = if i == 13 { left } else { (total * w / sum).min(left) };
        left -= n;
        usage.days.insert(last_day - 13 + i as i64, n);
    }
    let paths: Vec<&str> = scopes
        .iter()
        .map(|s| match s {
            Scope::TimeEntriesRead | Scope::TimeEntriesWrite => "/api/v1/time-entries",
            Scope::EmployeesRead => "/api/v1/employees",
            Scope::ReportsRead => "/api/v1/reports/summary",
            Scope::ProjectsRead | Scope::ProjectsWrite => "/api/v1/projects",
        })
        .collect();
    let recent = total.min(25);
    for i in (0..recent).rev() {
        let limited = i % 11 == 7;
        let request = RequestRecord {
            at: last_used - i as i64 * rng.random_range(30_000..600_000),
            method: RequestMethod::Get,
            path: paths[i as usize % paths.len()].into(),
            status: if limited { 429 } else { 200 },
            error: limited.then_some(keydeck_core::ErrorCode::RateLimitExceeded),
            ip: Some(std::net::IpAddr::from([203, 0, 113, 10 + (i % 3) as u8])),
        };
        usage.note_outcome(&request);
        usage.recent.push_back(request);
    }
    usage
}

async fn seed_time_tracking(store: &Store, ws: &str, now: i64, people: &[&str], projects: &[&str]) -> StoreResult<()> {
    // A Send generator: this future is awaited inside the app's commands.
    let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
    let mut employee_ids = Vec::new();
    for (i, name) in people.iter().enumerate() {
        let id = format!("emp_{}", random_base62(&mut rng, 16));
        let email = format!("{}@example.com", name.to_lowercase().replace(' ', "."));
        let clocked_in = (i % 2 == 0).then(|| now - rng.random_range(1..6) * HOUR);
        store.insert_employee(&id, ws, name, &email, clocked_in).await?;
        employee_ids.push(id);
    }
    let mut project_ids = Vec::new();
    for (i, name) in projects.iter().enumerate() {
        let id = format!("prj_{}", random_base62(&mut rng, 16));
        let new = keydeck_core::wire::NewProject {
            name: (*name).to_owned(),
            client: (i % 2 == 0).then(|| "Northwind Traders".to_owned()),
            budget_hours: Some(80.0 * (i as f64 + 1.0)),
        };
        store.insert_project_unchecked(&id, ws, &new, now - 90 * DAY).await?;
        project_ids.push(id);
    }
    let today = day_of(now);
    let mut entries = Vec::new();
    for day in (today - 13)..=today {
        for (e, employee) in employee_ids.iter().enumerate() {
            if (day + e as i64) % 7 == 0 {
                continue;
            }
            let start = day * DAY + 8 * HOUR + rng.random_range(0..90) * MINUTE;
            if start > now {
                continue;
            }
            let end = start + rng.random_range(3 * 60..8 * 60) * MINUTE;
            let running = day == today && end > now;
            entries.push(TimeEntry {
                id: format!("te_{}", random_base62(&mut rng, 16)),
                employee_id: employee.clone(),
                project_id: Some(project_ids[rng.random_range(0..project_ids.len())].clone()),
                start: crate::store::to_time(start),
                end: (!running).then(|| crate::store::to_time(end)),
                note: None,
            });
        }
    }
    store.insert_time_entries_unchecked(ws, &entries, now).await
}
