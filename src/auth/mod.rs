//! Bearer tokens: JWTs carrying tenant, user and role — HS256 with goalgraph's own secret, or
//! RS256 from an identity provider's JWKS — verified strictly (algorithm pinned per key,
//! expiry, not-before, issuer and audience when configured) and resolved into the [`Viewer`]
//! every query is scoped by.

mod jwks;

pub use jwks::{RefreshPolicy, load_jwks};

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use jwks::IdentityProviderKeys;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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

/// Signs goalgraph's own tokens and verifies every accepted kind.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The identity provider's keys, when RS256 tokens are accepted.
    rsa: Option<Arc<IdentityProviderKeys>>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenKeys(hs256 <secret>, {} rs256 keys, issuer {:?}, audience {:?})",
            self.rsa.as_ref().map_or(0, |keys| keys.len()),
            self.issuer,
            self.audience
        )
    }
}

impl TokenKeys {
    /// Keys for HS256 tokens signed with `secret` (goalgraph's own), which must not be empty.
    pub fn new(secret: &[u8]) -> Result<Self, String> {
        let unusable =
            |err: jsonwebtoken::errors::Error| format!("the token secret is unusable: {err}");
        Ok(Self {
            encoding: EncodingKey::from_secret(secret).map_err(unusable)?,
            decoding: DecodingKey::from_secret(secret).map_err(unusable)?,
            rsa: None,
            issuer: None,
            audience: None,
        })
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

    /// Also accepts RS256 tokens signed by a key of the fixed set `jwks` (RSA keys only;
    /// others are skipped).
    pub fn with_jwks(mut self, jwks: &JwkSet) -> Result<Self, String> {
        self.rsa = Some(Arc::new(IdentityProviderKeys::fixed(jwks)?));
        Ok(self)
    }

    /// Also accepts RS256 tokens signed by a key of the JWKS at `source` (a file path or an
    /// `http(s)://` URL), read now and re-read as `policy` says.
    pub async fn with_jwks_from(
        mut self,
        source: &str,
        policy: RefreshPolicy,
    ) -> Result<Self, String> {
        self.rsa = Some(Arc::new(IdentityProviderKeys::load(source, policy).await?));
        Ok(self)
    }

    /// How many times the JWKS source has been read (0 without one).
    pub fn jwks_reads(&self) -> u64 {
        self.rsa.as_ref().map_or(0, |keys| keys.reads())
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
    /// refused. An RS256 token naming no key id is tried against every key of the set.
    pub async fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let invalid = || AppError::Unauthenticated("the token is invalid".into());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        let validation = self.validation(header.alg);
        match header.alg {
            Algorithm::HS256 => decode(token, &self.decoding, &validation),
            Algorithm::RS256 => {
                let provider = self.rsa.as_ref().ok_or_else(invalid)?;
                let mut outcome = Err(DecodeError::BadSignature);
                for candidate in provider.candidates(header.kid.as_deref()).await {
                    outcome = decode(token, &candidate.key, &validation);
                    if !matches!(outcome, Err(DecodeError::BadSignature)) {
                        break;
                    }
                }
                outcome
            }
            _ => {
                return Err(AppError::Unauthenticated(
                    "the token's algorithm is not accepted (use HS256 or RS256)".into(),
                ));
            }
        }
        .map_err(AppError::from)
    }

    /// What a token signed with `alg` must satisfy.
    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
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
        validation
    }
}

/// Why a token did not decode with one key.
#[derive(Debug)]
enum DecodeError {
    /// Not signed by this key (another key of the set may have signed it).
    BadSignature,
    /// Signed by this key but refused, with the reason to tell the client.
    Refused(&'static str),
}

impl From<DecodeError> for AppError {
    fn from(err: DecodeError) -> Self {
        let reason = match err {
            DecodeError::BadSignature => "the token is invalid",
            DecodeError::Refused(reason) => reason,
        };
        AppError::Unauthenticated(reason.into())
    }
}

fn decode(token: &str, key: &DecodingKey, validation: &Validation) -> Result<Claims, DecodeError> {
    jsonwebtoken::decode::<Claims>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|err| {
            use jsonwebtoken::errors::ErrorKind;
            DecodeError::Refused(match err.kind() {
                ErrorKind::InvalidSignature => return DecodeError::BadSignature,
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
                ErrorKind::InvalidAudience => "the token is not meant for this API",
                _ => "the token is invalid",
            })
        })
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
pub async fn resolve_viewer(org: &OrgRepo, claims: &Claims) -> Result<Viewer, AppError> {
    let unauthenticated = || AppError::Unauthenticated("the token is invalid".into());
    let user_id: i64 = claims.sub.parse().map_err(|_| unauthenticated())?;
    let token_role: Role = claims.role.parse().map_err(|_| unauthenticated())?;
    let user = org
        .user(claims.tenant, user_id)
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| AppError::Unauthenticated("the token's user no longer exists".into()))?;
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

