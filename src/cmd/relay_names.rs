//! `hooktap relay names`, `hooktap relay release NAME` and `hooktap relay queue`: the
//! names a relay handed out and its queue, read from its data directory (SQLite allows
//! this while the relay runs).

use super::emit;
use crate::cli::{RelayDataArgs, ReleaseArgs};
use crate::relay::queue::Queue;

fn open(args: RelayDataArgs) -> anyhow::Result<(Queue, String)> {
    let dir = args.dir()?;
    let shown = dir.display().to_string();
    if !dir.join("relay.db").is_file() {
        anyhow::bail!("there is no relay data in {shown}: pass the relay's --data-dir");
    }
    Ok((Queue::open(Some(&dir))?, shown))
}

/// Lists every name with its owner and queued requests.
pub async fn names(args: RelayDataArgs) -> anyhow::Result<()> {
    let (queue, dir) = open(args)?;
    let entries = queue.names().await?;
    if entries.is_empty() {
        emit(format!("hooktap: the relay in {dir} has handed out no names yet\n").as_bytes())?;
        return Ok(());
    }
    let width = name_width(entries.iter().map(|e| e.name.as_str()));
    let mut out = format!("{:width$}  {:18}  QUEUED\n", "NAME", "OWNER");
    for entry in &entries {
        out.push_str(&format!(
            "{:width$}  {:18}  {}\n",
            entry.name,
            entry.owner_label(),
            entry.queued
        ));
    }
    emit(out.as_bytes())?;
    Ok(())
}

/// Frees one name.
pub async fn release(args: ReleaseArgs) -> anyhow::Result<()> {
    let name = args.name;
    let (queue, dir) = open(args.data)?;
    let Some(entry) = queue.release(&name).await? else {
        anyhow::bail!(
            "the relay in {dir} never handed out '{name}': `hooktap relay names --data-dir {dir}` lists the names"
        );
    };
    let dropped = match entry.queued {
        0 => String::new(),
        1 => "; dropped its 1 queued request".into(),
        n => format!("; dropped its {n} queued requests"),
    };
    emit(
        format!(
            "hooktap: released '{name}' (it belonged to {}){dropped}; the next token to ask for it gets it\n",
            entry.owner_label()
        )
        .as_bytes(),
    )?;
    Ok(())
}

/// Lists the queued requests, oldest first, dead letters marked.
pub async fn queue(args: RelayDataArgs) -> anyhow::Result<()> {
    let (queue, dir) = open(args)?;
    let entries = queue.entries().await?;
    if entries.is_empty() {
        emit(format!("hooktap: the relay in {dir} holds no queued requests\n").as_bytes())?;
        return Ok(());
    }
    let width = name_width(entries.iter().map(|e| e.name.as_str()));
    let mut out = format!(
        "{:>6}  {:width$}  {:6}  {:>8}  {:>9}  {:20}  REQUEST\n",
        "ID", "NAME", "STATE", "ATTEMPTS", "BYTES", "ARRIVED"
    );
    for entry in &entries {
        let arrived = std::time::UNIX_EPOCH
            + std::time::Duration::from_micros(entry.arrived_us.max(0) as u64);
        out.push_str(&format!(
            "{:>6}  {:width$}  {:6}  {:>8}  {:>9}  {:20}  {} {}\n",
            entry.id,
            entry.name,
            if entry.dead { "DEAD" } else { "queued" },
            entry.attempts,
            entry.body_len,
            humantime::format_rfc3339_seconds(arrived).to_string(),
            entry.method,
            entry.uri,
        ));
        if let Some(error) = entry.last_error.as_deref().filter(|_| entry.dead) {
            out.push_str(&format!("{:>6}  last error: {error}\n", ""));
        }
    }
    emit(out.as_bytes())?;
    Ok(())
}

/// The width of a NAME column holding `names` (at least the header's).
fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(0).max("NAME".len())
}
