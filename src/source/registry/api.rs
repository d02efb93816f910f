//! The distribution API calls on a [`Client`]: manifests by tag or digest, `HEAD` for a tag's
//! digest, the referrers API, and paginated lists (`_catalog`, `tags/list`) whose `Link` must stay
//! on the registry.

use reqwest::{Method, Response, StatusCode, Url};

use super::http::{read_capped, Client, HttpError};
use crate::units::clip;

impl Client {
    /// The `errors[0]` of a registry error body, as ` (CODE: message)`.
    pub(super) async fn error_detail(&self, resp: Response) -> String {
        let Ok(body) = read_capped(resp, 64 << 10, "error body").await else { return String::new() };
        #[derive(serde::Deserialize)]
        struct Envelope {
            errors: Vec<Item>,
        }
        #[derive(serde::Deserialize)]
        struct Item {
            code: Option<String>,
            message: Option<String>,
        }
        match serde_json::from_slice::<Envelope>(&body) {
            Ok(e) => e
                .errors
                .first()
                .map(|i| {
                    format!(
                        " ({}: {})",
                        clip(i.code.as_deref().unwrap_or("?"), 60),
                        clip(i.message.as_deref().unwrap_or(""), 200)
                    )
                })
                .unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// `GET /v2/<v2_path>`: the response when 200, `None` when 404, else an error quoting
    /// the registry's own error.
    pub(super) async fn get_found(&self, v2_path: &str, accept: &str) -> Result<Option<Response>, HttpError> {
        let resp = self.request_v2(Method::GET, v2_path, Some(accept), None).await?;
        match resp.status() {
            StatusCode::OK => Ok(Some(resp)),
            StatusCode::NOT_FOUND => Ok(None),
            status => {
                let detail = self.error_detail(resp).await;
                Err(HttpError::other(format!(
                    "GET {}/{}: the registry answered {status}{detail}",
                    self.session.registry,
                    clip(v2_path, 200)
                )))
            }
        }
    }

    /// Fetches a manifest by tag or digest: (body, content type, `Docker-Content-Digest`).
    /// `None` when the registry does not have it.
    pub async fn manifest(
        &self,
        reference: &str,
        accept: &str,
        cap: u64,
    ) -> Result<Option<(Vec<u8>, Option<String>, Option<String>)>, HttpError> {
        let path = format!("{}/manifests/{reference}", self.repository);
        let Some(resp) = self.get_found(&path, accept).await? else { return Ok(None) };
        let header = |h: &str| resp.headers().get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
        let content_type = header("content-type");
        let digest = header("docker-content-digest");
        let body = read_capped(resp, cap, &format!("manifest {reference}")).await?;
        Ok(Some((body, content_type, digest)))
    }

    /// One page of a paginated list, `_catalog` or `<repo>/tags/list` (`v2_path` is what
    /// follows `/v2/`, with its query): the body and, from the `Link` header, the next page's
    /// `v2_path`. `None` when the registry has no such list (404).
    pub async fn list_page(&self, v2_path: &str, cap: u64) -> Result<Option<(Vec<u8>, Option<String>)>, HttpError> {
        let Some(resp) = self.get_found(v2_path, "application/json").await? else { return Ok(None) };
        let next = resp.headers().get(reqwest::header::LINK).and_then(|v| v.to_str().ok()).and_then(next_link);
        let next = match next {
            Some(link) => Some(self.same_origin_v2_path(&link).ok_or_else(|| {
                HttpError::other(format!(
                    "GET {}/{}: the next page's Link {:?} leaves the registry's /v2/ API",
                    self.session.registry,
                    clip(v2_path, 200),
                    clip(&link, 200)
                ))
            })?),
            None => None,
        };
        let body = read_capped(resp, cap, &format!("list {}", clip(v2_path, 200))).await?;
        Ok(Some((body, next)))
    }

    /// The part after `/v2/` of a link on this registry (relative, or absolute on the same
    /// origin); `None` for any other place.
    pub(super) fn same_origin_v2_path(&self, link: &str) -> Option<String> {
        let base = Url::parse(&format!("{}/v2/", self.session.base)).ok()?;
        let url = base.join(link).ok()?;
        if url.origin() != base.origin() {
            return None;
        }
        let rest = url.path().strip_prefix("/v2/")?;
        Some(match url.query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_string(),
        })
    }

    /// True when the registry has a manifest with this tag or digest.
    pub async fn manifest_exists(&self, reference: &str, accept: &str) -> Result<bool, HttpError> {
        let resp = self.request(Method::HEAD, &format!("manifests/{reference}"), Some(accept), None).await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(HttpError::other(format!("HEAD manifests/{reference}: the registry answered {s}"))),
        }
    }

    /// The `Docker-Content-Digest` a `HEAD` of a manifest answers: `Ok(None)` when the
    /// registry does not have the manifest, `Ok(Some(None))` when it has it but sends no
    /// usable digest header (the caller then GETs and hashes it).
    pub async fn manifest_head(&self, reference: &str, accept: &str) -> Result<Option<Option<String>>, HttpError> {
        let resp = self.request(Method::HEAD, &format!("manifests/{reference}"), Some(accept), None).await?;
        match resp.status() {
            StatusCode::OK => Ok(Some(
                resp.headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .filter(|d| super::reference::check_digest(d).is_ok())
                    .map(str::to_string),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(HttpError::other(format!("HEAD manifests/{reference}: the registry answered {s}"))),
        }
    }

    /// The OCI referrers API: `None` when the registry does not have it (404).
    pub async fn referrers(&self, digest: &str, cap: u64) -> Result<Option<Vec<u8>>, HttpError> {
        let resp = self.request(Method::GET, &format!("referrers/{digest}"), Some(crate::oci::OCI_INDEX), None).await?;
        match resp.status() {
            StatusCode::OK => Ok(Some(read_capped(resp, cap, "referrers index").await?)),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(HttpError::other(format!("GET referrers/{digest}: the registry answered {s}"))),
        }
    }
}

/// The target of `rel="next"` in a `Link` header (`</v2/_catalog?last=b&n=2>; rel="next"`).
pub fn next_link(h: &str) -> Option<String> {
    h.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let next = params.split(';').any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p == "rel=\"next\"" || p == "rel=next"
        });
        next.then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links() {
        assert_eq!(next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(), Some("/v2/_catalog?last=b&n=2"));
        assert_eq!(next_link(r#"<a>; rel="prev", <b>; rel=next"#).as_deref(), Some("b"));
        assert_eq!(next_link(r#"<a>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
