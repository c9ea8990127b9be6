//! What an EnvoyFilter's patches mean to the mesh: the patches of Istio's local and global
//! rate-limit tasks — `HTTP_FILTER` inserting `envoy.filters.http.local_ratelimit` or
//! `envoy.filters.http.ratelimit`, `HTTP_ROUTE` merging the local filter's per-route
//! configuration and the route's `rate_limits`, `VIRTUAL_HOST` merging the virtual host's
//! `rate_limits` — are read into
//! [`RateLimitPatch`]es; any other patch is [`Skipped`] with why, and fields read but not acted
//! on are listed, so `validate::unsupported` reports both. A value that cannot be typed is an
//! error naming its field.

use serde_json::Value;

use super::envoy_global::{global_filter, route_limits, virtual_host_limits, NOT_ACTED_ON};
use super::envoy_match::{keys_beyond, listener_port, route_scope, typed};
pub use super::envoy_match::{PatchScope, Skipped};
use super::global_rate_limit::{GlobalRateLimitConfig, RATE_LIMIT_FILTER};
use super::local_rate_limit::{
    LocalRateLimitConfig, RouteRateLimit, LOCAL_RATE_LIMIT_FILTER, LOCAL_RATE_LIMIT_TYPE,
};
use super::{EnvoyConfigPatch, EnvoyFilterSpec, PatchContext, PatchMatch};

/// A patch the mesh acts on.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimitPatch {
    /// Which side of the selected workloads.
    pub context: PatchContext,
    /// Every request of the side (`HTTP_FILTER`) or those of matching routes (`HTTP_ROUTE`).
    pub scope: PatchScope,
    /// The limit: the filter's, or the route's replacing it (`None`: the filter only enables
    /// routes' limits).
    pub config: Option<LocalRateLimitConfig>,
    /// Where `config` is written (`spec.configPatches[0].patch.value.typedConfig.value`).
    pub config_at: String,
    /// The route's `rate_limits` (`HTTP_ROUTE`, `VIRTUAL_HOST`): the descriptors of its requests.
    pub rate_limits: Vec<RouteRateLimit>,
    /// `rate_limits` of a virtual host (`VIRTUAL_HOST`): used by routes without their own.
    pub virtual_host: bool,
    /// The global rate limit filter (`HTTP_FILTER` inserting `envoy.filters.http.ratelimit`).
    pub global: Option<GlobalRateLimitConfig>,
}

/// One patch read: applied or skipped, and what of it is ignored.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchReading {
    pub patch: Result<RateLimitPatch, Skipped>,
    pub ignored: Vec<Skipped>,
}

const NOT_RATE_LIMIT: &str = "the mesh has no Envoy: only the rate limit patches \
    (HTTP_FILTER inserting envoy.filters.http.local_ratelimit or envoy.filters.http.ratelimit, \
    HTTP_ROUTE merging the local filter's per-route configuration and rate_limits, \
    VIRTUAL_HOST merging rate_limits) are acted on";
const MATCH_UNSUPPORTED: &str = "the mesh matches local rate limit patches by context, \
    portNumber, the HTTP connection manager filter, vhost name and route name (action ANY or \
    ROUTE) only";

/// Reads every patch of `spec`; a value that cannot be typed is `(field, message)`.
pub fn read(spec: &EnvoyFilterSpec) -> Result<Vec<PatchReading>, (String, String)> {
    let patches = spec.config_patches.iter().enumerate();
    patches
        .map(|(i, patch)| read_one(patch, &format!("spec.configPatches[{i}]")))
        .collect()
}

fn read_one(patch: &EnvoyConfigPatch, at: &str) -> Result<PatchReading, (String, String)> {
    let mut ignored = Vec::new();
    let skip = |at: String, why| {
        Ok(PatchReading {
            patch: Err(Skipped { at, why }),
            ignored: Vec::new(),
        })
    };
    let matches = patch.matches.clone().unwrap_or_default();
    if matches.cluster.is_some() {
        return skip(format!("{at}.match.cluster"), NOT_RATE_LIMIT);
    }
    if let Some(proxy) = &matches.proxy {
        if keys_beyond(proxy, &["proxyVersion"]) {
            return skip(format!("{at}.match.proxy"), MATCH_UNSUPPORTED);
        }
    }
    let change = patch.patch.clone().unwrap_or_default();
    let value = change.value.clone().unwrap_or(Value::Null);
    let operation = change.operation.as_deref().unwrap_or("");
    let context = matches.context.unwrap_or_default();
    let read = match patch.apply_to.as_deref() {
        Some("HTTP_FILTER") => match filter_patch(&matches, &value, operation, at, &mut ignored)? {
            Ok(patch) => patch,
            Err(skipped) => return skip(skipped.at, skipped.why),
        },
        Some("HTTP_ROUTE") if operation == "MERGE" && matches.listener.is_none() => {
            let Some(scope) = route_scope(matches.route_configuration.as_ref()) else {
                return skip(format!("{at}.match.routeConfiguration"), MATCH_UNSUPPORTED);
            };
            let Some((config, config_at, rate_limits)) = route_value(&value, at, &mut ignored)?
            else {
                return skip(format!("{at}.patch.value"), NOT_RATE_LIMIT);
            };
            RateLimitPatch {
                context,
                scope,
                config,
                config_at,
                rate_limits,
                virtual_host: false,
                global: None,
            }
        }
        Some("VIRTUAL_HOST") if operation == "MERGE" && matches.listener.is_none() => {
            let Some(scope) = route_scope(matches.route_configuration.as_ref()) else {
                return skip(format!("{at}.match.routeConfiguration"), MATCH_UNSUPPORTED);
            };
            let Some(rate_limits) = virtual_host_limits(&value, at, &mut ignored)? else {
                return skip(format!("{at}.patch.value"), NOT_RATE_LIMIT);
            };
            RateLimitPatch {
                context,
                scope,
                config: None,
                config_at: format!("{at}.patch.value"),
                rate_limits,
                virtual_host: true,
                global: None,
            }
        }
        _ => return skip(format!("{at}.applyTo"), NOT_RATE_LIMIT),
    };
    Ok(PatchReading {
        patch: Ok(read),
        ignored,
    })
}

