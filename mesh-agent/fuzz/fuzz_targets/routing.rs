//! A request built from fuzz input (method, path, query, headers, authority) routed by a fixed
//! set of VirtualService rules — exact, prefix and regex uri matches, headers, withoutHeaders,
//! queryParams, a redirect, a direct response — then rewritten and its headers edited as the
//! route layer does before forwarding. Whatever the request, routing answers without panicking
//! and a rewrite keeps the query and leaves a request that can still be sent.

#![no_main]

use std::path::Path;
use std::sync::{Arc, LazyLock};

use arbitrary::Arbitrary;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use libfuzzer_sys::fuzz_target;
use mesh_agent::chance::Chance;
use mesh_agent::document::parse_documents;
use mesh_agent::http::answer;
use mesh_agent::routing::{self, headers, matching, Decision, MatchInput, MatchedRule};
use mesh_agent::snapshot::{build, RouteTable, Snapshot};

const RULES: &str = include_str!("routing.yaml");

static SNAPSHOT: LazyLock<Snapshot> = LazyLock::new(|| {
    let documents = parse_documents(Path::new("routing.yaml"), RULES).expect("the rules read");
    let (snapshot, problems) = build(&Arc::new(documents), None);
    let errors: Vec<_> = problems.iter().filter(|p| p.is_error()).collect();
    assert!(errors.is_empty(), "the fixed rules compile: {errors:?}");
    snapshot
});

/// The parts of a request the rules look at.
#[derive(Arbitrary, Debug)]
struct Incoming<'a> {
    method: &'a str,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    headers: Vec<(&'a str, &'a [u8])>,
    port: u16,
}

fuzz_target!(|incoming: Incoming<'_>| {
    let Some(request) = request(&incoming) else {
        return;
    };
    let table = SNAPSHOT.routes("web.shop.svc.cluster.local", 80, "shop");
    route(
        table.expect("the rules are bound to web:80"),
        request,
        incoming.port,
    );
});

fn request(incoming: &Incoming<'_>) -> Option<Request<()>> {
    let query = incoming.query.map(|q| format!("?{q}")).unwrap_or_default();
    let uri = match incoming.authority {
        Some(authority) => format!("http://{authority}{}{query}", incoming.path),
        None => format!("{}{query}", incoming.path),
    };
    let mut request = Request::new(());
    *request.method_mut() = Method::from_bytes(incoming.method.as_bytes()).ok()?;
    *request.uri_mut() = uri.parse::<Uri>().ok()?;
    for (name, value) in &incoming.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        request
            .headers_mut()
            .append(name, HeaderValue::from_bytes(value).ok()?);
    }
    Some(request)
}

fn route(table: &Arc<RouteTable>, mut request: Request<()>, port: u16) {
    let facts = MatchInput {
        method: request.method(),
        uri: request.uri(),
        headers: request.headers(),
        port,
        source_labels: None,
        source_namespace: Some("shop"),
        gateway: "mesh",
    };
    let (rule, destination) = match routing::decide(Some(table), &facts, &Chance::seeded(7)) {
        Err(_) | Ok(Decision::Direct) => return,
        Ok(Decision::Redirect { rule }) => {
            let redirect = table.http[rule].redirect.as_ref().expect("decided on it");
            drop(answer::redirect(redirect, &facts));
            return;
        }
        Ok(Decision::DirectResponse { rule }) => {
            let direct = table.http[rule]
                .direct_response
                .as_ref()
                .expect("decided on it");
            drop(answer::direct_response(direct));
            return;
        }
        Ok(Decision::Forward { rule, destination }) => (rule, destination),
    };
    assert!(matching::rule_matches(&table.http[rule], &facts));
    let holding = matching::first_holding(&table.http[rule], &facts).cloned();
    let matched = MatchedRule::new(table.clone(), rule, Some(destination));
    let query = request.uri().query().map(str::to_string);
    if let Some(rewrite) = &matched.rule().rewrite {
        routing::rewrite::apply(rewrite, holding.as_ref(), &mut request);
    }
    headers::edit(
        request.headers_mut(),
        headers::Side::Request,
        &matched.header_edits(),
    );
    assert_eq!(
        request.uri().query(),
        query.as_deref(),
        "a rewrite keeps the query"
    );
    let sent = request.uri().to_string();
    assert!(
        sent.parse::<Uri>().is_ok(),
        "{sent} is no longer a request target"
    );
}
