//! Addresses as the kernel hooks see them: 16 bytes in network order, IPv4 as IPv4-mapped IPv6.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Address family of an `OriginalDst`: IPv4 (`AF_INET`).
pub const FAMILY_IPV4: u16 = 2;
/// Address family of an `OriginalDst`: IPv6 (`AF_INET6`).
pub const FAMILY_IPV6: u16 = 10;

/// The third word of an IPv4-mapped IPv6 address (`::ffff:0:0/96`), as read from a context.
pub const V4_MAPPED_WORD: u32 = u32::from_ne_bytes([0, 0, 0xff, 0xff]);

/// An IP address in the kernel's layout: four 32-bit words, each holding 4 bytes of the
/// address in network order (as in `bpf_sock_addr.user_ip6`). IPv4 is stored IPv4-mapped.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KernelIp {
    /// The address, 4 bytes per word, network order.
    pub words: [u32; 4],
}

impl KernelIp {
    /// An IPv4 address given as the kernel's `user_ip4`/`remote_ip4` word (network order).
    pub const fn from_ipv4_word(word: u32) -> Self {
        KernelIp {
            words: [0, 0, V4_MAPPED_WORD, word],
        }
    }

    /// Whether this is an IPv4-mapped address.
    pub const fn is_ipv4(&self) -> bool {
        self.words[0] == 0 && self.words[1] == 0 && self.words[2] == V4_MAPPED_WORD
    }

    /// Whether this is a loopback address (127.0.0.0/8 or ::1).
    pub const fn is_loopback(&self) -> bool {
        if self.is_ipv4() {
            return self.words[3].to_ne_bytes()[0] == 127;
        }
        let one = u32::from_ne_bytes([0, 0, 0, 1]);
        self.words[0] == 0 && self.words[1] == 0 && self.words[2] == 0 && self.words[3] == one
    }

    /// From a standard address (IPv4 becomes IPv4-mapped).
    pub fn from_ip(ip: IpAddr) -> Self {
        let octets = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        let mut words = [0u32; 4];
        for (word, chunk) in words.iter_mut().zip(octets.chunks_exact(4)) {
            *word = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        KernelIp { words }
    }

    /// To a standard address (IPv4-mapped becomes IPv4).
    pub fn to_ip(&self) -> IpAddr {
        let mut octets = [0u8; 16];
        for (chunk, word) in octets.chunks_exact_mut(4).zip(self.words) {
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        let v6 = Ipv6Addr::from(octets);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    }
}

/// The destination an app asked for before `connect4`/`connect6` redirected it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OriginalDst {
    /// Destination address (IPv4 stored IPv4-mapped).
    pub ip: KernelIp,
    /// Destination port, host order.
    pub port: u16,
    /// `FAMILY_IPV4` or `FAMILY_IPV6`: IPv4-mapped destinations of `connect6` are IPv4.
    pub family: u16,
}

impl OriginalDst {
    /// As a standard socket address.
    pub fn to_socket_addr(&self) -> SocketAddr {
        let ip = match (self.family, self.ip.to_ip()) {
            (FAMILY_IPV6, IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
            (_, ip) => ip,
        };
        SocketAddr::new(ip, self.port)
    }
}

/// 127.0.0.1 as a context word (network order).
pub const LOCALHOST_V4_WORD: u32 = u32::from_ne_bytes(Ipv4Addr::LOCALHOST.octets());

/// ::1 in the kernel's layout: where `connect6` sends plain IPv6 connects.
pub const LOCALHOST_V6: KernelIp = KernelIp {
    words: [0, 0, 0, u32::from_ne_bytes([0, 0, 0, 1])],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_round_trips_as_ipv4_mapped() {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 96, 0, 1));
        let kernel = KernelIp::from_ip(ip);
        assert!(kernel.is_ipv4());
        assert_eq!(
            kernel,
            KernelIp::from_ipv4_word(u32::from_ne_bytes([10, 96, 0, 1]))
        );
        assert_eq!(kernel.to_ip(), ip);
    }

    #[test]
    fn loopback_is_127_slash_8_and_ipv6_one() {
        let lo = |s: &str| KernelIp::from_ip(s.parse().unwrap()).is_loopback();
        assert!(lo("127.0.0.1") && lo("127.3.2.1") && lo("::1"));
        assert!(!lo("10.0.0.1") && !lo("::2") && !lo("128.0.0.1"));
        assert_eq!(LOCALHOST_V6, KernelIp::from_ip(Ipv6Addr::LOCALHOST.into()));
    }

    #[test]
    fn original_dst_keeps_its_family() {
        let v4 = KernelIp::from_ip("10.96.0.1".parse().unwrap());
        let dst = |family| {
            OriginalDst {
                ip: v4,
                port: 80,
                family,
            }
            .to_socket_addr()
        };
        assert_eq!(dst(FAMILY_IPV4), "10.96.0.1:80".parse().unwrap());
        assert_eq!(dst(FAMILY_IPV6), "[::ffff:10.96.0.1]:80".parse().unwrap());
    }
}
