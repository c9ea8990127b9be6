//! Which pinned links an agent finds, removes and leaves, on a plain directory (files stand for
//! the pins: removing either is an unlink).

use super::*;

/// A pin directory of its own, removed when the test ends.
struct PinDir(PathBuf);

impl PinDir {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mesh-links-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        PinDir(dir)
    }

    /// A pin `name` of agent `agent`, as a crashed fail-closed agent leaves it.
    fn leave(&self, agent: u32, name: &str) -> PathBuf {
        let dir = self.0.join(LINKS_DIR).join(agent.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, b"").unwrap();
        path
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn links_left_behind_are_found_and_none_is_not() {
    let pins = PinDir::new("found");
    assert!(!LinkPins::left_behind(&pins.0), "no links directory");
    std::fs::create_dir_all(pins.0.join(LINKS_DIR).join("7")).unwrap();
    assert!(!LinkPins::left_behind(&pins.0), "an empty agent directory");
    pins.leave(7, "connect4");
    assert!(LinkPins::left_behind(&pins.0));
}

#[test]
fn a_successor_removes_what_its_own_links_replace_and_nothing_else() {
    let pins = PinDir::new("replace");
    let connect4 = pins.leave(7, "connect4");
    let pod = pins.leave(7, "sk_lookup-42");
    let other_pod = pins.leave(7, "sk_lookup-43");
    let links = LinkPins::new(&pins.0, 9, true).unwrap();
    let mine = pins.leave(9, "sk_lookup-42");

    assert_eq!(links.remove_leftovers("connect4").unwrap(), vec![connect4]);
    assert_eq!(links.remove_leftovers("sk_lookup-42").unwrap(), vec![pod]);
    assert!(
        other_pod.exists(),
        "a pod not enrolled again keeps its refusal"
    );
    assert!(mine.exists(), "the agent's own pins are not leftovers");
    assert!(links.remove_leftovers("connect4").unwrap().is_empty());

    links.remove_leftovers("sk_lookup-43").unwrap();
    assert!(
        !pins.0.join(LINKS_DIR).join("7").exists(),
        "an emptied agent directory goes"
    );
}

#[test]
fn a_fail_closed_agent_leaves_its_pins_on_exit() {
    let pins = PinDir::new("closed-exit");
    let links = LinkPins::new(&pins.0, 9, true).unwrap();
    assert!(links.fail_closed());
    let pin = pins.leave(9, "connect4");
    drop(links);
    assert!(pin.exists());
    assert!(LinkPins::left_behind(&pins.0));
}

#[test]
fn a_fail_open_agent_removes_every_pinned_link_on_exit() {
    let pins = PinDir::new("open-exit");
    let leftover = pins.leave(7, "sk_lookup-43");
    let links = LinkPins::new(&pins.0, 9, false).unwrap();
    assert!(!links.fail_closed());
    assert!(
        !pins.0.join(LINKS_DIR).join("9").exists(),
        "fail-open pins nothing"
    );
    drop(links);
    assert!(!leftover.exists());
    assert!(!LinkPins::left_behind(&pins.0));
}

#[test]
fn a_fail_open_agent_handing_over_leaves_the_successors_pins() {
    let pins = PinDir::new("open-handover");
    let links = LinkPins::new(&pins.0, 9, false).unwrap();
    let successor = pins.leave(11, "connect4");
    links.hand_over();
    drop(links);
    assert!(successor.exists());
}
