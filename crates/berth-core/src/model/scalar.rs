//! Small value types of berth.yaml that are written as strings and checked on load:
//! ports, durations, CPU and memory quantities, percentages, port ranges, commands.

use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Implements `Deserialize` for a type parsed from a string (numbers are taken as
/// their text), and a JSON Schema of a string with the given pattern.
macro_rules! parsed_from_str {
    ($ty:ty, $name:literal, $schema:tt) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(FromStrVisitor::<$ty>::new($name))
            }
        }

        impl JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

struct FromStrVisitor<T>(&'static str, std::marker::PhantomData<T>);

impl<T> FromStrVisitor<T> {
    fn new(name: &'static str) -> Self {
        FromStrVisitor(name, std::marker::PhantomData)
    }
}

impl<T: FromStr<Err = String>> Visitor<'_> for FromStrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}

/// A TCP port, 1 to 65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Port(pub u16);

impl FromStr for Port {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.parse::<u32>() {
            Ok(n @ 1..=65535) => Ok(Port(n as u16)),
            _ => Err(format!(
                "`{s}` is not a port number\n help: a port is a whole number from 1 to 65535"
            )),
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

parsed_from_str!(Port, "a port number", {"type": "integer", "minimum": 1, "maximum": 65535});

/// A duration such as `30s`, `5m` or `1h 30m`; a bare number is seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);

/// Written as it is read, `30s`, so that plans and diffs show what the file says.
impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(seconds) = s.parse::<u64>() {
            return Ok(Duration(std::time::Duration::from_secs(seconds)));
        }
        humantime::parse_duration(s).map(Duration).map_err(|_| {
            format!("`{s}` is not a duration\n help: write durations like 500ms, 30s, 5m or 1h 30m")
        })
    }
}

impl Duration {
    pub fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    pub fn as_secs(&self) -> u64 {
        self.0.as_secs()
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_duration(self.0).fmt(f)
    }
}

parsed_from_str!(Duration, "a duration such as 30s or 5m", {
    "anyOf": [{"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?\\s*[a-zµ]+(\\s*[0-9]+\\s*[a-zµ]+)*$"}, {"type": "integer", "minimum": 0}]
});

/// CPU in Kubernetes quantity syntax: cores (`0.5`, `2`) or millicores (`250m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Cpu {
    pub millicores: u64,
}

impl FromStr for Cpu {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a CPU quantity\n help: write CPU as cores (0.5, 2) or millicores (250m)"
            )
        };
        let millicores = match s.strip_suffix('m') {
            Some(milli) => milli.parse::<u64>().map_err(|_| bad())?,
            None => {
                let cores: f64 = s.parse().map_err(|_| bad())?;
                if !cores.is_finite() || cores < 0.0 || (cores * 1000.0).fract() != 0.0 {
                    return Err(bad());
                }
                (cores * 1000.0) as u64
            }
        };
        if millicores == 0 {
            return Err(format!("`{s}` is no CPU at all\n help: give at least 1m"));
        }
        Ok(Cpu { millicores })
    }
}

impl fmt::Display for Cpu {
    /// The canonical form Kubernetes itself prints: whole cores, else millicores.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millicores.is_multiple_of(1000) {
            write!(f, "{}", self.millicores / 1000)
        } else {
            write!(f, "{}m", self.millicores)
        }
    }
}

parsed_from_str!(Cpu, "a CPU quantity such as 250m or 0.5", {
    "anyOf": [{"type": "string", "pattern": "^([0-9]+m|[0-9]*\\.?[0-9]+)$"}, {"type": "number", "exclusiveMinimum": 0}]
});

/// Memory or storage in Kubernetes quantity syntax: `512Mi`, `1Gi`, `500M`, bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Bytes {
    pub bytes: u64,
}

const BYTE_SUFFIXES: [(&str, u64); 12] = [
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("Ti", 1 << 40),
    ("Pi", 1 << 50),
    ("Ei", 1 << 60),
    ("k", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("T", 1_000_000_000_000),
    ("P", 1_000_000_000_000_000),
    ("E", 1_000_000_000_000_000_000),
];

impl FromStr for Bytes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            let hint = if s.ends_with(['B', 'b']) {
                " (Kubernetes quantities have no `B`: 512Mi, not 512MiB)"
            } else {
                ""
            };
            format!(
                "`{s}` is not a memory quantity{hint}\n help: write memory as 512Mi, 1Gi or 500M"
            )
        };
        let (number, factor) = BYTE_SUFFIXES
            .iter()
            .find_map(|(suffix, factor)| s.strip_suffix(suffix).map(|n| (n, *factor)))
            .unwrap_or((s, 1));
        let bytes = if let Ok(whole) = number.parse::<u64>() {
            whole.checked_mul(factor).ok_or_else(bad)?
        } else {
            let value: f64 = number.parse().map_err(|_| bad())?;
            if !value.is_finite() || value < 0.0 {
                return Err(bad());
            }
            (value * factor as f64).round() as u64
        };
        if bytes == 0 {
            return Err(format!(
                "`{s}` is no memory at all\n help: give a size such as 256Mi"
            ));
        }
        Ok(Bytes { bytes })
    }
}

