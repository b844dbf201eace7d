//! `hooktap relay names` and `hooktap relay release NAME`: the names a relay handed out,
//! read from its data directory (SQLite allows this while the relay runs).

use super::emit;
use super::relay::data_dir;
use crate::cli::{RelayDataArgs, ReleaseArgs};
use crate::relay::queue::Queue;

fn open(args: RelayDataArgs) -> anyhow::Result<(Queue, String)> {
    let dir = data_dir(args.data_dir)?;
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
    let width = entries
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
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
