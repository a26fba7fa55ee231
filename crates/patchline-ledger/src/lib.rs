//! The ledger: a git repository recording every event of the upgrade
//! machine (a patch applied, failed, rolled back or repaved in an
//! environment), written only by the resource's `out` and read by reports.
//!
//! One event is one JSON file under `events/<environment>/`, so concurrent
//! pipelines never edit the same file. [`record`] adds one and pushes it;
//! [`read_ledger`] (or [`clone_for_reading`] and [`read_events`]) gives them
//! back in time order.
//!
//! ```no_run
//! use patchline_ledger::{record, Build, Event, LedgerConfig, Status};
//!
//! let config = LedgerConfig::new("/srv/ledger.git");
//! let event = Event::new("sandbox", "621.125", "sha256:ab12", Status::Applied, Build::from_env());
//! let recorded = record(&config, &event, &std::env::temp_dir())?;
//! eprintln!("recorded {} in {}", recorded.path, recorded.commit);
//! # Ok::<(), patchline_ledger::LedgerError>(())
//! ```

mod config;
mod error;
mod event;
mod git;
mod read;
mod record;
mod repo;

pub use config::{LedgerConfig, DEFAULT_BRANCH};
pub use error::LedgerError;
pub use event::{Build, Event, Status, SCHEMA};
pub use patchline_core::Secret;
pub use read::{clone_for_reading, read_events, read_ledger};
pub use record::{record, Recorded, MAX_ATTEMPTS};

#[cfg(test)]
mod testutil;
