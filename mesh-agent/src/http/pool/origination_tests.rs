use super::*;
use crate::http::pool::Originations;
use crate::resources::TrafficPolicy;

fn cluster(tls: Option<ClientTls>) -> Cluster {
    Cluster {
        name: "outbound|443||partner.example.com".into(),
        hostname: "partner.example.com".into(),
        port: 443,
        subset: None,
        endpoints: Vec::new(),
        weights: Vec::new(),
        localities: Vec::new(),
        policy: TrafficPolicy {
            tls,
            ..TrafficPolicy::default()
        },
        rule_namespace: Some("shop".into()),
        resilience: crate::snapshot::Memo::default(),
    }
}

fn tls(mode: ClientTlsMode) -> ClientTls {
    ClientTls {
        mode: Some(mode),
        insecure_skip_verify: Some(true),
        ..ClientTls::default()
    }
}

#[test]
fn only_simple_and_mutual_originate() {
    let snapshot = Snapshot::default();
    assert!(Origination::of(&cluster(None), &snapshot).is_none());
    for mode in [ClientTlsMode::Disable, ClientTlsMode::IstioMutual] {
        assert!(
            Origination::of(&cluster(Some(tls(mode))), &snapshot).is_none(),
            "{mode:?}"
        );
    }
    let simple = Origination::of(&cluster(Some(tls(ClientTlsMode::Simple))), &snapshot).unwrap();
    let (name, config) = simple.client(false).unwrap();
    assert_eq!(
        name.to_str(),
        "partner.example.com",
        "the host is the default SNI"
    );
    assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
    assert_eq!(
        simple.client(true).unwrap().1.alpn_protocols,
        [b"h2".to_vec()]
    );
}

#[test]
fn mutual_without_a_certificate_or_with_a_missing_secret_is_unusable() {
    let snapshot = Snapshot::default();
    let bare = Origination::of(&cluster(Some(tls(ClientTlsMode::Mutual))), &snapshot).unwrap();
    assert_eq!(bare.problem(), Some(&OriginationError::NoClientCertificate));
    let mut named = tls(ClientTlsMode::Mutual);
    named.credential_name = Some("partner".into());
    let missing = Origination::of(&cluster(Some(named)), &snapshot).unwrap();
    assert_eq!(
        missing.problem().map(ToString::to_string).as_deref(),
        Some("Secret shop/partner not found")
    );
    let unreadable = ClientTls {
        mode: Some(ClientTlsMode::Simple),
        ca_certificates: Some("/nonexistent/ca.pem".into()),
        ..ClientTls::default()
    };
    let unreadable = Origination::of(&cluster(Some(unreadable)), &snapshot).unwrap();
    let problem = unreadable.problem().map(ToString::to_string).unwrap();
    assert!(problem.starts_with("/nonexistent/ca.pem: "), "{problem}");
}

#[test]
fn the_same_settings_keep_their_origination_across_snapshots() {
    let cache = Originations::default();
    let simple = cluster(Some(tls(ClientTlsMode::Simple)));
    let first = cache.get(&simple, &Snapshot::default(), 1).unwrap();
    let again = cache.get(&simple, &Snapshot::default(), 2).unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "unchanged settings keep their connections"
    );
    let mut changed = tls(ClientTlsMode::Simple);
    changed.sni = Some("other.example.com".into());
    let third = cache
        .get(&cluster(Some(changed)), &Snapshot::default(), 3)
        .unwrap();
    assert!(!Arc::ptr_eq(&first, &third));
}
