//! One HTTP rule of a VirtualService (Istio's `validateHTTPRoute`): a rule routes, redirects
//! or answers directly, never two of these (a root rule with `delegate` does none); `mirror` or
//! `mirrors`, not both; a redirect says where; a rewrite is one of `uri` or `uriRegexRewrite`
//! (and the authority is rewritten in one place only); every duration at least 1ms.

use super::destinations::{destination, weights};
use super::durations::duration;
use super::finding::Findings;
use super::http_match::{http_matches, regex_size};
use super::http_policies::{cors, fault, header_edits, is_authority, retries};
use crate::resources::{DirectResponse, HttpRoute, Redirect, Rewrite};

/// A direct response body past this size is an error; past a tenth of it, a warning.
const BODY_MAX: usize = 1024 * 1024;

/// Problems of the HTTP rule at `at`; `delegate` when its VirtualService is a delegate (no
/// hosts).
pub(crate) fn http_route(found: &mut Findings, at: &str, rule: &HttpRoute, delegate: bool) {
    conflicts(found, at, rule, delegate);
    http_matches(found, at, &rule.matches);
    if let Some(headers) = &rule.headers {
        header_edits(found, &format!("{at}.headers"), headers);
    }
    if let Some(policy) = &rule.cors_policy {
        cors(found, &format!("{at}.corsPolicy"), policy);
    }
    if let Some(injected) = &rule.fault {
        fault(found, &format!("{at}.fault"), injected);
    }
    if rule.mirror_percent.is_some() {
        found.warning(
            format!("{at}.mirrorPercent"),
            "deprecated: use mirrorPercentage",
        );
    }
    if let Some(mirror) = &rule.mirror {
        destination(found, &format!("{at}.mirror"), mirror);
    }
    for (i, mirror) in rule.mirrors.iter().enumerate() {
        destination(
            found,
            &format!("{at}.mirrors[{i}].destination"),
            &mirror.destination,
        );
    }
    if let Some(redirect) = &rule.redirect {
        redirect_target(found, &format!("{at}.redirect"), redirect);
    }
    if let Some(direct) = &rule.direct_response {
        direct_body(found, &format!("{at}.directResponse"), direct);
    }
    if let Some(retry) = &rule.retries {
        retries(found, &format!("{at}.retries"), retry);
    }
    if let Some(rewrite) = &rule.rewrite {
        rewrite_target(found, &format!("{at}.rewrite"), rewrite);
    }
    authority_once(found, at, rule);
    for (i, route) in rule.route.iter().enumerate() {
        let field = format!("{at}.route[{i}]");
        destination(found, &format!("{field}.destination"), &route.destination);
        if let Some(headers) = &route.headers {
            header_edits(found, &format!("{field}.headers"), headers);
        }
    }
    weights(
        found,
        &format!("{at}.route"),
        rule.route.iter().map(|r| r.weight),
    );
    duration(found, format!("{at}.timeout"), rule.timeout.as_ref());
}

/// Route, redirect and direct response exclude one another (Istio's
/// `validateHTTPRouteConflict`).
fn conflicts(found: &mut Findings, at: &str, rule: &HttpRoute, delegate: bool) {
    if rule.delegate.is_some() && !delegate {
        for (set, name) in [
            (rule.redirect.is_some(), "redirect"),
            (!rule.route.is_empty(), "route"),
        ] {
            if set {
                found.error(
                    format!("{at}.{name}"),
                    format!("a rule with delegate must not set {name}"),
                );
            }
        }
        return;
    }
    if delegate && rule.delegate.is_some() {
        found.error(
            format!("{at}.delegate"),
            "a delegate VirtualService's rule cannot delegate again",
        );
    }
    if rule.mirror.is_some() && !rule.mirrors.is_empty() {
        found.error(
            format!("{at}.mirrors"),
            "a rule cannot set both mirror and mirrors",
        );
    }
    let answer = match (&rule.redirect, &rule.direct_response) {
        (Some(_), _) => Some("redirect"),
        (None, Some(_)) => Some("directResponse"),
        (None, None) => None,
    };
    let Some(answer) = answer else {
        if rule.route.is_empty() {
            found.error(at, "a rule needs a route, a redirect or a directResponse");
        }
        return;
    };
    let others = [
        (!rule.route.is_empty(), "route"),
        (rule.fault.is_some(), "fault"),
        (rule.rewrite.is_some(), "rewrite"),
        (
            answer == "redirect" && rule.direct_response.is_some(),
            "directResponse",
        ),
    ];
    for (_, other) in others.iter().filter(|(set, _)| *set) {
        found.error(
            format!("{at}.{other}"),
            format!("a rule cannot set both {answer} and {other}"),
        );
    }
}

