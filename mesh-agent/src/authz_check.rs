//! `mesh-agent authz check`: explains a decision, like `istioctl x authz check`. Reads resource
//! files as `mesh-agent check` does, then prints the AuthorizationPolicies in scope of a pod and,
//! for a described connection or request (source pod or identity and address, port, method,
//! path, host, headers), the decision and the rule that made it, with what dry-run and AUDIT
//! policies say.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;

use crate::authz::{
    custom_check, decide, normalize, policies_for, AuthzFacts, Decision, HttpFacts,
};
use crate::document::read_documents;
use crate::identity::Identity;
use crate::resources::AuthzAction;
use crate::snapshot::{build, AuthzPolicy, Snapshot};

/// `mesh-agent authz check`'s flags: the configuration, the destination, the request.
#[derive(clap::Args, Debug)]
pub struct AuthzCheckArgs {
    /// Resource files or directories (Pods, Services, AuthorizationPolicies, MeshConfig).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The destination pod, `NAMESPACE/NAME`.
    #[arg(long)]
    pub pod: String,
    /// The port dialled on the pod.
    #[arg(long)]
    pub port: u16,
    /// The source pod, `NAMESPACE/NAME`: its address, and its identity as mTLS proves it.
    #[arg(long)]
    pub from: Option<String>,
    /// The source's proven identity, `spiffe://TD/ns/NS/sa/SA` (instead of --from's).
    #[arg(long)]
    pub principal: Option<String>,
    /// The source address (instead of --from's).
    #[arg(long)]
    pub source_ip: Option<IpAddr>,
    /// The HTTP method; without --method and --path the connection is opaque TCP.
    #[arg(long)]
    pub method: Option<String>,
    /// The HTTP path (normalized as the agent does).
    #[arg(long)]
    pub path: Option<String>,
    /// The HTTP host (`:authority`).
    #[arg(long, default_value = "")]
    pub host: String,
    /// A request header, `NAME=VALUE` (repeat).
    #[arg(long = "header")]
    pub headers: Vec<String>,
}

/// Prints the policies in scope of the pod and the decision on the described request.
pub fn authz_check(args: &AuthzCheckArgs, out: &mut impl Write) -> Result<Decision> {
    let snapshot = load(&args.paths)?;
    let (pod_ip, workload) = named(&snapshot, &args.pod)?;
    let policies = policies_for(&snapshot, workload, pod_ip);
    writeln!(out, "policies in scope of {}:", args.pod)?;
    if policies.is_empty() {
        writeln!(out, "  none: everything is allowed")?;
    }
    for policy in &policies {
        writeln!(out, "  {}", describe(policy))?;
    }
    let (source_ip, identity) = source(&snapshot, args)?;
    let headers = headers(&args.headers)?;
    let path = args
        .path
        .as_deref()
        .map(|p| normalize(p, snapshot.mesh.path_normalization.normalization));
    let http = (args.method.is_some() || path.is_some()).then(|| HttpFacts {
        method: args.method.as_deref().unwrap_or("GET"),
        host: &args.host,
        path: path.as_deref().unwrap_or("/"),
        headers: &headers,
        auth: None,
    });
    let facts = AuthzFacts {
        peer: identity.as_ref(),
        source_ip,
        remote_ip: source_ip,
        destination: SocketAddr::new(pod_ip, args.port),
        sni: None,
        http,
    };
    // CUSTOM applies to HTTP requests only (`http/authz.rs`).
    let custom = facts
        .http
        .as_ref()
        .and_then(|_| custom_check(&policies, &facts));
    if let Some(custom) = custom {
        let (provider, rule) = (&custom.provider, &custom.rule);
        writeln!(out, "custom: provider {provider} decides first (by {rule})")?;
    }
    let decision = decide(&policies, &facts);
    report(&decision, out)?;
    Ok(decision)
}

