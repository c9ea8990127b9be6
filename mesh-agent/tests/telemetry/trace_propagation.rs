//! Trace context propagation as pure functions: W3C and B3 (single and multi) are read and
//! written back, malformed headers are ignored safely, `x-request-id` is generated when absent
//! and the tracer continues, starts or declines a trace as the incoming decision says.

use hyper::header::{HeaderMap, HeaderValue};
use mesh_agent::spans::{
    ensure_request_id, extract, inject, uuid_v4, Sampler, SpanContext, SpanId, SpanKind, SpanQueue,
    TraceMetrics, Tracer,
};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(*name, HeaderValue::from_str(value).unwrap());
    }
    headers
}

fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn each_format_names_the_callers_span_and_decision() {
    let w3c = format!("00-{TRACE}-{SPAN}-01");
    let w3c_off = format!("00-{TRACE}-{SPAN}-00");
    let single = format!("{TRACE}-{SPAN}-1");
    let table: Vec<(HeaderMap, Option<bool>)> = vec![
        (headers(&[("traceparent", &w3c)]), Some(true)),
        (headers(&[("traceparent", &w3c_off)]), Some(false)),
        (headers(&[("b3", &single)]), Some(true)),
        (headers(&[("b3", &format!("{TRACE}-{SPAN}"))]), None),
        (
            headers(&[
                ("x-b3-traceid", TRACE),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "0"),
            ]),
            Some(false),
        ),
        (
            headers(&[("x-b3-traceid", TRACE), ("x-b3-spanid", SPAN)]),
            None,
        ),
    ];
    for (headers, sampled) in table {
        let extracted = extract(&headers);
        let parent = extracted.parent.expect("a parent");
        assert_eq!(parent.trace_id.to_string(), TRACE, "{headers:?}");
        assert_eq!(parent.span_id.to_string(), SPAN, "{headers:?}");
        assert_eq!(extracted.sampled, sampled, "{headers:?}");
    }
}

