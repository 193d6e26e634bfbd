//! Registry authentication: the credentials a client sent (the
//! `X-Registry-Auth` header or `/auth`'s body), and the answer to a 401's
//! `WWW-Authenticate` challenge: Basic with those credentials, or a Bearer
//! token fetched from the challenge's realm (anonymously when there are no
//! credentials, as Docker does).

use super::http::{self, Url};
use super::RegistryError;
use base64::Engine as _;
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use hyper::Method;

/// A user name and password (or an identity token) for one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    /// Decode `X-Registry-Auth`: base64 (url-safe or standard) of
    /// `{"username","password",...}` or of `{"auth":"base64(user:pass)"}`.
    /// An empty or `{}` header is anonymous.
    pub fn from_header(value: &str) -> Result<Option<Credentials>, RegistryError> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(None);
        }
        let bad = |why: &str| {
            RegistryError::BadAuth(format!(
                "the X-Registry-Auth header is not base64 of a JSON object ({why})"
            ))
        };
        let bytes = [
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::STANDARD,
        ]
        .iter()
        .find_map(|e| e.decode(value).ok())
        .or_else(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(value.trim_end_matches('='))
                .ok()
        })
        .ok_or_else(|| bad("not base64"))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad("not JSON"))?;
        Credentials::from_json(&v)
    }

    /// `{"username","password"}` or `{"auth": base64("user:pass")}`.
    pub fn from_json(v: &serde_json::Value) -> Result<Option<Credentials>, RegistryError> {
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let (mut username, mut password) = (s("username"), s("password"));
        let auth = s("auth");
        if username.is_empty() && !auth.is_empty() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&auth)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    RegistryError::BadAuth("the auth field is not base64 of user:password".into())
                })?;
            let (u, p) = decoded.split_once(':').ok_or_else(|| {
                RegistryError::BadAuth("the auth field is not base64 of user:password".into())
            })?;
            username = u.to_string();
            password = p.to_string();
        }
        if username.is_empty() && password.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credentials { username, password }))
    }

    fn basic(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `basic` or `bearer`, lowercase.
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let mut params = Vec::new();
        let mut rest = rest.trim();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let key = key
                .trim()
                .trim_start_matches(',')
                .trim()
                .to_ascii_lowercase();
            let after = after.trim_start();
            let (value, next) = if let Some(q) = after.strip_prefix('"') {
                let end = q.find('"')?;
                (q[..end].to_string(), &q[end + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim().to_string(), &after[end..])
            };
            params.push((key, value));
            rest = next.trim_start().trim_start_matches(',').trim_start();
        }
        Some(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        })
    }

    fn param(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
}

/// The `Authorization` value answering `challenge` for `scope`
/// (`repository:NAME:pull,push`); None when there is nothing to answer with.
pub async fn answer(
    challenge: &Challenge,
    creds: Option<&Credentials>,
    scope: &str,
    registry: &str,
) -> Result<Option<HeaderValue>, RegistryError> {
    match challenge.scheme.as_str() {
        "basic" => Ok(creds.and_then(|c| HeaderValue::from_str(&c.basic()).ok())),
        "bearer" => {
            let realm = challenge.param("realm").ok_or_else(|| {
                RegistryError::Protocol(format!(
                    "{registry} asked for a bearer token without saying where to get it (no realm)"
                ))
            })?;
            let mut url = Url::parse(realm).ok_or_else(|| {
                RegistryError::Protocol(format!("{registry}'s token realm {realm:?} is not a URL"))
            })?;
            if let Some(service) = challenge.param("service") {
                url = url.with_query("service", service);
            }
            let scope = challenge.param("scope").unwrap_or(scope);
            if !scope.is_empty() {
                url = url.with_query("scope", scope);
            }
            let mut headers = HeaderMap::new();
            if let Some(c) = creds {
                if let Ok(v) = HeaderValue::from_str(&c.basic()) {
                    headers.insert(AUTHORIZATION, v);
                }
            }
            let resp = http::send(Method::GET, &url, &headers, http::empty()).await?;
            if !resp.status().is_success() {
                let (status, _, message) = http::error_text(resp).await;
                return Err(RegistryError::Unauthorized {
                    registry: registry.to_string(),
                    reason: format!("the token service {realm} answered {status}: {message}"),
                });
            }
            let body = http::read_body(resp, 1 << 20).await?;
            let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
                RegistryError::Protocol(format!("the token service {realm} answered with no JSON"))
            })?;
            let token = v
                .get("token")
                .or_else(|| v.get("access_token"))
                .and_then(|t| t.as_str())
                .ok_or_else(|| {
                    RegistryError::Protocol(format!("the token service {realm} gave no token"))
                })?;
            Ok(HeaderValue::from_str(&format!("Bearer {token}")).ok())
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.example.com/token"));
        assert_eq!(c.param("service"), Some("registry.example.com"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull,push"));
        let b = Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(b.scheme, "basic");
        assert_eq!(b.param("realm"), Some("Registry Realm"));
    }

    #[test]
    fn auth_headers_decode_both_shapes() {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE.encode(s);
        let c = Credentials::from_header(&enc(r#"{"username":"u","password":"p+/?"}"#))
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p+/?"));
        let inner = base64::engine::general_purpose::STANDARD.encode("al:ice");
        let c = Credentials::from_header(&enc(&format!(r#"{{"auth":"{inner}"}}"#)))
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("al", "ice"));
        assert_eq!(Credentials::from_header(&enc("{}")).unwrap(), None);
        assert_eq!(Credentials::from_header("").unwrap(), None);
        assert!(Credentials::from_header("!!!").is_err());
    }
}
