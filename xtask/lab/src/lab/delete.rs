//! `lab delete`: remove pods (their processes, netns, cgroup, hosts file), Services, namespaces
//! and mesh resources from a running lab, like kubectl.

use super::manifest::{read_documents, Document, Problems};
use super::plan::{config_file_name, is_mesh_resource};
use super::{cgroup, cni, net, objects, teardown, Lab};
use super::{hosts, kube_objects};
use anyhow::Result;
use std::path::PathBuf;

impl Lab {
    /// Deletes what `paths` describe. Every document is checked before anything is removed;
    /// objects that do not exist are reported and skipped.
    pub fn delete(&mut self, paths: &[PathBuf]) -> Result<()> {
        let docs = read_documents(paths)?;
        let mut problems = Problems::default();
        for doc in &docs {
            if let Err(message) = deletable(doc) {
                problems.push(doc.problem(message));
            }
        }
        problems.into_result()?;
        for doc in &docs {
            self.delete_document(doc)?;
        }
        self.write_names()?;
        kube_objects::sync(&self.state, &self.dir.config_dir())?;
        self.save()
    }

    fn delete_document(&mut self, doc: &Document) -> Result<()> {
        let (ns, name) = (doc.namespace().to_string(), doc.name().to_string());
        let found = match (doc.group(), doc.kind()) {
            _ if is_mesh_resource(doc) => self.remove_config(doc.kind(), &ns, &name),
            ("", "Pod") => self.remove_pods(|p| p.namespace == ns && p.name == name)?,
            ("apps", "Deployment") => self.remove_pods(|p| {
                p.namespace == ns && p.deployment.as_deref() == Some(name.as_str())
            })?,
            ("", "Service") => self.remove_services(|s| s.namespace == ns && s.name == name),
            ("", "Namespace") => self.remove_namespace(&name)?,
            ("", "ServiceAccount") => true, // nothing of it is kept
            _ => false,                     // refused by `deletable` before anything was removed
        };
        if !found {
            let lab = &self.state.name;
            eprintln!(
                "{}: {}: not found in lab {lab}, skipped",
                doc.place(),
                doc.object()
            );
        }
        Ok(())
    }

    /// Everything in a namespace: pods, Services, mesh resources, and its labels.
    fn remove_namespace(&mut self, ns: &str) -> Result<bool> {
        let known = self.state.namespaces.remove(ns).is_some();
        let pods = self.remove_pods(|p| p.namespace == ns)?;
        let services = self.remove_services(|s| s.namespace == ns);
        let mut configs = false;
        for entry in std::fs::read_dir(self.dir.config_dir())?.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.split('.').nth(1) == Some(ns) && file.ends_with(".yaml") {
                configs |= std::fs::remove_file(entry.path()).is_ok();
            }
        }
        Ok(known || pods || services || configs)
    }

    /// Removes the pods matching `which`; whether there were any.
    fn remove_pods(&mut self, which: impl Fn(&super::Pod) -> bool) -> Result<bool> {
        let doomed: Vec<_> = self
            .state
            .pods
            .iter()
            .filter(|p| which(p))
            .cloned()
            .collect();
        for pod in &doomed {
            self.cni_del(pod);
            cgroup::remove_tree(&pod.cgroup)?;
            teardown::kill_netns_processes(&pod.netns)?;
            net::delete_netns(&pod.netns)?;
            teardown::remove_dir(&hosts::netns_etc(&pod.netns))?;
            for container in &pod.containers {
                let _ = std::fs::remove_file(self.dir.exit_file(
                    &pod.namespace,
                    &pod.name,
                    &container.name,
                ));
            }
            self.state.pods.retain(|p| p.netns != pod.netns);
            self.save()?;
        }
        Ok(!doomed.is_empty())
    }

    /// `mesh-cni` DEL for a pod on a node, before its sandbox goes; a failure is reported.
    pub(super) fn cni_del(&self, pod: &super::Pod) {
        let Some(node) = pod.node.as_deref().and_then(|n| self.state.node(n)) else {
            return;
        };
        if let Err(err) = cni::del(self, node, pod) {
            eprintln!("lab {}: {err:#}", self.state.name);
        }
    }

    fn remove_services(&mut self, which: impl Fn(&super::Service) -> bool) -> bool {
        let before = self.state.services.len();
        self.state.services.retain(|s| !which(s));
        before != self.state.services.len()
    }

    fn remove_config(&self, kind: &str, ns: &str, name: &str) -> bool {
        let path = self.dir.config_dir().join(config_file_name(kind, ns, name));
        std::fs::remove_file(path).is_ok()
    }
}

/// Whether the lab knows how to delete this kind of document.
fn deletable(doc: &Document) -> Result<(), String> {
    objects::check_identity(doc)?;
    match (doc.group(), doc.kind()) {
        _ if is_mesh_resource(doc) => Ok(()),
        ("", "Pod" | "Service" | "Namespace" | "ServiceAccount") | ("apps", "Deployment") => Ok(()),
        _ => Err(objects::unknown_kind(doc)),
    }
}
