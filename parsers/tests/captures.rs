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
