//! `hooktap replay`: resend recorded requests (or a fixture's) and report each result.

use serde_json::json;

use super::{UsageError, emit};
use crate::cli::ReplayArgs;
use std::sync::Arc;

use crate::capture::Target;
use crate::capture::{ForwardConfig, Forwarder};
use crate::exchange::{Exchange, ExchangeId};
use crate::output::{self, human_duration_us};
use crate::replay::fixture::replay_file;
use crate::replay::{Job, Pacer, ReplayError, ReplayOptions, Replayed, replay_all, resign_with};
use crate::select::{lookup_error, select, without_replayed};
use crate::signature::{Verdict, Verifier};
use crate::store::{Location, Options, Store};

/// Counts what went wrong, for the exit status.
#[derive(Default)]
struct Tally {
    total: usize,
    bad: usize,
    /// Responses that differ from the fixture's (`--from-file`).
    differ: usize,
}

/// Runs `hooktap replay`.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let to = match &args.to {
        Some(text) => Some(Target::parse(text).map_err(|e| UsageError(format!("--to: {e}")))?),
        None => None,
    };
    let selection = args.select.selection();
    if args.from_file.is_none() && selection.is_everything() {
        return Err(UsageError(
            "say which requests to replay: IDs, --failed, --path, --since, or --from-file FIXTURE"
                .into(),
        )
        .into());
    }
    if args.edit && selection.ids.len() != 1 {
        return Err(UsageError("--edit takes exactly one request ID".into()).into());
    }
    let verifier = args.secrets.verifier()?;
    let store = open_store(&args, verifier.clone())?;
    let forwarder = Forwarder::new(
        ForwardConfig {
            // Every replay names its own target; this one is never used.
            target: to
                .clone()
                .unwrap_or_else(|| Target::parse("80").expect("80 is a valid port")),
            timeout: args.timeout,
            capture_limit: crate::capture::DEFAULT_CAPTURE_LIMIT,
        },
        store.clone(),
    );
    let pacer = Pacer::new(args.rate);
    let resign = if args.resign {
        if verifier.configured().next().is_none() {
            return Err(UsageError(
                "--resign needs the signing secret: pass --verify PROVIDER=SECRET or add it to hooktap.toml".into(),
            )
            .into());
        }
        Some(resign_with(verifier))
    } else {
        None
    };
    let opts = ReplayOptions { to, resign };
    let mut tally = Tally::default();

    let concurrency = usize::from(args.concurrency);
    let mode = Mode {
        json: args.json,
        from_file: args.from_file.is_some(),
        edited: args.edit && !args.resign,
    };
    let report = |id: &ExchangeId, outcome| report(&mut tally, &mode, id, outcome);
    if let Some(path) = &args.from_file {
        replay_file(&forwarder, path, &opts, concurrency, &pacer, report).await?;
    } else {
        let mut ids = select(&store, &selection)?;
        if selection.filter.failed && !args.again {
            let (kept, skipped) = without_replayed(&store, ids)?;
            if skipped > 0 {
                eprintln!(
                    "hooktap: skipped {skipped} {} already replayed successfully; --again sends {} anyway",
                    if skipped == 1 { "request" } else { "requests" },
                    if skipped == 1 { "it" } else { "them" },
                );
            }
            ids = kept;
        }
        if ids.is_empty() {
            eprintln!("hooktap: nothing to replay: no recorded request matches");
            return Ok(());
        }
        let mut jobs: Vec<Job> = ids.into_iter().map(|id| (id, None)).collect();
        if args.edit {
            let Some(job) = jobs.first_mut() else {
                return Ok(());
            };
            let original = store.get(job.0.as_str()).map_err(lookup_error)?;
            match crate::edit::edit_request(&original).await? {
                Some(edited) => job.1 = Some(edited),
                None => {
                    eprintln!(
                        "hooktap: replay cancelled: the request was left unchanged or emptied"
                    );
                    return Ok(());
                }
            }
        }
        let load = |id: &ExchangeId| store.get(id.as_str()).map_err(|e| e.to_string());
        replay_all(&forwarder, jobs, &opts, concurrency, &pacer, load, report).await;
    }
    store.flush().await?;
    if tally.bad > 0 {
        anyhow::bail!(
            "{} of {} replays failed or were not sent",
            tally.bad,
            tally.total
        );
    }
    if tally.differ > 0 {
        anyhow::bail!(
            "{} of {} responses differ from the fixture's",
            tally.differ,
            tally.total
        );
    }
    Ok(())
}

