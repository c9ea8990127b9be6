//! The directory source: recursive multi-document reading, hot reload with debounce, a broken
//! file keeping its previous documents, deletion removing them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mesh_agent::document::{Origin, SourceUpdate};
use mesh_agent::sources::DirectorySource;
use tokio::sync::watch;

/// A scratch config directory, removed on drop (also when a test fails).
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mesh-sources-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn service(name: &str, port: u16) -> String {
    format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  ports:\n  - port: {port}\n")
}

/// `kind/name:port` of each Service (or `kind/name`), in publication order.
fn summary(update: &SourceUpdate) -> Vec<String> {
    update
        .resources
        .iter()
        .map(|r| match r.body.pointer("/spec/ports/0/port") {
            Some(port) => format!("{}/{}:{port}", r.kind, r.name),
            None => format!("{}/{}", r.kind, r.name),
        })
        .collect()
}

fn line_of(update: &SourceUpdate, name: &str) -> (PathBuf, usize) {
    let found = update.resources.iter().find(|r| r.name == name).unwrap();
    match &found.origin {
        Origin::File { path, line, .. } => (path.clone(), *line),
        other => panic!("unexpected origin {other:?}"),
    }
}

#[test]
fn reads_yaml_yml_and_json_recursively_with_document_lines() {
    let dir = ScratchDir::new("recursive");
    let multi = format!("# reviews\n{}---\n\n{}", service("a", 1), service("b", 2));
    let multi_path = dir.write("apps/multi.yaml", &multi);
    dir.write("nested/deeper/c.yml", &service("c", 3));
    let json = r#"{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"vs","namespace":"default"},"spec":{}}"#;
    dir.write("vs.json", json);
    dir.write("notes.txt", "not a resource");
    dir.write(".hidden/d.yaml", &service("d", 4));
    let mut source = DirectorySource::new(&dir.0);
    let updates = source.subscribe();
    source.reload();
    let update = updates.borrow().clone();
    assert_eq!(
        summary(&update),
        [
            "Service/a:1",
            "Service/b:2",
            "Service/c:3",
            "VirtualService/vs"
        ]
    );
    assert_eq!(line_of(&update, "a"), (multi_path.clone(), 2));
    assert_eq!(line_of(&update, "b"), (multi_path, 12));
    assert_eq!(update.resources[0].namespace.as_deref(), Some("default"));
    assert_eq!(update.resources[3].api_version, "networking.istio.io/v1");
    assert!(update.problems.is_empty(), "{:?}", update.problems);
}

#[test]
fn a_list_document_is_expanded_into_its_items() {
    let dir = ScratchDir::new("list");
    let items = format!("{}---\n{}", service("a", 1), service("b", 2));
    let docs: Vec<serde_json::Value> = items
        .split("---\n")
        .map(|doc| serde_yaml::from_str(doc).unwrap())
        .collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs});
    dir.write("list.json", &list.to_string());
    let mut source = DirectorySource::new(&dir.0);
    source.reload();
    assert_eq!(
        summary(&source.subscribe().borrow()),
        ["Service/a:1", "Service/b:2"]
    );
}

#[test]
fn a_change_takes_effect_on_reload() {
    let dir = ScratchDir::new("change");
    dir.write("svc.yaml", &service("a", 1));
    let mut source = DirectorySource::new(&dir.0);
    let updates = source.subscribe();
    source.reload();
    dir.write("svc.yaml", &service("a", 2222));
    source.reload();
    assert_eq!(summary(&updates.borrow()), ["Service/a:2222"]);
}

