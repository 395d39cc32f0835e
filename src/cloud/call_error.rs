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
    /// No usable answer: connection refused or dropped, timeout, unreadable body.
    Transport(String),
}

impl CallError {
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Api { code, .. } => Some(code),
            CallError::Transport(_) => None,
        }
    }

    /// Transient failures worth another attempt with the same parameters.
    pub fn retryable(&self) -> bool {
        match self {
            CallError::Transport(_) => true,
            CallError::Api { status, code, .. } => {
                code.starts_with("Throttling")
                    || code == "ServiceUnavailable"
                    || code == "SignatureNonceUsed"
                    || *status >= 500
            }
        }
    }
}
