//! Every manifest in `deploy/` parses with the real Kubernetes types (and loses nothing in the
//! round trip, so a misspelt field fails), the DaemonSet has its mounts, ports and probes, runs
//! nothing privileged and adds exactly the capabilities deploy/README documents, installs
//! mesh-cni; the ClusterRole grants exactly what the agent's Kubernetes source watches cluster-wide
//! and Secrets are granted only by namespaced Roles; `crds.yaml` is the generator's current output;
//! the egress gateway's agent is the same agent on the labelled nodes (`egress_gateway.rs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Container, Namespace, PodSpec, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mesh_agent::sources::kubernetes::{Selection, DEFAULT_SECRET_NAMESPACES};
use mesh_agent::sources::WATCHED_KINDS;
use serde::de::DeserializeOwned;
use serde::Deserialize as _;
use serde_json::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every document of a manifest file, as JSON values.
fn documents(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(deploy_dir().join(file)).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|doc| !doc.is_null())
        .collect()
}

/// Parses `doc` as `T` and checks nothing was dropped (an unknown field would be).
fn typed<T: DeserializeOwned + serde::Serialize>(doc: &Value) -> T {
    let object: T = serde_json::from_value(doc.clone()).unwrap();
    let back = serde_json::to_value(&object).unwrap();
    assert_eq!(
        &back, doc,
        "{} does not round-trip: unknown or misspelt field?",
        doc["kind"]
    );
    object
}

fn all_manifests() -> Vec<Value> {
    [
        "namespace.yaml",
        "rbac.yaml",
        "daemonset.yaml",
        "egress-gateway.yaml",
        "crds.yaml",
    ]
    .iter()
    .flat_map(|f| documents(f))
    .collect()
}

#[test]
fn every_manifest_parses_with_the_kubernetes_types() {
    let mut kinds = Vec::new();
    for doc in all_manifests() {
        let kind = doc["kind"].as_str().unwrap().to_owned();
        match kind.as_str() {
            "Namespace" => drop(typed::<Namespace>(&doc)),
            "ServiceAccount" => drop(typed::<ServiceAccount>(&doc)),
            "ClusterRole" => drop(typed::<ClusterRole>(&doc)),
            "ClusterRoleBinding" => drop(typed::<ClusterRoleBinding>(&doc)),
            "Role" => drop(typed::<Role>(&doc)),
            "RoleBinding" => drop(typed::<RoleBinding>(&doc)),
            "DaemonSet" => drop(typed::<DaemonSet>(&doc)),
            "Service" => drop(typed::<Service>(&doc)),
            "CustomResourceDefinition" => drop(typed::<CustomResourceDefinition>(&doc)),
            other => panic!("unexpected kind {other} in deploy/"),
        }
        kinds.push(kind);
    }
    kinds.dedup();
    let expected = [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Role",
        "RoleBinding",
        "DaemonSet",
        "ServiceAccount",
        "Service",
        "DaemonSet",
        "CustomResourceDefinition",
    ];
    assert_eq!(kinds, expected);
}

fn daemonset() -> DaemonSet {
    typed(&documents("daemonset.yaml")[0])
}

fn agent(spec: &PodSpec) -> &Container {
    spec.containers.iter().find(|c| c.name == "agent").unwrap()
}

#[test]
fn the_daemonset_runs_the_agent_on_the_host_namespaces() {
    let ds = daemonset();
    assert_eq!(ds.metadata.namespace.as_deref(), Some("mesh-system"));
    let template = ds.spec.unwrap().template;
    let spec = template.spec.unwrap();
    assert_eq!((spec.host_pid, spec.host_network), (Some(true), Some(true)));
    assert_eq!(spec.service_account_name.as_deref(), Some("mesh-agent"));
    let agent = agent(&spec);
    let args = agent.args.clone().unwrap();
    assert_eq!(
        args[..4],
        ["run", "--kubernetes", "--node-name", "$(NODE_NAME)"]
    );
    let node_name = agent
        .env
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.name == "NODE_NAME")
        .unwrap();
    let field = node_name
        .value_from
        .as_ref()
        .unwrap()
        .field_ref
        .as_ref()
        .unwrap();
    assert_eq!(field.field_path, "spec.nodeName");
    let resources = agent.resources.as_ref().unwrap();
    for key in ["cpu", "memory"] {
        assert!(
            resources.requests.as_ref().unwrap().contains_key(key),
            "request {key}"
        );
        assert!(
            resources.limits.as_ref().unwrap().contains_key(key),
            "limit {key}"
        );
    }
    let annotations = template.metadata.unwrap().annotations.unwrap();
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], "15020");
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
}

