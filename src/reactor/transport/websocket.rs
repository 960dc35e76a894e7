//! MQTT over WebSocket (RFC 6455) on a non-blocking stream: the HTTP
//! upgrade read and answered here (with httparse), the frames by
//! tungstenite. MQTT packets may span frames and a frame may carry
//! several packets: the core sees one byte stream either way.

use std::io::{self, IoSlice, Read, Write};

use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

/// The longest upgrade request accepted (headers included).
const MAX_REQUEST: usize = 8 * 1024;
/// Most MQTT bytes put in one outgoing frame.
const MAX_OUT_FRAME: usize = 256 * 1024;
/// The subprotocols MQTT clients ask for, in the order preferred.
const SUBPROTOCOLS: [&str; 2] = ["mqtt", "mqttv3.1"];

/// A WebSocket server connection over `S`, from the upgrade on.
pub(crate) struct WsStream<S> {
    state: State<S>,
    /// Largest frame or message accepted from the client.
    max_message: usize,
}

enum State<S> {
    /// Reading the upgrade request; then writing the answer.
    Upgrading {
        io: S,
        request: Vec<u8>,
        answer: Vec<u8>,
        written: usize,
        /// The request was refused: the answer is a 4xx, and the
        /// connection ends once it is written.
        refused: Option<String>,
    },
    Open {
        ws: Box<WebSocket<S>>,
        /// The rest of the latest binary message, not yet read out.
        pending: Vec<u8>,
        offset: usize,
    },
    /// Between states, or after a failure.
    Gone,
}

impl<S: Read + Write> WsStream<S> {
    /// Waits for the upgrade request on `io`.
    pub(crate) fn new(io: S, max_message: usize) -> WsStream<S> {
        WsStream {
            state: State::Upgrading {
                io,
                request: Vec::new(),
                answer: Vec::new(),
                written: 0,
                refused: None,
            },
            max_message,
        }
    }

    /// The stream under the WebSocket layer.
    pub(crate) fn inner_mut(&mut self) -> Option<&mut S> {
        match &mut self.state {
            State::Upgrading { io, .. } => Some(io),
            State::Open { ws, .. } => Some(ws.get_mut()),
            State::Gone => None,
        }
    }

    /// Gives up the stream, after queueing a close frame and trying to
    /// send what is pending.
    pub(crate) fn close(self) -> Option<S> {
        match self.state {
            State::Upgrading { io, .. } => Some(io),
            State::Open { mut ws, .. } => {
                let _ = ws.close(None);
                let _ = ws.flush();
                Some(ws.into_inner())
            }
            State::Gone => None,
        }
    }

    /// Reads the upgrade request; once it is whole, writes the answer and
    /// (if accepted) opens the WebSocket. `WouldBlock` while the request
    /// or the answer is not through.
    fn upgrade(&mut self) -> io::Result<()> {
        let State::Upgrading {
            io,
            request,
            answer,
            written,
            refused,
        } = &mut self.state
        else {
            return Ok(());
        };
        if answer.is_empty() {
            let mut chunk = [0u8; 2048];
            loop {
                let n = io.read(&mut chunk)?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                request.extend_from_slice(&chunk[..n]);
                // Bytes that cannot begin an HTTP request (an MQTT client
                // on the wrong port) are answered at once, not when the
                // connect timeout ends the wait for a blank line.
                let mut headers = [httparse::EMPTY_HEADER; 64];
                if httparse::Request::new(&mut headers).parse(request).is_err() {
                    *answer = http_error(400, "Bad Request");
                    *refused = Some("not an HTTP request".to_string());
                    break;
                }
                if let Some(end) = find_header_end(request) {
                    let (reply, accepted) = answer_upgrade(&request[..end]);
                    *answer = reply;
                    if let Err(reason) = accepted {
                        *refused = Some(reason);
                    }
                    request.drain(..end);
                    break;
                }
                if request.len() > MAX_REQUEST {
                    *answer = http_error(431, "Request Header Fields Too Large");
                    *refused = Some(format!("upgrade request over {MAX_REQUEST} bytes"));
                    break;
                }
            }
        }
        while *written < answer.len() {
            match io.write(&answer[*written..])? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => *written += n,
            }
        }
        let _ = io.flush();
        if let Some(reason) = refused.take() {
            self.state = State::Gone;
            return Err(io::Error::new(io::ErrorKind::InvalidData, reason));
        }
        let State::Upgrading { io, request, .. } = std::mem::replace(&mut self.state, State::Gone)
        else {
            return Ok(());
        };
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0)
            .max_message_size(Some(self.max_message))
            .max_frame_size(Some(self.max_message));
        // Bytes after the request are the client's first frames.
        let ws = WebSocket::from_partially_read(io, request, Role::Server, Some(config));
        self.state = State::Open {
            ws: Box::new(ws),
            pending: Vec::new(),
            offset: 0,
        };
        Ok(())
    }
}

