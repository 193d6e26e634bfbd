//! One repository on one registry, as the distribution API (v2) serves it:
//! manifests, blobs, uploads (monolithic PUT after a POST), cross-repository
//! mounts, with the authorization the registry asks for.

use super::auth::{self, Challenge, Credentials};
use super::http::{self, Body, Url};
use super::{RegistryConfig, RegistryError};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION,
};
use hyper::{Method, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::sync::Mutex;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Manifests larger than this are refused (Docker's limit is 4 MiB).
const MAX_MANIFEST: usize = 4 << 20;

pub struct Session {
    pub registry: String,
    pub repository: String,
    base: Url,
    creds: Option<Credentials>,
    /// `repository:NAME:pull` or `...:pull,push`: what a token must allow.
    scope: String,
    authz: Mutex<Option<HeaderValue>>,
}

impl Session {
    /// A session for `repository` on `registry`; `push` asks for a token
    /// that allows pushing. Checks the registry answers (`GET /v2/`) and
    /// authenticates as it asks.
    pub async fn open(
        config: &RegistryConfig,
        registry: &str,
        repository: &str,
        creds: Option<Credentials>,
        push: bool,
    ) -> Result<Session, RegistryError> {
        let url = |scheme: &str, skip_verify: bool| {
            Url::parse(&format!("{scheme}://{registry}/v2/"))
                .map(|u| Url { skip_verify, ..u })
                .ok_or_else(|| RegistryError::BadReference {
                    reference: registry.to_string(),
                    reason: "not a host[:port]".into(),
                })
        };
        // Docker's order: an insecure registry (loopback, or named by
        // --insecure-registry) is tried over TLS without verification, then
        // over plain HTTP; any other only over verified TLS.
        let candidates = if config.is_insecure(registry) {
            vec![url("https", true)?, url("http", false)?]
        } else {
            vec![url("https", false)?]
        };
        let mut answered = None;
        let mut last_error = None;
        for ping in candidates {
            match http::send(Method::GET, &ping, &HeaderMap::new(), http::empty()).await {
                Ok(resp) => {
                    answered = Some((ping, resp));
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        let Some((ping, resp)) = answered else {
            return Err(last_error.unwrap_or_else(|| RegistryError::Unreachable {
                registry: registry.to_string(),
                reason: "no address to try".into(),
            }));
        };
        let actions = if push { "pull,push" } else { "pull" };
        let s = Session {
            registry: registry.to_string(),
            repository: repository.to_string(),
            base: Url {
                path: "/".into(),
                ..ping.clone()
            },
            creds,
            scope: format!("repository:{repository}:{actions}"),
            authz: Mutex::new(None),
        };
        match resp.status() {
            StatusCode::UNAUTHORIZED => {
                let challenge = challenge_of(&resp);
                drop(resp);
                s.authenticate(challenge.as_ref()).await?;
                // Answered: check the registry takes the answer (wrong
                // credentials fail here, not half-way through a push).
                let again = http::send(
                    Method::GET,
                    &ping,
                    &s.with_auth(HeaderMap::new()),
                    http::empty(),
                )
                .await?;
                if !again.status().is_success() {
                    let (st, _, message) = http::error_text(again).await;
                    return Err(RegistryError::Unauthorized {
                        registry: registry.to_string(),
                        reason: format!("the credentials were refused ({st}: {message})"),
                    });
                }
            }
            st if st.is_success() => {}
            StatusCode::NOT_FOUND => {
                return Err(RegistryError::Unreachable {
                    registry: registry.to_string(),
                    reason: format!(
                        "{ping} answered 404: this server is not a registry speaking the v2 API"
                    ),
                })
            }
            _ => {
                let (st, _, message) = http::error_text(resp).await;
                return Err(RegistryError::Unreachable {
                    registry: registry.to_string(),
                    reason: format!("{ping} answered {st}: {message}"),
                });
            }
        }
        Ok(s)
    }

    async fn authenticate(&self, challenge: Option<&Challenge>) -> Result<(), RegistryError> {
        let challenge = challenge.ok_or_else(|| RegistryError::Unauthorized {
            registry: self.registry.clone(),
            reason: "it answered 401 without saying how to authenticate".into(),
        })?;
        let value =
            auth::answer(challenge, self.creds.as_ref(), &self.scope, &self.registry).await?;
        match value {
            Some(v) => {
                *self.authz.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
                Ok(())
            }
            None => Err(RegistryError::Unauthorized {
                registry: self.registry.clone(),
                reason: "authentication required and no credentials were given".into(),
            }),
        }
    }

    fn url(&self, path: &str) -> Url {
        Url {
            path: format!("/v2/{}/{path}", self.repository),
            ..self.base.clone()
        }
    }

    fn with_auth(&self, mut headers: HeaderMap) -> HeaderMap {
        if let Some(v) = self.authz.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            headers.insert(AUTHORIZATION, v);
        }
        headers
    }

    /// Send with the session's authorization; a 401 is answered once and
    /// the request re-sent (`body` makes a fresh body for each try).
    async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: impl Fn() -> Body,
    ) -> Result<Response<Incoming>, RegistryError> {
        let resp = http::send(
            method.clone(),
            url,
            &self.with_auth(headers.clone()),
            body(),
        )
        .await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = challenge_of(&resp);
        let (_, _, message) = http::error_text(resp).await;
        self.authenticate(challenge.as_ref())
            .await
            .map_err(|e| match e {
                RegistryError::Unauthorized { registry, reason } => RegistryError::Unauthorized {
                    registry,
                    reason: format!("{reason} ({message})"),
                },
                e => e,
            })?;
        let resp = http::send(method, url, &self.with_auth(headers), body()).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let (_, _, message) = http::error_text(resp).await;
            return Err(RegistryError::Unauthorized {
                registry: self.registry.clone(),
                reason: format!("the credentials were refused: {message}"),
            });
        }
        Ok(resp)
    }

    /// The manifest `reference` (tag or digest) names: its bytes, media type
    /// and digest (checked when the reference is a digest).
    pub async fn manifest(
        &self,
        reference: &str,
    ) -> Result<(Bytes, String, String), RegistryError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static(
                "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
            ),
        );
        let url = self.url(&format!("manifests/{reference}"));
        let resp = self.send(Method::GET, &url, headers, http::empty).await?;
        if !resp.status().is_success() {
            return Err(self.not_found_or(resp, reference).await);
        }
        let media_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
            .unwrap_or_default();
        let bytes = http::read_body(resp, MAX_MANIFEST).await?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if reference.starts_with("sha256:") && reference != digest {
            return Err(RegistryError::Protocol(format!(
                "the manifest {} served as {reference} has the digest {digest}: refusing it",
                self.display(reference)
            )));
        }
        Ok((bytes, media_type, digest))
    }

    fn display(&self, reference: &str) -> String {
        let sep = if reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        format!("{}/{}{sep}{reference}", self.registry, self.repository)
    }

    /// A 404 (or other failure) as a student should read it.
    async fn not_found_or(&self, resp: Response<Incoming>, reference: &str) -> RegistryError {
        let (status, code, message) = http::error_text(resp).await;
        let what = self.display(reference);
        let name = format!("{}/{}", self.registry, self.repository);
        match (status, code.as_str()) {
            (StatusCode::NOT_FOUND, "NAME_UNKNOWN") => RegistryError::NotFound(format!(
                "repository {name} not found: the registry {} has no repository {} ({message}). Check the name, or push the image there first (whale push {name}:TAG)",
                self.registry, self.repository
            )),
            (StatusCode::NOT_FOUND, _) => RegistryError::NotFound(format!(
                "manifest for {what} not found: manifest unknown: the registry has no image {what} ({message}). Check the tag, or push it first (whale push {what})"
            )),
            (StatusCode::FORBIDDEN, _) => RegistryError::Unauthorized {
                registry: self.registry.clone(),
                reason: format!("access to {what} was denied: {message}"),
            },
            _ => RegistryError::Protocol(format!("{what}: the registry answered {status}: {message}")),
        }
    }

    /// A blob's content, streaming (a redirect to storage is followed once).
    pub async fn blob(&self, digest: &str) -> Result<Response<Incoming>, RegistryError> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self
            .send(Method::GET, &url, HeaderMap::new(), http::empty)
            .await?;
        let resp = if resp.status().is_redirection() {
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l))
                .ok_or_else(|| {
                    RegistryError::Protocol(format!(
                        "blob {digest}: a redirect without a usable Location"
                    ))
                })?;
            http::send(Method::GET, &location, &HeaderMap::new(), http::empty()).await?
        } else {
            resp
        };
        if !resp.status().is_success() {
            let (status, _, message) = http::error_text(resp).await;
            return Err(RegistryError::Protocol(format!(
                "downloading blob {digest} of {}/{}: the registry answered {status}: {message}",
                self.registry, self.repository
            )));
        }
        Ok(resp)
    }

    /// Whether this repository has the blob.
    pub async fn has_blob(&self, digest: &str) -> Result<bool, RegistryError> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self
            .send(Method::HEAD, &url, HeaderMap::new(), http::empty)
            .await?;
        Ok(resp.status().is_success())
    }

    /// Ask the registry to mount `digest` from repository `from`: true when
    /// it did; false when it started an ordinary upload instead (abandoned).
    pub async fn mount(&self, digest: &str, from: &str) -> Result<bool, RegistryError> {
        let url = self
            .url("blobs/uploads/")
            .with_query("mount", digest)
            .with_query("from", from);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        let resp = self.send(Method::POST, &url, headers, http::empty).await?;
        Ok(resp.status() == StatusCode::CREATED)
    }

    /// Upload a blob: POST for a location, then one PUT with the content.
    pub async fn upload(
        &self,
        digest: &str,
        len: u64,
        body: impl Fn() -> Body,
    ) -> Result<(), RegistryError> {
        let url = self.url("blobs/uploads/");
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        let resp = self.send(Method::POST, &url, headers, http::empty).await?;
        if resp.status() != StatusCode::ACCEPTED {
            let (status, _, message) = http::error_text(resp).await;
            return Err(self.upload_refused(status, &message));
        }
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url.join(l))
            .ok_or_else(|| {
                RegistryError::Protocol("an upload started without a usable Location".into())
            })?;
        drop(resp);
        let put = location.with_query("digest", digest);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
            headers.insert(CONTENT_LENGTH, v);
        }
        let resp = self.send(Method::PUT, &put, headers, body).await?;
        if resp.status() != StatusCode::CREATED {
            let (status, _, message) = http::error_text(resp).await;
            return Err(self.upload_refused(status, &message));
        }
        Ok(())
    }

    fn upload_refused(&self, status: StatusCode, message: &str) -> RegistryError {
        if status == StatusCode::FORBIDDEN {
            return RegistryError::Unauthorized {
                registry: self.registry.clone(),
                reason: format!("pushing to {} was denied: {message}", self.repository),
            };
        }
        RegistryError::Protocol(format!(
            "uploading to {}/{}: the registry answered {status}: {message}",
            self.registry, self.repository
        ))
    }

    /// PUT a manifest under `reference`; returns its digest.
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<String, RegistryError> {
        let url = self.url(&format!("manifests/{reference}"));
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(media_type) {
            headers.insert(CONTENT_TYPE, v);
        }
        let b = bytes.clone();
        let resp = self
            .send(Method::PUT, &url, headers, move || http::full(b.clone()))
            .await?;
        if resp.status() != StatusCode::CREATED {
            let (status, _, message) = http::error_text(resp).await;
            return Err(self.upload_refused(status, &message));
        }
        Ok(format!("sha256:{}", hex::encode(Sha256::digest(&bytes))))
    }
}

fn challenge_of(resp: &Response<Incoming>) -> Option<Challenge> {
    resp.headers()
        .get_all(hyper::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(Challenge::parse)
        // Prefer a bearer challenge: it is what Docker answers first.
        .max_by_key(|c| c.scheme == "bearer")
}
