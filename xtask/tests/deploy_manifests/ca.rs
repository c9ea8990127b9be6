//! The mesh CA's manifest (`ca.yaml`): it parses with the Kubernetes types, the Deployment runs
//! `mesh-agent ca` with flags the real parser accepts (two replicas, unprivileged, the plug-in
//! CA mounted where `--ca-dir` looks), the Service reaches 15012, and RBAC grants exactly what
//! the CA does: TokenReview, pods on a node, the root's ConfigMaps and its own Secret.

use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mesh_agent::ca::CaArgs;
use serde_json::Value;

use super::{documents, typed};

fn doc(kind: &str) -> Value {
    let docs = documents("ca.yaml");
    docs.into_iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("ca.yaml has no {kind}"))
}

/// `mesh-agent ca`'s flags, parsed as the binary parses them.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Ca(CaArgs),
}

fn deployment() -> Deployment {
    typed(&doc("Deployment"))
}

/// The rules as `group resource [names] verbs` lines, sorted.
fn rules(rules: &[PolicyRule]) -> Vec<String> {
    let mut lines: Vec<String> = rules
        .iter()
        .flat_map(|rule| {
            let group = rule.api_groups.clone().unwrap_or_default().join(",");
            let names = rule.resource_names.clone().unwrap_or_default().join(",");
            let verbs = rule.verbs.join(",");
            let resources = rule.resources.clone().unwrap_or_default();
            resources
                .into_iter()
                .map(move |r| format!("{group} {r} [{names}] {verbs}"))
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn every_document_parses() {
    for doc in documents("ca.yaml") {
        match doc["kind"].as_str().unwrap() {
            "ServiceAccount" => drop(typed::<ServiceAccount>(&doc)),
            "ClusterRole" => drop(typed::<ClusterRole>(&doc)),
            "ClusterRoleBinding" => drop(typed::<ClusterRoleBinding>(&doc)),
            "Role" => drop(typed::<Role>(&doc)),
            "RoleBinding" => drop(typed::<RoleBinding>(&doc)),
            "Service" => drop(typed::<Service>(&doc)),
            "Deployment" => drop(typed::<Deployment>(&doc)),
            other => panic!("unexpected kind {other} in ca.yaml"),
        }
    }
}

#[test]
fn the_deployment_runs_two_unprivileged_cas_with_flags_the_binary_accepts() {
    let spec = deployment().spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("mesh-ca"));
    let container = &pod.containers[0];
    assert_eq!(
        container.command.as_deref(),
        Some(&["mesh-agent".to_owned()][..])
    );
    let args = container.args.clone().unwrap();
    let cli = Cli::try_parse_from(std::iter::once("mesh-agent".to_owned()).chain(args))
        .unwrap_or_else(|e| panic!("ca.yaml's args: {e}"));
    let Command::Ca(ca) = cli.command;
    let settings = ca.settings().unwrap();
    // The agents of daemonset.yaml and of egress-gateway.yaml.
    assert_eq!(
        settings.node_agents,
        [
            ("mesh-system".to_owned(), "mesh-agent".to_owned()),
            ("istio-system".to_owned(), "mesh-agent".to_owned())
        ]
    );
    let kinds: Vec<&str> = settings.gateways.kinds.iter().map(|k| k.kind).collect();
    assert_eq!(kinds, ["ingress", "egress"], "both gateways' identities");
    assert_eq!(ca.listen.port(), 15012);
    assert_eq!(ca.root_secret, "mesh-system/istio-ca-secret");
    let mount = container
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.name == "cacerts");
    assert_eq!(mount.map(|m| m.mount_path.as_str()), ca.ca_dir.to_str());
    let volume = pod
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == "cacerts")
        .unwrap();
    let secret = volume.secret.unwrap();
    assert_eq!(secret.secret_name.as_deref(), Some("cacerts"));
    assert_eq!(
        secret.optional,
        Some(true),
        "without cacerts: the self-signed root"
    );
    let security = container.security_context.clone().unwrap();
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(
        security.capabilities.unwrap().drop,
        Some(vec!["ALL".to_owned()])
    );
}

#[test]
fn the_service_reaches_the_cas_port() {
    let service: Service = typed(&doc("Service"));
    let spec = service.spec.unwrap();
    let pod_labels = deployment()
        .spec
        .unwrap()
        .template
        .metadata
        .unwrap()
        .labels
        .unwrap();
    let selector = spec.selector.unwrap();
    assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
    let port = &spec.ports.unwrap()[0];
    assert_eq!(port.port, 15012);
    assert_eq!(port.target_port, Some(IntOrString::Int(15012)));
}

#[test]
fn rbac_grants_exactly_what_the_ca_does() {
    let cluster: ClusterRole = typed(&doc("ClusterRole"));
    assert_eq!(
        rules(&cluster.rules.unwrap()),
        [
            " configmaps [] create",
            " configmaps [istio-ca-root-cert] get,patch",
            " namespaces [] list",
            " nodes [] get",
            " pods [] list",
            "authentication.k8s.io tokenreviews [] create",
        ]
    );
    let role: Role = typed(&doc("Role"));
    assert_eq!(role.metadata.namespace.as_deref(), Some("mesh-system"));
    assert_eq!(
        rules(&role.rules.unwrap()),
        [" secrets [] create", " secrets [istio-ca-secret] get"]
    );
    for binding in ["ClusterRoleBinding", "RoleBinding"] {
        let subject = &doc(binding)["subjects"][0];
        assert_eq!(subject["name"], "mesh-ca", "{binding}");
        assert_eq!(subject["namespace"], "mesh-system", "{binding}");
    }
}