#[test]
fn the_agent_mounts_only_bpffs_cgroup2_netns_and_its_socket_dir_from_the_host() {
    let spec = daemonset().spec.unwrap().template.spec.unwrap();
    let volumes = spec.volumes.clone().unwrap();
    let host_path = |volume: &str| {
        let found = volumes
            .iter()
            .find(|v| v.name == volume)
            .unwrap_or_else(|| panic!("no volume {volume}"));
        found.host_path.as_ref().map(|h| h.path.clone())
    };
    let mounts: BTreeSet<(String, String, Option<String>)> = agent(&spec)
        .volume_mounts
        .clone()
        .unwrap()
        .into_iter()
        .filter_map(|m| Some((host_path(&m.name)?, m.mount_path, m.mount_propagation)))
        .collect();
    let host_to_container = Some("HostToContainer".to_owned());
    let wanted = BTreeSet::from([
        (
            "/sys/fs/bpf".into(),
            "/sys/fs/bpf".into(),
            host_to_container.clone(),
        ),
        ("/sys/fs/cgroup".into(), "/host/sys/fs/cgroup".into(), None),
        (
            "/var/run/netns".into(),
            "/var/run/netns".into(),
            host_to_container,
        ),
        ("/run/mesh-agent".into(), "/run/mesh-agent".into(), None),
    ]);
    assert_eq!(mounts, wanted, "the agent's host mounts");
    let args = agent(&spec).args.clone().unwrap();
    let cgroup = args
        .iter()
        .position(|a| a == "--cgroup")
        .map(|i| args[i + 1].as_str());
    assert_eq!(
        cgroup,
        Some("/host/sys/fs/cgroup/kubepods.slice"),
        "the agent attaches to the pods' cgroup (systemd driver), never the cgroup2 root"
    );
    let read_only: Vec<&str> = agent(&spec)
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .filter(|m| m.read_only == Some(true))
        .map(|m| m.mount_path.as_str())
        .collect();
    assert_eq!(
        read_only,
        [
            "/host/sys/fs/cgroup",
            "/var/run/netns",
            "/var/run/secrets/istio",
            "/var/run/secrets/tokens"
        ]
    );
}

#[test]
fn the_agent_asks_the_mesh_ca_with_a_pod_bound_token_for_istio_ca() {
    let spec = daemonset().spec.unwrap().template.spec.unwrap();
    let args = agent(&spec).args.clone().unwrap();
    let flag = |name: &str| {
        let at = args
            .iter()
            .position(|a| a == name)
            .unwrap_or_else(|| panic!("{name}"));
        args[at + 1].clone()
    };
    let ca = documents("ca.yaml");
    let service = ca.iter().find(|d| d["kind"] == "Service").unwrap();
    let (name, port) = (
        &service["metadata"]["name"],
        &service["spec"]["ports"][0]["port"],
    );
    assert_eq!(
        flag("--ca-address"),
        format!("https://{}.mesh-system.svc:{port}", name.as_str().unwrap())
    );
    let mounted = |volume: &str| {
        let mounts = agent(&spec).volume_mounts.clone().unwrap();
        let mount = mounts.into_iter().find(|m| m.name == volume).unwrap();
        let volume = spec
            .volumes
            .as_ref()
            .unwrap()
            .iter()
            .find(|v| v.name == volume);
        (mount.mount_path, volume.unwrap().clone())
    };
    let (path, token) = mounted("istio-token");
    let sources = token.projected.unwrap().sources.unwrap();
    let projected = sources[0].service_account_token.clone().unwrap();
    assert_eq!(
        projected.audience.as_deref(),
        Some("istio-ca"),
        "the CA's --audience"
    );
    assert_eq!(flag("--ca-token"), format!("{path}/{}", projected.path));
    let (path, root) = mounted("istio-ca-root-cert");
    assert_eq!(root.config_map.unwrap().name, "istio-ca-root-cert");
    assert_eq!(flag("--ca-root"), format!("{path}/root-cert.pem"));
}

#[test]
fn the_daemonset_serves_metrics_and_readiness_on_istio_ports() {
    let spec = daemonset().spec.unwrap().template.spec.unwrap();
    let agent = agent(&spec);
    let ports: BTreeSet<i32> = agent
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.container_port)
        .collect();
    assert_eq!(ports, BTreeSet::from([15020, 15021]), "no admin port");
    let args = agent.args.clone().unwrap();
    assert!(
        !args.iter().any(|a| a.starts_with("--admin")),
        "admin stays on its default Unix socket under /run/mesh-agent: {args:?}"
    );
    let probe = agent
        .readiness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(probe.path.as_deref(), Some("/healthz/ready"));
    assert_eq!(probe.port, IntOrString::Int(15021));
    let live = agent.liveness_probe.as_ref().unwrap().http_get.as_ref();
    let live = live.unwrap();
    assert_eq!(live.path.as_deref(), Some("/healthz/live"));
    assert_eq!(live.port, IntOrString::Int(15021));
}

