//! The time-tracking data that keys give access to: employees, projects, time entries, reports.
//! Writes made with a key check the workspace's billing status in the same statement, so
//! `set-billing read_only` holds from the very next request, whichever process set it.

use keydeck_core::wire::{Employee, NewProject, Project, ReportLine, TimeEntry};
use sqlx::Row;

use super::processes::{Affects, bump_generation};
use super::{Statement, Store, StoreResult, to_time};

/// The workspace (the statement's parameter `$n`) is active.
fn active(n: usize) -> String {
    format!("EXISTS (SELECT 1 FROM workspaces WHERE id = ${n} AND billing_status = 'active')")
}

/// Which time entries to list.
#[derive(Debug, Clone, Default)]
pub struct TimeEntryFilter {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub employee_id: Option<String>,
    pub limit: u32,
}

fn time_entry(r: &sqlx::any::AnyRow) -> TimeEntry {
    TimeEntry {
        id: r.get("id"),
        employee_id: r.get("employee_id"),
        project_id: r.get("project_id"),
        start: to_time(r.get("start_at")),
        end: r.get::<Option<i64>, _>("end_at").map(to_time),
        note: r.get("note"),
    }
}

fn project(r: &sqlx::any::AnyRow) -> Project {
    Project {
        id: r.get("id"),
        name: r.get("name"),
        client: r.get("client"),
        budget_hours: r.get("budget_hours"),
        created_at: to_time(r.get("created_at")),
    }
}

