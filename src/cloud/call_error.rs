//! Why a call to a service failed: its error document, or no usable answer. Shared by the
//! RPC client, OSS and the credential sources.

/// Why a call failed.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The server answered with an error document.
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: String,
    },
    /// No usable answer: connection dropped, unreadable body.
    Transport(String),
    /// No answer from `url` (shown without its query, which may hold a signature): `cause`
    /// says why (connection refused, DNS, TLS, timeout; see `retry::network_error`).
    /// `permanent`: trying again cannot help.
    Network {
        url: String,
        cause: String,
        permanent: bool,
    },
}

impl CallError {
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Api { code, .. } => Some(code),
            CallError::Transport(_) | CallError::Network { .. } => None,
        }
    }

    /// One line for a retry notice or a log.
    pub fn brief(&self) -> String {
        match self {
            CallError::Api {
                status,
                code,
                message,
                ..
            } => format!("{code} (HTTP {status}) {message}")
                .trim_end()
                .to_string(),
            CallError::Transport(why) => why.clone(),
            CallError::Network { url, cause, .. } => format!("{url}: {cause}"),
        }
    }

    /// Transient failures worth another attempt with the same parameters.
    pub fn retryable(&self) -> bool {
        match self {
            CallError::Transport(_) => true,
            CallError::Network { permanent, .. } => !permanent,
            CallError::Api { status, code, .. } => {
                code.starts_with("Throttling")
                    || code == "ServiceUnavailable"
                    || code == "SignatureNonceUsed"
                    || *status >= 500
            }
        }
    }
}
