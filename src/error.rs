//! Error types of the library: what went wrong, with the image, layer and path it concerns.

use std::io;

/// Everything the library can fail with. Messages are one line and name what they concern.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image reference could not be understood or opened.
    #[error("{reference}: {message}")]
    Reference { reference: String, message: String },
    /// A document (index, manifest, config) was missing, too large or malformed.
    #[error("{what}: {message}")]
    Document { what: String, message: String },
    /// A blob's bytes did not match its descriptor.
    #[error("blob {digest}: {message}")]
    Blob { digest: String, message: String },
    /// A configured limit was hit.
    #[error("{0}")]
    Limit(#[from] LimitError),
    /// Reading the underlying file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// No platform of the image matched the request.
    #[error("{0}")]
    NoPlatform(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
    pub fn doc(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Document { what: what.into(), message: message.into() }
    }
    pub fn reference(reference: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Reference { reference: reference.into(), message: message.into() }
    }
}

/// A bound on input from an image was exceeded; names the limit and how to raise it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("limit {name} ({limit}) exceeded{detail}; raise it with --limit {name}=N")]
pub struct LimitError {
    pub name: &'static str,
    pub limit: u64,
    pub detail: String,
}

impl LimitError {
    pub fn new(name: &'static str, limit: u64, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let detail = if detail.is_empty() { detail } else { format!(": {detail}") };
        LimitError { name, limit, detail }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
