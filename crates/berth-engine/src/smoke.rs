//! Smoke checks: one HTTP request each, and what it must answer.

use std::time::Duration;

use berth_core::model::Smoke;

/// How long one smoke request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends the check's request to `address` (`host:port`) and compares the answer.
pub async fn check(address: &str, smoke: &Smoke) -> Result<(), String> {
    tokio::time::timeout(TIMEOUT, request(address, smoke))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer within {}",
                humantime::format_duration(TIMEOUT)
            ))
        })
}

async fn request(address: &str, smoke: &Smoke) -> Result<(), String> {
    let (status, body) = crate::http::request(address, &smoke.method, &smoke.path).await?;
    if status != smoke.status {
        return Err(format!("answered {status}, expected {}", smoke.status));
    }
    if let Some(expected) = &smoke.body
        && !body.contains(expected.as_str())
    {
        return Err(format!("the body does not contain `{expected}`"));
    }
    Ok(())
}