/// An upgrade starts the new agent beside the old one (never a node without an agent), and
/// both see the hand-over socket's directory and the pins on the host.
#[test]
fn upgrades_surge_a_successor_that_finds_the_running_agent_on_the_host() {
    let daemonset = daemonset();
    let strategy = daemonset.spec.as_ref().unwrap().update_strategy.clone();
    let rolling = strategy.unwrap().rolling_update.expect("a rolling update");
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    let spec = daemonset.spec.unwrap().template.spec.unwrap();
    let host_paths: Vec<String> = spec
        .volumes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| v.host_path.map(|h| h.path))
        .collect();
    for dir in ["/run/mesh-agent", "/sys/fs/bpf"] {
        assert!(
            host_paths.iter().any(|p| p == dir),
            "{dir} from the host: {host_paths:?}"
        );
    }
    let handover = Path::new(mesh_agent::handover::DEFAULT_SOCKET);
    assert_eq!(handover.parent(), Some(Path::new("/run/mesh-agent")));
}

#[test]
fn the_failure_mode_is_a_daemonset_setting_the_agent_reads() {
    let spec = daemonset().spec.unwrap().template.spec.unwrap();
    let env = agent(&spec).env.clone().unwrap();
    let setting = env
        .iter()
        .find(|e| e.name == "MESH_FAIL_CLOSED")
        .expect("MESH_FAIL_CLOSED in the agent's env");
    let value = setting.value.as_deref().unwrap_or_default();
    assert!(["true", "false"].contains(&value), "{value:?}");
    let run = <mesh_agent::config::RunArgs as clap::Args>::augment_args(clap::Command::new("run"));
    let flag = run
        .get_arguments()
        .find(|a| a.get_long() == Some("fail-closed"))
        .expect("--fail-closed");
    assert_eq!(
        flag.get_env().and_then(|e| e.to_str()),
        Some("MESH_FAIL_CLOSED")
    );
}

#[test]
fn the_agent_drains_within_its_grace_period() {
    let spec = daemonset().spec.unwrap().template.spec.unwrap();
    let grace = spec
        .termination_grace_period_seconds
        .expect("a grace period");
    let args = agent(&spec).args.clone().unwrap();
    let at = args
        .iter()
        .position(|a| a == "--drain-time")
        .expect("--drain-time");
    let drain: i64 = args[at + 1].parse().unwrap();
    assert!(
        0 < drain && drain < grace,
        "drain {drain}s inside grace {grace}s"
    );
}

#[test]
fn the_cluster_role_grants_read_only_exactly_what_the_source_watches_cluster_wide() {
    let rbac = documents("rbac.yaml");
    let role: ClusterRole = typed(rbac.iter().find(|d| d["kind"] == "ClusterRole").unwrap());
    let mut granted = BTreeSet::new();
    let (nodes, rules): (Vec<_>, Vec<_>) = role
        .rules
        .unwrap()
        .into_iter()
        .partition(|rule| rule.resources.as_deref() == Some(&["nodes".to_owned()][..]));
    // Its own Node, once at start (topology labels: where it runs), not watched.
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].verbs, ["get"]);
    for rule in rules {
        assert_eq!(rule.verbs, ["get", "list", "watch"], "read-only");
        let names = rule.resource_names.unwrap_or_default();
        for group in rule.api_groups.unwrap() {
            for resource in rule.resources.clone().unwrap() {
                granted.insert((group.clone(), resource, names.clone()));
            }
        }
    }
    let watched: BTreeSet<(String, String, Vec<String>)> = WATCHED_KINDS
        .iter()
        .filter(|kind| kind.plural != "secrets")
        .map(|kind| {
            let names = match kind.selection {
                Selection::Named { name, .. } => vec![name.to_owned()],
                _ => Vec::new(),
            };
            (kind.group.to_owned(), kind.plural.to_owned(), names)
        })
        .collect();
    assert_eq!(granted, watched, "and no Secrets cluster-wide");
    let binding: ClusterRoleBinding = typed(
        rbac.iter()
            .find(|d| d["kind"] == "ClusterRoleBinding")
            .unwrap(),
    );
    assert_eq!(binding.role_ref.name, "mesh-agent");
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(
        (subject.name.as_str(), subject.namespace.as_deref()),
        ("mesh-agent", Some("mesh-system"))
    );
}

