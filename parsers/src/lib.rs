//! Bytes in, typed records out. Nothing here knows about OpenChamber or
//! about rules: the records say what the proxy wrote, as the proxy meant it.
//!
//! Parsers borrow from the input where they can (`&[u8]`/`&str` into the
//! line) and copy only values that need unescaping.

pub mod apache;
pub mod apache_conf;
pub mod caddy;
pub mod caddyfile;
mod config_lexer;
pub mod config_tree;
pub mod conversation;
pub mod detect;
pub mod haproxy;
pub mod haproxy_cfg;
pub mod har;
pub mod json_lines;
pub mod lines;
pub mod nginx;
pub mod packet;
pub mod pcap;
pub mod scan;
pub mod sse;
pub mod tcp;
pub mod time;
pub mod traefik;
pub mod websocket;
pub mod wrap;

#[cfg(test)]
mod properties;
