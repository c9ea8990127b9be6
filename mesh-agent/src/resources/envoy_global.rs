//! The global rate limit's patches, read: the `envoy.filters.http.ratelimit` filter's typed
//! configuration (inline or in a `TypedStruct`), a `VIRTUAL_HOST` MERGE's `rate_limits`, and
//! the `rate_limits` entries both kinds of route patches carry (with the fields and actions
//! the mesh does not act on listed).

use serde_json::Value;

use super::envoy_match::{join, keys_beyond, typed, Skipped};
use super::global_rate_limit::{GlobalRateLimitConfig, RATE_LIMIT_TYPE};
use super::local_rate_limit::RouteRateLimit;

/// Why a field read is not acted on.
pub(super) const NOT_ACTED_ON: &str = "read, not acted on by the mesh's rate limits";
const ACTION_NOT_ACTED_ON: &str = "the mesh's descriptors come from request_headers, \
    remote_address and generic_key actions only: this rate_limits entry makes no descriptor";

/// The global filter's configuration at `at`; what Envoy refuses is an error there.
pub(super) fn global_filter(
    config: Option<&Value>,
    at: &str,
    ignored: &mut Vec<Skipped>,
) -> Result<GlobalRateLimitConfig, (String, String)> {
    let Some(config) = config else {
        return Err((
            at.to_string(),
            "the rate limit filter needs its typed_config".into(),
        ));
    };
    let kind = config.get("@type").and_then(Value::as_str).unwrap_or("");
    let (body, body_at) = if kind.ends_with("/udpa.type.v1.TypedStruct")
        || kind.ends_with("/xds.type.v3.TypedStruct")
    {
        let url = config.get("typeUrl").and_then(Value::as_str).unwrap_or("");
        if url != RATE_LIMIT_TYPE {
            let message = format!("{url:?} is not {RATE_LIMIT_TYPE}");
            return Err((format!("{at}.typeUrl"), message));
        }
        let body = config.get("value").cloned().unwrap_or(Value::Null);
        (body, format!("{at}.value"))
    } else if kind == RATE_LIMIT_TYPE {
        let mut body = config.clone();
        body.as_object_mut().map(|o| o.remove("@type"));
        (body, at.to_string())
    } else {
        let message = format!("{kind:?} is not {RATE_LIMIT_TYPE} or a TypedStruct");
        return Err((format!("{at}.@type"), message));
    };
    let config: GlobalRateLimitConfig = typed(&body, &body_at)?;
    if let Some((field, message)) = config.problem() {
        return Err((join(&body_at, field), message));
    }
    let unused = config.not_acted_on().into_iter().map(|field| Skipped {
        at: join(&body_at, field),
        why: NOT_ACTED_ON,
    });
    ignored.extend(unused);
    Ok(config)
}

/// A `VIRTUAL_HOST` MERGE's `rate_limits`; `None` when it merges anything else.
pub(super) fn virtual_host_limits(
    value: &Value,
    at: &str,
    ignored: &mut Vec<Skipped>,
) -> Result<Option<Vec<RouteRateLimit>>, (String, String)> {
    let Some(limits) = value.get("rateLimits") else {
        return Ok(None);
    };
    if keys_beyond(value, &["rateLimits"]) {
        return Ok(None);
    }
    let limits_at = format!("{at}.patch.value.rateLimits");
    route_limits(Some(limits), &limits_at, ignored).map(Some)
}

/// `rate_limits` entries at `limits_at`, with what of them is not acted on.
pub(super) fn route_limits(
    limits: Option<&Value>,
    limits_at: &str,
    ignored: &mut Vec<Skipped>,
) -> Result<Vec<RouteRateLimit>, (String, String)> {
    let limits: Vec<RouteRateLimit> = match limits {
        None => Vec::new(),
        Some(limits) => typed(limits, limits_at)?,
    };
    for (i, limit) in limits.iter().enumerate() {
        let actions = limit.actions.iter().enumerate();
        let unused = actions.filter_map(|(j, a)| Some((j, a.not_acted_on()?)));
        ignored.extend(unused.map(|(j, kind)| Skipped {
            at: format!("{limits_at}[{i}].actions[{j}].{kind}"),
            why: ACTION_NOT_ACTED_ON,
        }));
        if limit.limit.is_some() || limit.disable_key.is_some() {
            let at = format!("{limits_at}[{i}]");
            ignored.push(Skipped {
                at,
                why: NOT_ACTED_ON,
            });
        }
    }
    Ok(limits)
}
