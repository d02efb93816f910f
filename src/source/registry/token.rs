//! Answering a registry's `WWW-Authenticate` challenge: Basic with the configured credentials,
//! or a Bearer token from the realm (https, or plain HTTP to a host allowed it: case 50 of
//! docs/hostile-inputs.md), with every body capped and no token or secret in a message.

use base64::Engine as _;
use reqwest::header::HeaderValue;
use reqwest::{StatusCode, Url};

use super::http::{read_capped, Client, HttpError, Kind};
use super::policy::{authority, describe, url_allowed};
use crate::units::clip;

impl Client {
    pub(super) fn unauthorized(&self, what: &str) -> HttpError {
        let message = match &self.session.creds {
            Some(c) => format!(
                "{what}: the registry refused the credentials of user {:?} (from {}): check the user name and password",
                c.username, c.origin
            ),
            None => format!(
                "{what}: the registry requires authentication and no credentials for {} were found ($DOCKER_CONFIG/config.json or ~/.docker/config.json, $REGISTRY_AUTH_FILE)",
                self.session.registry
            ),
        };
        HttpError::new(Kind::Unauthorized, message)
    }

    /// Answers a `WWW-Authenticate` challenge: Basic with the configured credentials, or a
    /// Bearer token fetched from the realm (with the credentials, when there are some).
    pub(super) async fn authenticate(&self, challenge: &str) -> Result<(), HttpError> {
        let (scheme, params) = parse_challenge(challenge);
        let what = format!("authenticating to {}", self.session.registry);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                let c = self.session.creds.as_ref().ok_or_else(|| self.unauthorized(&what))?;
                let raw = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.secret()));
                let mut v = HeaderValue::from_str(&format!("Basic {raw}"))
                    .map_err(|_| HttpError::other(format!("{what}: credentials are not a valid header value")))?;
                v.set_sensitive(true);
                self.set_auth(v);
                Ok(())
            }
            "bearer" => {
                let realm = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v.as_str()).unwrap_or("");
                let mut url = Url::parse(realm).map_err(|_| {
                    HttpError::other(format!("{what}: the token realm {:?} is not a URL", clip(realm, 100)))
                })?;
                let host = authority(&url);
                // Case 50 of docs/hostile-inputs.md: a realm on plain http elsewhere would receive the
                // Basic credentials in clear; no request is sent at all.
                if let Err(m) = url_allowed(&url, &self.session.plain_ok) {
                    return Err(HttpError::other(format!(
                        "{what}: token realm on {host}: {m}; no credentials or token request sent"
                    )));
                }
                let scope = params
                    .iter()
                    .find(|(k, _)| k == "scope")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| format!("repository:{}:pull", self.repository));
                {
                    let mut q = url.query_pairs_mut();
                    if let Some((_, s)) = params.iter().find(|(k, _)| k == "service") {
                        q.append_pair("service", s);
                    }
                    q.append_pair("scope", &scope);
                }
                let mut rb = self.session.http.get(url);
                if let Some(c) = &self.session.creds {
                    rb = rb.basic_auth(&c.username, Some(c.secret()));
                }
                let resp = rb
                    .send()
                    .await
                    .map_err(|e| HttpError::other(format!("{what}: token request to {host}: {}", describe(&e))))?;
                let status = resp.status();
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    return Err(self.unauthorized(&what));
                }
                if !status.is_success() {
                    return Err(HttpError::other(format!("{what}: the token endpoint on {host} answered {status}")));
                }
                let body = read_capped(resp, self.session.settings.token_bytes, "token response").await?;
                // `expires_in` is not read (a negative or absurd one cannot break anything): the
                // token is used until the registry answers 401, then one new one is asked for.
                #[derive(serde::Deserialize)]
                struct Token {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let t: Token = serde_json::from_slice(&body).map_err(|_| {
                    HttpError::other(format!(
                        "{what}: the token endpoint on {host} answered something else than a token"
                    ))
                })?;
                let token = t.token.or(t.access_token).filter(|t| !t.is_empty()).ok_or_else(|| {
                    HttpError::other(format!("{what}: the token endpoint on {host} answered no token"))
                })?;
                // oci-client `unwrap`s this conversion; a token with a control character must
                // be an error, not a panic.
                let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    HttpError::other(format!(
                        "{what}: the token endpoint on {host} answered a token that is not a valid header value"
                    ))
                })?;
                v.set_sensitive(true);
                self.set_auth(v);
                Ok(())
            }
            "" => Err(self.unauthorized(&what)),
            other => Err(HttpError::new(
                Kind::Unauthorized,
                format!("{what}: unsupported authentication scheme {:?}", clip(other, 40)),
            )),
        }
    }
}

/// Splits `Bearer realm="…",service="…",scope="a:b:pull,push"` into the scheme and its
/// parameters (quoted values may hold commas).
pub fn parse_challenge(h: &str) -> (String, Vec<(String, String)>) {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect::<String>().trim().to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect::<String>().trim().to_string();
        }
        params.push((key, value));
    }
    (scheme.to_string(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(
            p,
            vec![
                ("realm".into(), "https://auth.docker.io/token".into()),
                ("service".into(), "registry.docker.io".into()),
                ("scope".into(), "repository:library/alpine:pull,push".into())
            ]
        );
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!((s.as_str(), p.len()), ("Basic", 1));
        assert_eq!(parse_challenge("").0, "");
        assert_eq!(parse_challenge("Bearer realm=x, error=invalid_token").1.len(), 2);
    }
}
