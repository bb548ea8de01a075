//! One log written from several threads: each handle keeps its text until a line is
//! complete, then writes whole lines under the lock, so lines never interleave.

use std::io::{self, Write};
use std::sync::Mutex;

/// A handle on a log shared by threads.
pub(super) struct SharedLog<'a, 'l> {
    log: &'a Mutex<&'l mut (dyn Write + Send)>,
    pending: Vec<u8>,
}

impl<'a, 'l> SharedLog<'a, 'l> {
    /// A handle on `log`.
    pub(super) fn new(log: &'a Mutex<&'l mut (dyn Write + Send)>) -> Self {
        SharedLog {
            log,
            pending: Vec::new(),
        }
    }

    fn write_lines(&mut self, all: bool) -> io::Result<()> {
        let end = if all {
            self.pending.len()
        } else {
            match self.pending.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => return Ok(()),
            }
        };
        if end == 0 {
            return Ok(());
        }
        let lines: Vec<u8> = self.pending.drain(..end).collect();
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.write_all(&lines)?;
        log.flush()
    }
}

impl Write for SharedLog<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.write_lines(false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_lines(true)
    }
}

impl Drop for SharedLog<'_, '_> {
    fn drop(&mut self) {
        self.write_lines(true).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_write_whole_lines() {
        let mut out: Vec<u8> = Vec::new();
        {
            let sink: &mut (dyn Write + Send) = &mut out;
            let shared = Mutex::new(sink);
            std::thread::scope(|s| {
                for t in 0..4 {
                    let shared = &shared;
                    s.spawn(move || {
                        let mut log = SharedLog::new(shared);
                        for i in 0..50 {
                            write!(log, "thread {t} ").unwrap();
                            writeln!(log, "line {i}").unwrap();
                        }
                    });
                }
            });
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 200);
        for line in text.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(words.len(), 4, "{line:?}");
            assert_eq!((words[0], words[2]), ("thread", "line"), "{line:?}");
        }
    }
}
