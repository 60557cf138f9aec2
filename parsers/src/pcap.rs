//! Packet captures: pcap (both byte orders, micro- and nanoseconds) and
//! pcapng (several interfaces, each with its own link type and time
//! resolution), read as frames over the input's bytes, zero-copy.

use pcap_parser::pcapng::{self, Block};
use pcap_parser::Linktype;

/// How a frame's bytes begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Ethernet,
    /// Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10).
    LinuxSll,
    /// Linux cooked capture v2 (`tcpdump -i any -y LINUX_SLL2`).
    LinuxSll2,
    /// Raw IPv4 or IPv6.
    Raw,
    /// BSD loopback: a 4-byte address family in the capturing host's order.
    Null,
    /// OpenBSD loopback: the family in network order.
    Loop,
    Other(i32),
}

impl Link {
    fn from(l: Linktype) -> Link {
        match l.0 {
            1 => Link::Ethernet,
            113 => Link::LinuxSll,
            276 => Link::LinuxSll2,
            12 | 14 | 101 | 228 | 229 => Link::Raw,
            0 => Link::Null,
            108 => Link::Loop,
            other => Link::Other(other),
        }
    }

    /// The contract's `format` names for captures.
    pub fn name(self) -> String {
        match self {
            Link::Ethernet => "ethernet".into(),
            Link::LinuxSll => "linux-sll".into(),
            Link::LinuxSll2 => "linux-sll2".into(),
            Link::Raw => "raw-ip".into(),
            Link::Null => "bsd-loopback".into(),
            Link::Loop => "openbsd-loopback".into(),
            Link::Other(n) => format!("linktype-{n}"),
        }
    }
}

/// One captured frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based, in capture order, as Wireshark numbers packets.
    pub number: u64,
    /// Capture time, microseconds since the epoch.
    pub time_us: i64,
    pub link: Link,
    pub data: &'a [u8],
    /// Bytes on the wire (more than `data.len()` when the snaplen cut it).
    pub original_len: u32,
}

/// What reading the whole capture found besides frames.
#[derive(Debug, Default, Clone)]
pub struct ReadSummary {
    pub frames: u64,
    pub links: Vec<Link>,
    /// Why reading stopped early (a truncated file), if it did.
    pub damage: Option<String>,
}

/// Calls `on_frame` for every frame of a pcap or pcapng capture.
pub fn read_frames<'a>(
    data: &'a [u8],
    on_frame: &mut dyn FnMut(Frame<'a>),
) -> Result<ReadSummary, String> {
    match data.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => read_pcapng(data, on_frame),
        Some(_) => read_pcap(data, on_frame),
        None => Err("too short for a capture file header".into()),
    }
}

fn read_pcap<'a>(
    data: &'a [u8],
    on_frame: &mut dyn FnMut(Frame<'a>),
) -> Result<ReadSummary, String> {
    let (mut rest, header) = pcap_parser::pcap::parse_pcap_header(data)
        .map_err(|_| "not a pcap file header (truncated or wrong magic)".to_string())?;
    let link = Link::from(header.network);
    let big = header.is_bigendian();
    let nanos = header.is_nanosecond_precision();
    let mut summary = ReadSummary {
        links: vec![link],
        ..Default::default()
    };
    while !rest.is_empty() {
        let parsed = if big {
            pcap_parser::pcap::parse_pcap_frame_be(rest)
        } else {
            pcap_parser::pcap::parse_pcap_frame(rest)
        };
        match parsed {
            Ok((next, block)) => {
                summary.frames += 1;
                let frac = if nanos {
                    block.ts_usec as i64 / 1000
                } else {
                    block.ts_usec as i64
                };
                on_frame(Frame {
                    number: summary.frames,
                    time_us: block.ts_sec as i64 * 1_000_000 + frac,
                    link,
                    data: block.data,
                    original_len: block.origlen,
                });
                rest = next;
            }
            Err(_) => {
                summary.damage = Some(format!(
                    "capture ends inside record {} ({} bytes left over)",
                    summary.frames + 1,
                    rest.len()
                ));
                break;
            }
        }
    }
    Ok(summary)
}

