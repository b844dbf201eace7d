//! The `hooktap` binary: parse the command line, run it, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use hooktap::cli::{Cli, Command};
use hooktap::cmd::{self, UsageError};

// Many small allocations per request (headers, records); mimalloc makes them cheaper.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option numbers (`mi_option_e` in the bundled v3 `mimalloc.h`; the test below
/// checks them against the built library's defaults).
const MI_OPTION_ARENA_EAGER_COMMIT: i32 = 4;
const MI_OPTION_PURGE_DELAY: i32 = 15;

/// Makes the allocator give freed memory back to the system after 20 ms instead of a
/// second (and commit arenas made later on demand): 1 MiB webhooks at full speed
/// otherwise left the agent at 73-77 MiB resident (`cargo bench --bench capture`). At once
/// (0 ms) would keep it lower still, but cost the tunnel a quarter of its throughput in
/// `madvise` calls and page faults (agent CPU per request 33 -> 48 µs).
fn tune_allocator() {
    // SAFETY: plain setters of two of mimalloc's global options, called at the start of
    // `main` before any other thread exists (the functions are not thread safe).
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 20);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    // The relay logs its agents and queue at `info`; the other commands only warn.
    let default_log = match cli.command {
        Command::Relay(_) => "info",
        _ => "warn",
    };
    match &cli.command {
        // The inspector owns the screen: its log goes to a file (named in its help).
        Command::Ui(_) => ui_log(default_log),
        Command::Listen(args) if cmd::listen_wants_tui(args) => ui_log(default_log),
        // The demo's inspector logs into the demo's own temporary directory.
        Command::Demo(args) if args.wants_tui() => {}
        _ => hooktap::logging::init(default_log),
    }
    // One thread: the app and the senders share this machine's cores, and a
    // current-thread runtime costs less CPU per request (DESIGN §8).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("hooktap: could not start: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hooktap: {err:#}");
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Logs to a file: the inspector owns the screen, and stderr would scribble over it.
fn ui_log(default_log: &str) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(hooktap::logging::ui_log_path());
    // Without the file there is no log rather than lines over the screen.
    if let Ok(file) = log {
        hooktap::logging::init_file(default_log, file);
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allocator_option_numbers_name_the_options_we_mean() {
        // The bundled v3 defaults (options.c): arena_eager_commit 2, purge_delay 1000 ms. A mimalloc
        // upgrade that renumbers its options fails here instead of tuning the wrong ones.
        // SAFETY: reads of global options; this test's process sets none of them.
        #[allow(unsafe_code)]
        let (eager, delay) = unsafe {
            (
                libmimalloc_sys::mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT),
                libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY),
            )
        };
        assert_eq!((eager, delay), (2, 1000));
    }
}
