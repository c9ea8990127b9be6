//! End-user authentication (RequestAuthentication): the JWT rules in scope of a workload
//! ([`issuers_for`]), tokens found where the rules say ([`extract`]), verified against the
//! issuer's keys — inline or fetched and cached by [`JwksCache`] — with Envoy's checks and
//! messages ([`verify`]), and the outcome ([`Authenticator`]): no token passes (authorization
//! decides), a bad one is refused, a good one becomes the request's [`RequestAuth`].
//!
//! [`RequestAuth`]: crate::facts::RequestAuth

mod authenticate;
mod extract;
mod failure;
mod keys;
mod scope;
mod verify;

pub use authenticate::Authenticator;
pub use extract::{find_tokens, FoundToken};
pub use failure::JwtFailure;
pub use keys::{JwksCache, JwksFetch, JWKS_REFRESH, JWKS_RETRY};
pub use scope::issuers_for;
pub use verify::{verify, CLOCK_SKEW};
