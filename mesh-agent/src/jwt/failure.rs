//! Why a token was refused, in Envoy's words (its `jwt_authn` filter answers with these bodies).

use hyper::StatusCode;

/// A token found and refused. The request is answered `401` (`403` for audiences), the
/// message as the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtFailure {
    #[error("Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections")]
    BadFormat,
    #[error("Jwt header is an invalid JSON")]
    HeaderBadJson,
    #[error("Jwt payload is an invalid JSON")]
    PayloadBadJson,
    #[error("Jwt header [alg] is not supported")]
    AlgorithmNotSupported,
    #[error("Jwt issuer is not configured")]
    UnknownIssuer,
    #[error("Jwt is expired")]
    Expired,
    #[error("Jwt not yet valid")]
    NotYetValid,
    #[error("Audiences in Jwt are not allowed")]
    AudienceNotAllowed,
    #[error("Jwks doesn't have key to match kid or alg from Jwt")]
    NoMatchingKey,
    #[error("Jwks remote fetch is failed")]
    JwksFetchFailed,
    #[error("Jwt verification fails")]
    VerificationFails,
}

impl JwtFailure {
    /// Envoy's status: `403` when only the audience is wrong, `401` otherwise.
    pub fn status(self) -> StatusCode {
        match self {
            Self::AudienceNotAllowed => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// Envoy's response code details: `jwt_authn_access_denied{Jwt_is_expired}`.
    pub fn details(self) -> String {
        format!(
            "jwt_authn_access_denied{{{}}}",
            self.to_string().replace(' ', "_")
        )
    }
}