#[test]
fn malformed_headers_are_ignored_safely() {
    let table = [
        headers(&[("traceparent", "00-zzz-yyy-01")]),
        headers(&[("traceparent", &format!("00-{TRACE}-{SPAN}"))]),
        headers(&[("b3", "not-a-b3-header-at-all")]),
        headers(&[("x-b3-traceid", TRACE)]),
        headers(&[("x-b3-traceid", "xyz"), ("x-b3-spanid", SPAN)]),
        headers(&[("tracestate", "a=b")]),
    ];
    for headers in table {
        let extracted = extract(&headers);
        assert_eq!(extracted.parent, None, "{headers:?}");
        assert_eq!(extracted.sampled, None, "{headers:?}");
    }
    // Not UTF-8: ignored, not a panic.
    let mut binary = HeaderMap::new();
    binary.insert("traceparent", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
    assert_eq!(extract(&binary).parent, None);
}

#[test]
fn w3c_wins_over_b3_when_both_are_sent() {
    let other = "11111111111111111111111111111111";
    let h = headers(&[
        ("traceparent", &format!("00-{TRACE}-{SPAN}-01")),
        ("b3", &format!("{other}-{SPAN}-0")),
    ]);
    let extracted = extract(&h);
    assert_eq!(extracted.parent.unwrap().trace_id.to_string(), TRACE);
    assert_eq!(extracted.sampled, Some(true));
}

#[test]
fn injected_contexts_round_trip_in_every_format_used() {
    let incoming = headers(&[
        ("b3", &format!("{TRACE}-{SPAN}-1")),
        ("x-b3-traceid", TRACE),
        ("x-b3-spanid", SPAN),
        ("x-b3-flags", "1"),
        ("tracestate", "congo=t61rcWkgMzE"),
        ("traceparent", &format!("00-{TRACE}-{SPAN}-01")),
    ]);
    let extracted = extract(&incoming);
    let child = SpanContext::child_of(extracted.parent.as_ref(), true);
    let mut outgoing = incoming.clone();
    inject(&mut outgoing, &child, extracted.formats);

    let again = extract(&outgoing);
    let parent = again.parent.unwrap();
    assert_eq!(parent.trace_id.to_string(), TRACE);
    assert_eq!(parent.span_id, child.span_id);
    assert_eq!(parent.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
    let new_span = child.span_id.to_string();
    assert_eq!(
        get(&outgoing, "b3").unwrap(),
        format!("{TRACE}-{new_span}-1-{SPAN}")
    );
    assert_eq!(get(&outgoing, "x-b3-spanid"), Some(new_span.as_str()));
    assert_eq!(get(&outgoing, "x-b3-parentspanid"), Some(SPAN));
    assert_eq!(get(&outgoing, "x-b3-sampled"), Some("1"));
    assert_eq!(get(&outgoing, "x-b3-flags"), None);
}

#[test]
fn only_w3c_is_written_when_no_b3_came_in() {
    let mut h = HeaderMap::new();
    let root = SpanContext::child_of(None, false);
    inject(&mut h, &root, extract(&HeaderMap::new()).formats);
    let tp = get(&h, "traceparent").unwrap();
    assert_eq!(tp, format!("00-{}-{}-00", root.trace_id, root.span_id));
    assert!(h.get("b3").is_none() && h.get("x-b3-traceid").is_none());
    assert_eq!(root.parent_id, None);
}

#[test]
fn a_request_id_is_generated_only_when_absent() {
    let mut given = headers(&[("x-request-id", "abc-123")]);
    assert_eq!(ensure_request_id(&mut given), "abc-123");
    let mut none = HeaderMap::new();
    let generated = ensure_request_id(&mut none);
    assert_eq!(get(&none, "x-request-id"), Some(generated.as_str()));
    assert_uuid_v4(&generated);
    let mut empty = headers(&[("x-request-id", "")]);
    assert_uuid_v4(&ensure_request_id(&mut empty));
}

#[test]
fn generated_request_ids_are_uuid_v4_and_distinct() {
    let ids: std::collections::HashSet<String> = (0..100).map(|_| uuid_v4()).collect();
    assert_eq!(ids.len(), 100);
    ids.iter().for_each(|id| assert_uuid_v4(id));
}

fn assert_uuid_v4(id: &str) {
    let groups: Vec<&str> = id.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    assert_eq!(lengths, [8, 4, 4, 4, 12], "{id}");
    assert!(groups[2].starts_with('4'), "version 4: {id}");
    assert!("89ab".contains(&groups[3][..1]), "variant: {id}");
    assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
}

fn tracer(percent: f64) -> (Tracer, mesh_agent::spans::SpanReceiver) {
    let (queue, receiver) = SpanQueue::bounded(16, &TraceMetrics::default());
    (
        Tracer::new(Sampler::new(percent), Some(queue), "cluster.local"),
        receiver,
    )
}

#[test]
fn the_tracer_honours_an_incoming_decision_over_its_percentage() {
    let (never, _r1) = tracer(0.0);
    let mut sampled = headers(&[("traceparent", &format!("00-{TRACE}-{SPAN}-01"))]);
    let span = never
        .open(&mut sampled, SpanKind::Server)
        .expect("sampled upstream");
    assert_eq!(span.context().parent_id, SpanId::from_hex(SPAN));

    let (always, _r2) = tracer(100.0);
    let mut declined = headers(&[("x-b3-sampled", "0")]);
    assert!(always.open(&mut declined, SpanKind::Client).is_none());
    // The decision travels on: the next hop is told not to sample either.
    assert!(get(&declined, "traceparent").unwrap().ends_with("-00"));
    assert_eq!(get(&declined, "x-b3-sampled"), Some("0"));

    let mut fresh = HeaderMap::new();
    let root = always.open(&mut fresh, SpanKind::Client).expect("100%");
    assert_eq!(root.context().parent_id, None);
    let none = never.open(&mut HeaderMap::new(), SpanKind::Client);
    assert!(none.is_none());
}