impl<S: Read + Write> Read for WsStream<S> {
    /// MQTT bytes from binary frames; `Ok(0)` once the client has closed.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.upgrade()?;
        let State::Open {
            ws,
            pending,
            offset,
        } = &mut self.state
        else {
            return Ok(0);
        };
        loop {
            if *offset < pending.len() {
                let n = buf.len().min(pending.len() - *offset);
                buf[..n].copy_from_slice(&pending[*offset..*offset + n]);
                *offset += n;
                return Ok(n);
            }
            match ws.read() {
                Ok(Message::Binary(bytes)) => {
                    pending.clear();
                    pending.extend_from_slice(&bytes);
                    *offset = 0;
                }
                Ok(Message::Text(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a text frame (MQTT over WebSocket uses binary frames)",
                    ))
                }
                // Pings are answered by tungstenite; a Close is answered
                // and the next read ends the stream.
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(0)
                }
                Err(tungstenite::Error::Io(error)) => return Err(error),
                Err(error) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("websocket: {error}"),
                    ))
                }
            }
        }
    }
}

impl<S: Read + Write> Write for WsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    /// One binary frame of up to [`MAX_OUT_FRAME`] bytes, taken only once
    /// the frames before it are out, so at most one waits in memory.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.upgrade()?;
        let State::Open { ws, .. } = &mut self.state else {
            return Err(io::ErrorKind::BrokenPipe.into());
        };
        ws.flush().map_err(into_io)?;
        let mut frame = Vec::new();
        for buf in bufs {
            let room = MAX_OUT_FRAME - frame.len();
            frame.extend_from_slice(&buf[..buf.len().min(room)]);
            if frame.len() == MAX_OUT_FRAME {
                break;
            }
        }
        let n = frame.len();
        match ws.write(Message::Binary(frame.into())) {
            Ok(()) => Ok(n),
            // Taken: it waits in tungstenite's buffer for the next flush.
            Err(tungstenite::Error::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => {
                Ok(n)
            }
            Err(error) => Err(into_io(error)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.state {
            State::Upgrading { .. } => self.upgrade(),
            State::Open { ws, .. } => ws.flush().map_err(into_io),
            State::Gone => Ok(()),
        }
    }
}

fn into_io(error: tungstenite::Error) -> io::Error {
    match error {
        tungstenite::Error::Io(error) => error,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::ErrorKind::BrokenPipe.into()
        }
        other => io::Error::new(io::ErrorKind::InvalidData, format!("websocket: {other}")),
    }
}

/// Where the request's headers end (after the blank line).
fn find_header_end(request: &[u8]) -> Option<usize> {
    request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// The answer to an upgrade request: 101 with the accept key and the
/// subprotocol, or a 4xx with the reason it was refused.
fn answer_upgrade(request: &[u8]) -> (Vec<u8>, Result<(), String>) {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(request) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return refuse(400, "Bad Request", "not an HTTP request".into()),
    }
    if parsed.method != Some("GET") {
        return refuse(405, "Method Not Allowed", "not a GET request".into());
    }
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .collect::<Vec<_>>()
            .join(",")
    };
    let has_token = |name: &str, token: &str| {
        header(name)
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return refuse(400, "Bad Request", "not a WebSocket upgrade".into());
    }
    if header("sec-websocket-version").trim() != "13" {
        return refuse(
            426,
            "Upgrade Required",
            "WebSocket version is not 13".into(),
        );
    }
    let key = header("sec-websocket-key");
    if key.trim().is_empty() {
        return refuse(400, "Bad Request", "no Sec-WebSocket-Key".into());
    }
    let offered = header("sec-websocket-protocol");
    let Some(protocol) = SUBPROTOCOLS
        .into_iter()
        .find(|p| offered.split(',').any(|o| o.trim() == *p))
    else {
        return refuse(
            400,
            "Bad Request",
            format!("subprotocol {offered:?} is not mqtt or mqttv3.1"),
        );
    };
    let accept = derive_accept_key(key.trim().as_bytes());
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n"
    );
    (answer.into_bytes(), Ok(()))
}

fn refuse(status: u16, text: &str, reason: String) -> (Vec<u8>, Result<(), String>) {
    (http_error(status, text), Err(reason))
}

fn http_error(status: u16, text: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status} {text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: &str) -> String {
        format!(
            "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
    }

    #[test]
    fn upgrade_answers_with_the_accept_key_and_mqtt() {
        let (answer, ok) =
            answer_upgrade(request("Sec-WebSocket-Protocol: mqttv3.1, mqtt\r\n").as_bytes());
        assert!(ok.is_ok());
        let answer = String::from_utf8(answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 101"));
        // RFC 6455's example key and answer.
        assert!(answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(answer.contains("Sec-WebSocket-Protocol: mqtt\r\n"));
    }

    #[test]
    fn old_clients_get_mqttv3_1() {
        let (answer, ok) =
            answer_upgrade(request("Sec-WebSocket-Protocol: mqttv3.1\r\n").as_bytes());
        assert!(ok.is_ok());
        assert!(String::from_utf8(answer)
            .unwrap()
            .contains("Protocol: mqttv3.1\r\n"));
    }

    #[test]
    fn bad_requests_get_4xx() {
        for (req, status) in [
            (request(""), "400"),
            (request("Sec-WebSocket-Protocol: chat\r\n"), "400"),
            ("GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_string(), "400"),
            ("POST / HTTP/1.1\r\nHost: x\r\n\r\n".to_string(), "405"),
            ("\x16\x03\x01garbage\r\n\r\n".to_string(), "400"),
        ] {
            let (answer, ok) = answer_upgrade(req.as_bytes());
            assert!(ok.is_err(), "{req}");
            let answer = String::from_utf8(answer).unwrap();
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}")),
                "{req}: {answer}"
            );
        }
    }
}
