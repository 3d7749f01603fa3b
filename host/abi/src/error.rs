//! The error that crosses the boundary, and the guard that keeps panics from crossing it.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use abi_stable::StableAbi;
use abi_stable::std_types::{RResult, RString};

/// What kind of failure an [`AbiError`] reports. An integer newtype rather than an enum so that
/// later ABI versions can add codes without breaking older hosts. Added in ABI 0.1.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// The plugin's configuration (or a model's options) was not accepted.
    pub const INVALID_CONFIG: Self = Self(1);
    /// A file or device could not be read or written.
    pub const IO: Self = Self(2);
    /// Input data (a dataset file, a model file, a sensor value) is malformed.
    pub const INVALID_DATA: Self = Self(3);
    /// The operating system refused access (a sensor file readable only by root, say).
    pub const PERMISSION_DENIED: Self = Self(4);
    /// Something the plugin needs does not exist (a file, a sensor, a rail).
    pub const NOT_FOUND: Self = Self(5);
    /// The request is valid but this plugin does not support it.
    pub const UNSUPPORTED: Self = Self(6);
    /// The underlying engine (an inference library, a driver) failed.
    pub const BACKEND: Self = Self(7);
    /// The plugin panicked; [`guard`] caught it.
    pub const PANICKED: Self = Self(8);
    /// Anything else.
    pub const OTHER: Self = Self(9);

    /// A short lower-case name for the code, for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::INVALID_CONFIG => "invalid config",
            Self::IO => "i/o error",
            Self::INVALID_DATA => "invalid data",
            Self::PERMISSION_DENIED => "permission denied",
            Self::NOT_FOUND => "not found",
            Self::UNSUPPORTED => "unsupported",
            Self::BACKEND => "backend error",
            Self::PANICKED => "panicked",
            _ => "error",
        }
    }
}

/// An error returned across the boundary: a code the host can branch on and a message for
/// people. Messages are lower-case, carry their own context (file, line, key) and end without a
/// period. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct AbiError {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// What went wrong, with the context a user needs to fix it.
    pub message: RString,
}

impl AbiError {
    /// An error with the given code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: RString::from(message.into()) }
    }

    /// [`ErrorCode::INVALID_CONFIG`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_CONFIG, message)
    }

    /// [`ErrorCode::INVALID_DATA`].
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_DATA, message)
    }

    /// [`ErrorCode::BACKEND`].
    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BACKEND, message)
    }

    /// [`ErrorCode::UNSUPPORTED`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::UNSUPPORTED, message)
    }

    /// An error for an I/O failure on `path`, with the code chosen from the error's kind
    /// (permission denied and not found get their own codes).
    pub fn io(path: impl fmt::Display, err: &std::io::Error) -> Self {
        let code = match err.kind() {
            std::io::ErrorKind::PermissionDenied => ErrorCode::PERMISSION_DENIED,
            std::io::ErrorKind::NotFound => ErrorCode::NOT_FOUND,
            _ => ErrorCode::IO,
        };
        Self::new(code, format!("{path}: {err}"))
    }

    /// The error [`guard`] returns for a caught panic, with the panic's message when it has one.
    pub fn panicked(payload: Box<dyn std::any::Any + Send>) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string payload".to_string());
        Self::new(ErrorCode::PANICKED, format!("plugin panicked: {what}"))
    }

    /// The same error with `context` put in front of its message.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message).into();
        self
    }
}

impl fmt::Display for AbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AbiError {}

/// Runs `f`, turning a panic into an [`AbiError`] with [`ErrorCode::PANICKED`], and converts the
/// result for the boundary. Every plugin entry point that does work runs inside it.
pub fn guard<T>(f: impl FnOnce() -> Result<T, AbiError>) -> RResult<T, AbiError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(AbiError::panicked(p))).into()
}

/// Runs an infallible method (an `info()`), turning a panic into `on_panic`'s value for the
/// caught error: a plugin cannot return an error there, and must not unwind into the host.
pub fn guard_infallible<T>(f: impl FnOnce() -> T, on_panic: impl FnOnce(AbiError) -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| on_panic(AbiError::panicked(p)))
}

/// The name an `info()` that panicked reports in place of its own: `<plugin panicked: MESSAGE>`.
pub fn panicked_name(error: &AbiError) -> String {
    format!("<{}>", error.message)
}

/// Whether `name` is the one [`panicked_name`] gives: the host refuses such a component.
pub fn is_panicked_name(name: &str) -> bool {
    name.starts_with("<plugin panicked")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_a_panic_into_an_error() {
        let r: RResult<(), AbiError> = guard(|| panic!("boom {}", 7));
        let e = r.into_result().unwrap_err();
        assert_eq!(e.code, ErrorCode::PANICKED);
        assert_eq!(e.message.as_str(), "plugin panicked: boom 7");
    }

    #[test]
    fn guard_passes_values_and_errors_through() {
        assert_eq!(guard(|| Ok(3)).into_result(), Ok(3));
        let e = guard::<()>(|| Err(AbiError::config("bad key"))).into_result().unwrap_err();
        assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
    }

    #[test]
    fn io_errors_get_their_codes() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(AbiError::io("/x", &denied).code, ErrorCode::PERMISSION_DENIED);
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = AbiError::io("/sys/x", &missing);
        assert_eq!(e.code, ErrorCode::NOT_FOUND);
        assert!(e.message.starts_with("/sys/x: "));
    }
}
