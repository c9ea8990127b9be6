//! `lab status`: every pod with its node, IP, whether its agent reports it enrolled, and its
//! phase; the nodes with their agent's pid and the pods it reports enrolled; the agents' health.

use super::agent;
use super::cgroup;
use super::process::exit_code;
use super::Lab;
use std::fmt;
use std::net::Ipv4Addr;

/// A snapshot of the lab.
pub struct LabStatus {
    pub name: String,
    pub nodes: Vec<NodeStatus>,
    pub pods: Vec<PodStatus>,
    /// The agents' health, one line.
    pub agent: String,
}

/// One node.
pub struct NodeStatus {
    pub name: String,
    pub address: Ipv4Addr,
    pub netns: String,
    pub cgroup: String,
    /// The agent's pid, when one runs.
    pub agent_pid: Option<i32>,
    /// The pods the agent reports enrolled (`ns/name`); `None` when it does not answer.
    pub enrolled: Option<Vec<String>>,
}

/// One pod (or external host).
pub struct PodStatus {
    pub namespace: String,
    pub name: String,
    /// `node-N`, or `external` for an external host.
    pub node: String,
    pub ip: std::net::IpAddr,
    /// Whether its node's agent reports it enrolled (never for an external host); `None` when
    /// that agent does not answer.
    pub enrolled: Option<bool>,
    pub phase: PodPhase,
}

/// What a pod's processes are doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodPhase {
    /// At least one process is alive and no container failed.
    Running,
    /// Every container exited with 0.
    Succeeded,
    /// A container exited with this non-zero code.
    Failed(i32),
    /// No process left and no exit code recorded (killed).
    Stopped,
}

impl Lab {
    /// The lab's current status.
    pub fn status(&self) -> LabStatus {
        let nodes: Vec<NodeStatus> = self
            .state
            .nodes
            .iter()
            .map(|n| NodeStatus {
                name: n.name.clone(),
                address: n.address,
                netns: n.netns.clone(),
                cgroup: n.cgroup.display().to_string(),
                agent_pid: agent::pid(self, n),
                enrolled: agent::enrolled(self, n),
            })
            .collect();
        let enrolled = |p: &super::Pod| {
            let Some(node) = &p.node else {
                return Some(false); // an external host is never in the mesh
            };
            let node = nodes.iter().find(|n| &n.name == node)?;
            let key = format!("{}/{}", p.namespace, p.name);
            Some(node.enrolled.as_ref()?.contains(&key))
        };
        let pods = self.state.pods.iter().map(|p| PodStatus {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            node: p.node.clone().unwrap_or_else(|| "external".into()),
            ip: p.ips[0],
            enrolled: enrolled(p),
            phase: self.phase(p),
        });
        let pods = pods.collect();
        LabStatus {
            name: self.state.name.clone(),
            nodes,
            pods,
            agent: agent::health(self),
        }
    }

    fn phase(&self, pod: &super::Pod) -> PodPhase {
        let codes: Vec<Option<i32>> = pod
            .containers
            .iter()
            .map(|c| exit_code(&self.dir.exit_file(&pod.namespace, &pod.name, &c.name)))
            .collect();
        if let Some(code) = codes.iter().flatten().find(|code| **code != 0) {
            return PodPhase::Failed(*code);
        }
        if cgroup::is_populated(&pod.cgroup) {
            PodPhase::Running
        } else if codes.iter().all(Option::is_some) {
            PodPhase::Succeeded
        } else {
            PodPhase::Stopped
        }
    }
}

impl fmt::Display for PodPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PodPhase::Running => f.write_str("running"),
            PodPhase::Succeeded => f.write_str("succeeded"),
            PodPhase::Failed(code) => write!(f, "failed({code})"),
            PodPhase::Stopped => f.write_str("stopped"),
        }
    }
}

impl fmt::Display for LabStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "lab {}", self.name)?;
        writeln!(
            f,
            "{:<12} {:<14} {:<28} {:<9} CGROUP",
            "NODE", "ADDRESS", "NETNS", "AGENT"
        )?;
        for n in &self.nodes {
            let pid = n.agent_pid.map_or("-".into(), |p| p.to_string());
            writeln!(
                f,
                "{:<12} {:<14} {:<28} {pid:<9} {}",
                n.name, n.address, n.netns, n.cgroup
            )?;
        }
        writeln!(f)?;
        for n in &self.nodes {
            match &n.enrolled {
                Some(pods) => writeln!(f, "{} enrolled: {}", n.name, pods.join(" "))?,
                None => writeln!(f, "{} enrolled: (agent not answering)", n.name)?,
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<32} {:<10} {:<14} {:<9} STATUS",
            "POD", "NODE", "IP", "ENROLLED"
        )?;
        for p in &self.pods {
            let pod = format!("{}/{}", p.namespace, p.name);
            let enrolled = match p.enrolled {
                Some(true) => "yes",
                Some(false) => "no",
                None => "?", // its agent does not answer
            };
            writeln!(
                f,
                "{pod:<32} {:<10} {:<14} {enrolled:<9} {}",
                p.node, p.ip, p.phase
            )?;
        }
        writeln!(f)?;
        writeln!(f, "{}", self.agent)
    }
}