    #[tokio::test]
    async fn an_issued_token_verifies_with_the_same_secret_only() {
        let keys = TokenKeys::new(b"secret-one").expect("token keys");
        let token = keys.issue(3, 7, Role::Manager, 60);
        let claims = keys.verify(&token).await.expect("valid");
        assert_eq!(
            (claims.tenant, claims.sub.as_str(), claims.role.as_str()),
            (3, "7", "manager")
        );
        assert!(
            TokenKeys::new(b"secret-two")
                .expect("token keys")
                .verify(&token)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn an_expired_token_is_refused() {
        let keys = TokenKeys::new(b"s").expect("token keys");
        let claims = Claims {
            exp: 1,
            iat: 0,
            ..claims_now()
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
            .expect("encodes");
        assert!(matches!(
            keys.verify(&token).await,
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
            &EncodingKey::from_secret(secret).expect("key"),
        )
        .expect("encodes")
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    const PRIVATE_PEM: &[u8] = include_bytes!("../../tests/fixtures/rs256-test-private.pem");
    const PUBLIC_PEM: &[u8] = include_bytes!("../../tests/fixtures/rs256-test-public.pem");
    const JWKS: &str = include_str!("../../tests/fixtures/rs256-test-jwks.json");

    fn rs256(claims: &Claims, kid: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(Into::into);
        let key = EncodingKey::from_rsa_pem(PRIVATE_PEM).expect("private key");
        jsonwebtoken::encode(&header, claims, &key).expect("encodes")
    }

    fn with_idp() -> TokenKeys {
        let jwks: JwkSet = serde_json::from_str(JWKS).expect("jwks");
        TokenKeys::new(b"goalgraph-secret")
            .expect("token keys")
            .with_jwks(&jwks)
            .expect("rsa key")
    }

    #[tokio::test]
    async fn a_token_not_valid_yet_is_refused() {
        let keys = TokenKeys::new(b"s").expect("token keys");
        let claims = Claims {
            nbf: Some(now_seconds() + 3600),
            ..claims_now()
        };
        let refused = keys.verify(&hs256(&claims, b"s")).await;
        assert_eq!(
            refused,
            Err(AppError::Unauthenticated(
                "the token is not valid yet".into()
            ))
        );
    }

    #[tokio::test]
    async fn issuer_and_audience_are_required_when_configured() {
        let keys = TokenKeys::new(b"s")
            .expect("token keys")
            .with_issuer(Some("https://id.example".into()))
            .with_audience(Some("goalgraph".into()));
        let issued = keys.issue(1, 1, Role::Admin, 60);
        assert!(keys.verify(&issued).await.is_ok());
        let right = Claims {
            iss: Some("https://id.example".into()),
            aud: Some("goalgraph".into()),
            ..claims_now()
        };
        assert!(keys.verify(&hs256(&right, b"s")).await.is_ok());
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
            assert!(
                keys.verify(&hs256(&wrong, b"s")).await.is_err(),
                "{wrong:?}"
            );
        }
    }

    #[tokio::test]
    async fn alg_none_and_other_algorithms_are_refused() {
        let keys = TokenKeys::new(b"s").expect("token keys");
        let payload = b64(&serde_json::to_vec(&claims_now()).expect("json"));
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None"}"#] {
            let unsigned = format!("{}.{payload}.", b64(header.as_bytes()));
            assert!(keys.verify(&unsigned).await.is_err(), "{header}");
        }
        let hs384 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS384),
            &claims_now(),
            &EncodingKey::from_secret(b"s").expect("key"),
        )
        .expect("encodes");
        assert!(keys.verify(&hs384).await.is_err());
    }

    #[tokio::test]
    async fn rs256_tokens_verify_against_the_jwks() {
        let keys = with_idp();
        assert!(
            keys.verify(&rs256(&claims_now(), Some("test-key-1")))
                .await
                .is_ok()
        );
        assert!(keys.verify(&rs256(&claims_now(), None)).await.is_ok());
        assert!(
            keys.verify(&rs256(&claims_now(), Some("unknown")))
                .await
                .is_err()
        );
        // Without a JWKS, RS256 is not accepted at all.
        assert!(
            TokenKeys::new(b"goalgraph-secret")
                .expect("token keys")
                .verify(&rs256(&claims_now(), None))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_token_without_kid_is_tried_against_every_key() {
        let both: JwkSet = serde_json::from_str(&format!(
            r#"{{"keys":[{},{}]}}"#,
            first_key(JWKS),
            first_key(include_str!("../../tests/fixtures/rs256-test-jwks-2.json"))
        ))
        .expect("jwks");
        let keys = TokenKeys::new(b"s")
            .expect("token keys")
            .with_jwks(&both)
            .expect("rsa keys");
        let second = EncodingKey::from_rsa_pem(include_bytes!(
            "../../tests/fixtures/rs256-test-private-2.pem"
        ))
        .expect("private key");
        let signed_by_second =
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims_now(), &second)
                .expect("encodes");
        assert!(keys.verify(&signed_by_second).await.is_ok());
        // An expired token signed by the second key says so, whichever key was tried first.
        let expired = Claims {
            exp: 1,
            iat: 0,
            ..claims_now()
        };
        let expired = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &expired, &second)
            .expect("encodes");
        assert_eq!(
            keys.verify(&expired).await,
            Err(AppError::Unauthenticated("the token has expired".into()))
        );
    }

    fn first_key(jwks: &str) -> serde_json::Value {
        let set: serde_json::Value = serde_json::from_str(jwks).expect("json");
        set["keys"][0].clone()
    }

    #[tokio::test]
    async fn the_rsa_public_key_used_as_an_hmac_secret_is_refused() {
        // Algorithm confusion: an attacker signs HS256 with the (public) RSA key as secret.
        let keys = with_idp();
        let forged = hs256(&claims_now(), PUBLIC_PEM);
        assert!(keys.verify(&forged).await.is_err());
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("test-key-1".into());
        let forged_with_kid = jsonwebtoken::encode(
            &header,
            &claims_now(),
            &EncodingKey::from_secret(PUBLIC_PEM).expect("key"),
        )
        .expect("encodes");
        assert!(keys.verify(&forged_with_kid).await.is_err());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let keys = TokenKeys::new(b"super-secret-value").expect("token keys");
        assert!(!format!("{keys:?}").contains("super-secret-value"));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
    }
}
