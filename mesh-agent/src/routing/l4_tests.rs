//! Table tests of [`decide`]: TLS rules by SNI first, then TCP rules; each match field; weights.

use super::*;
use crate::resources::{L4Match, PortSelector, TcpRoute, TlsMatch, TlsRoute};

fn to(host: &str, subset: Option<&str>, weight: Option<u32>) -> RouteDestination {
    RouteDestination {
        destination: Destination {
            host: host.into(),
            subset: subset.map(Into::into),
            port: Some(PortSelector { number: 9000 }),
        },
        weight,
    }
}

fn table() -> RouteTable {
    let tls = |sni: &str, host: &str| TlsRoute {
        matches: vec![TlsMatch {
            sni_hosts: vec![sni.into()],
            ..Default::default()
        }],
        route: vec![to(host, None, None)],
    };
    let tcp = |m: L4Match, host: &str| TcpRoute {
        matches: vec![m],
        route: vec![to(host, None, None)],
    };
    let labels = [("app".to_string(), "ops".to_string())]
        .into_iter()
        .collect();
    RouteTable {
        tls: vec![tls("a.example.com", "a"), tls("*.example.com", "wild")],
        tcp: vec![
            tcp(
                L4Match {
                    port: Some(5432),
                    ..Default::default()
                },
                "db",
            ),
            tcp(
                L4Match {
                    destination_subnets: vec!["10.1.0.0/16".into()],
                    ..Default::default()
                },
                "subnet",
            ),
            tcp(
                L4Match {
                    source_labels: labels,
                    ..Default::default()
                },
                "ops",
            ),
            tcp(
                L4Match {
                    source_namespace: Some("batch".into()),
                    ..Default::default()
                },
                "batch",
            ),
            tcp(
                L4Match {
                    gateways: vec!["istio-system/edge".into()],
                    ..Default::default()
                },
                "edge",
            ),
        ],
        ..Default::default()
    }
}

fn host(input: L4Input) -> Option<String> {
    decide(&table(), &input, &Chance::seeded(1)).map(|d| d.host.clone())
}

#[test]
fn each_match_field_picks_its_rule_and_tls_rules_come_first_by_sni() {
    let base = L4Input {
        port: 80,
        ..Default::default()
    };
    let ops = [("app".to_string(), "ops".to_string())]
        .into_iter()
        .collect();
    let cases: Vec<(L4Input, Option<&str>)> = vec![
        (
            L4Input {
                sni: Some("a.example.com"),
                ..base
            },
            Some("a"),
        ),
        (
            L4Input {
                sni: Some("B.Example.com"),
                ..base
            },
            Some("wild"),
        ),
        (
            L4Input {
                sni: Some("example.com"),
                port: 5432,
                ..base
            },
            Some("db"),
        ),
        (L4Input { port: 5432, ..base }, Some("db")),
        (
            L4Input {
                destination: Some("10.1.2.3".parse().unwrap()),
                ..base
            },
            Some("subnet"),
        ),
        (
            L4Input {
                destination: Some("10.2.2.3".parse().unwrap()),
                ..base
            },
            None,
        ),
        (
            L4Input {
                source_labels: Some(&ops),
                ..base
            },
            Some("ops"),
        ),
        (
            L4Input {
                source_namespace: Some("batch"),
                ..base
            },
            Some("batch"),
        ),
        (base, None),
    ];
    for (input, want) in cases {
        assert_eq!(host(input).as_deref(), want, "{input:?}");
    }
}

#[test]
fn weights_split_connections_between_subsets() {
    let table = RouteTable {
        tcp: vec![TcpRoute {
            matches: Vec::new(),
            route: vec![
                to("web", Some("v1"), Some(80)),
                to("web", Some("v2"), Some(20)),
            ],
        }],
        ..Default::default()
    };
    let chance = Chance::seeded(7);
    let mut v2 = 0;
    for _ in 0..1000 {
        let found = decide(&table, &L4Input::default(), &chance).unwrap();
        v2 += usize::from(found.subset.as_deref() == Some("v2"));
    }
    assert!((150..=250).contains(&v2), "20% of 1000 to v2: {v2}");
}