fn open_store(args: &ReplayArgs, verifier: Verifier) -> anyhow::Result<Store> {
    let location = args.store.location()?;
    match &location {
        Location::Memory if args.from_file.is_none() => {
            return Err(UsageError(
                "--store :memory: keeps nothing between runs, so there is nothing to replay; pass the file `listen` used".into(),
            )
            .into());
        }
        Location::File(path) if args.from_file.is_none() && !path.exists() => {
            anyhow::bail!(
                "no store at {}: run `hooktap listen` first, or pass --store PATH",
                path.display()
            );
        }
        _ => {}
    }
    // This process writes its replays beside a running `listen` (SQLite WAL allows it);
    // retention is left to `listen`, so this writer never prunes.
    Store::open(Options {
        location,
        retain: usize::MAX,
        retain_bytes: Some(u64::MAX),
        // Replays get a verdict like live traffic: a re-signed one should check as valid.
        verdict: Some(Arc::new(move |ex: &Exchange| {
            verifier.check_exchange(ex, None, None)
        })),
    })
}

/// How replays are reported.
struct Mode {
    /// One JSON object per replay.
    json: bool,
    /// `--from-file`: a response that differs from the fixture's counts against the exit
    /// status, and its changes are listed under the line.
    from_file: bool,
    /// `--edit` without `--resign`: an invalid signature is the edit's doing.
    edited: bool,
}

/// Prints one replay's outcome.
fn report(
    tally: &mut Tally,
    mode: &Mode,
    original: &ExchangeId,
    result: Result<Replayed, ReplayError>,
) {
    let (as_json, from_file) = (mode.json, mode.from_file);
    tally.total += 1;
    let line = match &result {
        Ok(done) => {
            let ex = &done.exchange;
            if ex.failed() {
                tally.bad += 1;
            }
            if from_file && done.differs == Some(true) {
                tally.differ += 1;
            }
            let differs = done.differs.map(|d| if d { "differs" } else { "same" });
            if as_json {
                done.summary_json().to_string()
            } else {
                let status = ex
                    .status()
                    .map_or_else(|| "ERR".to_string(), |s| s.to_string());
                let mut line = format!(
                    "{original} -> {}  {status}  {}  {}",
                    ex.id,
                    human_duration_us(ex.duration_us),
                    differs.unwrap_or("-")
                );
                if let Some(provider) = &done.resigned {
                    line.push_str(&format!("  re-signed ({provider})"));
                }
                line.push_str(&output::verdict_badge(ex));
                if mode.edited && matches!(ex.verdict, Some(Verdict::Invalid { .. })) {
                    line.push_str(": the edit broke the signature; --resign renews it");
                }
                if let Some(error) = &ex.error {
                    line.push_str(&format!("  error: {error}"));
                }
                if from_file {
                    for change in &done.changes {
                        line.push_str(&format!("\n    {change}"));
                    }
                }
                line
            }
        }
        Err(err) => {
            tally.bad += 1;
            if as_json {
                json!({ "original": original, "id": null, "error": err.to_string() }).to_string()
            } else {
                format!("{original} {err}")
            }
        }
    };
    // A closed stdout (piped into `head`) must not stop the replays already promised.
    let _ = emit(format!("{line}\n").as_bytes());
}
