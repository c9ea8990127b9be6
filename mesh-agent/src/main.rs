//! `mesh-agent`: the node agent's command line.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use mesh_agent::admin_client::AdminQuery;
use mesh_agent::config::{AgentConfig, RunArgs};
use mesh_agent::enroll::{self, PodName, Request};
use mesh_agent::pods::PodToEnroll;

#[derive(Parser)]
#[command(
    name = "mesh-agent",
    about = "Node agent of the sidecar-less eBPF service mesh"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the agent's version.
    Version,
    /// Run the agent on this node.
    Run(Box<RunArgs>),
    /// Talk to a running agent's enrollment API.
    Enroll {
        /// The agent's enrollment socket.
        #[arg(long)]
        socket: PathBuf,
        #[command(subcommand)]
        op: EnrollOp,
    },
    /// Ask the running agent on this node (its admin socket, root only) and print the answer.
    Admin {
        /// The agent's admin socket.
        #[arg(long, default_value = mesh_agent::config::DEFAULT_ADMIN_SOCKET)]
        socket: PathBuf,
        #[command(subcommand)]
        query: AdminQuery,
    },
    /// Run the mesh CA: Istio's certificate API for the node agents (a Deployment, not per node).
    Ca(mesh_agent::ca::CaArgs),
    /// Explain authorization decisions, like `istioctl x authz check`.
    Authz {
        #[command(subcommand)]
        op: AuthzOp,
    },
    /// Validate mesh resources like `istioctl analyze`: one line per problem, exit 1 on errors.
    Check {
        /// Files or directories to validate.
        paths: Vec<PathBuf>,
        /// The agent's --access-log-dir, which `accessLogFile` is checked against.
        #[arg(long, default_value = mesh_agent::config::DEFAULT_ACCESS_LOG_DIR)]
        access_log_dir: PathBuf,
        /// The agent's --tls-file-dir, which DestinationRule certificate files are checked
        /// against.
        #[arg(long, default_value = mesh_agent::config::DEFAULT_TLS_FILE_DIR)]
        tls_file_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuthzOp {
    /// The AuthorizationPolicies in scope of a pod and the decision on a described connection
    /// or request (read from resource files, as `check` reads them).
    Check(mesh_agent::authz_check::AuthzCheckArgs),
}

#[derive(Subcommand)]
enum EnrollOp {
    /// Enroll a pod: capture its connections.
    Add {
        #[arg(long)]
        namespace: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        uid: String,
        /// The sandbox's container id.
        #[arg(long)]
        container_id: Option<String>,
        /// Path of the pod's network namespace.
        #[arg(long)]
        netns: PathBuf,
        /// The pod's IPs, one per family (repeat `--ip` for a dual-stack pod).
        #[arg(long = "ip", required = true)]
        ips: Vec<IpAddr>,
        /// The node's addresses on the pod network, one per family.
        #[arg(long = "node-ip")]
        node_ips: Vec<IpAddr>,
    },
    /// Stop capturing a pod.
    Remove(PodArgs),
    /// Whether a pod is captured as it should be.
    Check(PodArgs),
    /// List the enrolled pods.
    List,
}

/// A pod by namespace and name (and UID: only that instance).
#[derive(clap::Args)]
struct PodArgs {
    #[arg(long)]
    namespace: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    uid: Option<String>,
}

impl From<PodArgs> for PodName {
    fn from(pod: PodArgs) -> Self {
        PodName {
            namespace: pod.namespace,
            name: pod.name,
            uid: pod.uid,
        }
    }
}

fn main() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Version => {
            println!("mesh-agent {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => {
            init_tracing();
            let config = AgentConfig::resolve(*args)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(config.worker_threads)
                .enable_all()
                .build()?;
            runtime.block_on(mesh_agent::agent::run(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ca(args) => {
            init_tracing();
            current_thread()?.block_on(mesh_agent::ca::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Enroll { socket, op } => current_thread()?.block_on(send(&socket, op.into())),
        Command::Admin { socket, query } => current_thread()?.block_on(admin(&socket, &query)),
        Command::Check {
            paths,
            access_log_dir,
            tls_file_dir,
        } => check(&paths, access_log_dir, tls_file_dir),
        Command::Authz {
            op: AuthzOp::Check(args),
        } => {
            mesh_agent::authz_check::authz_check(&args, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A runtime for the short client commands.
fn current_thread() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn check(paths: &[PathBuf], access_log_dir: PathBuf, tls_file_dir: PathBuf) -> Result<ExitCode> {
    if paths.is_empty() {
        bail!("nothing to check: give files or directories");
    }
    let settings = mesh_agent::snapshot::LoadSettings {
        access_log_dir,
        tls_file_dir,
        ..Default::default()
    };
    let outcome = mesh_agent::check::check(paths, &settings, &mut std::io::stdout().lock())?;
    Ok(if outcome.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Sends one enrollment request and prints the answer line; fails when the agent refused.
async fn send(socket: &std::path::Path, request: Request) -> Result<ExitCode> {
    let response = enroll::request(socket, &request).await?;
    println!("{}", serde_json::to_string(&response)?);
    Ok(if response.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints the agent's answer; a refusal or a missing agent is an error (exit 1).
async fn admin(socket: &std::path::Path, query: &AdminQuery) -> Result<ExitCode> {
    let body = mesh_agent::admin_client::ask(socket, query).await?;
    print!("{body}");
    if !body.is_empty() && !body.ends_with('\n') {
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

/// Logs to stderr at `RUST_LOG` (else `info`); admin `/logging` changes the level later.
fn init_tracing() {
    mesh_agent::logging::init();
}

impl From<EnrollOp> for Request {
    fn from(op: EnrollOp) -> Self {
        match op {
            EnrollOp::Add {
                namespace,
                name,
                uid,
                container_id,
                netns,
                ips,
                node_ips,
            } => Request::Add(PodToEnroll {
                namespace,
                name,
                uid,
                container_id,
                netns,
                ips,
                node_ips,
            }),
            EnrollOp::Remove(pod) => Request::Remove(pod.into()),
            EnrollOp::Check(pod) => Request::Check(pod.into()),
            EnrollOp::List => Request::List,
        }
    }
}
