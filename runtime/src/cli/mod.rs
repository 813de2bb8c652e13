//! Subcommands of the `pricing` binary that are more than a few lines.

pub mod admin;
pub mod conform;
