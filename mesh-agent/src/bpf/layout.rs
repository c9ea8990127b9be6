//! Pinned map layouts: an agent shares the maps pinned under its node's directory (a running
//! predecessor hands over, or a fail-closed one left its capture pinned) only when each has the
//! layout its own programs were built for — the type, key and value size and entries the object
//! declares. aya opens a pinned map whatever its layout, and a program over a map of another
//! layout reads past or short of what it wrote; so a map that differs is found and named first.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use aya::maps::MapInfo;

/// What must agree between a pinned map and the object's declaration of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapLayout {
    /// The kernel's `bpf_map_type`.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
}

impl fmt::Display for MapLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (t, k, v, n) = (
            self.map_type,
            self.key_size,
            self.value_size,
            self.max_entries,
        );
        write!(f, "type {t}, key {k} B, value {v} B, {n} entries")
    }
}

/// Why pinned maps cannot be shared.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// A pinned map differs from the object's.
    #[error(
        "pinned map {map} ({dir}) has {pinned}, but this agent's programs need {expected}: \
         its maps were pinned by an agent of another build, which cannot hand over to this one \
         (restart the agent instead of upgrading in place)"
    )]
    Mismatch {
        map: String,
        dir: String,
        pinned: MapLayout,
        expected: MapLayout,
    },
    /// A pinned map could not be read.
    #[error("reading pinned map {map} ({dir}): {source}")]
    Unreadable {
        map: String,
        dir: String,
        source: Box<aya::maps::MapError>,
    },
    /// The object's maps could not be read.
    #[error("reading the maps of eBPF object {object}: {message}")]
    Object { object: String, message: String },
}

/// The maps `object` (an ELF file of `mesh-ebpf`) declares, by name.
pub fn object_layouts(object: &Path) -> Result<BTreeMap<String, MapLayout>, LayoutError> {
    let failed = |message: String| LayoutError::Object {
        object: object.display().to_string(),
        message,
    };
    let data = std::fs::read(object).map_err(|e| failed(e.to_string()))?;
    let parsed = aya_obj::Object::parse(&data).map_err(|e| failed(e.to_string()))?;
    let maps = parsed
        .maps
        .iter()
        .filter(|(name, _)| !name.starts_with('.'));
    let layouts = maps.map(|(name, map)| {
        let layout = MapLayout {
            map_type: map.map_type(),
            key_size: map.key_size(),
            value_size: map.value_size(),
            max_entries: map.max_entries(),
        };
        (name.clone(), layout)
    });
    Ok(layouts.collect())
}

/// Checks the maps pinned in `dir` against those `object` declares ([`check_pinned`]).
pub fn check_pins(object: &Path, dir: &Path) -> Result<(), LayoutError> {
    let expected = object_layouts(object)?;
    let names = super::pins::pinned_maps(dir).map_err(|e| LayoutError::Object {
        object: object.display().to_string(),
        message: format!("listing the pins in {}: {e}", dir.display()),
    })?;
    check_pinned(&expected, dir, &names)
}

/// Checks each map pinned in `dir` that `expected` names (`names`: the pins present) against it;
/// pins of maps the object lacks are not shared, maps the pins lack are created anew.
pub fn check_pinned(
    expected: &BTreeMap<String, MapLayout>,
    dir: &Path,
    names: &[String],
) -> Result<(), LayoutError> {
    let shared = names.iter().filter(|n| expected.contains_key(n.as_str()));
    for name in shared {
        let unreadable = |source| LayoutError::Unreadable {
            map: name.clone(),
            dir: dir.display().to_string(),
            source: Box::new(source),
        };
        let info = MapInfo::from_pin(dir.join(name)).map_err(unreadable)?;
        let pinned = MapLayout {
            map_type: info.map_type().map_or(u32::MAX, |t| t as u32),
            key_size: info.key_size(),
            value_size: info.value_size(),
            max_entries: info.max_entries(),
        };
        compare(name, dir, pinned, expected[name.as_str()])?;
    }
    Ok(())
}

fn compare(
    map: &str,
    dir: &Path,
    pinned: MapLayout,
    expected: MapLayout,
) -> Result<(), LayoutError> {
    if pinned == expected {
        return Ok(());
    }
    Err(LayoutError::Mismatch {
        map: map.to_string(),
        dir: dir.display().to_string(),
        pinned,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNTERS: MapLayout = MapLayout {
        map_type: 6,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
    };

    #[test]
    fn a_differing_map_is_named_with_both_layouts() {
        let old = MapLayout {
            max_entries: 5,
            ..COUNTERS
        };
        let error = compare("COUNTERS", Path::new("/sys/fs/bpf/mesh/n1"), old, COUNTERS)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("pinned map COUNTERS (/sys/fs/bpf/mesh/n1) has type 6, key 4 B, value 8 B, 5 entries, but this agent's programs need type 6, key 4 B, value 8 B, 16 entries"), "{error}");
        assert!(compare("COUNTERS", Path::new("/x"), COUNTERS, COUNTERS).is_ok());
    }

    #[test]
    fn pins_the_object_does_not_declare_are_not_checked() {
        let expected = BTreeMap::from([("COUNTERS".to_string(), COUNTERS)]);
        let names = ["RETIRED_MAP".to_string()];
        assert!(check_pinned(&expected, Path::new("/nonexistent"), &names).is_ok());
    }
}
