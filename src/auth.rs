//! Bearer tokens: JWTs carrying tenant, user and role — HS256 with goalgraph's own secret, or
//! RS256 from an identity provider's JWKS — verified strictly (algorithm pinned per key,
//! expiry, not-before, issuer and audience when configured) and resolved into the [`Viewer`]
//! every query is scoped by.

use crate::store::pg::user_cache::{CachedUser, UserCache};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::access::Viewer;
use crate::domain::role::Role;
use crate::error::AppError;
use crate::store::pg::org::OrgRepo;

/// The claims goalgraph reads from a token (issuer and audience are checked by the validator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The tenant id.
    pub tenant: i64,
    /// admin | manager | member | viewer.
    pub role: String,
    #[serde(default)]
    pub iat: u64,
    pub exp: u64,
    /// Not valid before this time (seconds since the epoch), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Who issued it, when goalgraph is configured with an issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Who it is for, when goalgraph is configured with an audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// An identity provider's public key, from its JWKS.
#[derive(Clone)]
struct RsaKey {
    kid: Option<String>,
    key: DecodingKey,
}

/// Signs goalgraph's own tokens and verifies every accepted kind.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    rsa: Vec<RsaKey>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenKeys(hs256 <secret>, {} rs256 keys, issuer {:?}, audience {:?})",
            self.rsa.len(),
            self.issuer,
            self.audience
        )
    }
}

impl TokenKeys {
    /// Keys for HS256 tokens signed with `secret` (goalgraph's own).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            rsa: Vec::new(),
            issuer: None,
            audience: None,
        }
    }

    /// Requires (and, in issued tokens, sets) this issuer.
    pub fn with_issuer(mut self, issuer: Option<String>) -> Self {
        self.issuer = issuer;
        self
    }

    /// Requires (and, in issued tokens, sets) this audience.
    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        self.audience = audience;
        self
    }

    /// Also accepts RS256 tokens signed by a key of `jwks` (RSA keys only; others are skipped).
    pub fn with_jwks(mut self, jwks: &JwkSet) -> Result<Self, String> {
        for jwk in &jwks.keys {
            if !matches!(
                jwk.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_)
            ) {
                continue;
            }
            let key = DecodingKey::from_jwk(jwk).map_err(|err| format!("bad JWKS key: {err}"))?;
            self.rsa.push(RsaKey {
                kid: jwk.common.key_id.clone(),
                key,
            });
        }
        if self.rsa.is_empty() {
            return Err("the JWKS holds no RSA key".into());
        }
        Ok(self)
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
            nbf: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default()
    }

    /// Verifies signature, expiry, not-before, and issuer and audience when configured. The
    /// algorithm is pinned by the key: HS256 only with goalgraph's secret, RS256 only with a
    /// JWKS key, anything else (`none`, HS384, an RSA public key used as an HMAC secret) is
    /// refused.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let invalid = || AppError::Unauthenticated("the token is invalid".into());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        let key = match header.alg {
            Algorithm::HS256 => &self.decoding,
            Algorithm::RS256 => {
                let found = self.rsa.iter().find(|candidate| match &header.kid {
                    Some(kid) => candidate.kid.as_deref() == Some(kid.as_str()),
                    None => true,
                });
                &found.ok_or_else(invalid)?.key
            }
            _ => {
                return Err(AppError::Unauthenticated(
                    "the token's algorithm is not accepted (use HS256 or RS256)".into(),
                ));
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = 5;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match &self.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|err| {
                use jsonwebtoken::errors::ErrorKind;
                let reason = match err.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::ImmatureSignature => "the token is not valid yet",
                    ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
                    ErrorKind::InvalidAudience => "the token is not meant for this API",
                    _ => "the token is invalid",
                };
                AppError::Unauthenticated(reason.into())
            })
    }
}

