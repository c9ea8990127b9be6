//! What the DaemonSet's containers may do: nothing privileged, the agent's capabilities exactly
//! the ones deploy/README lists with a reason each, and the mesh-cni installer with none, its
//! host mounts the CNI directories only.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::{daemonset, deploy_dir};

fn pod_spec() -> PodSpec {
    daemonset().spec.unwrap().template.spec.unwrap()
}

fn container<'a>(spec: &'a PodSpec, name: &str) -> &'a Container {
    let found = spec.containers.iter().find(|c| c.name == name);
    found.unwrap_or_else(|| panic!("no container {name}"))
}

/// The capabilities deploy/README's "Capabilities" table lists (`| \`NAME\` | why |`).
fn documented_capabilities() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(deploy_dir().join("README.md")).unwrap();
    let section = readme
        .split("\n### Capabilities\n")
        .nth(1)
        .expect("deploy/README.md has a `### Capabilities` section");
    let section = section.split("\n#").next().unwrap();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_container_is_privileged_and_the_agent_adds_exactly_the_documented_capabilities() {
    let spec = pod_spec();
    let every = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for c in every {
        let context = c.security_context.as_ref().expect("a securityContext each");
        assert_ne!(context.privileged, Some(true), "{} is privileged", c.name);
        let caps = context.capabilities.as_ref().expect("capabilities set");
        assert_eq!(
            caps.drop.as_deref(),
            Some(&["ALL".to_owned()][..]),
            "{}",
            c.name
        );
        let seccomp = context.seccomp_profile.as_ref().map(|p| p.type_.as_str());
        assert_eq!(seccomp, Some("RuntimeDefault"), "{}", c.name);
        for mount in c.volume_mounts.iter().flatten() {
            let propagation = mount.mount_propagation.as_deref();
            assert_ne!(
                propagation,
                Some("Bidirectional"),
                "needs privileged: {}",
                mount.name
            );
        }
    }
    let agent = container(&spec, "agent").security_context.clone().unwrap();
    let added: BTreeSet<String> = agent
        .capabilities
        .unwrap()
        .add
        .unwrap()
        .into_iter()
        .collect();
    let documented = documented_capabilities();
    assert_eq!(
        added, documented,
        "the DaemonSet and deploy/README's table disagree"
    );
    assert_eq!(agent.read_only_root_filesystem, Some(true));
    assert_eq!(
        agent.app_armor_profile.map(|p| p.type_),
        Some("Unconfined".into())
    );
    let installer = container(&spec, "install-cni")
        .security_context
        .clone()
        .unwrap();
    assert_eq!(
        installer.capabilities.unwrap().add,
        None,
        "the installer adds nothing"
    );
    assert_eq!(installer.allow_privilege_escalation, Some(false));
    assert_eq!(
        installer.app_armor_profile, None,
        "the runtime's default profile"
    );
}

#[test]
fn the_mesh_cni_installer_runs_with_the_cni_directories_and_the_agents_socket() {
    let spec = pod_spec();
    let installer = container(&spec, "install-cni");
    assert_eq!(
        installer.command.as_deref(),
        Some(&["mesh-cni".to_owned()][..])
    );
    let args = installer.args.clone().unwrap();
    let expected = [
        "install",
        "--bin-dir",
        "/host/opt/cni/bin",
        "--conf-dir",
        "/host/etc/cni/net.d",
        "--agent-socket",
        "/run/mesh-agent/enroll.sock",
        "--watch",
    ];
    assert_eq!(
        args, expected,
        "installs, keeps itself installed, removes itself on SIGTERM"
    );
    assert!(
        !args.iter().any(|a| a == "--keep-on-exit"),
        "uninstall removes it"
    );
    let volumes = spec.volumes.clone().unwrap();
    let host_path = |name: &str| {
        let volume = volumes.iter().find(|v| v.name == name).unwrap();
        volume.host_path.as_ref().map(|h| h.path.clone())
    };
    let mounts: BTreeSet<(Option<String>, String)> = installer
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (host_path(&m.name), m.mount_path.clone()))
        .collect();
    let wanted = BTreeSet::from([
        (Some("/opt/cni/bin".into()), "/host/opt/cni/bin".into()),
        (Some("/etc/cni/net.d".into()), "/host/etc/cni/net.d".into()),
    ]);
    assert_eq!(mounts, wanted, "the CNI directories and nothing else");
    // The socket mesh-cni is told about is the agent's, in its directory mounted from the host.
    let agent = container(&spec, "agent");
    let agent_args = agent.args.clone().unwrap();
    let at = agent_args
        .iter()
        .position(|a| a == "--enroll-socket")
        .unwrap();
    assert_eq!(agent_args[at + 1], "/run/mesh-agent/enroll.sock");
    let run_dir = agent
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "run-mesh-agent");
    assert_eq!(run_dir.unwrap().mount_path, "/run/mesh-agent");
    assert_eq!(
        host_path("run-mesh-agent").as_deref(),
        Some("/run/mesh-agent")
    );
}
