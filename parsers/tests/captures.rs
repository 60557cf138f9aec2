//! Every capture the project ships reads to its end, frame by frame, and
//! its TCP segments decode whatever the link type.

use std::path::{Path, PathBuf};

use chamber_parsers::packet::{tcp_segment, NotTcp};
use chamber_parsers::pcap::{read_frames, Link};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples")
}

fn count(path: &Path) -> (u64, u64, Vec<Link>, Option<String>) {
    let data = std::fs::read(path).unwrap();
    let mut tcp = 0;
    let summary = read_frames(&data, &mut |f| match tcp_segment(&f) {
        Ok(_) => tcp += 1,
        Err(NotTcp::OtherProtocol) => {}
        Err(e) => panic!("{}: frame {}: {e:?}", path.display(), f.number),
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (summary.frames, tcp, summary.links, summary.damage)
}

#[test]
fn lab_captures_in_all_three_shapes() {
    for (file, link) in [
        ("capture.pcap", Link::Ethernet),
        ("capture-any.pcap", Link::LinuxSll2),
        ("capture.pcapng", Link::Ethernet),
    ] {
        let path = samples().join("lab/out/nginx-healthy").join(file);
        let (frames, tcp, links, damage) = count(&path);
        assert!(frames > 100, "{file}: {frames}");
        assert_eq!(tcp, frames, "{file}: every frame is TCP on loopback");
        assert_eq!(links, vec![link], "{file}");
        assert_eq!(damage, None);
    }
    // The pcapng is the same capture as the pcap.
    let a = count(&samples().join("lab/out/nginx-healthy/capture.pcap"));
    let b = count(&samples().join("lab/out/nginx-healthy/capture.pcapng"));
    assert_eq!((a.0, a.1), (b.0, b.1));
}

#[test]
fn public_captures_read_whole() {
    let mut seen = 0;
    for entry in std::fs::read_dir(samples().join("captures")).unwrap() {
        let path = entry.unwrap().path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng")
        ) {
            continue;
        }
        let (frames, tcp, _, damage) = count(&path);
        assert!(frames > 0 && tcp > 0, "{}", path.display());
        assert_eq!(damage, None, "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 14);
}

#[test]
fn truncated_captures_say_where_they_end() {
    let data = std::fs::read(samples().join("lab/out/nginx-guide/capture.pcap")).unwrap();
    let mut frames = 0;
    let cut = &data[..data.len() - 10];
    let summary = read_frames(cut, &mut |_| frames += 1).unwrap();
    assert!(summary
        .damage
        .unwrap()
        .contains("capture ends inside record"));
    assert!(frames > 0);
    assert!(read_frames(&data[..10], &mut |_| {}).is_err());
    assert!(read_frames(b"", &mut |_| {}).is_err());
    assert!(read_frames(b"\x0a\x0d\x0d\x0a\x00", &mut |_| {}).is_err());
}

use chamber_parsers::conversation::{self, Conversation};
use chamber_parsers::tcp::all_flows;

/// Every connection of a capture, read as HTTP: (client, server, conversation).
fn conversations(path: &Path) -> Vec<(std::net::SocketAddr, std::net::SocketAddr, Conversation)> {
    let data = std::fs::read(path).unwrap();
    all_flows(&data)
        .unwrap()
        .iter()
        .map(|flow| {
            let (up, down) = flow.streams();
            (flow.client, flow.server, conversation::read(&up, &down))
        })
        .collect()
}

#[test]
fn both_legs_of_the_healthy_lab_proxy_read_as_http() {
    let convs = conversations(&samples().join("lab/out/nginx-healthy/capture.pcap"));
    let exchanges: Vec<_> = convs
        .iter()
        .flat_map(|(c, s, conv)| conv.exchanges.iter().map(move |e| (c, s, e)))
        .collect();
    // Client leg (to port 80) and upstream leg (to port 3000) both present.
    assert!(exchanges.iter().any(|(_, s, _)| s.port() == 80));
    assert!(exchanges.iter().any(|(_, s, _)| s.port() == 3000));
    for (_, _, conv) in &convs {
        assert!(conv.unreadable.is_none(), "{:?}", conv.unreadable);
    }
    let sockets: Vec<_> = exchanges
        .iter()
        .filter(|(_, _, e)| e.frames.is_some())
        .collect();
    assert!(sockets.len() >= 4, "two sockets on each leg");
    for (_, _, e) in &sockets {
        assert_eq!(e.response.as_ref().unwrap().status, 101);
        let frames = e.frames.as_ref().unwrap();
        assert!(frames
            .iter()
            .any(|f| !f.to_server && f.info.opcode == chamber_parsers::websocket::OP_PING));
        assert!(
            frames.iter().filter(|f| f.to_server).all(|f| f.info.masked),
            "client frames are masked"
        );
    }
    let streams: Vec<_> = exchanges
        .iter()
        .filter_map(|(_, _, e)| e.events.as_ref())
        .collect();
    assert!(streams.len() >= 2);
    for events in streams {
        assert!(
            events.len() >= 5,
            "heartbeats every 2 s over 12 s: {}",
            events.len()
        );
    }
    let uploads: Vec<u64> = exchanges
        .iter()
        .filter(|(_, _, e)| {
            e.request
                .as_ref()
                .is_some_and(|r| r.target == "/api/fs/upload")
        })
        .map(|(_, _, e)| e.request_body.len)
        .collect();
    assert!(
        uploads.contains(&65536) && uploads.contains(&524288),
        "{uploads:?}"
    );
    // Pages: OpenChamber's gzip decodes and is not compressed twice.
    let gz: Vec<_> = exchanges
        .iter()
        .filter(|(_, _, e)| e.response_body.decoded.is_some())
        .collect();
    assert!(!gz.is_empty());
    assert!(gz.iter().all(
        |(_, _, e)| e.response_body.decoded == Some(true) && !e.response_body.double_compressed
    ));
}

#[test]
fn tls_client_leg_is_recognised_and_left_unread() {
    let convs = conversations(&samples().join("lab/out/nginx-tls-healthy/capture.pcap"));
    assert!(convs.iter().any(|(_, s, c)| s.port() == 443 && c.tls));
    assert!(convs.iter().any(|(c, _, _)| c.is_ipv6()));
    assert!(convs
        .iter()
        .any(|(_, s, c)| s.port() == 3000 && !c.exchanges.is_empty()));
}

#[test]
fn zeek_websocket_edge_cases() {
    for (file, want_close) in [
        ("zeek-ws-two-binary-fragments.pcap", None),
        ("zeek-ws-message-too-big-status.pcap", Some(1009)),
    ] {
        let convs = conversations(&samples().join("captures").join(file));
        let frames: Vec<_> = convs
            .iter()
            .flat_map(|(_, _, c)| c.exchanges.iter())
            .filter_map(|e| e.frames.as_ref())
            .flatten()
            .collect();
        assert!(!frames.is_empty(), "{file}");
        if let Some(code) = want_close {
            assert!(
                frames.iter().any(|f| f.info.close_code == Some(code)),
                "{file}: {frames:?}"
            );
        }
    }
    let convs = conversations(&samples().join("captures/zeek-http-pipelined-requests.pcap"));
    let n: usize = convs
        .iter()
        .map(|(_, _, c)| c.exchanges.iter().filter(|e| e.response.is_some()).count())
        .sum();
    assert!(n >= 3, "pipelined requests each get their response: {n}");
    let convs = conversations(&samples().join("captures/zeek-http-get-gzip.pcap"));
    assert!(convs
        .iter()
        .flat_map(|(_, _, c)| &c.exchanges)
        .any(|e| e.response_body.decoded == Some(true)));
}

/// Rewrites a little-endian microsecond Ethernet pcap record by record:
/// `frame` maps each Ethernet frame to the new link layer's frame.
fn rewrite(
    pcap: &[u8],
    linktype: u32,
    big_endian: bool,
    nanos: bool,
    frame: &dyn Fn(&[u8]) -> Vec<u8>,
) -> Vec<u8> {
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let put = |out: &mut Vec<u8>, v: u32| {
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    let put16 = |out: &mut Vec<u8>, v: u16| {
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    let mut out = Vec::new();
    put(&mut out, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    put16(&mut out, 2);
    put16(&mut out, 4);
    put(&mut out, 0);
    put(&mut out, 0);
    put(&mut out, 262_144);
    put(&mut out, linktype);
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let (sec, usec, caplen) = (
            u32_at(pcap, at),
            u32_at(pcap, at + 4),
            u32_at(pcap, at + 8) as usize,
        );
        let data = frame(&pcap[at + 16..at + 16 + caplen]);
        put(&mut out, sec);
        put(&mut out, if nanos { usec * 1000 } else { usec });
        put(&mut out, data.len() as u32);
        put(&mut out, data.len() as u32);
        out.extend_from_slice(&data);
        at += 16 + caplen;
    }
    out
}

#[test]
fn every_link_type_byte_order_and_resolution_reads_the_same() {
    let path = samples().join("lab/out/nginx-guide/capture.pcap");
    let original = std::fs::read(&path).unwrap();
    let summary = |data: &[u8]| {
        let mut times = Vec::new();
        read_frames(data, &mut |f| times.push(f.time_us)).unwrap();
        let flows = all_flows(data).unwrap();
        let exchanges: usize = flows
            .iter()
            .map(|flow| {
                let (up, down) = flow.streams();
                conversation::read(&up, &down).exchanges.len()
            })
            .sum();
        (flows.len(), exchanges, times)
    };
    let reference = summary(&original);
    assert!(reference.1 > 50);
    let ethernet = |f: &[u8]| f.to_vec();
    let sll1 = |f: &[u8]| {
        let mut v = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
        v.extend_from_slice(&f[12..14]); // protocol: the EtherType
        v.extend_from_slice(&f[14..]);
        v
    };
    let raw = |f: &[u8]| f[14..].to_vec();
    let bsd = |f: &[u8]| {
        let family: u32 = if f[12..14] == [0x86, 0xdd] { 24 } else { 2 };
        let mut v = family.to_le_bytes().to_vec();
        v.extend_from_slice(&f[14..]);
        v
    };
    let vlan = |f: &[u8]| {
        let mut v = f[..12].to_vec();
        v.extend_from_slice(&[0x81, 0x00, 0x00, 0x2a]);
        v.extend_from_slice(&f[12..]);
        v
    };
    type Case<'f> = (&'static str, u32, bool, bool, &'f dyn Fn(&[u8]) -> Vec<u8>);
    let cases: [Case; 7] = [
        ("big-endian", 1, true, false, &ethernet),
        ("nanoseconds", 1, false, true, &ethernet),
        ("big-endian nanoseconds", 1, true, true, &ethernet),
        ("linux cooked v1", 113, false, false, &sll1),
        ("raw ip", 101, false, false, &raw),
        ("bsd loopback", 0, false, false, &bsd),
        ("802.1Q vlan", 1, false, false, &vlan),
    ];
    for (name, linktype, be, ns, f) in cases {
        let rewritten = rewrite(&original, linktype, be, ns, f);
        let got = summary(&rewritten);
        assert_eq!((got.0, got.1), (reference.0, reference.1), "{name}");
        assert_eq!(got.2, reference.2, "{name}: timestamps");
    }
}

#[test]
fn pcapng_with_several_interfaces_and_link_types() {
    let (frames, tcp, links, damage) = count(&samples().join("captures/multi-interface.pcapng"));
    let parts: u64 = [
        "captures/zeek-ws-two-binary-fragments.pcap",
        "captures/zeek-http-get-gzip.pcap",
        "lab/out/npm-websockets-off/capture-any.pcap",
    ]
    .iter()
    .map(|p| count(&samples().join(p)).0)
    .sum();
    assert_eq!(frames, parts);
    assert_eq!(tcp, frames);
    assert_eq!(links, vec![Link::Ethernet, Link::LinuxSll2]);
    assert_eq!(damage, None);
}