fn redirect_target(found: &mut Findings, at: &str, redirect: &Redirect) {
    let somewhere = [
        &redirect.uri,
        &redirect.authority,
        &redirect.scheme,
        &redirect.derive_port,
    ]
    .iter()
    .any(|s| s.is_some())
        || redirect.port.is_some();
    if !somewhere {
        found.error(at, "a redirect must set uri, authority, scheme or port");
    }
    if let Some(scheme) = redirect
        .scheme
        .as_deref()
        .filter(|s| !["http", "https"].contains(s))
    {
        found.error(
            format!("{at}.scheme"),
            format!("invalid redirect scheme {scheme:?}: use \"http\" or \"https\""),
        );
    }
    if redirect.port == Some(0) {
        found.error(
            format!("{at}.port"),
            "port number 0 must be in the range 1..65535",
        );
    }
}

fn direct_body(found: &mut Findings, at: &str, direct: &DirectResponse) {
    let body = direct.body.as_ref();
    let size = body
        .and_then(|b| b.string.as_ref().or(b.bytes.as_ref()))
        .map_or(0, String::len);
    if size > BODY_MAX {
        found.error(
            format!("{at}.body"),
            "a direct response body must be under 1MB",
        );
    } else if size > BODY_MAX / 10 {
        found.warning(
            format!("{at}.body"),
            "a direct response body this large slows configuration down",
        );
    }
}

fn rewrite_target(found: &mut Findings, at: &str, rewrite: &Rewrite) {
    let regex = rewrite.uri_regex_rewrite.as_ref();
    if rewrite.uri.is_some() && regex.is_some() {
        found.error(at, "rewrite may only contain one of uri or uriRegexRewrite");
    }
    if rewrite.uri.is_none() && regex.is_none() && rewrite.authority.is_none() {
        found.error(at, "rewrite must set uri, uriRegexRewrite or authority");
    }
    if let Some(regex) = regex {
        let field = format!("{at}.uriRegexRewrite");
        if regex.pattern().is_empty() || regex.rewrite().is_empty() {
            found.error(
                field.clone(),
                "uriRegexRewrite needs both match and rewrite",
            );
        }
        if !regex.pattern().is_empty() {
            found.error_if(format!("{field}.match"), regex_size(regex.pattern()));
        }
    }
}

/// The authority is rewritten by `rewrite.authority` or one header edit, not more.
fn authority_once(found: &mut Findings, at: &str, rule: &HttpRoute) {
    let request = rule.headers.as_ref().and_then(|h| h.request.as_ref());
    let edits = request.iter().flat_map(|r| {
        let set = r.set.keys().map(|k| ("set", k));
        set.chain(r.add.keys().map(|k| ("add", k)))
    });
    let mut setters = usize::from(rule.rewrite.as_ref().is_some_and(|r| r.authority.is_some()));
    for (op, name) in edits.filter(|(_, name)| is_authority(name)) {
        setters += 1;
        if setters > 1 {
            let field = format!("{at}.headers.request.{op}.{name}");
            found.error(
                field,
                "the authority is already rewritten: set it in one place only",
            );
        }
    }
}

#[cfg(test)]
#[path = "http_route_tests.rs"]
mod tests;
