//! One DNS lookup of a ServiceEntry name through hickory's resolver, configured from the node's
//! `/etc/resolv.conf` (or another file, or one server for tests), with how long the answer holds.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;
use tokio::time::Instant;

/// The shortest a positive answer is kept before asking again, whatever its TTL says (a TTL of
/// 0 would otherwise ask in a loop).
pub const MIN_REFRESH: Duration = Duration::from_secs(1);
/// The longest an answer is kept before asking again.
pub const MAX_REFRESH: Duration = Duration::from_secs(300);
/// How soon a failed lookup is tried again, the last answer kept meanwhile (Envoy's
/// `dns_failure_refresh_rate` default).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// What a lookup found: the addresses and when to ask again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Every A and AAAA address (none: the name has no address records).
    pub addresses: Vec<IpAddr>,
    /// The answer's TTL, clamped to [`MIN_REFRESH`]..=[`MAX_REFRESH`].
    pub refresh_at: Instant,
}

/// The agent's resolver.
#[derive(Clone)]
pub struct NameLookup {
    resolver: TokioResolver,
}

impl NameLookup {
    /// As `resolv_conf` (the node's `/etc/resolv.conf`) says: its servers, search domains,
    /// `ndots`, and the hosts file.
    pub fn from_resolv_conf(resolv_conf: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read(resolv_conf)
            .with_context(|| format!("reading {}", resolv_conf.display()))?;
        let (config, options) = hickory_resolver::system_conf::parse_resolv_conf(text)
            .with_context(|| format!("parsing {}", resolv_conf.display()))?;
        let mut builder =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
        *builder.options_mut() = options;
        Ok(Self {
            resolver: builder.build(),
        })
    }

    /// Asking only `server` (UDP, then TCP when truncated), no hosts file, no search domains.
    pub fn with_server(server: SocketAddr) -> Self {
        let servers = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
        let config = ResolverConfig::from_parts(None, Vec::new(), servers);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
        builder.options_mut().use_hosts_file = ResolveHosts::Never;
        builder.options_mut().attempts = 1;
        Self {
            resolver: builder.build(),
        }
    }

    /// The addresses of `name` (absolute: search domains are not tried) and when to ask again.
    pub async fn lookup(&self, name: &str) -> anyhow::Result<Answer> {
        let absolute = format!("{}.", name.trim_end_matches('.'));
        match self.resolver.lookup_ip(absolute).await {
            Ok(found) => Ok(Answer {
                addresses: found.iter().collect(),
                refresh_at: clamp(found.valid_until().into()),
            }),
            // NXDOMAIN or no A/AAAA records: the name has no endpoints now.
            Err(error) if error.is_no_records_found() => Ok(Answer {
                addresses: Vec::new(),
                refresh_at: Instant::now() + RETRY_AFTER_FAILURE,
            }),
            Err(error) => Err(error).with_context(|| format!("resolving {name}")),
        }
    }
}

fn clamp(valid_until: Instant) -> Instant {
    let now = Instant::now();
    valid_until.clamp(now + MIN_REFRESH, now + MAX_REFRESH)
}
