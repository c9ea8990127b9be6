//! The names `lab-dns` answers for: a hosts-format file (`ADDRESS NAME...` per line, `#`
//! comments) the lab rewrites whenever its Services, pods, external hosts or runtime names
//! change; read again when its modification time or size changes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;

/// Name (lowercase, no trailing dot) → its addresses, in file order.
pub type Names = BTreeMap<String, Vec<IpAddr>>;

/// The zone file and what it said when last read.
pub struct Zone {
    path: PathBuf,
    seen: Option<(SystemTime, u64)>,
    names: Names,
}

impl Zone {
    /// A zone read from `path` on first use.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            seen: None,
            names: Names::new(),
        }
    }

    /// The names now: the file is read again when it changed (a missing or unreadable file
    /// keeps the last names, logged).
    pub fn names(&mut self) -> &Names {
        let stamp = std::fs::metadata(&self.path)
            .and_then(|m| Ok((m.modified()?, m.len())))
            .ok();
        if stamp.is_some() && stamp != self.seen {
            match std::fs::read_to_string(&self.path) {
                Ok(text) => {
                    self.names = parse(&text);
                    self.seen = stamp;
                }
                Err(error) => eprintln!("lab-dns: reading {}: {error}", self.path.display()),
            }
        }
        &self.names
    }
}

/// Parses hosts-format text; a line whose address does not parse is skipped with a warning.
pub fn parse(text: &str) -> Names {
    let mut names = Names::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let Some(address) = words.next() else {
            continue;
        };
        let Ok(address) = address.parse::<IpAddr>() else {
            eprintln!(
                "lab-dns: zone line {}: {address:?} is not an address",
                number + 1
            );
            continue;
        };
        for name in words {
            let addresses = names.entry(canonical(name)).or_default();
            if !addresses.contains(&address) {
                addresses.push(address);
            }
        }
    }
    names
}

/// A name as looked up: lowercase, without the root's trailing dot.
pub fn canonical(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_gather_their_addresses_across_lines_and_ignore_case_and_comments() {
        let names = parse(
            "# services\n10.96.0.1\tweb.shop.svc.cluster.local Web.Shop\n\
             fd00:10:96::1 web.shop.svc.cluster.local.\nnot-an-ip x\n10.0.0.9 # nothing\n",
        );
        let web: Vec<String> = names["web.shop.svc.cluster.local"]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(web, ["10.96.0.1", "fd00:10:96::1"]);
        assert_eq!(names["web.shop"].len(), 1);
        assert!(!names.contains_key("x"));
        assert_eq!(names.len(), 2);
    }
}
