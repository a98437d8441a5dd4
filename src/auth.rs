//! Bearer tokens: HS256 JWTs carrying tenant, user and role, and their resolution into the
//! [`Viewer`] every query is scoped by.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::access::Viewer;
use crate::domain::role::Role;
use crate::error::AppError;
use crate::store::pg::org::OrgRepo;

/// The claims goalgraph puts in and reads from a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The tenant id.
    pub tenant: i64,
    /// admin | manager | member | viewer.
    pub role: String,
    pub iat: u64,
    pub exp: u64,
}

/// Signs and verifies tokens with one shared secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(<secret>)")
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// A token for `user_id` in `tenant_id` acting with `role`, valid for `ttl_seconds`.
    pub fn issue(&self, tenant_id: i64, user_id: i64, role: Role, ttl_seconds: u64) -> String {
        let now = now_seconds();
        let claims = Claims {
            sub: user_id.to_string(),
            tenant: tenant_id,
            role: role.as_str().into(),
            iat: now,
            exp: now + ttl_seconds,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default()
    }

    /// Verifies signature, algorithm and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|err| {
                let reason = match err.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the token has expired",
                    _ => "the token is invalid",
                };
                AppError::Unauthenticated(reason.into())
            })
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Resolves verified claims into a viewer. The user must still exist in the token's tenant,
/// and the token can narrow the user's role but never widen it.
pub async fn resolve_viewer(org: &OrgRepo, claims: &Claims) -> Result<Viewer, AppError> {
    let unauthenticated = || AppError::Unauthenticated("the token is invalid".into());
    let user_id: i64 = claims.sub.parse().map_err(|_| unauthenticated())?;
    let token_role: Role = claims.role.parse().map_err(|_| unauthenticated())?;
    let user = org
        .user(claims.tenant, user_id)
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| AppError::Unauthenticated("the token's user no longer exists".into()))?;
    let stored_role: Role = user.role.parse().map_err(|_| unauthenticated())?;
    Ok(Viewer {
        tenant_id: claims.tenant,
        user_id,
        role: token_role.min(stored_role),
        team_id: user.team_id,
    })
}

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_verifies_with_the_same_secret_only() {
        let keys = TokenKeys::new(b"secret-one");
        let token = keys.issue(3, 7, Role::Manager, 60);
        let claims = keys.verify(&token).expect("valid");
        assert_eq!(
            (claims.tenant, claims.sub.as_str(), claims.role.as_str()),
            (3, "7", "manager")
        );
        assert!(TokenKeys::new(b"secret-two").verify(&token).is_err());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = TokenKeys::new(b"s");
        let claims = Claims {
            sub: "1".into(),
            tenant: 1,
            role: "admin".into(),
            iat: 0,
            exp: 1,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
            .expect("encodes");
        assert!(matches!(
            keys.verify(&token),
            Err(AppError::Unauthenticated(_))
        ));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
    }
}
