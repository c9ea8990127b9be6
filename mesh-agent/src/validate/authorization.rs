//! An AuthorizationPolicy as Istio's `ValidateAuthorizationPolicy` reads it: a provider exactly
//! with CUSTOM (which lacks some source and condition fields); DENY and CUSTOM need rules (`{}`
//! matches every request); every `from.source` and `to.operation` says something, no value is
//! empty, IP blocks, ports and path templates are well formed; each `when` condition names a
//! known attribute ([`super::authz_attributes`]) and gives values.

use super::authz_attributes::{attribute, attribute_key, ip_blocks, path_templates, ports};
use super::finding::Findings;
use super::labels::policy_targets;
use crate::resources::{AuthorizationPolicySpec, AuthzAction, Operation, Rule, Source};

/// Problems of the AuthorizationPolicy `spec`.
pub(crate) fn authorization_policy(found: &mut Findings, spec: &AuthorizationPolicySpec) {
    policy_targets(
        found,
        spec.selector.as_ref(),
        spec.target_ref.as_ref(),
        &spec.target_refs,
    );
    let action = spec.action.unwrap_or(AuthzAction::Allow);
    let provider_named = spec.provider.as_ref().is_some_and(|p| !p.name.is_empty());
    let name = action_name(action);
    match action {
        AuthzAction::Custom | AuthzAction::Deny if spec.rules.is_empty() => {
            let message = format!("{name} without rules never applies; add an empty rule `{{}}` to match every request");
            found.error("spec.rules", message);
        }
        AuthzAction::Custom if !provider_named => {
            found.error("spec.provider.name", "a CUSTOM policy needs provider.name")
        }
        _ if action != AuthzAction::Custom && spec.provider.is_some() => {
            found.error(
                "spec.provider",
                format!("provider is only for action CUSTOM, not {name}"),
            );
        }
        _ => {}
    }
    for (i, rule) in spec.rules.iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        check_rule(found, &at, rule);
        if action == AuthzAction::Custom {
            custom_limits(found, &at, rule);
        }
        if action == AuthzAction::Deny && http_only(rule) {
            let message = "this DENY rule uses only HTTP attributes: it denies all traffic to TCP ports in scope; name the ports";
            found.warning(at, message);
        }
    }
}

fn action_name(action: AuthzAction) -> &'static str {
    match action {
        AuthzAction::Allow => "ALLOW",
        AuthzAction::Deny => "DENY",
        AuthzAction::Audit => "AUDIT",
        AuthzAction::Custom => "CUSTOM",
    }
}

fn check_rule(found: &mut Findings, at: &str, rule: &Rule) {
    for (j, from) in rule.from.iter().enumerate() {
        source(found, &format!("{at}.from[{j}].source"), &from.source);
    }
    for (j, to) in rule.to.iter().enumerate() {
        operation(found, &format!("{at}.to[{j}].operation"), &to.operation);
    }
    for (k, condition) in rule.when.iter().enumerate() {
        let at = format!("{at}.when[{k}]");
        if condition.key.is_empty() {
            found.error(format!("{at}.key"), "key must not be empty");
        } else if let Err(message) = attribute_key(&condition.key) {
            found.error(format!("{at}.key"), message);
        } else if condition.values.is_empty() && condition.not_values.is_empty() {
            found.error(
                &at,
                format!("set values or notValues for key {}", condition.key),
            );
        } else {
            let lists = [
                ("values", &condition.values),
                ("notValues", &condition.not_values),
            ];
            for (list, values) in lists.into_iter().filter(|(_, values)| !values.is_empty()) {
                if let Err(message) = attribute(&condition.key, values) {
                    found.error(format!("{at}.{list}"), message);
                }
            }
        }
    }
}