/// The agent's `--secret-namespaces` in the DaemonSet.
fn secret_namespaces() -> Vec<String> {
    let spec = daemonset().spec.unwrap().template.spec.unwrap();
    let args = agent(&spec).args.clone().unwrap();
    let at = args
        .iter()
        .position(|a| a == "--secret-namespaces")
        .unwrap();
    args[at + 1].split(',').map(str::to_owned).collect()
}

#[test]
fn secrets_are_read_only_in_the_secret_namespaces_through_namespaced_roles() {
    let namespaces = secret_namespaces();
    assert_eq!(
        namespaces, DEFAULT_SECRET_NAMESPACES,
        "the DaemonSet spells out the default"
    );
    let secrets = WATCHED_KINDS
        .iter()
        .find(|kind| kind.plural == "secrets")
        .unwrap();
    assert_eq!(
        secrets.field_selector("node").as_deref(),
        Some("type=kubernetes.io/tls")
    );
    let rbac = documents("rbac.yaml");
    let mut roles = Vec::new();
    for doc in rbac.iter().filter(|d| d["kind"] == "Role") {
        let role: Role = typed(doc);
        let rules = role.rules.unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0].resources.as_deref(),
            Some(&["secrets".to_owned()][..])
        );
        assert_eq!(rules[0].verbs, ["get", "list", "watch"], "read-only");
        roles.push((
            role.metadata.namespace.unwrap(),
            role.metadata.name.unwrap(),
        ));
    }
    let role_namespaces: Vec<&str> = roles.iter().map(|(ns, _)| ns.as_str()).collect();
    assert_eq!(
        role_namespaces, namespaces,
        "a Role in each namespace, nowhere else"
    );
    for doc in rbac.iter().filter(|d| d["kind"] == "RoleBinding") {
        let binding: RoleBinding = typed(doc);
        let namespace = binding.metadata.namespace.unwrap();
        assert!(roles.contains(&(namespace.clone(), binding.role_ref.name.clone())));
        assert_eq!(binding.role_ref.kind, "Role");
        let subject = &binding.subjects.unwrap()[0];
        assert_eq!(
            (subject.name.as_str(), subject.namespace.as_deref()),
            ("mesh-agent", Some("mesh-system")),
            "in {namespace}"
        );
    }
    assert_eq!(
        rbac.iter().filter(|d| d["kind"] == "RoleBinding").count(),
        roles.len()
    );
}

#[test]
fn the_crds_cover_the_watched_istio_kinds_in_every_tutorial_version() {
    let mut covered = BTreeSet::new();
    for doc in documents("crds.yaml") {
        let crd: CustomResourceDefinition = typed(&doc);
        let versions: Vec<(String, bool, bool)> = crd
            .spec
            .versions
            .iter()
            .map(|v| (v.name.clone(), v.served, v.storage))
            .collect();
        let expected: &[&str] = match crd.spec.group.as_str() {
            // Istio serves EnvoyFilter at v1alpha3 only.
            "networking.istio.io" if crd.spec.names.kind == "EnvoyFilter" => &["v1alpha3"],
            "networking.istio.io" => &["v1alpha3", "v1beta1", "v1"],
            "security.istio.io" => &["v1beta1", "v1"],
            "telemetry.istio.io" => &["v1alpha1", "v1"],
            other => panic!("unexpected group {other}"),
        };
        let names: Vec<&str> = versions.iter().map(|(name, _, _)| name.as_str()).collect();
        assert_eq!(names, expected);
        assert!(versions.iter().all(|(_, served, _)| *served));
        let stored: Vec<&str> = versions
            .iter()
            .filter(|v| v.2)
            .map(|v| v.0.as_str())
            .collect();
        assert_eq!(stored, [*expected.last().unwrap()], "the newest is stored");
        covered.insert((crd.spec.group, crd.spec.names.plural));
    }
    let istio: BTreeSet<(String, String)> = WATCHED_KINDS
        .iter()
        .filter(|kind| kind.group.ends_with(".istio.io"))
        .map(|kind| (kind.group.to_owned(), kind.plural.to_owned()))
        .collect();
    assert_eq!(covered, istio);
}

#[test]
fn crds_yaml_is_the_generators_current_output() {
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["gen-crds", "--check"])
        .status()
        .unwrap();
    assert!(
        status.success(),
        "deploy/crds.yaml is stale: run `cargo xtask gen-crds`"
    );
}