impl fmt::Display for Bytes {
    /// The largest binary suffix that divides the size evenly, as Kubernetes prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let binary = BYTE_SUFFIXES[..6]
            .iter()
            .rev()
            .find(|(_, factor)| self.bytes.is_multiple_of(*factor));
        match binary {
            Some((suffix, factor)) => write!(f, "{}{suffix}", self.bytes / factor),
            None => write!(f, "{}", self.bytes),
        }
    }
}

parsed_from_str!(Bytes, "a memory quantity such as 512Mi", {
    "anyOf": [{"type": "string", "pattern": "^[0-9]*\\.?[0-9]+(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"}, {"type": "integer", "minimum": 1}]
});

/// A percentage, written `1%` or `0.5%` (a bare number is taken as percent too).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize)]
pub struct Percent(pub f64);

impl FromStr for Percent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let number = s.strip_suffix('%').unwrap_or(s).trim();
        match number.parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(Percent(p)),
            _ => Err(format!(
                "`{s}` is not a percentage\n help: write a percentage from 0% to 100%, such as 1% or 0.5%"
            )),
        }
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

parsed_from_str!(Percent, "a percentage such as 1%", {
    "anyOf": [{"type": "string", "pattern": "^[0-9]*\\.?[0-9]+%$"}, {"type": "number", "minimum": 0, "maximum": 100}]
});

/// A target utilisation, in percent of the request: `70%` or `70`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Utilization(pub u32);

impl FromStr for Utilization {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let number = s.strip_suffix('%').unwrap_or(s).trim();
        match number.parse::<u32>() {
            Ok(p) if p > 0 => Ok(Utilization(p)),
            _ => Err(format!(
                "`{s}` is not a utilisation target\n help: write a whole percentage of the request, such as 70%"
            )),
        }
    }
}

impl fmt::Display for Utilization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

parsed_from_str!(Utilization, "a percentage of the request such as 70%", {
    "anyOf": [{"type": "string", "pattern": "^[0-9]+%$"}, {"type": "integer", "minimum": 1}]
});

/// An inclusive range of ports, written `9000-9999`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub fn contains(&self, port: Port) -> bool {
        (self.first..=self.last).contains(&port.0)
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a port range\n help: write a range as FIRST-LAST, such as 9000-9999"
            )
        };
        let (first, last) = s.split_once('-').ok_or_else(bad)?;
        let first: Port = first.trim().parse().map_err(|_| bad())?;
        let last: Port = last.trim().parse().map_err(|_| bad())?;
        if first > last {
            return Err(format!(
                "port range `{s}` ends before it starts\n help: put the lower port first"
            ));
        }
        Ok(PortRange {
            first: first.0,
            last: last.0,
        })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

parsed_from_str!(PortRange, "a port range such as 9000-9999", {
    "type": "string", "pattern": "^[0-9]+\\s*-\\s*[0-9]+$"
});

/// A command: a string runs through `sh -c`; a list runs as it is, without a shell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

impl Command {
    /// The program and its arguments, ready to execute.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Shell(line) => vec!["sh".into(), "-c".into(), line.clone()],
            Command::Exec(argv) => argv.clone(),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Shell(line) => f.write_str(line),
            Command::Exec(argv) => f.write_str(&argv.join(" ")),
        }
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CommandVisitor;
        impl<'de> Visitor<'de> for CommandVisitor {
            type Value = Command;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command line or a list of arguments")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Command, E> {
                if v.trim().is_empty() {
                    return Err(E::custom(
                        "the command is empty\n help: give the program to run",
                    ));
                }
                Ok(Command::Shell(v.to_owned()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Command, A::Error> {
                let argv: Vec<String> =
                    Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                if argv.is_empty() {
                    return Err(de::Error::custom(
                        "the command is empty\n help: give the program to run as the first item",
                    ));
                }
                Ok(Command::Exec(argv))
            }
        }
        deserializer.deserialize_any(CommandVisitor)
    }
}

