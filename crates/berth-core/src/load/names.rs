//! Names that become Kubernetes object names and DNS names must be DNS labels.

use crate::problem::Problem;
use crate::source::Span;

/// A problem if `name` is not a DNS-1123 label (lowercase letters, digits and `-`,
/// starting with a letter, at most 63 characters).
pub fn dns_label_problem(what: &str, name: &str, span: Span) -> Option<Problem> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        return None;
    }
    let help = if name.len() > 63 {
        "shorten it to 63 characters at most".to_owned()
    } else {
        format!(
            "it becomes a DNS and Kubernetes name: use lowercase letters, digits and `-`, starting with a letter, such as `{}`",
            to_dns_label(name).unwrap_or_else(|| "my-service".to_owned())
        )
    };
    Some(
        Problem::new(format!("{what} `{name}` is not a valid DNS label"))
            .at(span, "not a DNS label")
            .help(help),
    )
}

/// A problem if `name` is not a plain identifier: letters, digits, `_`, `-` and
/// `.`, starting with a letter or digit, at most 63 characters. Deployment names are
/// typed on command lines and kept in the history, and SrvThreds' have underscores.
pub fn identifier_problem(what: &str, name: &str, span: Span) -> Option<Problem> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    (!valid).then(|| {
        Problem::new(format!("{what} `{name}` is not a valid name"))
            .at(span, "not a name")
            .help("use up to 63 letters, digits, `_`, `-` and `.`, starting with a letter or digit")
    })
}

/// A problem if `name` cannot be an environment variable's name: letters, digits and
/// `_`, not starting with a digit, as POSIX shells take them.
pub fn env_name_problem(name: &str, span: Span) -> Option<Problem> {
    // Kubernetes' rule, which names such as Elasticsearch's `discovery.seed_hosts` pass.
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || "_.-".contains(c))
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    (!valid).then(|| {
        Problem::new(format!("`{name}` is not a valid environment variable name"))
            .at(span, "not a variable name")
            .help("use letters, digits, `_`, `.` and `-`, not starting with a digit, such as `DATABASE_URL`")
    })
}

/// Whether Kubernetes takes `key: value` as a label.
pub fn is_label(key: &str, value: &str) -> bool {
    label_problem(key, value, Span::new(0, 0)).is_none()
}

/// A problem if `key: value` is not a valid Kubernetes label: the key an optional
/// DNS-subdomain prefix and `/`, then a name; name and value at most 63 characters
/// of letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit
/// (the value may be empty).
pub fn label_problem(key: &str, value: &str, span: Span) -> Option<Problem> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_valid = prefix.is_none_or(|p| p.len() <= 253 && p.split('.').all(subdomain_part));
    if !prefix_valid || name.is_empty() || !label_text(name) {
        return Some(
            Problem::new(format!("label key `{key}` is not valid in Kubernetes"))
                .at(span, "not a label key")
                .help("a label key is an optional DNS prefix and `/`, then up to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit, as in `app.example.com/tier`"),
        );
    }
    if !value.is_empty() && !label_text(value) {
        return Some(
            Problem::new(format!("label value `{value}` of `{key}` is not valid in Kubernetes"))
                .at(span, "not a label value")
                .help("a label value is empty or up to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"),
        );
    }
    None
}

/// One dot-separated part of a DNS subdomain.
fn subdomain_part(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 63
        && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn label_text(text: &str) -> bool {
    text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A problem if a port's name is not one Kubernetes takes for a container port:
/// at most 15 lowercase letters, digits and single `-`, with at least one letter.
pub fn port_name_problem(name: &str, span: Span) -> Option<Problem> {
    let valid = !name.is_empty()
        && name.len() <= 15
        && name.chars().any(|c| c.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (!valid).then(|| {
        Problem::new(format!("port name `{name}` is not valid in Kubernetes"))
            .at(span, "not a port name")
            .help("a port name is at most 15 lowercase letters, digits and single `-`, with at least one letter, such as `http` or `metrics`")
    })
}

/// The nearest DNS label to `name`: lowercase, other characters as single `-`,
/// no leading digits, at most 63 characters; none when nothing is left.
pub fn to_dns_label(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            _ if !out.ends_with('-') => out.push('-'),
            _ => {}
        }
    }
    let out: String = out
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '-')
        .chars()
        .take(63)
        .collect();
    let out = out.trim_end_matches('-');
    (!out.is_empty()).then(|| out.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_port_names_follow_kubernetes() {
        let span = Span::default();
        assert!(label_problem("app.kubernetes.io/tier", "web_1.x", span).is_none());
        assert!(label_problem("team", "", span).is_none());
        assert!(label_problem("team", "a b", span).is_some());
        assert!(label_problem("-team", "a", span).is_some());
        assert!(label_problem("Example.com/team", "a", span).is_some());
        assert!(label_problem("team", &"x".repeat(64), span).is_some());
        assert!(port_name_problem("management", span).is_none());
        assert!(port_name_problem("port-9096", span).is_none());
        assert!(port_name_problem("prometheus-metrics", span).is_some());
        assert!(port_name_problem("8080", span).is_some());
        assert!(port_name_problem("a--b", span).is_some());
    }

    #[test]
    fn identifiers_and_variable_names() {
        let span = Span::default();
        assert!(identifier_problem("deployment name", "s_a_dbs", span).is_none());
        assert!(identifier_problem("deployment name", "../x", span).is_some());
        assert!(identifier_problem("deployment name", "a b", span).is_some());
        assert!(env_name_problem("DATABASE_URL", span).is_none());
        assert!(env_name_problem("_x1", span).is_none());
        assert!(env_name_problem("B=C", span).is_some());
        assert!(env_name_problem("A\0", span).is_some());
        assert!(env_name_problem("1A", span).is_some());
        assert!(env_name_problem("", span).is_some());
    }

    #[test]
    fn dns_labels_are_checked_and_fixes_suggested() {
        assert!(dns_label_problem("service name", "session-agent", Span::default()).is_none());
        let problem = dns_label_problem("service name", "Session_Agent", Span::default()).unwrap();
        assert!(problem.help.unwrap().contains("`session-agent`"));
        assert!(dns_label_problem("service name", "9lives", Span::default()).is_some());
        assert!(dns_label_problem("service name", &"a".repeat(64), Span::default()).is_some());
    }
}
