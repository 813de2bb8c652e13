//! Settings of the admin API (the `[admin]` section of the config file).

use std::net::SocketAddr;

use serde::Deserialize;

/// The environment variable read for the bearer token when the config has none.
pub const TOKEN_ENV: &str = "PRICING_ADMIN_TOKEN";

/// Where the admin API listens and how it is protected.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Whether `pricing run` serves the admin API at all. Default: true.
    pub enabled: bool,
    /// Address and port to listen on. Loopback by default: only this machine can reach
    /// it. A non-loopback address is refused unless a token is configured.
    pub listen: SocketAddr,
    /// Bearer token every mutating call must present (`Authorization: Bearer TOKEN`).
    /// When absent, `PRICING_ADMIN_TOKEN` is read; with neither, mutating calls are
    /// refused and only reads are served.
    pub token: Option<String>,
    /// Largest plugin upload accepted, in MiB; a larger body is answered 413.
    pub max_upload_mib: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            max_upload_mib: crate::registry::DEFAULT_MAX_UPLOAD_MIB,
        }
    }
}

impl AdminConfig {
    /// The token in force: the config's, else `PRICING_ADMIN_TOKEN`'s. An empty token
    /// counts as none, so a blank variable cannot open the API to everyone.
    #[must_use]
    pub fn resolved_token(&self) -> Option<String> {
        self.token
            .clone()
            .or_else(|| std::env::var(TOKEN_ENV).ok())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    }

    /// The upload limit in bytes.
    #[must_use]
    pub fn max_upload_bytes(&self) -> usize {
        usize::try_from(self.max_upload_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token: configs end up in logs.
        f.debug_struct("AdminConfig")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("max_upload_mib", &self.max_upload_mib)
            .finish()
    }
}
