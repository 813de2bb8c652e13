//! `pricing admin ...`: the admin API from the command line. Each subcommand is one call
//! (two for the ones that follow a job); the answer is printed as JSON on stdout, a
//! refusal as `error: REASON` with a failing exit status.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use pricing_runtime::admin::TOKEN_ENV;
use pricing_runtime::admin::client::{Client, Response};
use pricing_runtime::progress::JobProgress;

/// Environment variable with the API's URL.
const URL_ENV: &str = "PRICING_ADMIN_URL";

/// How often a followed job is polled.
const POLL: Duration = Duration::from_millis(200);

/// Where the API is and how to authenticate.
#[derive(Args)]
pub struct AdminArgs {
    /// The admin API [default: $PRICING_ADMIN_URL, else http://127.0.0.1:8080]
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Bearer token for changes [default: $PRICING_ADMIN_TOKEN]
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Recorded as who made the change [default: $USER, else admin]
    #[arg(long, value_name = "NAME")]
    who: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Liveness, active versions, automatic rollbacks.
    Health,
    /// Every kind, its versions and the active one.
    List,
    /// Upload a component (`.wasm`): validated, stored, and with --activate made active.
    Deploy {
        /// The component file.
        file: PathBuf,
        /// The kind it must price (refused if its metadata names another).
        #[arg(long)]
        kind: Option<String>,
        /// Make it the active version of its kind.
        #[arg(long)]
        activate: bool,
    },
    /// Make a stored version the active one.
    Activate {
        /// The kind.
        kind: String,
        /// The version's hash (from `list`).
        hash: String,
    },
    /// Return a kind to the version active before the current one.
    Rollback {
        /// The kind.
        kind: String,
    },
    /// A kind's activations, oldest first.
    History {
        /// The kind.
        kind: String,
    },
    /// Shadow runs: try a candidate on live traffic, compared and never emitted.
    #[command(subcommand)]
    Shadow(ShadowCommand),
    /// Reprice every departure that uses a kind, following the job with a progress bar.
    Reprice {
        /// The kind.
        kind: String,
        /// Print the queued job and return instead of following it.
        #[arg(long)]
        detach: bool,
    },
    /// Give every departure a version priced back the price it had before that
    /// version, as new versions; follows the job with a progress bar.
    PriceRollback {
        /// The kind.
        kind: String,
        /// The version whose prices are undone.
        hash: String,
        /// Print the queued job and return instead of following it.
        #[arg(long)]
        detach: bool,
    },
    /// Jobs (reprice, price rollback) and their progress; one job with its id.
    Jobs {
        /// One job's id.
        id: Option<u64>,
    },
}

#[derive(Subcommand)]
enum ShadowCommand {
    /// Start shadowing a kind with a component file, or a stored version (--hash).
    Start {
        /// The kind.
        kind: String,
        /// The candidate component.
        file: Option<PathBuf>,
        /// A stored version instead of a file.
        #[arg(long, conflicts_with = "file")]
        hash: Option<String>,
    },
    /// The report so far.
    Report {
        /// The kind.
        kind: String,
    },
    /// Make the candidate active and stop.
    Promote {
        /// The kind.
        kind: String,
    },
    /// Stop without changing anything.
    Drop {
        /// The kind.
        kind: String,
    },
}

