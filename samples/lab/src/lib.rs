//! The sample lab's parts, shared by the `chamber-lab` binary and its tests:
//! an OpenChamber stand-in, a browser-like client, and scenario checks.

pub mod browser;
pub mod cadence;
pub mod client;
pub mod collect;
pub mod generate;
pub mod http;
pub mod observe;
pub mod routes;
pub mod scenario;
pub mod standin;
