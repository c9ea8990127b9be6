//! Table tests of [`decide`]: which rule and destination a request gets.

use hyper::{HeaderMap, Method, Uri};

use super::*;

fn table(yaml: &str) -> RouteTable {
    RouteTable {
        virtual_service: "shop/web".into(),
        http: serde_yaml::from_str(yaml).unwrap(),
        ..Default::default()
    }
}

fn decide_for(
    table: Option<&RouteTable>,
    uri: &str,
    agent: &str,
    chance: &Chance,
) -> Result<Decision, NoRoute> {
    let (method, uri) = (Method::GET, uri.parse::<Uri>().unwrap());
    let mut headers = HeaderMap::new();
    headers.insert("user-agent", agent.parse().unwrap());
    let facts = MatchInput {
        method: &method,
        uri: &uri,
        headers: &headers,
        port: 80,
        source_labels: None,
        source_namespace: None,
        gateway: "mesh",
    };
    decide(table, &facts, chance)
}

const RULES: &str = "
- match: [{headers: {user-agent: {regex: '.*Mobile.*'}}}]
  route: [{destination: {host: web, subset: v2}}]
- match: [{uri: {exact: /moved}}]
  redirect: {uri: /new}
- match: [{uri: {prefix: /down}}]
  directResponse: {status: 503}
- match: [{uri: {prefix: /split}}]
  route:
  - {destination: {host: web, subset: v1}, weight: 50}
  - {destination: {host: web, subset: v2}, weight: 50}
- match: [{uri: {prefix: /}}]
  route: [{destination: {host: web, subset: v1}}]
";

#[test]
fn decision_table() {
    let rules = table(RULES);
    let chance = Chance::seeded(3);
    let forward = |rule, destination| Some(Decision::Forward { rule, destination });
    let cases = [
        ("/x", "Mobile Safari", forward(0, 0)),
        ("/x", "curl", forward(4, 0)),
        ("/moved", "curl", Some(Decision::Redirect { rule: 1 })),
        (
            "/down/now",
            "curl",
            Some(Decision::DirectResponse { rule: 2 }),
        ),
    ];
    for (uri, agent, want) in cases {
        assert_eq!(
            decide_for(Some(&rules), uri, agent, &chance).ok(),
            want,
            "{uri} {agent}"
        );
    }
}

#[test]
fn no_rule_matching_is_no_route_and_no_rules_route_directly() {
    let chance = Chance::seeded(3);
    let rules = table("[{match: [{uri: {prefix: /api}}], route: [{destination: {host: web}}]}]");
    assert!(decide_for(Some(&rules), "/other", "curl", &chance).is_err());
    assert_eq!(
        decide_for(None, "/x", "curl", &chance).ok(),
        Some(Decision::Direct)
    );
    assert_eq!(
        decide_for(Some(&table("[]")), "/x", "curl", &chance).ok(),
        Some(Decision::Direct)
    );
}

#[test]
fn a_fifty_fifty_split_with_a_seed_lands_near_half() {
    let rules = table(RULES);
    let chance = Chance::seeded(42);
    let mut to_v2 = 0;
    for _ in 0..400 {
        let decision = decide_for(Some(&rules), "/split", "curl", &chance).ok();
        if decision
            == Some(Decision::Forward {
                rule: 3,
                destination: 1,
            })
        {
            to_v2 += 1;
        }
    }
    assert!((160..=240).contains(&to_v2), "{to_v2} of 400 to v2");
}

#[test]
fn the_matched_rule_names_its_destination_and_edits() {
    let rules = Arc::new(table(
        "[{route: [{destination: {host: web, subset: v1}, headers: {request: {set: {a: b}}}}], headers: {response: {set: {c: d}}}}]",
    ));
    let matched = MatchedRule::new(rules, 0, Some(0));
    assert_eq!(matched.destination().unwrap().subset.as_deref(), Some("v1"));
    let [rule, destination] = matched.header_edits();
    assert!(rule.unwrap().response.is_some() && destination.unwrap().request.is_some());
    assert_eq!(matched.virtual_service(), "shop/web");
}