impl Store {
    pub async fn employees(&self, workspace_id: &str) -> StoreResult<Vec<Employee>> {
        let rows = sqlx::query(
            "SELECT id, name, email, clocked_in_since FROM employees WHERE workspace_id = $1 ORDER BY name, id",
        )
        .bind(workspace_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let since: Option<i64> = r.get("clocked_in_since");
                Employee {
                    id: r.get("id"),
                    name: r.get("name"),
                    email: r.get("email"),
                    clocked_in: since.is_some(),
                    clocked_in_since: since.map(to_time),
                }
            })
            .collect())
    }

    pub async fn insert_employee(
        &self,
        id: &str,
        workspace_id: &str,
        name: &str,
        email: &str,
        clocked_in_since: Option<i64>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO employees (id, workspace_id, name, email, clocked_in_since) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(workspace_id)
        .bind(name)
        .bind(email)
        .bind(clocked_in_since)
        .execute(&self.writer)
        .await?;
        self.count_writes(1);
        Ok(())
    }

    pub async fn projects(&self, workspace_id: &str) -> StoreResult<Vec<Project>> {
        let rows = sqlx::query(
            "SELECT id, name, client, budget_hours, created_at FROM projects WHERE workspace_id = $1 ORDER BY name, id",
        )
        .bind(workspace_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(project).collect())
    }

    /// Stores a project unless the workspace is read-only (then `None`). Returns it with the
    /// change generation: nodes keep each workspace's project list in memory.
    pub async fn insert_project(
        &self,
        id: &str,
        workspace_id: &str,
        p: &NewProject,
        now: i64,
    ) -> StoreResult<Option<(Project, i64)>> {
        let mut tx = self.begin_write("workspace", workspace_id).await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO projects (id, workspace_id, name, client, budget_hours, created_at) SELECT $1, $2, $3, $4, $5, $6 WHERE {}",
            active(7)
        ))
        .bind(id)
        .bind(workspace_id)
        .bind(p.name.trim())
        .bind(p.client.as_deref().map(str::trim))
        .bind(p.budget_hours)
        .bind(now)
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(None);
        }
        let generation = bump_generation(&mut tx, Affects::Projects).await?;
        tx.commit().await?;
        self.count_writes(2);
        let project = Project {
            id: id.to_owned(),
            name: p.name.trim().to_owned(),
            client: p.client.as_deref().map(|c| c.trim().to_owned()),
            budget_hours: p.budget_hours,
            created_at: to_time(now),
        };
        Ok(Some((project, generation)))
    }

    pub async fn time_entries(&self, workspace_id: &str, filter: &TimeEntryFilter) -> StoreResult<Vec<TimeEntry>> {
        let rows = sqlx::query(
            "SELECT id, employee_id, project_id, start_at, end_at, note FROM time_entries
             WHERE workspace_id = $1 AND ($2 IS NULL OR start_at >= $3) AND ($4 IS NULL OR start_at < $5)
               AND ($6 IS NULL OR employee_id = $7)
             ORDER BY start_at DESC, id LIMIT $8",
        )
        .bind(workspace_id)
        .bind(filter.from)
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.to)
        .bind(&filter.employee_id)
        .bind(&filter.employee_id)
        .bind(i64::from(filter.limit))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(time_entry).collect())
    }

    pub async fn time_entry(&self, workspace_id: &str, id: &str) -> StoreResult<Option<TimeEntry>> {
        let row = sqlx::query("SELECT id, employee_id, project_id, start_at, end_at, note FROM time_entries WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&self.writer)
            .await?;
        Ok(row.as_ref().map(time_entry))
    }

    /// Whether an employee and (if given) a project belong to the workspace.
    pub async fn entry_refs_exist(
        &self,
        workspace_id: &str,
        employee_id: &str,
        project_id: Option<&str>,
    ) -> StoreResult<(bool, bool)> {
        let row = sqlx::query(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM employees WHERE workspace_id = $1 AND id = $2) THEN 1 ELSE 0 END AS e,
                    CASE WHEN $3 IS NULL OR EXISTS (SELECT 1 FROM projects WHERE workspace_id = $4 AND id = $5) THEN 1 ELSE 0 END AS p",
        )
        .bind(workspace_id)
        .bind(employee_id)
        .bind(project_id)
        .bind(workspace_id)
        .bind(project_id)
        .fetch_one(&self.reader)
        .await?;
        Ok((row.get::<i64, _>("e") != 0, row.get::<i64, _>("p") != 0))
    }

    /// Stores a time entry unless the workspace is read-only (then false).
    pub async fn insert_time_entry(&self, workspace_id: &str, entry: &TimeEntry, now: i64) -> StoreResult<bool> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO time_entries (id, workspace_id, employee_id, project_id, start_at, end_at, note, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE {}",
            active(9)
        ))
        .bind(&entry.id)
        .bind(workspace_id)
        .bind(&entry.employee_id)
        .bind(&entry.project_id)
        .bind(entry.start.timestamp_millis())
        .bind(entry.end.map(|e| e.timestamp_millis()))
        .bind(&entry.note)
        .bind(now)
        .bind(workspace_id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        self.count_writes(1);
        Ok(inserted > 0)
    }

    /// Minutes of finished entries starting in `[from, to)`, by project and by employee.
    pub async fn report(
        &self,
        workspace_id: &str,
        from: i64,
        to: i64,
    ) -> StoreResult<(Vec<ReportLine>, Vec<ReportLine>)> {
        let by_project = sqlx::query(
            "SELECT t.project_id AS id, COALESCE(p.name, 'No project') AS name, CAST(SUM(t.end_at - t.start_at) AS BIGINT) / 60000 AS minutes
             FROM time_entries t LEFT JOIN projects p ON p.id = t.project_id
             WHERE t.workspace_id = $1 AND t.end_at IS NOT NULL AND t.start_at >= $2 AND t.start_at < $3
             GROUP BY t.project_id, p.name ORDER BY minutes DESC, name",
        )
        .bind(workspace_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.reader)
        .await?;
        let by_employee = sqlx::query(
            "SELECT t.employee_id AS id, e.name AS name, CAST(SUM(t.end_at - t.start_at) AS BIGINT) / 60000 AS minutes
             FROM time_entries t JOIN employees e ON e.id = t.employee_id
             WHERE t.workspace_id = $1 AND t.end_at IS NOT NULL AND t.start_at >= $2 AND t.start_at < $3
             GROUP BY t.employee_id, e.name ORDER BY minutes DESC, name",
        )
        .bind(workspace_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.reader)
        .await?;
        let line = |r: &sqlx::any::AnyRow| ReportLine {
            id: r.get("id"),
            name: r.get("name"),
            minutes: u64::try_from(r.get::<i64, _>("minutes")).unwrap_or(0),
        };
        Ok((by_project.iter().map(line).collect(), by_employee.iter().map(line).collect()))
    }

    /// Stores a project whatever the billing status: for the demo seed.
    pub async fn insert_project_unchecked(
        &self,
        id: &str,
        workspace_id: &str,
        p: &NewProject,
        created_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO projects (id, workspace_id, name, client, budget_hours, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(workspace_id)
        .bind(&p.name)
        .bind(&p.client)
        .bind(p.budget_hours)
        .bind(created_at)
        .execute(&self.writer)
        .await?;
        self.count_writes(1);
        Ok(())
    }

    /// Stores many time entries whatever the billing status: for the demo seed.
    pub async fn insert_time_entries_unchecked(
        &self,
        workspace_id: &str,
        entries: &[TimeEntry],
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write("workspace", workspace_id).await?;
        for chunk in entries.chunks(500) {
            let mut insert = Statement::new(
                self.engine,
                "INSERT INTO time_entries (id, workspace_id, employee_id, project_id, start_at, end_at, note, created_at) VALUES ",
            );
            insert.values(chunk, |b, e| {
                b.bind(e.id.clone())
                    .bind(workspace_id.to_owned())
                    .bind(e.employee_id.clone())
                    .bind(e.project_id.clone())
                    .bind(e.start.timestamp_millis())
                    .bind(e.end.map(|t| t.timestamp_millis()))
                    .bind(e.note.clone())
                    .bind(now);
            });
            insert.execute(&mut *tx).await?;
            self.count_writes(1);
        }
        tx.commit().await?;
        Ok(())
    }
}
