//! The HAR reader (`har::read_entries`: own borrowed serde types, one
//! entry at a time) beside the `har` crate (0.9, `har::from_slice`), which
//! the issue asked to prefer: `cargo bench -p chamber-parsers --bench har`.
//!
//! The `har` crate reads into fixed structs with no catch-all, so it drops
//! `_webSocketMessages`, `_eventSourceMessages` and `_resourceType`, the
//! fields a broken socket or stream shows in; `main` checks that before
//! measuring, which is why the project keeps its own types. Input: the
//! public Chrome WebSocket-shaped export (samples/public/har) with each
//! socket given 400 received messages, repeated to 16 MiB.

use divan::counter::BytesCount;
use divan::Bencher;

fn main() {
    let data = input();
    let kept = serde_json::to_string(&har::from_slice(&data).expect("the har crate reads it"))
        .expect("serialises");
    assert!(
        !kept.contains("_webSocketMessages"),
        "the har crate now keeps socket messages: compare again"
    );
    let mut messages = 0;
    chamber_parsers::har::read_entries(&data, |_, e| {
        messages += e.socket_messages.map_or(0, |m| m.len())
    })
    .expect("a HAR");
    assert!(messages > 0);
    divan::main();
}

fn input() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/public/har/mitmproxy-export-websocket.har"
    );
    let mut har: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("the sample")).expect("JSON");
    let entries = har["log"]["entries"].as_array().expect("entries").clone();
    let mut out = Vec::new();
    let mut size = 0;
    let mut t = 1_796_032_800.0f64;
    while size < 16 << 20 {
        for e in &entries {
            let mut e = e.clone();
            if e.get("_webSocketMessages").is_some() {
                e["_webSocketMessages"] = (0..400)
                    .map(|k| {
                        serde_json::json!({"type": "receive", "time": t + k as f64 * 0.5, "opcode": 1,
                            "data": format!("{{\"type\":\"event\",\"n\":{k},\"text\":\"{}\"}}", "x".repeat(120))})
                    })
                    .collect();
                t += 300.0;
            }
            size += e.to_string().len();
            out.push(e);
        }
    }
    har["log"]["entries"] = serde_json::Value::Array(out);
    serde_json::to_vec_pretty(&har).expect("serialises")
}

#[divan::bench]
fn own_types(b: Bencher) {
    let data = input();
    b.counter(BytesCount::new(data.len())).bench(|| {
        let mut n = 0usize;
        chamber_parsers::har::read_entries(&data, |_, e| {
            n += e.socket_messages.map_or(1, |m| m.len());
        })
        .expect("a HAR");
        n
    });
}

#[divan::bench]
fn har_crate(b: Bencher) {
    let data = input();
    b.counter(BytesCount::new(data.len()))
        .bench(|| har::from_slice(&data).expect("a HAR"));
}
