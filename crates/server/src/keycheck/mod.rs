//! The key check in front of every route of the time-tracking API, in three parts:
//!
//! - [`middleware`]: reads the headers, asks the other two parts, and builds the answers;
//! - [`cache`]: what the database said about each key, and whether a key may be used;
//! - [`rate`] and [`usage`]: the rate limiter and the usage log, plain types. The part of rate
//!   limiting that crosses nodes is the [`rate::Budget`] trait: in memory on SQLite, a row per
//!   window on PostgreSQL.
//!
//! A request with a cached key touches no database: the cache answers (behind a lease that a
//! node keeps only while it keeps up with changes, see `leased`), the rate limiter
//! counts in memory until the node's share of a window runs out, and usage is written by the
//! flusher once a second for all keys at once. Those are the optimisations the benchmark
//! (`make bench`, figures 1, 3 and 5) shows to matter: a database read per request costs
//! several times the rest of the request. Two smaller ones stay because they are one line each:
//! a cached key carries handles on its own rate-limit window and usage, so a request takes no
//! lock that other keys share beyond the cache's read lock, and it carries its `/me` body,
//! serialized once.

pub mod cache;
pub mod middleware;
pub mod rate;
pub mod usage;

pub use cache::{CachedKey, KeyCache};
pub use middleware::{KeyContext, WORKSPACE_HEADER, require_key};
pub use rate::RateLimiter;
pub use usage::UsageLog;