/// An `HTTP_FILTER` patch inserting one of the rate limit filters, else why it is skipped.
fn filter_patch(
    matches: &PatchMatch,
    value: &Value,
    operation: &str,
    at: &str,
    ignored: &mut Vec<Skipped>,
) -> Result<Result<RateLimitPatch, Skipped>, (String, String)> {
    let skip = |at: String, why| Ok(Err(Skipped { at, why }));
    let ops = ["INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "ADD"];
    if !ops.contains(&operation) || matches.route_configuration.is_some() {
        return skip(format!("{at}.patch.operation"), NOT_RATE_LIMIT);
    }
    let Some(port) = listener_port(matches.listener.as_ref()) else {
        return skip(format!("{at}.match.listener"), MATCH_UNSUPPORTED);
    };
    let name = value.get("name").and_then(Value::as_str);
    let known = [LOCAL_RATE_LIMIT_FILTER, RATE_LIMIT_FILTER];
    if !name.is_some_and(|n| known.contains(&n)) || keys_beyond(value, &["name", "typedConfig"]) {
        return skip(format!("{at}.patch.value"), NOT_RATE_LIMIT);
    }
    let config_at = format!("{at}.patch.value.typedConfig");
    let typed_at = value.get("typedConfig");
    let ((config, config_at), global) = if name == Some(RATE_LIMIT_FILTER) {
        let global = global_filter(typed_at, &config_at, ignored)?;
        ((None, config_at), Some(global))
    } else {
        (typed_config(typed_at, &config_at, ignored)?, None)
    };
    let scope = PatchScope {
        filter: true,
        port,
        ..PatchScope::default()
    };
    Ok(Ok(RateLimitPatch {
        context: matches.context.unwrap_or_default(),
        scope,
        config,
        config_at,
        rate_limits: Vec::new(),
        virtual_host: false,
        global,
    }))
}

type RouteValue = (Option<LocalRateLimitConfig>, String, Vec<RouteRateLimit>);

/// A route MERGE's per-route configuration and `route.rateLimits`; `None` when it merges
/// anything else.
fn route_value(
    value: &Value,
    at: &str,
    ignored: &mut Vec<Skipped>,
) -> Result<Option<RouteValue>, (String, String)> {
    let per_filter = value.get("typedPerFilterConfig");
    let route = value.get("route");
    let other_filters = per_filter.is_some_and(|f| keys_beyond(f, &[LOCAL_RATE_LIMIT_FILTER]));
    if keys_beyond(value, &["typedPerFilterConfig", "route"])
        || route.is_some_and(|r| keys_beyond(r, &["rateLimits"]))
        || other_filters
        || (per_filter.is_none() && route.is_none())
    {
        return Ok(None);
    }
    let config_at = format!("{at}.patch.value.typedPerFilterConfig.{LOCAL_RATE_LIMIT_FILTER}");
    let config = per_filter.and_then(|f| f.get(LOCAL_RATE_LIMIT_FILTER));
    let (config, config_at) = typed_config(config, &config_at, ignored)?;
    let limits_at = format!("{at}.patch.value.route.rateLimits");
    let limits = route.and_then(|r| r.get("rateLimits"));
    let limits = route_limits(limits, &limits_at, ignored)?;
    Ok(Some((config, config_at, limits)))
}

/// The local rate limit configuration of a `typed_config` (inline, or in a `TypedStruct`)
/// and where its fields are.
fn typed_config(
    config: Option<&Value>,
    at: &str,
    ignored: &mut Vec<Skipped>,
) -> Result<(Option<LocalRateLimitConfig>, String), (String, String)> {
    let Some(config) = config else {
        return Ok((None, at.to_string()));
    };
    let kind = config.get("@type").and_then(Value::as_str).unwrap_or("");
    let (body, body_at) = if kind.ends_with("/udpa.type.v1.TypedStruct")
        || kind.ends_with("/xds.type.v3.TypedStruct")
    {
        let url = config.get("typeUrl").and_then(Value::as_str).unwrap_or("");
        if url != LOCAL_RATE_LIMIT_TYPE {
            let message = format!("{url:?} is not {LOCAL_RATE_LIMIT_TYPE}");
            return Err((format!("{at}.typeUrl"), message));
        }
        let body = config.get("value").cloned().unwrap_or(Value::Null);
        (body, format!("{at}.value"))
    } else if kind == LOCAL_RATE_LIMIT_TYPE {
        let mut body = config.clone();
        body.as_object_mut().map(|o| o.remove("@type"));
        (body, at.to_string())
    } else {
        let message = format!("{kind:?} is not {LOCAL_RATE_LIMIT_TYPE} or a TypedStruct");
        return Err((format!("{at}.@type"), message));
    };
    let config: LocalRateLimitConfig = typed(&body, &body_at)?;
    let unused = config.not_acted_on().into_iter().map(|field| Skipped {
        at: format!("{body_at}.{field}"),
        why: NOT_ACTED_ON,
    });
    ignored.extend(unused);
    Ok((Some(config), body_at))
}
