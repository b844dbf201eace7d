//! `replay --edit`: the request in `$VISUAL` / `$EDITOR` as an HTTP/1.1 message, and
//! what was saved parsed back into a request to send.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::exchange::{Exchange, RecordedRequest};
use crate::web::message::{fix_content_length, format_request, parse_request};

/// A temporary file removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    /// Creates a new file only this user can read (it may hold credentials).
    fn create(name: &str, contents: &[u8]) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .with_context(|| format!("could not create {}", path.display()))?;
        let guard = Self(path);
        file.write_all(contents)
            .with_context(|| format!("could not write {}", guard.0.display()))?;
        Ok(guard)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The editor command: `$VISUAL`, else `$EDITOR`.
fn editor() -> anyhow::Result<String> {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!("--edit needs an editor: set $VISUAL or $EDITOR (e.g. EDITOR=nano)")
        })
}

async fn run_editor(editor: &str, path: &Path) -> anyhow::Result<()> {
    // Through the shell, so `EDITOR="code --wait"` works as it does for git. The editor
    // owns the terminal until it exits; nothing else runs meanwhile.
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path);
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .context("the editor task failed")?
        .with_context(|| format!("could not start the editor '{editor}'"))?;
    if !status.success() {
        anyhow::bail!("the editor '{editor}' exited with {status}; nothing was sent");
    }
    Ok(())
}

/// Parses what was saved: `None` when the file is unchanged or empty (the user
/// cancelled). Content-Length is fixed up; a final newline the editor added to a body
/// that had none is taken off again.
pub fn parse_edited(
    original: &RecordedRequest,
    before: &[u8],
    after: &[u8],
) -> anyhow::Result<Option<RecordedRequest>> {
    if after == before || after.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut edited = parse_request(after).context("the edited request is not valid")?;
    let body = &mut edited.body;
    if !original.body.bytes.ends_with(b"\n") && body.bytes.ends_with(b"\n") {
        body.bytes.pop();
        if body.bytes.ends_with(b"\r") {
            body.bytes.pop();
        }
        body.size = body.bytes.len() as u64;
    }
    fix_content_length(&mut edited);
    Ok(Some(edited))
}

/// Opens `original`'s request in the user's editor and returns what they saved, or
/// `None` if they left it unchanged or emptied it.
pub async fn edit_request(original: &Exchange) -> anyhow::Result<Option<RecordedRequest>> {
    if let Some(reason) = crate::replay::check(original) {
        anyhow::bail!("cannot edit {}: {reason}", original.id);
    }
    if std::str::from_utf8(&original.request.body.bytes).is_err() {
        anyhow::bail!(
            "the body of {} is binary, which an editor would damage: export it with `hooktap export --fixture`, change it there, and send it with `replay --from-file`",
            original.id
        );
    }
    let editor = editor()?;
    let before = format_request(&original.request, false);
    let file = TempFile::create(
        &format!("hooktap-{}-{}.http", original.id, std::process::id()),
        &before,
    )?;
    run_editor(&editor, &file.0).await?;
    let after = std::fs::read(&file.0)
        .with_context(|| format!("could not read back {}", file.0.display()))?;
    parse_edited(&original.request, &before, &after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Body;

    fn original() -> RecordedRequest {
        RecordedRequest {
            method: "POST".into(),
            uri: "/hook".into(),
            version: "HTTP/1.1".into(),
            headers: vec![("content-length".into(), b"9".to_vec())],
            body: Body::full(b"{\"n\":100}".to_vec()),
        }
    }

    #[test]
    fn unchanged_or_empty_cancels_and_edits_get_the_right_length() {
        let req = original();
        let before = format_request(&req, false);
        assert_eq!(parse_edited(&req, &before, &before).unwrap(), None);
        assert_eq!(parse_edited(&req, &before, b"\n  \n").unwrap(), None);
        let after = b"POST /hook HTTP/1.1\ncontent-length: 9\n\n{\"n\":25000}\n";
        let edited = parse_edited(&req, &before, after).unwrap().unwrap();
        assert_eq!(
            edited.body.bytes, b"{\"n\":25000}",
            "the editor's newline is dropped"
        );
        assert_eq!(edited.header("content-length"), Some("11"));
        assert!(parse_edited(&req, &before, b"garbage\n").is_err());
    }
}
