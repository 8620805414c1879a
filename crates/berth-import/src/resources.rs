//! `deploy.resources` (and the older `cpus`, `mem_limit`) in Kubernetes
//! quantities, as berth writes them: `0.5` CPUs is `500m`, `512M` is `512Mi`.

use serde_json::{Map, Value};

use crate::document::Field;
use crate::note::Notes;

/// berth's `resources` from `deploy.resources`: its limits and reservations;
/// devices (GPUs) and pids limits get a note.
pub fn deploy_resources(field: &Field, notes: &mut Notes) -> Map<String, Value> {
    let mut resources = Map::new();
    for (side, cpu, memory) in [
        ("reservations", "cpu", "memory"),
        ("limits", "cpu_limit", "memory_limit"),
    ] {
        let Some(field) = field.get(side) else {
            continue;
        };
        for (key, value) in field.entries() {
            let (berth, quantity) = match key.as_str() {
                "cpus" => (cpu, value.text().and_then(|c| cpu_quantity(&c))),
                "memory" => (memory, value.text().and_then(|m| byte_quantity(&m))),
                other => {
                    notes.add(
                        &value.at,
                        format!("{side} `{other}` not carried over: berth sets CPU and memory"),
                    );
                    continue;
                }
            };
            match quantity {
                Some(quantity) => {
                    resources.insert(berth.into(), quantity.into());
                }
                None => notes.add(
                    &value.at,
                    format!("{side} `{key}` not carried over: not a quantity berth reads"),
                ),
            }
        }
    }
    resources
}

/// `0.5` → `500m`, `2` → `2`.
pub fn cpu_quantity(cpus: &str) -> Option<String> {
    let cpus: f64 = cpus.trim().parse().ok()?;
    let millis = (cpus * 1000.0).round() as u64;
    (millis > 0).then(|| {
        if millis.is_multiple_of(1000) {
            (millis / 1000).to_string()
        } else {
            format!("{millis}m")
        }
    })
}

/// Docker's byte sizes are binary: `512m` → `512Mi`, `1g` → `1Gi`, `1.5g` →
/// `1536Mi`, `100k` → `100Ki`.
pub fn byte_quantity(size: &str) -> Option<String> {
    let size = size.trim().to_ascii_lowercase();
    let size = size.strip_suffix('b').unwrap_or(&size);
    let (number, unit) = match size.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((index, _)) => size.split_at(index),
        None => (size, ""),
    };
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return None,
    };
    let number: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n > 0.0)?;
    let bytes = (number * (1u64 << shift) as f64).round() as u64;
    let units = [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)];
    Some(
        units
            .iter()
            .find(|(_, s)| *s <= shift && bytes.is_multiple_of(1 << s))
            .map_or(bytes.to_string(), |(unit, s)| {
                format!("{}{unit}", bytes >> s)
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_kubernetes_quantities() {
        assert_eq!(cpu_quantity("0.50").as_deref(), Some("500m"));
        assert_eq!(cpu_quantity("2").as_deref(), Some("2"));
        assert_eq!(byte_quantity("512M").as_deref(), Some("512Mi"));
        assert_eq!(byte_quantity("1gb").as_deref(), Some("1Gi"));
        assert_eq!(byte_quantity("1.5g").as_deref(), Some("1536Mi"));
        assert_eq!(byte_quantity("2048").as_deref(), Some("2048"));
    }
}
