//! Redis's dataset moved from a seed on this machine into a store that cannot
//! reach this machine — one on a cluster, reached through a port-forward —
//! by the seed's own MIGRATE, a batch of keys at a time, their values and
//! expiries whole. Spoken in RESP over a socket rather than through
//! `redis-cli`, so that keys of any bytes pass and the store's password is in
//! no process's arguments.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::BackupError;

/// Keys moved per MIGRATE.
const BATCH: &str = "500";

/// How long MIGRATE may take to hand over one batch, in milliseconds.
const BATCH_TIMEOUT: &str = "60000";

/// Replaces what the store on `store` (127.0.0.1) holds with every key of the
/// seed on `seed`, database by database; the store's `password`, if any.
pub fn migrate(
    seed: u16,
    store: u16,
    password: Option<&str>,
    what: &str,
) -> Result<(), BackupError> {
    let failed = |e: String| {
        BackupError::new(
            format!("{what}: {e}"),
            "see that the store answers (`berth status`) and that its password is the one its Secret holds",
        )
    };
    let mut target = Connection::open(store).map_err(failed)?;
    if let Some(password) = password {
        target
            .call(&[b"AUTH", password.as_bytes()])
            .map_err(failed)?;
    }
    target.call(&[b"FLUSHALL"]).map_err(failed)?;
    let mut source = Connection::open(seed).map_err(failed)?;
    for db in databases(&mut source).map_err(failed)? {
        source.call(&[b"SELECT", db.as_bytes()]).map_err(failed)?;
        moved(&mut source, store, &db, password).map_err(failed)?;
    }
    Ok(())
}

/// The numbers of the databases that hold keys.
fn databases(seed: &mut Connection) -> Result<Vec<String>, String> {
    let Reply::Bulk(info) = seed.call(&[b"INFO", b"keyspace"])? else {
        return Err("the seed's INFO answered no text".to_owned());
    };
    Ok(String::from_utf8_lossy(&info)
        .lines()
        .filter_map(|line| line.strip_prefix("db")?.split_once(':'))
        .map(|(number, _)| number.to_owned())
        .collect())
}

/// Every key of the selected database, to database `db` of the store.
fn moved(
    seed: &mut Connection,
    store: u16,
    db: &str,
    password: Option<&str>,
) -> Result<(), String> {
    let port = store.to_string();
    let mut cursor = b"0".to_vec();
    loop {
        let Reply::Array(mut page) = seed.call(&[b"SCAN", &cursor, b"COUNT", BATCH.as_bytes()])?
        else {
            return Err("the seed's SCAN answered no page".to_owned());
        };
        let (Some(Reply::Array(keys)), Some(Reply::Bulk(next))) = (page.pop(), page.pop()) else {
            return Err("the seed's SCAN answered an odd page".to_owned());
        };
        let keys: Vec<Vec<u8>> = keys
            .into_iter()
            .filter_map(|key| match key {
                Reply::Bulk(key) => Some(key),
                _ => None,
            })
            .collect();
        if !keys.is_empty() {
            let mut call: Vec<&[u8]> = vec![
                b"MIGRATE",
                b"127.0.0.1",
                port.as_bytes(),
                b"",
                db.as_bytes(),
                BATCH_TIMEOUT.as_bytes(),
                b"COPY",
                b"REPLACE",
            ];
            if let Some(password) = password {
                call.extend([b"AUTH".as_slice(), password.as_bytes()]);
            }
            call.push(b"KEYS");
            call.extend(keys.iter().map(Vec::as_slice));
            seed.call(&call)?;
        }
        if next == b"0" {
            return Ok(());
        }
        cursor = next;
    }
}

/// What Redis answers.
#[derive(Debug)]
enum Reply {
    Status,
    Integer,
    Nil,
    Bulk(Vec<u8>),
    Array(Vec<Reply>),
}

struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    fn open(port: u16) -> Result<Connection, String> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("cannot connect to 127.0.0.1:{port}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .map_err(|e| e.to_string())?;
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        Ok(Connection {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends one command and reads its answer; an error answer is an error,
    /// shown by its first word and message (never the command, which may
    /// carry the password).
    fn call(&mut self, words: &[&[u8]]) -> Result<Reply, String> {
        let mut request = format!("*{}\r\n", words.len()).into_bytes();
        for word in words {
            request.extend(format!("${}\r\n", word.len()).as_bytes());
            request.extend(*word);
            request.extend(b"\r\n");
        }
        self.writer
            .write_all(&request)
            .map_err(|e| format!("the connection failed: {e}"))?;
        let answer = self.reply()?;
        answer.map_err(|error| {
            let command = String::from_utf8_lossy(words[0]);
            format!("Redis refused {command}: {error}")
        })
    }

    fn reply(&mut self) -> Result<Result<Reply, String>, String> {
        let line = self.line()?;
        let (kind, rest) = line.split_at_checked(1).ok_or("an empty answer")?;
        let number = || {
            rest.parse::<i64>()
                .map_err(|_| format!("an answer that is no RESP: {line}"))
        };
        Ok(Ok(match kind {
            "+" => Reply::Status,
            "-" => return Ok(Err(rest.to_owned())),
            ":" => {
                number()?;
                Reply::Integer
            }
            "$" => match usize::try_from(number()?) {
                Err(_) => Reply::Nil,
                Ok(length) => {
                    let mut bytes = vec![0; length + 2];
                    std::io::Read::read_exact(&mut self.reader, &mut bytes)
                        .map_err(|e| format!("the connection failed: {e}"))?;
                    bytes.truncate(length);
                    Reply::Bulk(bytes)
                }
            },
            "*" => match usize::try_from(number()?) {
                Err(_) => Reply::Nil,
                Ok(count) => {
                    let mut items = Vec::with_capacity(count.min(4096));
                    for _ in 0..count {
                        items.push(self.reply()?.unwrap_or(Reply::Nil));
                    }
                    Reply::Array(items)
                }
            },
            _ => return Err(format!("an answer that is no RESP: {line}")),
        }))
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("the connection failed: {e}"))?;
        if line.is_empty() {
            return Err("the connection was closed".to_owned());
        }
        Ok(String::from_utf8_lossy(&line).trim_end().to_owned())
    }
}
