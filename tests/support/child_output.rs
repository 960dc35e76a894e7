//! The output of a child process the tests start (the `mqlite` binary,
//! mosquitto's clients), read in a thread so the child never blocks on a
//! full pipe.

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};

/// Reads a child's pipe into a shared string, in a thread.
pub fn collect(pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    text
}
