//! A key's IP allowlist: the CIDR ranges its requests may come from. An empty list allows
//! every address, which is what an integration calling from changing addresses (Zapier) needs.
//!
//! Ranges are kept in their canonical form (`203.0.113.0/24`, `2001:db8::/32`), and a range
//! written with bits set past its prefix is refused rather than silently widened: someone who
//! writes `203.0.113.7/24` may have meant the one address or the whole network, and the message
//! offers both. Addresses are compared in their canonical form, so an IPv4 client seen through
//! an IPv6 socket (`::ffff:203.0.113.7`) matches the IPv4 ranges.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// At most this many ranges per key.
pub const MAX_RANGES: usize = 50;

/// A validated allowlist. Empty allows every address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedIps {
    ranges: Vec<IpNet>,
    /// Stored entries that no longer read as ranges (only a damaged database has any). They
    /// allow no address but keep the list from reading as empty, which would allow them all.
    unreadable: Vec<String>,
}

impl AllowedIps {
    /// Checks a list of ranges as a person typed them; the error is a sentence for the field,
    /// naming the first bad entry and what to write instead. Duplicates are dropped.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AllowedIps, String> {
        if entries.len() > MAX_RANGES {
            return Err(format!(
                "Use at most {MAX_RANGES} ranges (this list has {}); a wider range such as 203.0.113.0/24 covers many addresses.",
                entries.len()
            ));
        }
        let mut ranges: Vec<IpNet> = Vec::with_capacity(entries.len());
        for entry in entries {
            let range = parse_range(entry.as_ref())?;
            if !ranges.contains(&range) {
                ranges.push(range);
            }
        }
        Ok(AllowedIps { ranges, unreadable: Vec::new() })
    }

    /// Whether a request from `ip` may use the key. An address the server could not see is
    /// allowed only by an empty list.
    pub fn allows(&self, ip: Option<IpAddr>) -> bool {
        self.is_empty() || ip.is_some_and(|ip| self.ranges.iter().any(|range| range.contains(&ip.to_canonical())))
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.unreadable.is_empty()
    }

    /// The ranges in canonical form, as the API shows them.
    pub fn to_vec(&self) -> Vec<String> {
        self.ranges.iter().map(|range| canonical(*range)).chain(self.unreadable.iter().cloned()).collect()
    }

    /// The form stored in the database: ranges separated by spaces.
    pub fn to_storage(&self) -> String {
        self.to_vec().join(" ")
    }

    /// Reads the stored form back. Only this module writes it, so an entry that does not parse
    /// means a damaged database: it fails closed, allowing no address, and is still shown (a
    /// list that read as empty would allow every address).
    pub fn from_storage(stored: &str) -> AllowedIps {
        let mut list = AllowedIps::default();
        for entry in stored.split_whitespace() {
            match parse_range(entry) {
                Ok(range) => list.ranges.push(range),
                Err(_) => list.unreadable.push(entry.to_owned()),
            }
        }
        list
    }
}

/// A single address is shown without its prefix, a range with it.
fn canonical(range: IpNet) -> String {
    if range.prefix_len() == range.max_prefix_len() { range.addr().to_string() } else { range.to_string() }
}