/// Reads a JWKS from a file path or an `http(s)://` URL.
pub async fn load_jwks(source: &str) -> Result<JwkSet, String> {
    let text = if source.starts_with("http://") || source.starts_with("https://") {
        reqwest::get(source)
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| format!("cannot fetch the JWKS: {err}"))?
            .text()
            .await
            .map_err(|err| format!("cannot read the JWKS: {err}"))?
    } else {
        std::fs::read_to_string(source).map_err(|err| format!("cannot read {source}: {err}"))?
    };
    serde_json::from_str(&text).map_err(|err| format!("the JWKS is not valid: {err}"))
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Resolves verified claims into a viewer. The user must still exist in the token's tenant,
/// and the token can narrow the user's role but never widen it. The user comes from this
/// replica's cache when it holds them (no SQL), else from the database (then cached).
pub async fn resolve_viewer(
    org: &OrgRepo,
    users: &UserCache,
    claims: &Claims,
) -> Result<Viewer, AppError> {
    let unauthenticated = || AppError::Unauthenticated("the token is invalid".into());
    let user_id: i64 = claims.sub.parse().map_err(|_| unauthenticated())?;
    let token_role: Role = claims.role.parse().map_err(|_| unauthenticated())?;
    let user = match users.get(claims.tenant, user_id) {
        Some(user) => user,
        None => {
            let ticket = users.ticket();
            let stored = org
                .user(claims.tenant, user_id)
                .await
                .map_err(AppError::from)?
                .ok_or_else(|| {
                    AppError::Unauthenticated("the token's user no longer exists".into())
                })?;
            let user = CachedUser {
                role: stored.role,
                team_id: stored.team_id,
            };
            users.insert(ticket, claims.tenant, user_id, user);
            user
        }
    };
    Ok(Viewer {
        tenant_id: claims.tenant,
        user_id,
        role: token_role.min(user.role),
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
            exp: 1,
            iat: 0,
            ..claims_now()
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
            .expect("encodes");
        assert!(matches!(
            keys.verify(&token),
            Err(AppError::Unauthenticated(_))
        ));
    }

    fn claims_now() -> Claims {
        let now = now_seconds();
        Claims {
            sub: "1".into(),
            tenant: 1,
            role: "admin".into(),
            iat: now,
            exp: now + 600,
            nbf: None,
            iss: None,
            aud: None,
        }
    }

    fn hs256(claims: &Claims, secret: &[u8]) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .expect("encodes")
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    const PRIVATE_PEM: &[u8] = include_bytes!("../tests/fixtures/rs256-test-private.pem");
    const PUBLIC_PEM: &[u8] = include_bytes!("../tests/fixtures/rs256-test-public.pem");
    const JWKS: &str = include_str!("../tests/fixtures/rs256-test-jwks.json");

    fn rs256(claims: &Claims, kid: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(Into::into);
        let key = EncodingKey::from_rsa_pem(PRIVATE_PEM).expect("private key");
        jsonwebtoken::encode(&header, claims, &key).expect("encodes")
    }

    fn with_idp() -> TokenKeys {
        let jwks: JwkSet = serde_json::from_str(JWKS).expect("jwks");
        TokenKeys::new(b"goalgraph-secret")
            .with_jwks(&jwks)
            .expect("rsa key")
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        let keys = TokenKeys::new(b"s");
        let claims = Claims {
            nbf: Some(now_seconds() + 3600),
            ..claims_now()
        };
        let refused = keys.verify(&hs256(&claims, b"s"));
        assert_eq!(
            refused,
            Err(AppError::Unauthenticated(
                "the token is not valid yet".into()
            ))
        );
    }

    #[test]
    fn issuer_and_audience_are_required_when_configured() {
        let keys = TokenKeys::new(b"s")
            .with_issuer(Some("https://id.example".into()))
            .with_audience(Some("goalgraph".into()));
        let issued = keys.issue(1, 1, Role::Admin, 60);
        assert!(keys.verify(&issued).is_ok());
        let right = Claims {
            iss: Some("https://id.example".into()),
            aud: Some("goalgraph".into()),
            ..claims_now()
        };
        assert!(keys.verify(&hs256(&right, b"s")).is_ok());
        for wrong in [
            Claims {
                iss: Some("https://evil.example".into()),
                ..right.clone()
            },
            Claims {
                aud: Some("another-api".into()),
                ..right.clone()
            },
            Claims {
                aud: None,
                ..right.clone()
            },
            Claims {
                iss: None,
                ..right.clone()
            },
        ] {
            assert!(keys.verify(&hs256(&wrong, b"s")).is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let keys = TokenKeys::new(b"s");
        let payload = b64(&serde_json::to_vec(&claims_now()).expect("json"));
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None"}"#] {
            let unsigned = format!("{}.{payload}.", b64(header.as_bytes()));
            assert!(keys.verify(&unsigned).is_err(), "{header}");
        }
        let hs384 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS384),
            &claims_now(),
            &EncodingKey::from_secret(b"s"),
        )
        .expect("encodes");
        assert!(keys.verify(&hs384).is_err());
    }

    #[test]
    fn rs256_tokens_verify_against_the_jwks() {
        let keys = with_idp();
        assert!(
            keys.verify(&rs256(&claims_now(), Some("test-key-1")))
                .is_ok()
        );
        assert!(keys.verify(&rs256(&claims_now(), None)).is_ok());
        assert!(keys.verify(&rs256(&claims_now(), Some("unknown"))).is_err());
        // Without a JWKS, RS256 is not accepted at all.
        assert!(
            TokenKeys::new(b"goalgraph-secret")
                .verify(&rs256(&claims_now(), None))
                .is_err()
        );
    }

    #[test]
    fn the_rsa_public_key_used_as_an_hmac_secret_is_refused() {
        // Algorithm confusion: an attacker signs HS256 with the (public) RSA key as secret.
        let keys = with_idp();
        let forged = hs256(&claims_now(), PUBLIC_PEM);
        assert!(keys.verify(&forged).is_err());
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("test-key-1".into());
        let forged_with_kid = jsonwebtoken::encode(
            &header,
            &claims_now(),
            &EncodingKey::from_secret(PUBLIC_PEM),
        )
        .expect("encodes");
        assert!(keys.verify(&forged_with_kid).is_err());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let keys = TokenKeys::new(b"super-secret-value");
        assert!(!format!("{keys:?}").contains("super-secret-value"));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
    }
}
