//! AuthorizationPolicies as the snapshot holds them once compiled: each value typed (IP blocks,
//! ports, string and path matchers), each policy with its scope, action and dry-run flag.

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;
use serde::Serialize;

use super::scope::PolicyScope;
use crate::resources::AuthzAction;

/// Compiled policies by namespace, in name order.
pub type AuthzByNamespace = HashMap<String, Vec<Arc<AuthzPolicy>>>;

/// One AuthorizationPolicy, compiled.
#[derive(Clone, Debug, Serialize)]
pub struct AuthzPolicy {
    pub namespace: String,
    pub name: String,
    pub action: AuthzAction,
    /// `istio.io/dry-run: "true"`.
    pub dry_run: bool,
    /// CUSTOM: the MeshConfig extension provider that decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub scope: PolicyScope,
    pub rules: Vec<AuthzRule>,
}

/// One rule: any `from` and any `to` (when given) and every `when`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AuthzRule {
    pub from: Vec<SourceMatch>,
    pub to: Vec<OperationMatch>,
    pub when: Vec<ConditionMatch>,
}

/// Values a field must match (any of) and must not match (none of).
#[derive(Clone, Debug, Serialize)]
pub struct Values<T> {
    pub any: Vec<T>,
    pub none: Vec<T>,
}

impl<T> Default for Values<T> {
    fn default() -> Self {
        Self {
            any: Vec::new(),
            none: Vec::new(),
        }
    }
}

impl<T> Values<T> {
    /// Whether the field says something.
    pub fn is_set(&self) -> bool {
        !self.any.is_empty() || !self.none.is_empty()
    }
}

/// A `from.source`, compiled.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceMatch {
    pub principals: Values<StringMatch>,
    pub request_principals: Values<StringMatch>,
    pub namespaces: Values<StringMatch>,
    /// `namespace/serviceAccount`, exactly.
    pub service_accounts: Values<String>,
    pub ip_blocks: Values<IpNet>,
    pub remote_ip_blocks: Values<IpNet>,
}

/// A `to.operation`, compiled.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OperationMatch {
    pub hosts: Values<StringMatch>,
    pub ports: Values<u16>,
    pub methods: Values<StringMatch>,
    pub paths: Values<PathMatch>,
}

/// A `when` condition: the attribute and its values as written (typed where the key says).
#[derive(Clone, Debug, Serialize)]
pub struct ConditionMatch {
    pub key: String,
    pub values: Values<StringMatch>,
    /// For `source.ip`, `remote.ip`, `destination.ip`: the values as blocks.
    pub blocks: Values<IpNet>,
}

/// Istio's string match: exact, `prefix*`, `*suffix`, or `*` (any non-empty value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Presence,
}

impl StringMatch {
    /// From a value as a policy writes it.
    pub fn of(value: &str) -> Self {
        if value == "*" {
            Self::Presence
        } else if let Some(suffix) = value.strip_prefix('*') {
            Self::Suffix(suffix.into())
        } else if let Some(prefix) = value.strip_suffix('*') {
            Self::Prefix(prefix.into())
        } else {
            Self::Exact(value.into())
        }
    }
}

/// A path: a string match, or a template of segments (`{*}` one segment, `{**}` the rest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum PathMatch {
    Plain(StringMatch),
    Template(Vec<PathSegment>),
}

/// One segment of a path template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum PathSegment {
    Literal(String),
    /// `{*}`: exactly one segment.
    One,
    /// `{**}`: one or more segments, last.
    Rest,
}

impl PathMatch {
    /// From a `paths` value.
    pub fn of(value: &str) -> Self {
        if !value.contains("{*}") && !value.contains("{**}") {
            return Self::Plain(StringMatch::of(value));
        }
        let segments = value.trim_start_matches('/').split('/');
        Self::Template(
            segments
                .map(|segment| match segment {
                    "{*}" => PathSegment::One,
                    "{**}" => PathSegment::Rest,
                    literal => PathSegment::Literal(literal.into()),
                })
                .collect(),
        )
    }
}