impl JsonSchema for Command {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Command".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A command line run by `sh -c`, or a list of program and arguments.",
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "items": {"type": "string"}, "minItems": 1}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quantities_parse_and_print_canonically() {
        assert_eq!("250m".parse::<Cpu>().unwrap().millicores, 250);
        assert_eq!("0.5".parse::<Cpu>().unwrap().millicores, 500);
        assert_eq!("2".parse::<Cpu>().unwrap().to_string(), "2");
        assert_eq!("1500m".parse::<Cpu>().unwrap().to_string(), "1500m");
        assert!("250mc".parse::<Cpu>().is_err());
        assert!("0.0001".parse::<Cpu>().is_err());
    }

    #[test]
    fn memory_quantities_parse_and_print_canonically() {
        assert_eq!("512Mi".parse::<Bytes>().unwrap().bytes, 512 << 20);
        assert_eq!("1G".parse::<Bytes>().unwrap().bytes, 1_000_000_000);
        assert_eq!("1024Mi".parse::<Bytes>().unwrap().to_string(), "1Gi");
        assert!("512MB".parse::<Bytes>().unwrap_err().contains("no `B`"));
    }

    #[test]
    fn durations_take_units_or_seconds() {
        assert_eq!("30s".parse::<Duration>().unwrap().as_secs(), 30);
        assert_eq!("1h 30m".parse::<Duration>().unwrap().as_secs(), 5400);
        assert_eq!("45".parse::<Duration>().unwrap().as_secs(), 45);
        assert!("soon".parse::<Duration>().is_err());
    }

    #[test]
    fn ports_and_ranges_are_bounded() {
        assert!("0".parse::<Port>().is_err());
        assert!("70000".parse::<Port>().is_err());
        let range: PortRange = "9000-9999".parse().unwrap();
        assert!(range.contains(Port(9001)) && !range.contains(Port(3001)));
        assert!("9999-9000".parse::<PortRange>().is_err());
    }
}

/// Where a container runtime publishes a port on the host: `8080` on every
/// address, `127.0.0.1:8080` on one, `0` (or `127.0.0.1:0`) on a free port the
/// runtime picks. The container listens on the service's own port either way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    pub address: Option<std::net::IpAddr>,
    /// None for a port the runtime picks.
    pub port: Option<Port>,
}

impl FromStr for Publish {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let invalid = || {
            format!(
                "`{s}` is not a published port\n help: write a host port (`8080`), an address and port (`127.0.0.1:8080`), or `0` for a free one"
            )
        };
        let (address, port) = match s.rsplit_once(':') {
            Some((address, port)) => {
                let address = address.trim_start_matches('[').trim_end_matches(']');
                (Some(address.parse().map_err(|_| invalid())?), port)
            }
            None => (None, s),
        };
        let port = match port.parse::<u16>().map_err(|_| invalid())? {
            0 => None,
            n => Some(Port(n)),
        };
        Ok(Publish { address, port })
    }
}

impl fmt::Display for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = self.port.map_or(0, |p| p.0);
        match self.address {
            Some(std::net::IpAddr::V6(address)) => write!(f, "[{address}]:{port}"),
            Some(address) => write!(f, "{address}:{port}"),
            None => port.fmt(f),
        }
    }
}

impl Serialize for Publish {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

parsed_from_str!(Publish, "a published port", {"type": ["string", "integer"], "pattern": "^(.+:)?[0-9]{1,5}$"});

/// A volume in a container: `NAME:/path` (a named volume the runtime keeps),
/// `./dir:/path` (a folder of the project, relative to berth.yaml), `/path`
/// alone (a volume of its own), any of them with `:ro`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub source: Option<MountSource>,
    pub target: String,
    pub read_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountSource {
    Volume(String),
    Path(String),
}

impl FromStr for Mount {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let invalid = |why: &str| {
            format!(
                "`{s}` is not a volume: {why}\n help: write `NAME:/path`, `./dir:/path` or `/path`, with `:ro` for read-only"
            )
        };
        let mut parts: Vec<&str> = s.split(':').collect();
        let read_only = match parts.last() {
            Some(&"ro") if parts.len() > 1 => {
                parts.pop();
                true
            }
            Some(&"rw") if parts.len() > 1 => {
                parts.pop();
                false
            }
            _ => false,
        };
        let (source, target) = match parts.as_slice() {
            [target] => (None, *target),
            [source, target] => (Some(*source), *target),
            _ => return Err(invalid("more than a source, a target and a mode")),
        };
        if !target.starts_with('/') {
            return Err(invalid("the path in the container is not absolute"));
        }
        let source = source.map(|source| {
            if source.starts_with(['.', '/', '~']) {
                MountSource::Path(source.to_owned())
            } else {
                MountSource::Volume(source.to_owned())
            }
        });
        if let Some(MountSource::Volume(name)) = &source
            && !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(invalid(
                "a volume name is letters, digits, `_`, `.` and `-`; a folder starts with `./` or `/`",
            ));
        }
        Ok(Mount {
            source,
            target: target.to_owned(),
            read_only,
        })
    }
}

impl fmt::Display for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(MountSource::Volume(source) | MountSource::Path(source)) => {
                write!(f, "{source}:{}", self.target)?
            }
            None => f.write_str(&self.target)?,
        }
        if self.read_only {
            f.write_str(":ro")?;
        }
        Ok(())
    }
}

impl Serialize for Mount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

parsed_from_str!(Mount, "a volume", {"type": "string", "pattern": "^([^:]+:)?/[^:]*(:ro|:rw)?$"});
