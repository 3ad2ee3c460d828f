//! `human-intervention-verify receipt CONTINUATION --keys KEYS [--action ACTION]`: checks a continuation as
//! a consumer would, without calling the product — its receipt against the published receipt keys (a JWK
//! Set file, e.g. saved from GET /.well-known/receipt-keys.json), and, given the consumer's own copy of the
//! action (a JSON file; `null` for a run that asked about none), its digest. `-` reads the continuation
//! from standard input. Exit status 0 when everything checked holds, 1 otherwise (the reason on stderr).

use std::io::Read;
use std::process::ExitCode;

use human_intervention::domain::proof::check_decided_on;
use human_intervention::domain::proof::receipt::{verify, Jwks};

const USAGE: &str =
    "usage: human-intervention-verify receipt CONTINUATION.json|- --keys KEYS.json [--action ACTION.json]";

fn read(path: &str) -> Result<String, String> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("reading standard input: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))
}

fn json(path: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(&read(path)?).map_err(|e| format!("{path} is not JSON: {e}"))
}

fn run(args: &[String]) -> Result<String, String> {
    let [command, continuation, rest @ ..] = args else { return Err(USAGE.into()) };
    if command != "receipt" {
        return Err(USAGE.into());
    }
    let (mut keys, mut action) = (None, None);
    let mut options = rest.iter();
    while let Some(option) = options.next() {
        let value = options.next().ok_or(USAGE)?;
        match option.as_str() {
            "--keys" => keys = Some(value),
            "--action" => action = Some(value),
            _ => return Err(USAGE.into()),
        }
    }
    let keys: Jwks = serde_json::from_value(json(keys.ok_or(USAGE)?)?)
        .map_err(|e| format!("the keys are not a JWK Set of EC P-256 keys: {e}"))?;
    let continuation = json(continuation)?;
    let kid = verify(&continuation, &keys).map_err(|e| e.to_string())?;
    let mut report = format!("receipt verified: signed by key {kid}");
    if let Some(path) = action {
        let action = json(path)?;
        check_decided_on(&continuation, (!action.is_null()).then_some(&action))?;
        report.push_str("; the digest matches this action and the document shown");
    }
    Ok(report)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