fn load(paths: &[PathBuf]) -> Result<Snapshot> {
    let mut documents = Vec::new();
    for file in crate::check::files(paths)? {
        documents.extend(read_documents(&file).map_err(|e| anyhow!("{e}"))?);
    }
    let (snapshot, problems) = build(&Arc::new(documents), None);
    if let Some(error) = problems.iter().find(|p| p.is_error()) {
        bail!(
            "the files do not load as the agent would load them (`mesh-agent check` them): {error}"
        );
    }
    Ok(snapshot)
}

fn named<'s>(snapshot: &'s Snapshot, pod: &str) -> Result<(IpAddr, &'s crate::snapshot::Workload)> {
    let (namespace, name) = pod
        .split_once('/')
        .with_context(|| format!("pod {pod:?} is not NAMESPACE/NAME"))?;
    let (ip, workload) = snapshot
        .workload_named(namespace, name)
        .with_context(|| format!("no pod {pod} with an IP in the files"))?;
    Ok((ip, workload.as_ref()))
}

/// The source address and identity: --from's pod, overridden by --source-ip and --principal.
fn source(snapshot: &Snapshot, args: &AuthzCheckArgs) -> Result<(IpAddr, Option<Identity>)> {
    let from = args
        .from
        .as_deref()
        .map(|p| named(snapshot, p))
        .transpose()?;
    let identity = match (&args.principal, from) {
        (Some(principal), _) => Some(Identity::parse(principal).map_err(|e| anyhow!(e))?),
        (None, Some((_, w))) => w.principal.as_deref().and_then(|p| Identity::parse(p).ok()),
        (None, None) => None,
    };
    let ip = match (args.source_ip, from) {
        (Some(ip), _) => ip,
        (None, Some((ip, _))) => ip,
        (None, None) => bail!("say who asks: --from NAMESPACE/NAME or --source-ip"),
    };
    Ok((ip, identity))
}

fn headers(given: &[String]) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for header in given {
        let (name, value) = header
            .split_once('=')
            .with_context(|| format!("header {header:?} is not NAME=VALUE"))?;
        let name = HeaderName::try_from(name).with_context(|| format!("header name {name:?}"))?;
        let value =
            HeaderValue::try_from(value).with_context(|| format!("header value {value:?}"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

fn describe(policy: &AuthzPolicy) -> String {
    let rules = policy.rules.len();
    let dry_run = if policy.dry_run { " (dry run)" } else { "" };
    let action = action_name(policy.action);
    let (ns, name) = (&policy.namespace, &policy.name);
    let provider = match (&policy.provider, policy.action) {
        (Some(provider), AuthzAction::Custom) => format!(", provider {provider}"),
        _ => String::new(),
    };
    format!("{action:<6} {ns}/{name}: {rules} rule(s){provider}{dry_run}")
}

fn action_name(action: AuthzAction) -> &'static str {
    match action {
        AuthzAction::Allow => "ALLOW",
        AuthzAction::Deny => "DENY",
        AuthzAction::Audit => "AUDIT",
        AuthzAction::Custom => "CUSTOM",
    }
}

fn report(decision: &Decision, out: &mut impl Write) -> Result<()> {
    let verdict = if decision.allowed { "ALLOW" } else { "DENY" };
    let by = match (&decision.rule, decision.allowed) {
        (Some(rule), _) => format!("by {rule}"),
        (None, true) => "no ALLOW policy in scope".into(),
        (None, false) => "no ALLOW rule matched".into(),
    };
    writeln!(out, "decision: {verdict} ({by})")?;
    if let Some(rule) = &decision.audited {
        writeln!(out, "audited by {rule}")?;
    }
    for shadow in &decision.dry_run {
        let would = if shadow.allowed { "allow" } else { "deny" };
        let rule = shadow
            .rule
            .as_ref()
            .map_or("no rule matched".into(), ToString::to_string);
        let action = action_name(shadow.action);
        writeln!(out, "dry run: the {action} policies would {would} ({rule})")?;
    }
    Ok(())
}
