//! Each host and name rule with a valid and an invalid case.

use super::*;

#[test]
fn labels_and_fqdns() {
    for good in ["reviews", "Reviews", "a-1", "x".repeat(63).as_str()] {
        assert!(is_label(good), "{good}");
    }
    for bad in ["", "-a", "a-", "a_b", "a.b", "x".repeat(64).as_str()] {
        assert!(!is_label(bad), "{bad}");
    }
    assert_eq!(fqdn("istio.io."), Ok(()));
    assert_eq!(fqdn("reviews.default.svc.cluster.local"), Ok(()));
    assert_eq!(
        fqdn("10.1.2.3"),
        Err(
            "domain name \"10.1.2.3\" invalid (top level domain \"3\" cannot be all-numeric)"
                .into()
        )
    );
    assert_eq!(fqdn(""), Err("empty domain name not allowed".into()));
    assert_eq!(
        fqdn("a..b"),
        Err("domain name \"a..b\" invalid (label \"\" invalid)".into())
    );
}

#[test]
fn wildcards_only_lead_the_first_label() {
    for good in [
        "*",
        "*.example.com",
        "*-x.example.com",
        "*x.example",
        "example.com",
    ] {
        assert_eq!(wildcard_domain(good), Ok(()), "{good}");
    }
    assert_eq!(
        wildcard_domain("a.*.com"),
        Err("domain name \"*.com\" invalid (label \"*\" invalid)".into())
    );
    assert_eq!(
        wildcard_domain("**.com"),
        Err("domain name \"**.com\" invalid (label \"**\" invalid)".into())
    );
    assert_eq!(partial_wildcard("*.example.com"), Ok(()));
    assert_eq!(
        partial_wildcard("*x.example.com"),
        Err("partial wildcard \"*x.example.com\" not allowed".into())
    );
}

#[test]
fn namespace_slash_host_entries() {
    for good in [
        "*/*",
        "./reviews.default.svc.cluster.local",
        "shop/*.example.com",
    ] {
        assert_eq!(namespace_slash_host(good, false), Ok(()), "{good}");
        assert_eq!(namespace_slash_host(good, true), Ok(()), "{good}");
    }
    assert_eq!(namespace_slash_host("~/*", false), Ok(()));
    assert_eq!(namespace_slash_host("1.2.3.4", true), Ok(()));
    assert_eq!(namespace_slash_host("bookinfo.example.com", true), Ok(()));
    let cases = [
        (
            "reviews",
            false,
            "host \"reviews\" must be of form namespace/dnsName",
        ),
        (
            "shop/reviews",
            false,
            "short names (non FQDN) are not allowed: \"reviews\"",
        ),
        (
            "shop/",
            true,
            "config namespace and dnsName in host entry cannot be empty",
        ),
        (
            "Sh_op/*",
            true,
            "invalid namespace value \"Sh_op\" in gateway",
        ),
        ("~/*", true, "invalid namespace value \"~\" in gateway"),
        (
            "*/*x.example.com",
            false,
            "partial wildcard \"*x.example.com\" not allowed",
        ),
    ];
    for (entry, gateway, want) in cases {
        assert_eq!(
            namespace_slash_host(entry, gateway),
            Err(want.into()),
            "{entry}"
        );
    }
}

#[test]
fn addresses_blocks_ports_and_protocols() {
    assert_eq!(ip_subnet("10.0.0.0/8"), Ok(()));
    assert_eq!(ip_subnet("2001:db8::/32"), Ok(()));
    assert_eq!(ip_subnet("10.0.0.1"), Ok(()));
    assert_eq!(
        ip_subnet("10.0.0.0/33"),
        Err("10.0.0.0/33 is not a valid CIDR block".into())
    );
    assert_eq!(ip_subnet("10.0.0"), Err("10.0.0 is not a valid IP".into()));
    assert_eq!(port_name("http-web"), Ok(()));
    assert_eq!(
        port_name("http_web"),
        Err("invalid port name: \"http_web\"".into())
    );
    assert!(is_protocol("grpc-web") && is_protocol("HTTPS"));
    assert!(!is_protocol("QUIC"));
    assert!(is_http("http2") && !is_http("TLS") && is_tls("https"));
}
