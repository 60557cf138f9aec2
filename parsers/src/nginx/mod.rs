//! nginx: access logs in any `log_format`, and the error log.

pub mod access;
pub mod conf;
pub mod error;
pub mod format;
pub mod infer;
