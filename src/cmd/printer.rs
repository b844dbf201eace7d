//! `listen`'s output, written by a thread of its own.
//!
//! A terminal or pipe that stops reading (`hooktap listen 5000 | less`, a paused terminal)
//! blocks whoever writes to it. Written from the runtime thread, that would stall every
//! delivery; written from here, only the lines wait. Past a bounded backlog lines are
//! dropped and counted (the requests are recorded all the same), and a note on stderr says
//! so once the output moves again.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Chunks of text (each a burst of lines) waiting to be written.
const BACKLOG: usize = 1024;

/// How long shutdown waits for the backlog to be written.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Writes text to a sink (stdout) from a thread of its own.
pub struct Printer {
    tx: Option<SyncSender<String>>,
    shared: Arc<Shared>,
    done: Receiver<()>,
}

#[derive(Default)]
struct Shared {
    /// Lines dropped since the last note about them.
    dropped: AtomicU64,
    /// Why writing stopped, once it has (set before the thread ends).
    failed: Mutex<Option<io::ErrorKind>>,
}

impl Printer {
    /// Starts the thread writing to stdout.
    pub fn stdout() -> io::Result<Self> {
        Self::start(io::stdout(), io::stderr())
    }

    /// Starts the thread writing to `out`, with notes about dropped lines on `notes`.
    pub fn start<W, N>(out: W, notes: N) -> io::Result<Self>
    where
        W: Write + Send + 'static,
        N: Write + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(BACKLOG);
        let (done_tx, done) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared::default());
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("hooktap-output".into())
            .spawn(move || {
                write_all(rx, out, notes, &thread_shared);
                let _ = done_tx.send(());
            })?;
        Ok(Self {
            tx: Some(tx),
            shared,
            done,
        })
    }

    /// Queues `text` without waiting. Fails only once the output itself has failed (a
    /// closed pipe): the thread has stopped, and there is no point going on printing.
    pub fn print(&self, text: String) -> io::Result<()> {
        let Some(tx) = &self.tx else {
            return Ok(());
        };
        match tx.try_send(text) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(text)) => {
                let lines = text.lines().count().max(1) as u64;
                self.shared.dropped.fetch_add(lines, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => {
                let failed = *self.shared.failed.lock().unwrap_or_else(|e| e.into_inner());
                Err(failed.unwrap_or(io::ErrorKind::BrokenPipe).into())
            }
        }
    }

    /// Writes what is queued (waiting a bounded time for a stuck output) and stops.
    pub fn finish(mut self) {
        self.tx = None;
        let _ = self.done.recv_timeout(DRAIN_WAIT);
    }
}

fn write_all<W: Write, N: Write>(rx: Receiver<String>, mut out: W, mut notes: N, shared: &Shared) {
    for text in rx {
        if let Err(err) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            *shared.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(err.kind());
            return;
        }
        note_dropped(&mut notes, shared);
    }
    // Lines dropped after the last write are counted too.
    note_dropped(&mut notes, shared);
}

/// Says on `notes` how many lines were dropped since the last note, if any.
fn note_dropped<N: Write>(notes: &mut N, shared: &Shared) {
    let dropped = shared.dropped.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        let _ = writeln!(
            notes,
            "hooktap: the output fell behind; {dropped} lines were not printed (the requests are recorded)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the gate is open, what passed it, and a wake-up for writers.
    type GateState = (Mutex<(bool, Vec<u8>)>, std::sync::Condvar);

    /// A sink that blocks until told to go on, then keeps what is written.
    #[derive(Clone, Default)]
    struct Gate(Arc<GateState>);

    impl Gate {
        fn open(&self) {
            self.0.0.lock().unwrap().0 = true;
            self.0.1.notify_all();
        }
        fn text(&self) -> String {
            String::from_utf8(self.0.0.lock().unwrap().1.clone()).unwrap()
        }
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut state = self.0.0.lock().unwrap();
            while !state.0 {
                state = self.0.1.wait(state).unwrap();
            }
            state.1.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_output_never_blocks_the_caller_and_dropped_lines_are_counted() {
        let (out, notes) = (Gate::default(), Gate::default());
        notes.open();
        let printer = Printer::start(out.clone(), notes.clone()).unwrap();
        // Far more than the backlog, while nothing is written: every call returns.
        for i in 0..BACKLOG * 3 {
            printer.print(format!("line {i}\n")).unwrap();
        }
        out.open();
        printer.print("after\n".into()).unwrap();
        printer.finish();
        let written = out.text();
        assert!(written.starts_with("line 0\n"));
        let printed = written.lines().count();
        assert!(printed < BACKLOG * 3, "some lines were dropped: {printed}");
        let note = notes.text();
        // One note per time the output moved again after drops; each names its count.
        let dropped: usize = note
            .lines()
            .map(|line| {
                line.split_whitespace()
                    .find_map(|w| w.parse::<usize>().ok())
                    .expect("a note with the count")
            })
            .sum();
        assert_eq!(printed + dropped, BACKLOG * 3 + 1, "{note}");
    }

    #[test]
    fn a_closed_output_fails_the_next_print() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let printer = Printer::start(Closed, io::sink()).unwrap();
        printer.print("x\n".into()).unwrap();
        let failed = (0..1000).find_map(|_| {
            std::thread::sleep(Duration::from_millis(2));
            printer.print("y\n".into()).err()
        });
        assert_eq!(failed.map(|e| e.kind()), Some(io::ErrorKind::BrokenPipe));
    }
}
