//! Streaming a blob from the registry into a bounded channel: at most its size plus one byte,
//! resumed with a Range request when the connection is cut, and fetched from a foreign layer's
//! `urls` only when allowed (`--allow-foreign-urls`).

use std::io;
use std::sync::Arc;

use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{Method, Response, StatusCode, Url};

use super::http::Client;
use super::policy::{describe, strip_urls, url_allowed};
use crate::units::clip;

impl Client {
    /// A GET of a foreign-layer URL: no credentials, no retries (the next URL is tried).
    pub(super) async fn foreign_get(&self, url: &Url, range_from: Option<u64>) -> Result<Response, String> {
        let mut rb = self.session.http.get(url.clone());
        if let Some(off) = range_from {
            rb = rb.header(RANGE, format!("bytes={off}-"));
        }
        rb.send().await.map_err(|e| describe(&e))
    }

    /// Streams blob `digest` into `tx`, at most `size + 1` bytes (the reader notices an
    /// oversized blob). A connection lost mid-blob resumes with `Range: bytes=N-`; a server
    /// that answers 200 instead of 206 is read again from the start, skipping what was already
    /// passed on, so the stream the caller hashes is the blob exactly once. A blob the registry
    /// does not have is fetched from the descriptor's foreign `urls` only with
    /// `allow_foreign_urls` (oci-client does it unasked).
    pub async fn stream_blob(
        self: Arc<Self>,
        digest: String,
        size: u64,
        urls: Vec<String>,
        tx: tokio::sync::mpsc::Sender<io::Result<bytes::Bytes>>,
    ) {
        let fail = |m: String| io::Error::other(m);
        let limit = size.saturating_add(1);
        let mut offset = 0u64;
        let mut resumes = 0u32;
        // `None`: the registry; else the foreign URL being read.
        let mut foreign: Option<Url> = None;
        let mut candidates = urls.iter();
        let mut refused: Vec<String> = Vec::new();
        loop {
            let range = (offset > 0).then_some(offset);
            let resp = match &foreign {
                None => self.request(Method::GET, &format!("blobs/{digest}"), None, range).await.map_err(|e| e.message),
                Some(u) => {
                    self.foreign_get(u, range).await.map_err(|e| format!("foreign URL {}: {e}", strip_urls(u.as_str())))
                }
            };
            let resp = match resp {
                Ok(r) => r,
                Err(m) => {
                    let _ = tx.send(Err(fail(m))).await;
                    return;
                }
            };
            let status = resp.status();
            let mut skip = 0u64;
            match status {
                StatusCode::OK => skip = offset,
                StatusCode::PARTIAL_CONTENT => {
                    let start = resp
                        .headers()
                        .get(CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("bytes "))
                        .and_then(|v| v.split('-').next())
                        .and_then(|v| v.parse::<u64>().ok());
                    if start != Some(offset) {
                        let _ = tx
                            .send(Err(fail(format!(
                                "resuming at byte {offset}: the server answered a range that does not start there"
                            ))))
                            .await;
                        return;
                    }
                }
                s if s == StatusCode::NOT_FOUND || foreign.is_some() => {
                    if let Some(u) = &foreign {
                        refused.push(format!("{} answered {s}", strip_urls(u.as_str())));
                    } else if urls.is_empty() {
                        let _ = tx.send(Err(fail("blob not found in the registry".to_string()))).await;
                        return;
                    } else if !self.session.settings.allow_foreign_urls {
                        let _ = tx
                            .send(Err(fail(format!(
                                "blob not found in the registry; it is a foreign layer with {} in its descriptor, which are not fetched unless --allow-foreign-urls is given",
                                crate::units::count(urls.len() as u64, "URL", "URLs")
                            ))))
                            .await;
                        return;
                    }
                    // The next foreign URL that may be fetched.
                    foreign = None;
                    for u in candidates.by_ref() {
                        match Url::parse(u) {
                            Ok(url) => match url_allowed(&url, &self.session.plain_ok) {
                                Ok(()) => {
                                    foreign = Some(url);
                                    break;
                                }
                                Err(m) => refused.push(format!("{}: {m}", strip_urls(u))),
                            },
                            Err(_) => refused.push(format!("{:?} is not a URL", clip(u, 100))),
                        }
                    }
                    if foreign.is_none() {
                        let _ = tx
                            .send(Err(fail(format!(
                                "blob not found in the registry, nor at its foreign URLs: {}",
                                refused.join("; ")
                            ))))
                            .await;
                        return;
                    }
                    continue;
                }
                s => {
                    let detail = self.error_detail(resp).await;
                    let _ = tx.send(Err(fail(format!("GET blob: the registry answered {s}{detail}")))).await;
                    return;
                }
            }
            let mut resp = resp;
            let cut = loop {
                match resp.chunk().await {
                    Ok(Some(mut b)) => {
                        if skip > 0 {
                            let n = skip.min(b.len() as u64) as usize;
                            let _ = b.split_to(n);
                            skip -= n as u64;
                            if b.is_empty() {
                                continue;
                            }
                        }
                        let room = limit - offset;
                        if b.len() as u64 > room {
                            b.truncate(room as usize);
                        }
                        offset += b.len() as u64;
                        if tx.send(Ok(b)).await.is_err() || offset >= limit {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => break e,
                }
            };
            if resumes >= self.session.settings.retries {
                let why = if cut.is_timeout() {
                    format!("no data for {} s (read timeout)", self.session.settings.read_timeout.as_secs_f32())
                } else {
                    describe(&cut)
                };
                let _ = tx
                    .send(Err(fail(format!(
                        "connection lost after {offset} of {size} bytes, {resumes} resumes: {why}"
                    ))))
                    .await;
                return;
            }
            resumes += 1;
            tokio::time::sleep(self.backoff(resumes)).await;
        }
    }
}