#[test]
fn a_broken_file_keeps_its_previous_documents_and_is_reported() {
    let dir = ScratchDir::new("broken");
    let path = dir.write(
        "svc.yaml",
        &format!("{}---\n{}", service("a", 1), service("b", 2)),
    );
    dir.write("other.yaml", &service("c", 3));
    let mut source = DirectorySource::new(&dir.0);
    let updates = source.subscribe();
    source.reload();
    dir.write(
        "svc.yaml",
        &format!("{}---\nkind: [unclosed\n", service("a", 9)),
    );
    dir.write("other.yaml", &service("c", 33));
    source.reload();
    let update = updates.borrow().clone();
    assert_eq!(
        summary(&update),
        ["Service/c:33", "Service/a:1", "Service/b:2"]
    );
    assert_eq!(update.problems.len(), 1, "{:?}", update.problems);
    let problem = &update.problems[0];
    assert_eq!(
        problem.origin.to_string(),
        format!("{}:10:7", path.display())
    );
    assert!(!problem.message.is_empty(), "{problem}");

    dir.write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {}\n");
    source.reload();
    let update = updates.borrow().clone();
    assert_eq!(
        summary(&update),
        ["Service/c:33", "Service/a:1", "Service/b:2"]
    );
    assert_eq!(
        update.problems[0].to_string(),
        format!("{}:1:1: document has no metadata.name", path.display())
    );

    dir.write("svc.yaml", &service("a", 4));
    source.reload();
    let update = updates.borrow().clone();
    assert_eq!(summary(&update), ["Service/c:33", "Service/a:4"]);
    assert!(update.problems.is_empty());
}

#[test]
fn deleting_a_file_removes_its_resources() {
    let dir = ScratchDir::new("delete");
    let doomed = dir.write("sub/doomed.yaml", &service("a", 1));
    dir.write("kept.yaml", &service("b", 2));
    let mut source = DirectorySource::new(&dir.0);
    let updates = source.subscribe();
    source.reload();
    assert_eq!(summary(&updates.borrow()).len(), 2);
    std::fs::remove_file(doomed).unwrap();
    source.reload();
    assert_eq!(summary(&updates.borrow()), ["Service/b:2"]);
}

/// Waits (on the source's own schedule) for the next publication.
async fn next(updates: &mut watch::Receiver<SourceUpdate>) -> Vec<String> {
    let changed = tokio::time::timeout(Duration::from_secs(30), updates.changed());
    changed
        .await
        .expect("no reload within 30 s")
        .expect("source stopped");
    summary(&updates.borrow_and_update())
}

#[tokio::test]
async fn run_reloads_a_changed_directory_without_being_asked() {
    let dir = ScratchDir::new("hot");
    dir.write("svc.yaml", &service("a", 1));
    let source = DirectorySource::new(&dir.0);
    let mut updates = source.subscribe();
    let task = tokio::spawn(source.run());
    assert_eq!(next(&mut updates).await, ["Service/a:1"]);
    dir.write("svc.yaml", &service("a", 2));
    assert_eq!(next(&mut updates).await, ["Service/a:2"]);
    dir.write("more/b.yaml", &service("b", 3));
    assert_eq!(next(&mut updates).await, ["Service/b:3", "Service/a:2"]);
    std::fs::remove_file(dir.0.join("svc.yaml")).unwrap();
    assert_eq!(next(&mut updates).await, ["Service/b:3"]);
    task.abort();
}

/// Writes 400 ms apart (less than two polls) straddle a poll; only the last one is applied.
#[tokio::test(start_paused = true)]
async fn a_burst_of_writes_gives_one_reload() {
    let dir = ScratchDir::new("burst");
    write_port(&dir.0, 1);
    let source = DirectorySource::new(&dir.0);
    let mut updates = source.subscribe();
    let task = tokio::spawn(source.run());
    assert_eq!(next(&mut updates).await, ["Service/a:1"]);
    let seen = tokio::spawn(async move {
        let mut seen = Vec::new();
        while updates.changed().await.is_ok() {
            seen.push(summary(&updates.borrow_and_update()));
        }
        seen
    });
    for port in 2..=4 {
        write_port(&dir.0, port);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    task.abort();
    assert_eq!(seen.await.unwrap(), [["Service/a:4"]]);
}

fn write_port(dir: &Path, port: u16) {
    std::fs::write(dir.join("svc.yaml"), service("a", port)).unwrap();
}
