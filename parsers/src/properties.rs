//! Property tests (proptest): what must hold for any input, not only the
//! shipped samples. `cargo test` runs each on a few hundred generated
//! cases; the fuzz targets (`fuzz/`) look further.

use proptest::prelude::*;

use chrono::{DateTime, NaiveDateTime};

use crate::caddy::{fast, Raw};
use crate::sse::{Block, Splitter};
use crate::tcp::{reassemble, Dir, SegRef};
use crate::time::{
    format_rfc3339, parse_duration_ms, parse_error_time, parse_rfc3339, parse_time_local,
};
use crate::websocket;

/// `data` cut into segments (`cuts` are cut points), with some sent twice
/// or resent overlapping, arriving in `order`.
fn segments<'a>(
    data: &'a [u8],
    isn: u32,
    cuts: &[usize],
    order: &[usize],
    resend: &[bool],
) -> Vec<SegRef<'a>> {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    bounds.extend([0, data.len()]);
    bounds.sort_unstable();
    bounds.dedup();
    let mut pieces: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    // Resends reach back into the piece before: overlapping retransmissions.
    for (i, again) in resend.iter().enumerate().take(pieces.len()) {
        if *again {
            let (s, e) = pieces[i];
            pieces.push((s.saturating_sub(3), e));
        }
    }
    let mut arrival: Vec<usize> = (0..pieces.len()).collect();
    for (i, o) in order.iter().enumerate().take(arrival.len()) {
        let j = o % arrival.len();
        arrival.swap(i, j);
    }
    let seg = |packet: u64, seq: u32, syn: bool, payload: &'a [u8]| SegRef {
        packet,
        time_us: packet as i64,
        dir: Dir::ToServer,
        seq,
        syn,
        fin: false,
        rst: false,
        payload,
        truncated: false,
    };
    let mut out = vec![seg(0, isn, true, &[])];
    for (n, &k) in arrival.iter().enumerate() {
        let (s, e) = pieces[k];
        out.push(seg(
            n as u64 + 1,
            isn.wrapping_add(1).wrapping_add(s as u32),
            false,
            &data[s..e],
        ));
    }
    out
}

