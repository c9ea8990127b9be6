//! `lab apply`: add pods, Services, namespaces and mesh resources to a running lab, like kubectl.

use super::manifest::read_documents;
use super::plan::{MeshResource, Plan};
use super::state::Pod;
use super::{agent, alloc, cgroup, cni, net, process, Lab};
use super::{external_tls, kube_objects};
use anyhow::{anyhow, bail, Context, Result};
use std::path::PathBuf;

impl Lab {
    /// Creates what `paths` describe. The whole input is validated first (duplicates against
    /// the running lab included); mesh resources replace their earlier versions.
    pub fn apply(&mut self, paths: &[PathBuf]) -> Result<()> {
        let docs = read_documents(paths)?;
        let plan = Plan::build(&docs, &self.state)?;
        if let Some(label) = plan.node_labels.first() {
            bail!(
                "Node/{}: node labels are taken at `lab up` only (they choose the gateway its \
                 agent plays)",
                label.node
            );
        }
        self.apply_plan(plan)
    }

    /// Allocates, creates the sandboxes, rewrites hosts files, writes mesh resources, runs
    /// `mesh-cni` ADD for every pod on a node (the agent decides which to capture) and then
    /// starts their processes (so the mesh sees their first connection).
    pub(super) fn apply_plan(&mut self, plan: Plan) -> Result<()> {
        for (namespace, labels) in plan.namespaces {
            self.state.namespaces.insert(namespace, labels);
        }
        for service in &plan.services {
            alloc::service(&mut self.state, service)?;
        }
        let mut pods = Vec::new();
        for planned in &plan.pods {
            let ns_labels = self.state.namespaces.get(&planned.namespace).cloned();
            pods.push(alloc::pod(
                &mut self.state,
                planned,
                &ns_labels.unwrap_or_default(),
            )?);
        }
        self.save()?;
        for pod in &pods {
            self.create_sandbox(pod)
                .with_context(|| format!("creating pod {}/{}", pod.namespace, pod.name))?;
        }
        self.write_names()?;
        for resource in &plan.mesh_resources {
            self.write_mesh_resource(resource)?;
        }
        if kube_objects::sync(&self.state, &self.dir.config_dir())? {
            agent::await_config_reload(self);
        }
        for pod in &pods {
            self.cni_add(pod)?;
        }
        for host in pods.iter().filter_map(|p| p.external_host.as_deref()) {
            external_tls::issue(&self.dir, host)
                .with_context(|| format!("the certificate of external host {host}"))?;
        }
        for pod in &pods {
            process::start_containers(&self.dir, pod)?;
        }
        Ok(())
    }

    /// `mesh-cni` ADD for a pod on a node. A failed ADD (its agent stopped) is reported and the
    /// pod started anyway, as by a runtime that retries: the agent reconciles it when back.
    fn cni_add(&self, pod: &Pod) -> Result<()> {
        let Some(node) = pod.node.as_deref().and_then(|n| self.state.node(n)) else {
            return Ok(()); // an external host: no node, no CNI
        };
        let added = cni::add(self, node, pod)
            .with_context(|| format!("CNI ADD of pod {}/{}", pod.namespace, pod.name))?;
        if let cni::Added::Failed(message) = added {
            eprintln!(
                "lab {}: pod {}/{}: CNI ADD failed: {message}; the agent will reconcile it",
                self.state.name, pod.namespace, pod.name
            );
        }
        Ok(())
    }

    /// The pod's cgroup and network namespace, wired to its node (or the fabric).
    fn create_sandbox(&self, pod: &Pod) -> Result<()> {
        cgroup::create(&pod.cgroup)?;
        match pod.node.as_deref() {
            None => net::create_external(&self.state.name, pod, &self.state.nodes),
            Some(name) => {
                let node = self
                    .state
                    .node(name)
                    .ok_or_else(|| anyhow!("no node {name}"))?;
                net::create_pod(pod, node)
            }
        }
    }

    /// Writes one mesh resource to the config directory, atomically (the agent may be reading).
    fn write_mesh_resource(&self, resource: &MeshResource) -> Result<()> {
        let dir = self.dir.config_dir();
        let path = dir.join(resource.file_name());
        let tmp = dir.join(format!(".{}.tmp", resource.file_name()));
        std::fs::write(&tmp, &resource.yaml)?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }
}
