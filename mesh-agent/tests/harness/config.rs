//! Configuration for the tests: YAML builders for the kinds tests use, compiled into the
//! `ConfigState` the agent reads (as the pipeline would swap it in), and the fixtures under
//! `tests/data/config` as resource sets.

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use mesh_agent::pipeline::ConfigState;
use mesh_agent::pipeline::{self, ConfigMetrics};
use mesh_agent::sources::DirectorySource;
use prometheus_client::registry::Registry;

use super::{wait_until, TempDir};
use mesh_agent::document::Problem;
use mesh_agent::document::{parse_documents, read_documents};
use mesh_agent::document::{RawResource, ResourceSet, SourceUpdate};
use mesh_agent::snapshot::{build, LoadSettings, Snapshot};

/// The configuration compiled from `yaml`, which must be valid.
pub fn compile(yaml: &str) -> ConfigState {
    // Test certificate files are written under the temp dir (`TestCa::write`): the agent's
    // --tls-file-dir there.
    let state = ConfigState::with_load_settings(LoadSettings {
        tls_file_dir: std::env::temp_dir(),
        ..LoadSettings::default()
    });
    apply(&state, yaml);
    state
}

/// Swaps in the configuration compiled from `yaml`, which must be valid.
pub fn apply(state: &ConfigState, yaml: &str) {
    let reload = state.apply(&update("test.yaml", yaml));
    let errors: Vec<String> = reload
        .problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| p.to_string())
        .collect();
    assert!(errors.is_empty(), "test configuration rejected: {errors:?}");
}

/// A source update carrying the documents of `yaml`, named `file` in messages.
pub fn update(file: &str, yaml: &str) -> SourceUpdate {
    SourceUpdate {
        resources: Arc::new(documents(file, yaml)),
        problems: Default::default(),
    }
}

/// A config directory watched by the directory source, feeding the pipeline into `state` (as
/// `agent::run` wires them): files written there are reloaded while the test runs.
pub struct WatchedDir {
    pub dir: TempDir,
    pub state: ConfigState,
}

impl WatchedDir {
    /// `files` (name, YAML) written to a fresh directory, watched; the first snapshot loaded.
    /// The pipeline's metrics go to `registry`.
    pub async fn start(tag: &str, files: &[(&str, &str)], registry: &mut Registry) -> Self {
        let dir = TempDir::new(tag);
        for (name, yaml) in files {
            std::fs::write(dir.path().join(name), yaml).unwrap();
        }
        let source = DirectorySource::new(dir.path());
        // The agent's access-log directory is the watched one: tests log under it.
        let state = ConfigState::with_load_settings(LoadSettings {
            access_log_dir: dir.path().to_path_buf(),
            ..LoadSettings::default()
        });
        let metrics = ConfigMetrics::register(registry);
        tokio::spawn(pipeline::run(source.subscribe(), state.clone(), metrics));
        tokio::spawn(source.run());
        wait_until("first snapshot", || state.is_loaded()).await;
        Self { dir, state }
    }

    /// Writes (or with `None` removes) `file` in the directory; waits for the reload.
    pub async fn write(&self, file: &str, yaml: Option<&str>) {
        let before = self.state.generation();
        let path = self.dir.path().join(file);
        match yaml {
            Some(yaml) => std::fs::write(path, yaml).unwrap(),
            None => std::fs::remove_file(path).unwrap(),
        }
        wait_until("reload", || self.state.generation() > before).await;
    }
}

/// A Service `shop/<name>` at `cluster_ip` selecting `app: <name>`, port 80 (named
/// `port_name` unless empty) to `target_port`.
pub fn service(name: &str, cluster_ip: &str, port_name: &str, target_port: u16) -> String {
    let port_name = match port_name {
        "" => String::new(),
        named => format!("name: {named}, "),
    };
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: shop}}\n\
         spec:\n  clusterIP: {cluster_ip}\n  selector: {{app: {name}}}\n\
         \x20 ports: [{{{port_name}port: 80, targetPort: {target_port}}}]\n---\n"
    )
}

/// A Pod `shop/<name>` with `labels` (flow style, e.g. `app: web, version: v1`) at `ip`.
pub fn pod(name: &str, labels: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, \
         labels: {{{labels}}}}}\nstatus: {{podIP: {ip}}}\n---\n"
    )
}

/// The client pod `sleep-0` (`app: sleep, version: v1`) at 127.0.0.1.
pub fn sleep() -> String {
    pod("sleep-0", "app: sleep, version: v1", "127.0.0.1")
}