proptest! {
    /// Segments in any order, resent, overlapping, across the sequence
    /// number's wrap: the stream comes out whole and in order.
    #[test]
    fn reassembly_restores_the_stream(
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        isn in prop_oneof![any::<u32>(), (u32::MAX - 2000)..=u32::MAX],
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
        order in proptest::collection::vec(any::<usize>(), 0..60),
        resend in proptest::collection::vec(any::<bool>(), 0..60),
    ) {
        let segs = segments(&data, isn, &cuts, &order, &resend);
        let s = reassemble(segs.iter());
        prop_assert!(s.gaps.is_empty(), "gaps {:?}", s.gaps);
        prop_assert_eq!(&s.data, &data);
        prop_assert!(!s.started_mid);
    }

    /// A segment missing from the middle is a gap of its size, and what
    /// follows it is still read.
    #[test]
    fn a_missing_segment_is_a_gap_of_its_size(
        data in proptest::collection::vec(any::<u8>(), 30..2000),
        isn in any::<u32>(),
        at in 1usize..1000,
        len in 1usize..400,
    ) {
        let at = at % (data.len() - 2) + 1;
        let end = (at + len).min(data.len() - 1);
        let mut segs = segments(&data, isn, &[at, end], &[], &[]);
        segs.remove(2); // the piece [at, end)
        let s = reassemble(segs.iter());
        prop_assert_eq!(&s.gaps, &vec![(at, (end - at) as u64)]);
        prop_assert_eq!(&s.data[..at], &data[..at]);
        prop_assert_eq!(&s.data[at..], &data[end..]);
    }

    /// An event stream cut anywhere gives the events it gives whole.
    #[test]
    fn event_streams_split_anywhere_give_the_same_events(
        events in proptest::collection::vec((any::<bool>(), "[a-z{}:\" ]{0,40}", prop_oneof![Just("\n\n"), Just("\r\n\r\n"), Just("\r\r")]), 0..20),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let body: String = events
            .iter()
            .map(|(data, text, end)| format!("{}{text}{end}", if *data { "data: " } else { ": " }))
            .collect();
        let body = body.as_bytes();
        let mut whole = Vec::new();
        Splitter::default().feed(body, &mut whole);
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        bounds.extend([0, body.len()]);
        bounds.sort_unstable();
        let mut split = Vec::new();
        let mut s = Splitter::default();
        for w in bounds.windows(2) {
            s.feed(&body[w[0]..w[1]], &mut split);
        }
        prop_assert_eq!(&split, &whole);
        let expected: Vec<Block> = events
            .iter()
            .map(|(data, _, _)| if *data { Block::Event } else { Block::Comment })
            .collect();
        prop_assert_eq!(whole, expected);
    }

    /// WebSocket frames of every length encoding, masked or not, read back
    /// as written, and reading stops where the bytes do.
    #[test]
    fn websocket_frames_read_back_as_written(
        frames in proptest::collection::vec(
            (prop_oneof![Just(0u8), Just(1), Just(2), Just(8), Just(9), Just(10)], any::<bool>(), any::<bool>(),
             prop_oneof![0usize..126, 126usize..300, 65_536usize..66_000], any::<[u8; 4]>()),
            0..6),
        cut in any::<usize>(),
    ) {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for &(opcode, fin, masked, len, mask) in &frames {
            bytes.push(if fin { 0x80 } else { 0 } | opcode);
            let m = if masked { 0x80 } else { 0 };
            match len {
                0..=125 => bytes.push(m | len as u8),
                126..=65_535 => {
                    bytes.push(m | 126);
                    bytes.extend((len as u16).to_be_bytes());
                }
                _ => {
                    bytes.push(m | 127);
                    bytes.extend((len as u64).to_be_bytes());
                }
            }
            if masked {
                bytes.extend(mask);
            }
            bytes.extend(std::iter::repeat_n(0x5a, len));
            ends.push(bytes.len());
        }
        let (read, stop) = websocket::frames(&bytes, 0);
        prop_assert_eq!(read.len(), frames.len());
        prop_assert_eq!(stop, bytes.len());
        for (f, &(opcode, fin, masked, len, _)) in read.iter().zip(&frames) {
            prop_assert_eq!((f.opcode, f.fin, f.masked, f.len), (opcode, fin, masked, len as u64));
        }
        prop_assert_eq!(read.iter().map(|f| f.end).collect::<Vec<_>>(), ends.clone());
        // Cut short, only the whole frames before the cut are read.
        let cut = cut % (bytes.len() + 1);
        let (partial, stop) = websocket::frames(&bytes[..cut], 0);
        let whole = ends.iter().filter(|&&e| e <= cut).count();
        prop_assert_eq!(partial.len(), whole);
        prop_assert_eq!(stop, if whole == 0 { 0 } else { ends[whole - 1] });
    }

    /// Caddy entries built from the members Caddy writes, with any values
    /// (escapes, nulls, numbers of every shape, nesting): whenever the
    /// hand-written reader reads one, it reads what serde_json reads.
    #[test]
    fn caddy_entries_read_by_hand_read_as_serde_json(
        members in proptest::collection::vec(
            (prop_oneof![
                Just("level"), Just("ts"), Just("logger"), Just("msg"), Just("duration"), Just("size"),
                Just("status"), Just("bytes_read"), Just("error"), Just("upstream"), Just("other"),
                Just("request"), Just("resp_headers")],
             json_value(3)),
            0..12),
    ) {
        let body: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        let entry = format!("{{{}}}", body.join(","));
        if let Some(by_hand) = fast::read(entry.as_bytes()) {
            let serde: Result<Raw, _> = serde_json::from_slice(entry.as_bytes());
            prop_assert_eq!(Some(&by_hand), serde.as_ref().ok(), "{}", entry);
        }
    }
}