struct Interface {
    link: Link,
    /// Units per second of this interface's timestamps.
    resolution: u64,
    offset: i64,
}

fn read_pcapng<'a>(
    data: &'a [u8],
    on_frame: &mut dyn FnMut(Frame<'a>),
) -> Result<ReadSummary, String> {
    let mut summary = ReadSummary::default();
    let mut rest = data;
    let mut section = Section::default();
    let mut first = true;
    while !rest.is_empty() {
        let (next, block) = match parse_block(rest, first, section.big) {
            Ok(v) => v,
            Err(_) if first => {
                return Err("not a pcapng section header (truncated or damaged)".into())
            }
            Err(_) => {
                summary.damage = Some(format!(
                    "capture ends inside a block after packet {} ({} bytes left over)",
                    summary.frames,
                    rest.len()
                ));
                break;
            }
        };
        first = false;
        section.read_block(block, &mut summary, on_frame);
        rest = next;
    }
    Ok(summary)
}

/// The next block: the first must be a section header; the rest are read
/// in the section's byte order.
#[inline]
fn parse_block(
    rest: &[u8],
    first: bool,
    big: bool,
) -> pcap_parser::nom::IResult<&[u8], Block<'_>, pcap_parser::PcapError<&[u8]>> {
    if first {
        pcapng::parse_sectionheaderblock(rest).map(|(r, shb)| (r, Block::SectionHeader(shb)))
    } else if big {
        pcapng::parse_block_be(rest)
    } else {
        pcapng::parse_block_le(rest)
    }
}

/// What the current pcapng section has declared so far.
#[derive(Default)]
struct Section {
    big: bool,
    interfaces: Vec<Interface>,
}

impl Section {
    /// Takes in a block: a section header or interface description
    /// changes the section, a packet becomes a frame (one that names no
    /// known interface is left out).
    #[inline]
    fn read_block<'a>(
        &mut self,
        block: Block<'a>,
        summary: &mut ReadSummary,
        on_frame: &mut dyn FnMut(Frame<'a>),
    ) {
        match block {
            Block::SectionHeader(shb) => {
                self.big = shb.big_endian();
                self.interfaces.clear();
            }
            Block::InterfaceDescription(idb) => {
                let link = Link::from(idb.linktype);
                if !summary.links.contains(&link) {
                    summary.links.push(link);
                }
                self.interfaces.push(Interface {
                    link,
                    resolution: idb.ts_resolution().unwrap_or(1_000_000),
                    offset: idb.ts_offset(),
                });
            }
            Block::EnhancedPacket(epb) => {
                let Some(iface) = self.interfaces.get(epb.if_id as usize) else {
                    summary.damage.get_or_insert_with(|| {
                        format!("packet refers to unknown interface {}", epb.if_id)
                    });
                    return;
                };
                summary.frames += 1;
                on_frame(enhanced_frame(&epb, iface, summary.frames));
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = self.interfaces.first() else {
                    return;
                };
                summary.frames += 1;
                on_frame(Frame {
                    number: summary.frames,
                    time_us: 0,
                    link: iface.link,
                    data: spb.data,
                    original_len: spb.origlen,
                });
            }
            _ => {}
        }
    }
}

/// An enhanced packet block's frame, its time in the interface's
/// resolution and offset.
#[inline]
fn enhanced_frame<'a>(
    epb: &pcapng::EnhancedPacketBlock<'a>,
    iface: &Interface,
    number: u64,
) -> Frame<'a> {
    let ticks = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
    let time_us =
        (ticks as u128 * 1_000_000 / iface.resolution as u128) as i64 + iface.offset * 1_000_000;
    let caplen = (epb.caplen as usize).min(epb.data.len());
    Frame {
        number,
        time_us,
        link: iface.link,
        data: &epb.data[..caplen],
        original_len: epb.origlen,
    }
}
