//! `deploy.resources` (and the older `cpus`, `mem_limit`) in Kubernetes
//! quantities, as berth writes them: `0.5` CPUs is `500m`, `512M` is `512Mi`.

use serde_json::{Map, Value};

use crate::document::Field;

/// berth's `resources` from compose's limits and reservations.
pub fn resources(limits: Option<Field>, reservations: Option<Field>) -> Map<String, Value> {
    let mut resources = Map::new();
    for (field, cpu, memory) in [
        (reservations, "cpu", "memory"),
        (limits, "cpu_limit", "memory_limit"),
    ] {
        let Some(field) = field else { continue };
        let entries = field.entries();
        if let Some(cpus) = entries
            .get("cpus")
            .and_then(Field::text)
            .and_then(|c| cpu_quantity(&c))
        {
            resources.insert(cpu.into(), cpus.into());
        }
        if let Some(bytes) = entries
            .get("memory")
            .and_then(Field::text)
            .and_then(|m| byte_quantity(&m))
        {
            resources.insert(memory.into(), bytes.into());
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

/// Docker's byte sizes are binary: `512m` → `512Mi`, `1g` → `1Gi`, `100k` → `100Ki`.
pub fn byte_quantity(size: &str) -> Option<String> {
    let size = size.trim().to_ascii_lowercase();
    let size = size.strip_suffix('b').unwrap_or(&size);
    let (number, unit) = match size.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((index, _)) => size.split_at(index),
        None => (size, ""),
    };
    let number: u64 = number.parse().ok()?;
    let unit = match unit {
        "" => "",
        "k" => "Ki",
        "m" => "Mi",
        "g" => "Gi",
        "t" => "Ti",
        _ => return None,
    };
    Some(format!("{number}{unit}"))
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
        assert_eq!(byte_quantity("1.5g"), None);
    }
}
