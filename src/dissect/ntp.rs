//! NTP (RFC 5905, UDP 123): version, mode and stratum; the port of `netscan/dissectors/ntp.py`.
//! Modes 1-5 need the 48-byte header, control (6) and private (7) messages 12 and 4 bytes
//! and report stratum 0. Versions other than 1-4 give nothing.

use crate::events::{Event, NtpEvent};

const MIN_LEN: [usize; 8] = [48, 48, 48, 48, 48, 48, 12, 4];

/// The event for one NTP datagram.
pub fn event(payload: &[u8]) -> Option<Event> {
    if payload.len() < 4 {
        return None;
    }
    let version = (payload[0] >> 3) & 7;
    let mode = payload[0] & 7;
    if !(1..=4).contains(&version) || payload.len() < MIN_LEN[usize::from(mode)] {
        return None;
    }
    let stratum = if mode < 6 { payload[1] } else { 0 };
    Some(Event::Ntp(NtpEvent {
        version,
        mode,
        stratum,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let mut m = vec![0u8; 48];
        m[0] = 0x23;
        m[1] = 2;
        assert_eq!(
            event(&m),
            Some(Event::Ntp(NtpEvent {
                version: 4,
                mode: 3,
                stratum: 2
            }))
        );
        assert!(event(&m[..47]).is_none());
        assert_eq!(
            event(&[0x27, 9, 0, 0]),
            Some(Event::Ntp(NtpEvent {
                version: 4,
                mode: 7,
                stratum: 0
            }))
        );
        assert!(event(&[0x03, 9, 0, 0]).is_none());
    }
}
