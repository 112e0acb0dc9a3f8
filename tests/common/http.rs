//! One small HTTP/1.1 server for the tests' stand-ins (an edge, the Lambda Runtime API): each
//! request on each connection goes to a handler, which answers, or holds the connection without
//! answering (a server that never replies).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One request as the handler sees it; `n` counts requests from 1, across connections.
#[derive(Debug, Clone)]
pub struct Request {
    pub n: usize,
    pub method: String,
    pub path: String,
    pub body: String,
}

/// What the handler answers.
pub enum Answer {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Keeps the connection open and never answers.
    Hold,
}

impl Answer {
    pub fn ok(headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Answer {
        Answer::Respond {
            status: 200,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.into(),
        }
    }

    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Answer {
        Answer::Respond { status, headers: Vec::new(), body: body.into() }
    }
}

/// Serves on a free loopback port until the test process ends; returns the base URL.
pub fn serve<H>(handler: H) -> String
where
    H: Fn(&Request) -> Answer + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handler = Arc::new(handler);
    let count = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (handler, count) = (handler.clone(), count.clone());
            std::thread::spawn(move || connection(stream, &*handler, &count));
        }
    });
    url
}

fn connection(stream: TcpStream, handler: &(dyn Fn(&Request) -> Answer + Send + Sync), count: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        let request = Request { n, method, path, body: String::from_utf8_lossy(&body).into_owned() };
        match handler(&request) {
            Answer::Hold => {
                std::thread::sleep(Duration::from_secs(3600));
                return;
            }
            Answer::Respond { status, headers, body } => {
                let mut head = format!("HTTP/1.1 {status} Status\r\nContent-Length: {}\r\n", body.len());
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if writer
                    .write_all(head.as_bytes())
                    .and_then(|_| writer.write_all(&body))
                    .and_then(|_| writer.flush())
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}
