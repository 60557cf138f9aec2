//! A frame's TCP segment: link layer by hand where etherparse has none
//! (Linux cooked v1/v2, BSD loopback), the rest by etherparse, leniently
//! so that snaplen-cut packets still give their headers.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

use crate::pcap::{Frame, Link};

#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub has_ack: bool,
    pub payload: &'a [u8],
    /// The capture holds fewer payload bytes than the packet carried.
    pub truncated: bool,
}

/// Why a frame gives no TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotTcp {
    /// ARP, UDP, ICMP...: left out on purpose.
    OtherProtocol,
    /// A link type this reader does not know.
    UnknownLink,
    /// Too short or damaged to read.
    Malformed,
}

/// A layer etherparse did not give: damaged if it stopped on an error,
/// else simply absent (an IP packet that is not TCP, a non-IP frame).
fn missing_layer(sliced: &LaxSlicedPacket) -> NotTcp {
    if sliced.stop_err.is_some() {
        NotTcp::Malformed
    } else {
        NotTcp::OtherProtocol
    }
}

pub fn tcp_segment<'a>(frame: &Frame<'a>) -> Result<Segment<'a>, NotTcp> {
    let d = frame.data;
    let sliced = match frame.link {
        Link::Ethernet => LaxSlicedPacket::from_ethernet(d).map_err(|_| NotTcp::Malformed)?,
        Link::Raw => LaxSlicedPacket::from_ip(d).map_err(|_| NotTcp::Malformed)?,
        Link::LinuxSll => {
            let proto = u16::from_be_bytes([*d.get(14).ok_or(NotTcp::Malformed)?, d[15]]);
            LaxSlicedPacket::from_ether_type(
                EtherType(proto),
                d.get(16..).ok_or(NotTcp::Malformed)?,
            )
        }
        Link::LinuxSll2 => {
            let proto = u16::from_be_bytes([
                *d.first().ok_or(NotTcp::Malformed)?,
                *d.get(1).ok_or(NotTcp::Malformed)?,
            ]);
            LaxSlicedPacket::from_ether_type(
                EtherType(proto),
                d.get(20..).ok_or(NotTcp::Malformed)?,
            )
        }
        Link::Null | Link::Loop => {
            let family = d.get(..4).ok_or(NotTcp::Malformed)?;
            let le = u32::from_le_bytes(family.try_into().unwrap());
            let be = u32::from_be_bytes(family.try_into().unwrap());
            // AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 by OS.
            let ether = match (le, be) {
                (2, _) | (_, 2) => EtherType::IPV4,
                (10 | 24 | 28 | 30, _) | (_, 10 | 24 | 28 | 30) => EtherType::IPV6,
                _ => return Err(NotTcp::OtherProtocol),
            };
            LaxSlicedPacket::from_ether_type(ether, &d[4..])
        }
        Link::Other(_) => return Err(NotTcp::UnknownLink),
    };
    let (src_ip, dst_ip, ip_incomplete): (IpAddr, IpAddr, bool) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            (
                h.source_addr().into(),
                h.destination_addr().into(),
                v4.payload().incomplete,
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            (
                h.source_addr().into(),
                h.destination_addr().into(),
                v6.payload().incomplete,
            )
        }
        Some(_) => return Err(NotTcp::OtherProtocol),
        None => return Err(missing_layer(&sliced)),
    };
    let tcp = match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => t,
        Some(_) => return Err(NotTcp::OtherProtocol),
        None => return Err(missing_layer(&sliced)),
    };
    Ok(Segment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        has_ack: tcp.ack(),
        payload: tcp.payload(),
        truncated: ip_incomplete || (frame.original_len as usize) > frame.data.len(),
    })
}