fn parse_range(raw: &str) -> Result<IpNet, String> {
    let entry = raw.trim();
    if let Ok(ip) = IpAddr::from_str(entry) {
        return Ok(IpNet::from(ip.to_canonical()));
    }
    let range = IpNet::from_str(entry).map_err(|_| {
        format!(
            "\"{entry}\" is not an IP address or range. Write an address such as 203.0.113.7, or a range such as 203.0.113.0/24 or 2001:db8::/32."
        )
    })?;
    // `::ffff:203.0.113.0/120` is the IPv4 range written the IPv6 way; clients are compared in
    // their IPv4 form, so the range is kept in that form too, or it would never match.
    let range = match range {
        IpNet::V6(v6) if v6.prefix_len() >= 96 && v6.addr().to_ipv4_mapped().is_some() => {
            let v4 = v6.addr().to_ipv4_mapped().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
            ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map(IpNet::V4).unwrap_or(range)
        }
        other => other,
    };
    if range.trunc() != range {
        return Err(format!(
            "{entry} has bits set past its /{prefix} prefix. Write {network}/{prefix} for the whole network, or {addr} for the one address.",
            prefix = range.prefix_len(),
            network = range.network(),
            addr = range.addr(),
        ));
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_empty_list_allows_every_address_even_one_not_seen() {
        let any = AllowedIps::default();
        assert!(any.allows(ip("203.0.113.7")) && any.allows(ip("2001:db8::1")) && any.allows(None));
    }

    #[test]
    fn ranges_allow_their_addresses_only_for_both_families() {
        let list = AllowedIps::parse(&["203.0.113.0/24", "2001:db8:1::/48", "198.51.100.9"]).unwrap();
        assert!(list.allows(ip("203.0.113.200")));
        assert!(!list.allows(ip("203.0.114.1")));
        assert!(list.allows(ip("2001:db8:1:ffff::1")));
        assert!(!list.allows(ip("2001:db8:2::1")));
        assert!(list.allows(ip("198.51.100.9")) && !list.allows(ip("198.51.100.10")));
        assert!(!list.allows(None), "an address the server could not see is not on any list");
    }

    #[test]
    fn an_ipv4_client_seen_through_an_ipv6_socket_matches_ipv4_ranges() {
        let list = AllowedIps::parse(&["203.0.113.0/24"]).unwrap();
        assert!(list.allows(ip("::ffff:203.0.113.7")));
        assert_eq!(AllowedIps::parse(&["::ffff:203.0.113.7"]).unwrap().to_vec(), ["203.0.113.7"]);
        let mapped_range = AllowedIps::parse(&["::ffff:203.0.113.0/120"]).unwrap();
        assert_eq!(mapped_range.to_vec(), ["203.0.113.0/24"]);
        assert!(mapped_range.allows(ip("203.0.113.7")) && mapped_range.allows(ip("::ffff:203.0.113.8")));
    }

    #[test]
    fn a_range_with_host_bits_is_refused_with_both_readings_offered() {
        let e = AllowedIps::parse(&["10.0.0.0/8", "203.0.113.7/24"]).unwrap_err();
        assert_eq!(
            e,
            "203.0.113.7/24 has bits set past its /24 prefix. Write 203.0.113.0/24 for the whole network, or 203.0.113.7 for the one address."
        );
        let e = AllowedIps::parse(&["2001:db8::1/32"]).unwrap_err();
        assert!(e.contains("Write 2001:db8::/32"), "{e}");
    }

    #[test]
    fn nonsense_and_too_many_entries_are_named() {
        let e = AllowedIps::parse(&["office"]).unwrap_err();
        assert!(e.starts_with("\"office\" is not an IP address or range."), "{e}");
        assert!(AllowedIps::parse(&["10.0.0.0/33"]).is_err());
        let many: Vec<String> = (0..=MAX_RANGES).map(|i| format!("10.0.{i}.0/24")).collect();
        assert!(AllowedIps::parse(&many).unwrap_err().contains("at most 50 ranges (this list has 51)"));
    }

    #[test]
    fn the_stored_form_reads_back_canonical_and_without_duplicates() {
        let list = AllowedIps::parse(&[" 2001:DB8::/32 ", "10.0.0.0/8", "10.0.0.0/8", "192.0.2.1/32"]).unwrap();
        assert_eq!(list.to_vec(), ["2001:db8::/32", "10.0.0.0/8", "192.0.2.1"]);
        assert_eq!(AllowedIps::from_storage(&list.to_storage()), list);
        assert_eq!(AllowedIps::from_storage(""), AllowedIps::default());
    }

    #[test]
    fn a_stored_entry_that_does_not_read_fails_closed_and_stays_visible() {
        let damaged = AllowedIps::from_storage("garbage");
        assert!(!damaged.is_empty(), "not read as the empty list that allows everyone");
        assert!(!damaged.allows(ip("203.0.113.7")) && !damaged.allows(None));
        assert_eq!(damaged.to_vec(), ["garbage"]);
        let partly = AllowedIps::from_storage("10.0.0.0/8 10.0.0.0/99");
        assert!(partly.allows(ip("10.1.2.3")) && !partly.allows(ip("192.0.2.1")));
        assert_eq!(partly.to_vec(), ["10.0.0.0/8", "10.0.0.0/99"]);
    }
}