/// A DestinationRule for `web` with `policy` (YAML under `trafficPolicy:`, indented 4; empty
/// for none) and subsets `v1` … `v4` (label `version`).
pub fn destination_rule(policy: &str) -> String {
    let policy = match policy {
        "" => String::new(),
        policy => format!("  trafficPolicy:\n{policy}"),
    };
    let subsets: String = (1..=4)
        .map(|i| format!("  - {{name: v{i}, labels: {{version: v{i}}}}}\n"))
        .collect();
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
         metadata: {{name: web, namespace: shop}}\nspec:\n  host: web\n\
         {policy}  subsets:\n{subsets}---\n"
    )
}

/// A VirtualService `shop/<name>` for `hosts` (flow list), bound to `gateways` (flow list;
/// empty: the mesh), with `http` rules (YAML, indented under `http:`).
pub fn virtual_service(name: &str, hosts: &str, gateways: &str, http: &str) -> String {
    let gateways = match gateways {
        "" => String::new(),
        gateways => format!("  gateways: {gateways}\n"),
    };
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: {name}, namespace: shop}}\nspec:\n  hosts: {hosts}\n\
         {gateways}  http:\n{http}---\n"
    )
}

/// The VirtualService of `web` with `http` rules.
pub fn web_routes(http: &str) -> String {
    virtual_service("web", "[web]", "", http)
}

/// The VirtualService sending `web` to subset `subset`, with `extra` (rule fields, indented 4).
pub fn route_to(subset: &str, extra: &str) -> String {
    web_routes(&format!(
        "  - route: [{{destination: {{host: web, subset: {subset}}}}}]\n{extra}"
    ))
}

/// A Gateway `shop/web` selecting `selector`, with `servers` (YAML under `servers:`).
pub fn gateway(selector: &str, servers: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: Gateway\n\
         metadata: {{name: web, namespace: shop}}\nspec:\n  selector: {{{selector}}}\n\
         \x20 servers:\n{servers}---\n"
    )
}

/// A Gateway server: plain HTTP on `port` for `hosts` (flow list).
pub fn http_server(port: u16, hosts: &str) -> String {
    format!("  - port: {{number: {port}, name: http-{port}, protocol: HTTP}}\n    hosts: {hosts}\n")
}

/// The MeshConfig `istio-system/istio` holding `mesh` (its lines, unindented).
pub fn mesh_config(mesh: &str) -> String {
    let mesh: String = mesh.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: istio, namespace: istio-system}}\n\
         data:\n  mesh: |\n{mesh}"
    )
}

/// `tests/data/config/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
}

/// Bookinfo's services and pods.
pub fn bookinfo() -> Vec<RawResource> {
    read_documents(&fixture("valid/bookinfo.yaml")).expect("bookinfo fixture")
}

/// Documents of `text`, named `name` in messages.
pub fn documents(name: &str, text: &str) -> Vec<RawResource> {
    parse_documents(Path::new(name), text).expect("fixture parses")
}

/// The traffic-management task shapes at `api_version` (`v1alpha3`, `v1beta1`, `v1`).
pub fn tasks(api_version: &str) -> Vec<RawResource> {
    let template = std::fs::read_to_string(fixture("tasks.yaml.in")).unwrap();
    documents("tasks.yaml", &template.replace("APIVERSION", api_version))
}

/// Bookinfo plus `extra`, compiled without a previous snapshot.
pub fn compile_with(extra: Vec<RawResource>) -> (Snapshot, Vec<Problem>) {
    let mut set = bookinfo();
    set.extend(extra);
    build(&Arc::new(set), None)
}

/// Compiles `set` on top of `previous`.
pub fn rebuild(set: Vec<RawResource>, previous: &Snapshot) -> (Snapshot, Vec<Problem>) {
    build(&ResourceSet::new(set), Some(previous))
}

/// The problems as `check` prints them.
pub fn lines(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

/// AuthorizationPolicies of `shop` named p0, p1, ... selecting `app: web`, one per spec (flow
/// style, e.g. `action: DENY, rules: [{}]`).
pub fn authorization_policies(specs: &[&str]) -> String {
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            format!(
                "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n\
                 metadata: {{name: p{i}, namespace: shop}}\n\
                 spec: {{selector: {{matchLabels: {{app: web}}}}, {spec}}}\n---\n"
            )
        })
        .collect()
}
