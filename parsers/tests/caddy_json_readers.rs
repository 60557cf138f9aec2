//! The three Caddy JSON readers that `benches/caddy_json.rs` times give the
//! same records, so its comparison is fair: the hand-written one
//! (`caddy::parse`) and serde_json's and sonic-rs's `from_slice` into the
//! same borrowed entry, on every line of the lab's Caddy logs.

#[path = "../benches/caddy_json/serde_reader.rs"]
mod serde_reader;

use chamber_parsers::caddy;
use chamber_parsers::lines::lines;
use serde_reader::{caddy_logs, parse_with, serde_json_raw, shape, sonic_rs_raw};

#[test]
fn the_three_readers_give_the_same_records() {
    let data = caddy_logs();
    let (mut read, mut copied) = (0, 0);
    for (_, line) in lines(&data) {
        let by_hand = caddy::parse(line);
        let s = shape(&by_hand);
        assert_eq!(s, shape(&parse_with(line, serde_json_raw)), "serde_json");
        assert_eq!(s, shape(&parse_with(line, sonic_rs_raw)), "sonic-rs");
        read += by_hand.is_ok() as usize;
        copied += s.contains(":false") as usize;
    }
    // Most lines are entries; a few hold escapes (copied texts).
    assert!(read > 1000, "{read} read");
    assert!(copied > 0, "{copied} with a copied text");
}
