//! chamber-diag's diagnosis, as named stages (see `analyse` and
//! ARCHITECTURE.md): inputs -> detect -> read -> join -> diagnose ->
//! report. The `chamber-diag` binary (`src/bin/chamber-diag/`) owns the
//! command line and the terminal; the fuzz targets (`fuzz/`) call the
//! same entry points.

pub mod analyse;
pub mod capture;
pub mod cdn;
pub mod check;
pub mod follow;
pub mod har;
pub mod ingest;
pub mod input;
pub mod legs;
pub mod model;
pub mod openchamber;
pub mod probe;
pub mod proxy;
pub mod redact;
pub mod redact_har;
pub mod report;
pub mod rules;
pub mod stats;
pub mod timeline;

/// OpenChamber's route table (`openchamber::routes`), used everywhere.
pub use openchamber::routes;