/// Runs one `pricing admin` subcommand.
pub fn run(args: AdminArgs) -> Result<()> {
    let url = args.url.or_else(|| std::env::var(URL_ENV).ok()).unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let token = args.token.or_else(|| std::env::var(TOKEN_ENV).ok()).filter(|t| !t.trim().is_empty());
    let client = Client::from_url(&url, token)?;
    let who = args.who.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "admin".into());
    let who = encode(&who);
    let answer = match args.command {
        AdminCommand::Health => client.get("/health")?,
        AdminCommand::List => client.get("/plugins")?,
        AdminCommand::Deploy { file, kind, activate } => {
            let wasm = read(&file)?;
            let kind = kind.map(|k| format!("&kind={}", encode(&k))).unwrap_or_default();
            client.post(&format!("/plugins?activate={activate}&who={who}{kind}"), &wasm)?
        }
        AdminCommand::Activate { kind, hash } => {
            client.post(&format!("/plugins/{}/activate/{}?who={who}", encode(&kind), encode(&hash)), b"")?
        }
        AdminCommand::Rollback { kind } => {
            client.post(&format!("/plugins/{}/rollback?who={who}", encode(&kind)), b"")?
        }
        AdminCommand::History { kind } => client.get(&format!("/plugins/{}/history", encode(&kind)))?,
        AdminCommand::Shadow(ShadowCommand::Start { kind, file, hash }) => {
            let path = format!("/plugins/{}/shadow?who={who}", encode(&kind));
            match (file, hash) {
                (Some(file), None) => client.post(&path, &read(&file)?)?,
                (None, Some(hash)) => client.post(&format!("{path}&hash={}", encode(&hash)), b"")?,
                _ => bail!("give the candidate as a FILE or as --hash HASH"),
            }
        }
        AdminCommand::Shadow(ShadowCommand::Report { kind }) => {
            client.get(&format!("/plugins/{}/shadow", encode(&kind)))?
        }
        AdminCommand::Shadow(ShadowCommand::Promote { kind }) => {
            client.post(&format!("/plugins/{}/shadow/promote?who={who}", encode(&kind)), b"")?
        }
        AdminCommand::Shadow(ShadowCommand::Drop { kind }) => {
            client.post(&format!("/plugins/{}/shadow/drop?who={who}", encode(&kind)), b"")?
        }
        AdminCommand::Reprice { kind, detach } => {
            let queued = client.post(&format!("/plugins/{}/reprice?who={who}", encode(&kind)), b"")?;
            follow(&client, queued, detach, &format!("reprice {kind}"))?
        }
        AdminCommand::PriceRollback { kind, hash, detach } => {
            let path = format!("/plugins/{}/price-rollback/{}?who={who}", encode(&kind), encode(&hash));
            let queued = client.post(&path, b"")?;
            follow(&client, queued, detach, &format!("price-rollback {kind}"))?
        }
        AdminCommand::Jobs { id: Some(id) } => client.get(&format!("/jobs/{id}"))?,
        AdminCommand::Jobs { id: None } => client.get("/jobs")?,
    };
    print(&answer)
}

/// Polls a queued job until it finishes, with a progress bar; returns its last status.
fn follow(client: &Client, queued: Response, detach: bool, name: &str) -> Result<Response> {
    if detach || !queued.ok() {
        return Ok(queued);
    }
    let id = queued.json["id"].as_u64().context("the queued job has no id")?;
    let mut progress = JobProgress::new(name);
    loop {
        let status = client.get(&format!("/jobs/{id}"))?;
        if !status.ok() {
            progress.finish();
            return Ok(status);
        }
        let j = &status.json;
        let state = j["state"].as_str().unwrap_or("unknown").to_owned();
        let number = |f: &str| j[f].as_u64().unwrap_or(0);
        progress.update(&state, number("done"), number("total"), j["departures_per_s"].as_f64().unwrap_or(0.0));
        if state == "done" || state == "failed" {
            progress.finish();
            return Ok(status);
        }
        std::thread::sleep(POLL);
    }
}

fn print(answer: &Response) -> Result<()> {
    if !answer.ok() {
        let reason = answer.error();
        bail!("{} {}", answer.status, if reason.is_empty() { answer.text.trim() } else { reason.as_str() });
    }
    if answer.json["state"] == "failed" {
        println!("{}", serde_json::to_string_pretty(&answer.json)?);
        bail!("job failed: {}", answer.json["error"].as_str().unwrap_or("unknown error"));
    }
    println!("{}", serde_json::to_string_pretty(&answer.json)?);
    Ok(())
}

fn read(file: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}

/// Percent-encodes a path segment or query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
