//! chamber-diag's diagnosis: inputs -> detect -> ingest -> rules -> report.
//! The `chamber-diag` binary is a thin layer over `app`; the fuzz targets
//! (`fuzz/`) call the same entry points.

pub mod app;
pub mod capture;
pub mod check;
pub mod cli;
pub mod ingest;
pub mod input;
pub mod legs;
pub mod model;
pub mod redact;
pub mod report;
pub mod routes;
pub mod rules;
pub mod stats;
pub mod timeline;
