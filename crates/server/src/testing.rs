//! For other crates' tests (feature `test-support`): a real workspace server on 127.0.0.1 over
//! a temporary database, with one owner and two Team workspaces, "Studio" and "Other".

use crate::{Clock, RunningServer, ServerConfig, admin};
use keydeck_core::wire::Plan;

pub const OWNER_EMAIL: &str = "ana@example.com";
pub const OWNER_PASSWORD: &str = "correct horse battery";

pub struct StudioServer {
    pub server: RunningServer,
    pub url: String,
    /// The workspace ids.
    pub studio: String,
    pub other: String,
    /// The database's directory, removed when dropped.
    pub db: tempfile::TempDir,
}

impl StudioServer {
    pub async fn start() -> StudioServer {
        let db = tempfile::tempdir().expect("a temporary directory");
        let config = ServerConfig::new(db.path().join("k.db"), ([127, 0, 0, 1], 0).into());
        let server = crate::start(config, Clock::default()).await.expect("the server starts");
        let (store, clock) = (&server.state.store, Clock::default());
        admin::create_user(store, &clock, OWNER_EMAIL, OWNER_PASSWORD, "Ana").await.expect("the owner");
        let studio = admin::create_workspace(store, &clock, "Studio", Plan::Team, OWNER_EMAIL).await.expect("Studio");
        let other = admin::create_workspace(store, &clock, "Other", Plan::Team, OWNER_EMAIL).await.expect("Other");
        StudioServer { url: server.url(), server, studio, other, db }
    }
}
