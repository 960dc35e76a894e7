//! The output of a child process the tests start (the `mqlite` binary,
//! mosquitto's clients), read in a thread so the child never blocks on a
//! full pipe.

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::{join_within, TIMEOUT};

/// One pipe of a child, read line by line in a thread.
pub struct Collected {
    text: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

/// Reads a child's pipe into a shared string, in a thread.
pub fn collect(pipe: impl Read + Send + 'static) -> Collected {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    Collected {
        text,
        reader: Some(reader),
    }
}

impl Collected {
    /// What has been read so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Everything the child wrote: waits (at most [`TIMEOUT`]) for the pipe
    /// to reach end-of-file, which it does once the child has exited.
    pub fn join(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            join_within(reader, TIMEOUT).expect("the pipe still open 5 s after the exit");
        }
        self.text()
    }
}