fn source_lists(s: &Source) -> [(&'static str, &Vec<String>); 12] {
    [
        ("principals", &s.principals),
        ("notPrincipals", &s.not_principals),
        ("requestPrincipals", &s.request_principals),
        ("notRequestPrincipals", &s.not_request_principals),
        ("namespaces", &s.namespaces),
        ("notNamespaces", &s.not_namespaces),
        ("serviceAccounts", &s.service_accounts),
        ("notServiceAccounts", &s.not_service_accounts),
        ("ipBlocks", &s.ip_blocks),
        ("notIpBlocks", &s.not_ip_blocks),
        ("remoteIpBlocks", &s.remote_ip_blocks),
        ("notRemoteIpBlocks", &s.not_remote_ip_blocks),
    ]
}

fn operation_lists(o: &Operation) -> [(&'static str, &Vec<String>); 8] {
    [
        ("hosts", &o.hosts),
        ("notHosts", &o.not_hosts),
        ("ports", &o.ports),
        ("notPorts", &o.not_ports),
        ("methods", &o.methods),
        ("notMethods", &o.not_methods),
        ("paths", &o.paths),
        ("notPaths", &o.not_paths),
    ]
}

fn source(found: &mut Findings, at: &str, source: &Source) {
    let lists = source_lists(source);
    if lists.iter().all(|(_, values)| values.is_empty()) {
        found.error(
            at,
            "from.source must not be empty: name principals, namespaces or IP blocks",
        );
    }
    for (name, values) in lists {
        listed(found, &format!("{at}.{name}"), values);
        if name.ends_with("pBlocks") {
            ip_blocks(found, &format!("{at}.{name}"), values);
        }
    }
}

fn operation(found: &mut Findings, at: &str, operation: &Operation) {
    let lists = operation_lists(operation);
    if lists.iter().all(|(_, values)| values.is_empty()) {
        found.error(
            at,
            "to.operation must not be empty: name hosts, ports, methods or paths",
        );
    }
    for (name, values) in lists {
        let field = format!("{at}.{name}");
        listed(found, &field, values);
        match name {
            "ports" | "notPorts" => ports(found, &field, values),
            "paths" | "notPaths" => path_templates(found, &field, values),
            _ => {}
        }
    }
}

/// No empty value in a list.
fn listed(found: &mut Findings, at: &str, values: &[String]) {
    for (i, _) in values.iter().enumerate().filter(|(_, v)| v.is_empty()) {
        found.error(format!("{at}[{i}]"), "empty value not allowed");
    }
}

/// What an external authorizer (CUSTOM) cannot be told about the source.
fn custom_limits(found: &mut Findings, at: &str, rule: &Rule) {
    for (j, from) in rule.from.iter().enumerate() {
        for (name, values) in source_lists(&from.source)
            .into_iter()
            .filter(|(n, _)| !n.contains("pBlocks"))
        {
            if !values.is_empty() {
                found.error(
                    format!("{at}.from[{j}].source.{name}"),
                    format!("{name} is not supported with action CUSTOM"),
                );
            }
        }
    }
    for (k, condition) in rule.when.iter().enumerate() {
        let key = condition.key.as_str();
        if key == "source.namespace"
            || key == "source.principal"
            || key.starts_with("request.auth.")
        {
            found.error(
                format!("{at}.when[{k}].key"),
                format!("{key} is not supported with action CUSTOM"),
            );
        }
    }
}

/// Whether a rule names HTTP attributes and nothing that still restricts a TCP connection once
/// they are left out (Envoy's TCP filter drops them from DENY rules): it denies every TCP
/// connection in scope. `{}` says so on purpose and is not warned about.
fn http_only(rule: &Rule) -> bool {
    let tcp_source = |s: &Source| {
        source_lists(s)
            .iter()
            .any(|(name, values)| !name.contains("equestPrincipals") && !values.is_empty())
    };
    let http_source = rule.from.iter().any(|f| {
        !f.source.request_principals.is_empty() || !f.source.not_request_principals.is_empty()
    });
    let http_operation = rule.to.iter().any(|t| {
        let o = &t.operation;
        [
            &o.hosts,
            &o.not_hosts,
            &o.methods,
            &o.not_methods,
            &o.paths,
            &o.not_paths,
        ]
        .iter()
        .any(|l| !l.is_empty())
    });
    let http_when = rule.when.iter().any(|c| c.key.starts_with("request."));
    let from = rule.from.is_empty() || rule.from.iter().any(|f| !tcp_source(&f.source));
    let to = rule.to.is_empty()
        || rule
            .to
            .iter()
            .any(|t| t.operation.ports.is_empty() && t.operation.not_ports.is_empty());
    let when = rule.when.iter().all(|c| c.key.starts_with("request."));
    (http_source || http_operation || http_when) && from && to && when
}

#[cfg(test)]
#[path = "authorization_tests.rs"]
mod tests;
