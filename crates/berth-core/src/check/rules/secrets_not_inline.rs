use super::rule;
use crate::check::Outcome;

/// Words that mark an environment variable as holding a secret.
const SECRET_WORDS: [&str; 8] = [
    "PASSWORD",
    "MASTER_KEY",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
];

rule! {
    /// A secret written into `env` ends up in rendered files and process listings.
    SecretsNotInline {
        id: "secrets-not-inline",
        level: Error,
        description: "no secret values inline in env (passwords, tokens, credentials in URLs)",
        hint: "move the value to `secrets:` as a reference, such as `{ env: VAR }` or `{ kubernetes: { name, key } }`",
    }
    fn check(subject) -> Outcome {
        let inline: Vec<&str> = subject
            .service
            .env
            .iter()
            .filter(|(key, value)| value.is_literal() && (looks_secret(key) || has_password(&value.to_string())))
            .map(|(key, _)| key.as_str())
            .collect();
        if inline.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail(format!("secret value inline in {}", inline.join(", ")))
        }
    }
}

/// Whether a variable's name says it holds a secret, such as `DB_PASSWORD`.
pub fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|word| key.contains(word))
}

/// A URL with a password in it, such as `amqp://guest:guest@rabbitmq:5672`.
fn has_password(value: &str) -> bool {
    value
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?']).next())
        .and_then(|authority| authority.rsplit_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}
