//! `hooktap export`: HAR, curl, fixture or JSON lines, to stdout or a file.

use std::io::Write;

use anyhow::Context;

use crate::cli::ExportArgs;
use crate::export::redact::Redactor;
use crate::export::{Format, write};
use crate::select::select;

/// Runs `hooktap export`.
pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    let store = super::requests::open(&args.store)?;
    let format = if args.har {
        Format::Har
    } else if args.curl {
        Format::Curl
    } else if args.jsonl {
        Format::Jsonl
    } else {
        Format::Fixture
    };
    let ids = select(&store, &args.select.selection())?;
    if ids.is_empty() {
        eprintln!("hooktap: no recorded request matches; the export is empty");
    }
    let redactor = if args.no_redact {
        Redactor::new(false, Vec::new())
    } else {
        let verifier = args.secrets.verifier()?;
        Redactor::new(true, verifier.secret_texts().map(str::to_string))
            .with_headers(verifier.generic_headers())
    };
    let written = match &args.output {
        Some(path) => {
            // Mode 0600: an export holds bodies and headers.
            let file = crate::fsperm::create_file(path)
                .with_context(|| format!("could not create {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let written = write(format, &store, &ids, &redactor, &mut out)
                .with_context(|| format!("writing {}", path.display()))?;
            out.flush()?;
            written
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            write(format, &store, &ids, &redactor, &mut out)?
        }
    };
    if written.skipped > 0 {
        eprintln!(
            "hooktap: skipped {} of {} requests: their body is not JSON (empty, text, binary, or cut at the capture limit)",
            written.skipped,
            ids.len()
        );
    }
    Ok(())
}
