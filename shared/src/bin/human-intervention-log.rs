//! The decision log's command. `export` writes an environment's log (its entries, then the next
//! checkpoint, stored as the environment's anchor) as JSON Lines to a file or to S3; `verify` checks an
//! export, alone or as the successor of the export before it, and names each problem's line.
//!
//! ```text
//! human-intervention-log export <environmentId> --out <file>
//! human-intervention-log export <environmentId> --s3 <bucket> [--prefix <prefix>]
//! human-intervention-log verify <file | s3://bucket/key> [--previous <file | s3://bucket/key>]
//! ```
//!
//! `export` reads the table named by `TABLE_NAME` with the functions' AWS settings (`AWS_REGION`, the
//! credentials, `AWS_ENDPOINT_URL`). Exit status 0 on success; 1 with the reason (or one `line N: what`
//! per problem) otherwise; 2 for a bad command line.

use std::process::ExitCode;

use human_intervention::aws::s3;
use human_intervention::domain::ledger::{verify, verify_after, Checkpoint, Problem, Verified};
use human_intervention::domain::time::{Clock, SystemClock};
use human_intervention::service::export_log;

const USAGE: &str = "usage:
  human-intervention-log export <environmentId> (--out <file> | --s3 <bucket> [--prefix <prefix>])
  human-intervention-log verify <file | s3://bucket/key> [--previous <file | s3://bucket/key>]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("export") => export(&args[1..]).await,
        Some("verify") => check(&args[1..]).await,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// The value after `--name` in `args`, if given.
fn option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

async fn export(args: &[String]) -> Result<String, String> {
    let environment_id = args.first().filter(|a| !a.starts_with("--")).ok_or(USAGE)?;
    let config = human_intervention::aws::sdk_config()?;
    let store = human_intervention::aws::store_from_env(&config)?;
    let now = SystemClock.now();
    if let Some(bucket) = option(args, "--s3") {
        let prefix = option(args, "--prefix").unwrap_or("");
        let key = s3::export_to_s3(&store, &s3::client(&config), bucket, prefix, environment_id, now)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(format!("exported to s3://{bucket}/{key}"));
    }
    let out = option(args, "--out").ok_or(USAGE)?;
    let export = export_log(&store, environment_id, now).await.map_err(|e| e.to_string())?;
    for link in &export.unlogged {
        eprintln!("warning: {link}");
    }
    std::fs::write(out, &export.text).map_err(|e| format!("{out}: {e}"))?;
    Ok(format!("exported {} entries and checkpoint {} to {out}", export.entries, export.checkpoint.seq))
}

/// The text of an export: a file, or `s3://bucket/key`.
async fn read(place: &str) -> Result<String, String> {
    match place.strip_prefix("s3://").and_then(|rest| rest.split_once('/')) {
        Some((bucket, key)) => {
            let config = human_intervention::aws::sdk_config()?;
            s3::read(&s3::client(&config), bucket, key).await.map_err(|e| e.to_string())
        }
        None => std::fs::read_to_string(place).map_err(|e| format!("{place}: {e}")),
    }
}

async fn check(args: &[String]) -> Result<String, String> {
    let place = args.first().filter(|a| !a.starts_with("--")).ok_or(USAGE)?;
    let text = read(place).await?;
    let verified = match option(args, "--previous") {
        Some(previous) => {
            let before = read(previous).await?;
            let last = before.lines().last().ok_or_else(|| format!("{previous} is empty"))?;
            let checkpoint: Checkpoint =
                serde_json::from_str(last).map_err(|e| format!("{previous}: its last line is no checkpoint: {e}"))?;
            verify_after(&text, &checkpoint)
        }
        None => verify(&text),
    };
    report(place, verified)
}

fn report(place: &str, verified: Result<Verified, Vec<Problem>>) -> Result<String, String> {
    match verified {
        Ok(v) => Ok(format!(
            "{place}: verified {} entries on {} chains, checkpoint {} ({})",
            v.entries, v.chains, v.checkpoint.seq, v.checkpoint.digest
        )),
        Err(problems) => {
            let lines: Vec<String> = problems.iter().map(|p| format!("{place}: line {}: {}", p.line, p.what)).collect();
            Err(lines.join("\n"))
        }
    }
}
