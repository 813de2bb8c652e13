//! What the registry stores about versions and activations (JSON in fjall: rare, small,
//! and readable with any tool when an operator needs to dig).

use serde::{Deserialize, Serialize};

use crate::engine::{PluginInfo, Role};

/// One uploaded plugin version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The resource kind it prices.
    pub kind: String,
    /// Its semantic version.
    pub version: String,
    /// `component` or `adjustment`.
    pub role: String,
    /// Its one-line description.
    pub description: String,
    /// SHA-256 of the component bytes, hex: the version's identity.
    pub hash: String,
    /// `kind@version+hash8`, as price records name it.
    pub id: String,
    /// Size of the component in bytes.
    pub size: u64,
    /// When it was uploaded (RFC 3339).
    pub uploaded_at: String,
    /// Who uploaded it.
    pub uploader: String,
}

impl VersionInfo {
    pub(crate) fn new(info: &PluginInfo, size: usize, uploaded_at: String, uploader: &str) -> Self {
        VersionInfo {
            kind: info.kind.clone(),
            version: info.version.clone(),
            role: match info.role {
                Role::Component => "component",
                Role::Adjustment => "adjustment",
            }
            .to_owned(),
            description: info.description.clone(),
            hash: info.hash.clone(),
            id: info.id(),
            size: size as u64,
            uploaded_at,
            uploader: uploader.to_owned(),
        }
    }
}

/// What made a version active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A reference plugin activated on the registry's first start.
    Seed,
    /// An operator (or a deploy with `activate`) chose the version.
    Activate,
    /// A rollback returned to the version active before.
    Rollback,
}

/// One change of a kind's active version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    /// Position in the kind's history, from 1.
    pub seq: u64,
    /// When (RFC 3339).
    pub at: String,
    /// The kind.
    pub kind: String,
    /// The hash active before, if any.
    pub from: Option<String>,
    /// The hash active after.
    pub to: String,
    /// What kind of change.
    pub action: Action,
    /// Who made it.
    pub who: String,
    /// Why.
    pub why: String,
}

/// A kind, its versions and which one is active.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindVersions {
    /// The kind.
    pub kind: String,
    /// Hash of the active version, if the kind has one.
    pub active: Option<String>,
    /// Every uploaded version of the kind, oldest upload first.
    pub versions: Vec<VersionInfo>,
}
