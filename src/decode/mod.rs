//! Decoding: link layers to the network layer, then IPv4/IPv6 to the transport header.
//!
//! `link` mirrors what the engine has always done for every link type it supports;
//! `network` reads the few IP header fields the flow table needs by index, every read
//! checked against the captured length; `tunnel` opens the remote-mirror encapsulations
//! (ERSPAN, GRE bridging, VXLAN, GENEVE) to the frame they carry.

pub mod link;
pub mod net;
pub mod tunnel;

pub use link::{decode_link, Link, ETH_ARP, ETH_IPV4, ETH_IPV6, WLAN_MGMT, WLAN_PROTECTED};
pub use net::{network, Net};
pub use tunnel::{open_frame, Tunnel, TUNNEL_NAMES};