#[test]
fn the_kustomization_installs_the_agent_but_not_the_crds() {
    let kustomization = &documents("kustomization.yaml")[0];
    let resources: Vec<&str> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    // crds.yaml and servicemonitor.yaml need CRDs a cluster may not have: applied separately.
    assert_eq!(
        resources,
        [
            "namespace.yaml",
            "rbac.yaml",
            "daemonset.yaml",
            "egress-gateway.yaml",
            "ca.yaml"
        ]
    );
}

#[test]
fn the_service_monitor_scrapes_the_agents_metrics_port() {
    let docs = documents("servicemonitor.yaml");
    let service: Service = typed(docs.iter().find(|d| d["kind"] == "Service").unwrap());
    let spec = service.spec.unwrap();
    let template = daemonset().spec.unwrap().template;
    let pod_labels = template.metadata.unwrap().labels.unwrap();
    let selector = spec.selector.unwrap();
    assert!(
        selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)),
        "selects the agents"
    );
    let port = &spec.ports.unwrap()[0];
    assert_eq!(
        (port.port, port.name.as_deref()),
        (15020, Some("http-metrics"))
    );
    let monitor = docs.iter().find(|d| d["kind"] == "ServiceMonitor").unwrap();
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    let matched = &monitor["spec"]["selector"]["matchLabels"];
    let service_labels = service.metadata.labels.unwrap();
    for (key, value) in matched.as_object().unwrap() {
        assert_eq!(
            Some(value.as_str().unwrap()),
            service_labels.get(key).map(String::as_str)
        );
    }
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(
        (endpoint["port"].as_str(), endpoint["path"].as_str()),
        (Some("http-metrics"), Some("/metrics"))
    );
}

#[test]
fn the_image_holds_the_bpf_object_where_the_daemonset_looks() {
    let dockerfile = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
    let spec = daemonset().spec.unwrap().template.spec.unwrap();
    let args = agent(&spec).args.clone().unwrap();
    let object = args
        .iter()
        .position(|a| a == "--bpf-object")
        .map(|i| args[i + 1].clone())
        .unwrap();
    assert!(
        dockerfile.contains(&format!("mesh-ebpf {object}\n")),
        "Dockerfile must install {object}"
    );
    assert!(dockerfile.contains("/usr/local/bin/mesh-agent"));
    assert!(dockerfile.contains("COPY --from=builder /out/mesh-cni /usr/local/bin/mesh-cni"));
    assert!(
        dockerfile.contains("RUSTFLAGS=\"-C target-feature=+crt-static\""),
        "mesh-cni runs on the host: built static"
    );
}

#[path = "deploy_manifests/ca.rs"]
mod ca;
#[path = "deploy_manifests/egress_gateway.rs"]
mod egress_gateway;
#[path = "deploy_manifests/privilege.rs"]
mod privilege;

#[test]
fn the_optional_rate_limit_service_is_where_the_example_envoy_filter_asks() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::ConfigMap;
    let docs = documents("ratelimit/rate-limit-service.yaml");
    let mut services = Vec::new();
    for doc in &docs {
        match doc["kind"].as_str().unwrap() {
            "ConfigMap" => drop(typed::<ConfigMap>(doc)),
            "Deployment" => {
                let deployment: Deployment = typed(doc);
                let pod = deployment.spec.unwrap().template.spec.unwrap();
                let image = pod.containers[0].image.clone().unwrap();
                assert!(
                    !image.ends_with(":latest") && image.contains(':'),
                    "{image} pinned"
                );
            }
            "Service" => services.push(typed::<Service>(doc)),
            other => panic!("unexpected {other}"),
        }
    }
    let example = &documents("ratelimit/envoyfilter-global-example.yaml")[0];
    let config = &example["spec"]["configPatches"][0]["patch"]["value"]["typed_config"];
    let cluster = config["rate_limit_service"]["grpc_service"]["envoy_grpc"]["cluster_name"]
        .as_str()
        .unwrap();
    let ratelimit = services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("ratelimit"))
        .unwrap();
    let namespace = ratelimit.metadata.namespace.as_deref().unwrap();
    let ports = ratelimit.spec.as_ref().unwrap().ports.clone().unwrap();
    let grpc = ports
        .iter()
        .find(|p| p.name.as_deref() == Some("grpc-port"));
    let wanted = format!(
        "outbound|{}||ratelimit.{namespace}.svc.cluster.local",
        grpc.unwrap().port
    );
    assert_eq!(cluster, wanted);
}