proptest! {
    /// Any fields, in range or not: the hand-written readers of
    /// `$time_local`, `$time_iso8601` and the error log's time read a time
    /// exactly when chrono reads one, and the same time (nginx writes no leap second: chrono's `:60` is none).
    /// Each case reads a second line of the same minute, and the cases run
    /// in one thread: the per-minute cache is crossed in every state.
    #[test]
    fn hand_read_times_read_as_chrono(
        y in 1960u32..2110, mo in 0usize..14, d in 0u32..33,
        h in 0u32..26, mi in 0u32..62, secs in (0u32..62, 0u32..62),
        west in any::<bool>(), oh in 0u32..26, om in 0u32..62,
    ) {
        const MONTHS: [&str; 14] = [
            "Foo", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
            "Dec", "Bar",
        ];
        let sign = if west { '-' } else { '+' };
        for s in [secs.0, secs.1] {
            let line = format!("{d:02}/{}/{y}:{h:02}:{mi:02}:{s:02} {sign}{oh:02}{om:02}", MONTHS[mo]);
            let chrono = DateTime::parse_from_str(&line, "%d/%b/%Y:%H:%M:%S %z")
                .ok()
                .filter(|_| s < 60)
                .map(|t| t.timestamp_millis());
            prop_assert_eq!(parse_time_local(line.as_bytes()), chrono, "{}", line);

            let line = format!("{y}/{mo:02}/{d:02} {h:02}:{mi:02}:{s:02}");
            let chrono = NaiveDateTime::parse_from_str(&line, "%Y/%m/%d %H:%M:%S")
                .ok()
                .filter(|_| s < 60)
                .map(|t| t.and_utc().timestamp_millis());
            prop_assert_eq!(parse_error_time(line.as_bytes()), chrono, "{}", line);

            let line = format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{sign}{oh:02}:{om:02}");
            let chrono = DateTime::parse_from_rfc3339(&line)
                .ok()
                .filter(|_| s < 60)
                .map(|t| t.timestamp_millis());
            prop_assert_eq!(parse_rfc3339(line.as_bytes()), chrono, "{}", line);
        }
    }

    /// Any time of the years 0000 to 9999 reads back as written.
    #[test]
    fn rfc3339_written_reads_back(ms in -62_167_219_200_000i64..253_402_300_800_000) {
        let text = format_rfc3339(ms);
        prop_assert_eq!(parse_rfc3339(text.as_bytes()), Some(ms), "{}", text);
    }

    /// Units from the largest to the smallest, each once, read as their
    /// sum; two of them swapped, or one written twice, are no duration.
    #[test]
    fn durations_read_in_order_only(
        amounts in proptest::collection::vec(proptest::option::of(0u32..1000), 10),
        pick in any::<proptest::sample::Index>(),
    ) {
        const UNITS: [(&str, f64); 10] = [
            ("y", 365.0 * 86_400e3), ("M", 30.0 * 86_400e3), ("w", 7.0 * 86_400e3),
            ("d", 86_400e3), ("h", 3600e3), ("m", 60e3), ("s", 1e3), ("ms", 1.0),
            ("us", 1e-3), ("ns", 1e-6),
        ];
        let parts: Vec<(String, f64)> = UNITS
            .iter()
            .zip(&amounts)
            .filter_map(|((unit, ms), n)| n.map(|n| (format!("{n}{unit}"), f64::from(n) * ms)))
            .collect();
        prop_assume!(!parts.is_empty());
        let text: String = parts.iter().map(|(t, _)| t.as_str()).collect();
        let sum: f64 = parts.iter().map(|(_, ms)| ms).sum();
        let got = parse_duration_ms(&text);
        prop_assert!(got.is_some_and(|got| (got - sum).abs() <= sum * 1e-12), "{} {:?}", text, got);

        let i = pick.index(parts.len());
        let twice: String = parts.iter().enumerate()
            .map(|(j, (t, _))| if j == i { format!("{t}{t}") } else { t.clone() })
            .collect();
        prop_assert_eq!(parse_duration_ms(&twice), None, "{}", twice);
        if parts.len() > 1 {
            let mut swapped: Vec<&str> = parts.iter().map(|(t, _)| t.as_str()).collect();
            swapped.swap(i, (i + 1) % parts.len());
            let swapped = swapped.concat();
            prop_assert_eq!(parse_duration_ms(&swapped), None, "{}", swapped);
        }
    }
}

/// JSON values of every kind, nested up to `depth`.
/// Values nested inside are valid JSON: the reader steps over nested
/// values unchecked (see `caddy::fast`); a member's own value may be any
/// number-like text, which it must refuse where serde_json does.
fn json_value(depth: u32) -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        "([a-zA-Z0-9 /:.?=&-]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}|é|☃){0,30}"
            .prop_map(|s| format!("\"{s}\"")),
    ];
    let number_like = "-?[0-9]{1,20}(\\.[0-9]{0,20})?([eE][+-]?[0-9]{0,3})?";
    let nested = scalar.clone().prop_recursive(depth, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("Content-Encoding"),
                        Just("Content-Type"),
                        Just("Host"),
                        Just("Upgrade"),
                        Just("method"),
                        Just("uri"),
                        Just("proto"),
                        Just("headers"),
                        Just("x")
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|v| format!(
                "{{{}}}",
                v.iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
        ]
    });
    prop_oneof![
        scalar,
        number_like.prop_map(String::from),
        Just("nul".to_string()),
        nested
    ]
}
