//! `hooktap send`: post a signed sample event (or your own body) and print the answer.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::{UsageError, emit};
use crate::cli::SendArgs;
use crate::events::deliver::{Outgoing, post};
use crate::events::{self, Event, Mode};
use crate::exchange::unix_micros;
use crate::output::{human_duration_us, human_size};
use crate::signature::{Secret, Verifier};

/// Lines of the answer's body shown, and characters per line.
const PREVIEW_LINES: usize = 10;
const PREVIEW_WIDTH: usize = 200;

/// Runs `hooktap send`.
pub async fn send(args: SendArgs) -> anyhow::Result<()> {
    if args.list {
        return Ok(emit(list().as_bytes())?);
    }
    let name = args.event.as_deref().unwrap_or_default();
    let event = choose(name, args.body.is_some()).map_err(UsageError)?;
    let body =
        match &args.body {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                UsageError(format!("could not read --body {}: {e}", path.display()))
            })?),
            None => None,
        };
    let verifier = verifier_for(&args, event.provider)?;
    let mode = match (args.tamper, args.stale) {
        (true, _) => Mode::Tamper,
        (_, true) => Mode::Stale,
        _ => Mode::Valid,
    };
    let now = unix_micros(SystemTime::now()) / 1_000_000;
    let out = Outgoing::new(&event, body, &verifier, args.to.as_deref(), now, mode)
        .map_err(UsageError)?;
    let id = out
        .id
        .as_ref()
        .map_or_else(String::new, |id| format!("{id}, "));
    emit(
        format!(
            "hooktap: sent {} to {} ({id}{})\n",
            event.name, out.dest.url, out.how
        )
        .as_bytes(),
    )?;
    let answer = post(&out, args.timeout, args.relay_ca.as_deref()).await?;
    let took = human_duration_us(answer.took.as_micros() as i64);
    let mut text = format!(
        "{} {} in {took}\n",
        answer.status.as_u16(),
        answer.status.canonical_reason().unwrap_or("")
    );
    text.push_str(&preview(&answer.body));
    Ok(emit(text.as_bytes())?)
}

/// The event named `name`; a bare provider only with --body (its first event's headers).
fn choose(name: &str, own_body: bool) -> Result<Event, String> {
    let event = events::find(name)?;
    if !own_body && !name.contains('.') {
        let names: Vec<&str> = events::all()
            .into_iter()
            .filter(|e| e.provider == event.provider)
            .map(|e| e.name)
            .collect();
        return Err(format!(
            "name one of {}'s events: {} (or send your own with --body FILE)",
            event.provider,
            names.join(", ")
        ));
    }
    Ok(event)
}

/// `--list`: every event, what it is, and how to send one.
fn list() -> String {
    let events = events::all();
    let width = events.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for event in &events {
        let _ = writeln!(out, "{:width$}  {}", event.name, event.about);
    }
    out.push_str(
        "\nhooktap send EVENT [--to PORT|URL]; the secret from --secret, --verify PROVIDER=SECRET or hooktap.toml\n",
    );
    out
}

/// A verifier that signs as `provider`: `--secret`, else `--verify` or hooktap.toml.
fn verifier_for(args: &SendArgs, provider: &str) -> anyhow::Result<Verifier> {
    if let Some(text) = &args.secret {
        let secret = Secret::for_provider(provider, text.expose()).map_err(UsageError)?;
        return Ok(Verifier::new(
            [(provider.to_string(), secret)],
            Vec::new(),
            Some(provider.to_string()),
        ));
    }
    let all = args.secret_args().verifier()?;
    if !all.configured().any(|p| p == provider) {
        return Err(UsageError(format!(
            "no {provider} secret to sign with: pass --secret SECRET or --verify {provider}=SECRET, or add it to hooktap.toml"
        ))
        .into());
    }
    Ok(all.pinned(provider))
}

/// The first lines of an answer's body, each cut to a screen's width.
fn preview(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return format!("({}, binary)\n", human_size(body.len() as u64));
    };
    let mut out = String::new();
    let mut shown = 0;
    for line in text.lines().take(PREVIEW_LINES) {
        let cut: String = line.chars().take(PREVIEW_WIDTH).collect();
        shown += line.len() + 1;
        out.push_str(&cut);
        if cut.len() < line.len() {
            out.push('…');
        }
        out.push('\n');
    }
    if shown < text.len() {
        let rest = human_size((text.len() - shown) as u64);
        let _ = writeln!(out, "… ({rest} more)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_show_the_first_lines() {
        assert_eq!(preview(b""), "");
        assert_eq!(preview(b"{\"ok\":true}"), "{\"ok\":true}\n");
        let long: String = (0..20).map(|i| format!("line {i}\n")).collect();
        let shown = preview(long.as_bytes());
        assert!(shown.starts_with("line 0\n"));
        assert!(shown.contains("line 9\n") && !shown.contains("line 10\n"));
        assert!(shown.ends_with("more)\n"), "{shown}");
        assert_eq!(preview(&[0xff, 0xfe]), "(2 B, binary)\n");
    }

    #[test]
    fn a_bare_provider_needs_a_body() {
        let err = choose("github", false).unwrap_err();
        assert!(
            err.contains("github.push") && err.contains("--body"),
            "{err}"
        );
        assert_eq!(choose("github", true).unwrap().name, "github.push");
    }
}
