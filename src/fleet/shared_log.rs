//! One log written from several threads: each handle keeps its text until what it holds
//! ends with a newline, then writes it under the lock, so lines, and the blocks of lines a
//! `writeln!` writes in several calls, never interleave.

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
        if self.pending.is_empty() || (!all && self.pending.last() != Some(&b'\n')) {
            return Ok(());
        }
        let lines = std::mem::take(&mut self.pending);
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
                            // One writeln! of a block: its text, then "\n", in two writes.
                            let block = format!("head {t} {i}\n    body {t} {i}");
                            writeln!(log, "{block}").unwrap();
                        }
                    });
                }
            });
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 600);
        let mut i = 0;
        while i < lines.len() {
            let words: Vec<&str> = lines[i].split(' ').collect();
            match words[0] {
                "thread" => {
                    assert_eq!((words.len(), words[2]), (4, "line"), "{:?}", lines[i]);
                    i += 1;
                }
                "head" => {
                    let body = format!("    body {} {}", words[1], words[2]);
                    assert_eq!(lines.get(i + 1), Some(&body.as_str()), "a block was split");
                    i += 2;
                }
                _ => panic!("interleaved: {:?}", lines[i]),
            }
        }
    }
}
