//! AuthorizationPolicies compiled once per build: each value typed (IP blocks, ports, string
//! and path matchers), each policy with its scope (root namespace, namespace, `selector`,
//! `targetRefs` to a Service), its action and whether it is a dry run (`istio.io/dry-run`).
//! The decision itself is `authz/`'s.

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;

use super::authz_model::{
    AuthzByNamespace, AuthzPolicy, AuthzRule, ConditionMatch, OperationMatch, PathMatch,
    SourceMatch, StringMatch, Values,
};
use super::scope::PolicyScope;
use crate::resources::{
    AuthorizationPolicySpec, AuthzAction, Condition, Istio, MeshConfig, Operation, Rule, Source,
};

/// The annotation that makes a policy a dry run: evaluated, logged and counted, not enforced.
pub const DRY_RUN_ANNOTATION: &str = "istio.io/dry-run";

/// Compiles every policy; `policies` holds each namespace's in name order.
pub(crate) fn compile_all(
    policies: &HashMap<String, Vec<Arc<Istio<AuthorizationPolicySpec>>>>,
) -> AuthzByNamespace {
    policies
        .iter()
        .map(|(ns, list)| {
            let compiled = list.iter().map(|p| Arc::new(compile(ns, p))).collect();
            (ns.clone(), compiled)
        })
        .collect()
}

/// Why a CUSTOM policy's provider cannot decide: it is no `envoyExtAuthzHttp` or
/// `envoyExtAuthzGrpc` provider of MeshConfig `extensionProviders`.
pub(crate) fn unknown_provider(
    spec: &AuthorizationPolicySpec,
    mesh: &MeshConfig,
) -> Option<String> {
    let name = &spec.provider.as_ref()?.name;
    if spec.action != Some(AuthzAction::Custom) || name.is_empty() {
        return None;
    }
    let authorizers: Vec<&str> = mesh
        .extension_providers
        .iter()
        .filter(|p| p.envoy_ext_authz_http.is_some() || p.envoy_ext_authz_grpc.is_some())
        .map(|p| p.name.as_str())
        .collect();
    if authorizers.contains(&name.as_str()) {
        return None;
    }
    Some(format!(
        "extension provider {name:?} is not an authorizer of MeshConfig extensionProviders (available: [{}]); its requests are denied",
        authorizers.join(", ")
    ))
}

/// One policy of `namespace`, compiled (validation has checked its values).
pub fn compile(namespace: &str, policy: &Istio<AuthorizationPolicySpec>) -> AuthzPolicy {
    let spec = &policy.spec;
    let annotations = policy.metadata.annotations.as_ref();
    let dry_run = annotations
        .and_then(|a| a.get(DRY_RUN_ANNOTATION))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    AuthzPolicy {
        namespace: namespace.into(),
        name: policy.metadata.name.clone().unwrap_or_default(),
        action: spec.action.unwrap_or(AuthzAction::Allow),
        dry_run,
        provider: spec.provider.as_ref().map(|p| p.name.clone()),
        scope: PolicyScope::of(
            spec.selector.as_ref(),
            spec.target_ref.as_ref(),
            &spec.target_refs,
        ),
        rules: spec.rules.iter().map(|r| rule(namespace, r)).collect(),
    }
}

fn rule(namespace: &str, rule: &Rule) -> AuthzRule {
    AuthzRule {
        from: rule
            .from
            .iter()
            .map(|f| source(namespace, &f.source))
            .collect(),
        to: rule.to.iter().map(|t| operation(&t.operation)).collect(),
        when: rule.when.iter().map(|c| condition(namespace, c)).collect(),
    }
}

/// `namespace/serviceAccount`; a bare account is in the policy's namespace.
fn account(namespace: &str, value: &str) -> String {
    match value.contains('/') {
        true => value.to_string(),
        false => format!("{namespace}/{value}"),
    }
}

fn accounts(namespace: &str, values: &[String]) -> Vec<String> {
    values.iter().map(|v| account(namespace, v)).collect()
}

fn source(namespace: &str, s: &Source) -> SourceMatch {
    SourceMatch {
        principals: strings(&s.principals, &s.not_principals),
        request_principals: strings(&s.request_principals, &s.not_request_principals),
        namespaces: strings(&s.namespaces, &s.not_namespaces),
        service_accounts: Values {
            any: accounts(namespace, &s.service_accounts),
            none: accounts(namespace, &s.not_service_accounts),
        },
        ip_blocks: blocks(&s.ip_blocks, &s.not_ip_blocks),
        remote_ip_blocks: blocks(&s.remote_ip_blocks, &s.not_remote_ip_blocks),
    }
}

fn operation(o: &Operation) -> OperationMatch {
    let ports = |list: &[String]| list.iter().filter_map(|p| p.parse().ok()).collect();
    OperationMatch {
        hosts: strings(&o.hosts, &o.not_hosts),
        ports: Values {
            any: ports(&o.ports),
            none: ports(&o.not_ports),
        },
        methods: strings(&o.methods, &o.not_methods),
        paths: Values {
            any: o.paths.iter().map(|p| PathMatch::of(p)).collect(),
            none: o.not_paths.iter().map(|p| PathMatch::of(p)).collect(),
        },
    }
}

fn condition(namespace: &str, c: &Condition) -> ConditionMatch {
    let ip_key = matches!(c.key.as_str(), "source.ip" | "remote.ip" | "destination.ip");
    let values = match c.key.as_str() {
        "source.serviceAccount" => {
            let exact = |list: &[String]| -> Vec<StringMatch> {
                let list = accounts(namespace, list);
                list.into_iter().map(StringMatch::Exact).collect()
            };
            Values {
                any: exact(&c.values),
                none: exact(&c.not_values),
            }
        }
        _ => strings(&c.values, &c.not_values),
    };
    ConditionMatch {
        key: c.key.clone(),
        values,
        blocks: match ip_key {
            true => blocks(&c.values, &c.not_values),
            false => Values::default(),
        },
    }
}

fn strings(any: &[String], none: &[String]) -> Values<StringMatch> {
    Values {
        any: any.iter().map(|v| StringMatch::of(v)).collect(),
        none: none.iter().map(|v| StringMatch::of(v)).collect(),
    }
}

fn blocks(any: &[String], none: &[String]) -> Values<IpNet> {
    Values {
        any: any.iter().filter_map(|v| block(v)).collect(),
        none: none.iter().filter_map(|v| block(v)).collect(),
    }
}

/// An address or CIDR block; an address is its own /32 or /128.
fn block(value: &str) -> Option<IpNet> {
    value
        .parse::<IpNet>()
        .ok()
        .or_else(|| value.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}
