//! An S3-compatible bucket, spoken to by presigned requests: rusty-s3 signs
//! each one (SigV4), hyper sends it. Just what keeping backups needs — put a
//! file (in parts beyond [`PART`]), get one, list and delete keys — with the
//! store's own error code in every failure, and never a signed URL, which
//! would carry the access key.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use berth_core::model::ObjectStore;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use rusty_s3::actions::{CreateMultipartUpload, ListObjectsV2};
use rusty_s3::{Credentials, S3Action, UrlStyle};

use super::BackupError;

/// Files up to this size go in one request; larger ones in parts of it.
const PART: usize = 32 << 20;

/// How long a signed request stays good: long enough for one part over a
/// slow link.
const SIGNED_FOR: Duration = Duration::from_secs(3600);

pub struct Bucket {
    bucket: rusty_s3::Bucket,
    credentials: Credentials,
    /// `s3://BUCKET`, for messages.
    shown: String,
    /// The endpoint as written, for messages.
    endpoint: String,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    runtime: tokio::runtime::Runtime,
}

impl Bucket {
    /// The bucket `store` names, with the credentials of the standard AWS
    /// variables.
    pub fn open(store: &ObjectStore, environment: &str) -> Result<Bucket, BackupError> {
        let credentials = Credentials::from_env().ok_or_else(|| {
            BackupError::new(
                format!(
                    "environment `{environment}` keeps its backups in {}, and no credentials for it are set",
                    store.to
                ),
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)",
            )
        })?;
        let region = store.region();
        let (endpoint, style) = match &store.endpoint {
            Some(endpoint) => (endpoint.0.clone(), UrlStyle::Path),
            None => (
                format!("https://s3.{region}.amazonaws.com"),
                UrlStyle::VirtualHost,
            ),
        };
        let bad = |why: String| {
            BackupError::new(
                format!("cannot address bucket {}: {why}", store.to),
                "write `endpoint:` as http(s)://HOST[:PORT] and `to:` as s3://BUCKET[/PREFIX]",
            )
        };
        let url = endpoint.parse().map_err(|e| bad(format!("{e}")))?;
        let bucket = rusty_s3::Bucket::new(url, style, store.to.bucket.clone(), region)
            .map_err(|e| bad(e.to_string()))?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| bad(format!("no root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Bucket {
            bucket,
            credentials,
            shown: format!("s3://{}", store.to.bucket),
            endpoint,
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector),
            runtime,
        })
    }

    /// `s3://BUCKET/KEY`.
    pub fn shown(&self, key: &str) -> String {
        format!("{}/{key}", self.shown)
    }

    /// Uploads the file at `from` as `key`.
    pub fn put(&self, key: &str, from: &Path) -> Result<(), BackupError> {
        let mut file = std::fs::File::open(from).map_err(|e| unreadable(from, e))?;
        let length = file.metadata().map_err(|e| unreadable(from, e))?.len();
        if length as usize <= PART {
            let mut bytes = Vec::with_capacity(length as usize);
            file.read_to_end(&mut bytes)
                .map_err(|e| unreadable(from, e))?;
            return self.put_bytes(key, bytes);
        }
        self.put_in_parts(key, &mut file, from)
    }

    /// Uploads `bytes` as `key`.
    pub fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), BackupError> {
        let url = self
            .bucket
            .put_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        self.send("PUT", url, bytes, key).map(drop)
    }

    fn put_in_parts(
        &self,
        key: &str,
        file: &mut std::fs::File,
        from: &Path,
    ) -> Result<(), BackupError> {
        let create = self
            .bucket
            .create_multipart_upload(Some(&self.credentials), key);
        let (_, body) = self.send("POST", create.sign(SIGNED_FOR), Vec::new(), key)?;
        let created = CreateMultipartUpload::parse_response(&String::from_utf8_lossy(&body))
            .map_err(|e| self.failed(key, format!("an answer berth cannot read ({e})")))?;
        let upload = created.upload_id();
        let uploaded = self.parts(key, upload, file, from);
        let etags = match uploaded {
            Ok(etags) => etags,
            Err(e) => {
                let abort =
                    self.bucket
                        .abort_multipart_upload(Some(&self.credentials), key, upload);
                let _ = self.send("DELETE", abort.sign(SIGNED_FOR), Vec::new(), key);
                return Err(e);
            }
        };
        let complete = self.bucket.complete_multipart_upload(
            Some(&self.credentials),
            key,
            upload,
            etags.iter().map(String::as_str),
        );
        let url = complete.sign(SIGNED_FOR);
        self.send("POST", url, complete.body().into_bytes(), key)
            .map(drop)
    }

    /// Sends the file in parts; their ETags in order.
    fn parts(
        &self,
        key: &str,
        upload: &str,
        file: &mut std::fs::File,
        from: &Path,
    ) -> Result<Vec<String>, BackupError> {
        let mut etags = Vec::new();
        loop {
            let mut part = Vec::with_capacity(PART);
            Read::by_ref(file)
                .take(PART as u64)
                .read_to_end(&mut part)
                .map_err(|e| unreadable(from, e))?;
            if part.is_empty() {
                return Ok(etags);
            }
            let number = u16::try_from(etags.len() + 1)
                .map_err(|_| self.failed(key, "more than 65,535 parts".to_owned()))?;
            let url = self
                .bucket
                .upload_part(Some(&self.credentials), key, number, upload)
                .sign(SIGNED_FOR);
            let etag = self.runtime.block_on(async {
                let response = self.request("PUT", url, part, key).await?;
                let etag = response
                    .headers()
                    .get(hyper::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                self.answered(response, key).await?;
                etag.ok_or_else(|| self.failed(key, "a part was taken without an ETag".to_owned()))
            })?;
            etags.push(etag);
        }
    }

    /// Downloads `key` into the file `to`.
    pub fn get(&self, key: &str, to: &Path) -> Result<(), BackupError> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let unwritable = |e: std::io::Error| {
            BackupError::new(
                format!("cannot write {}: {e}", to.display()),
                "check the permissions and free space of .berth/ beside berth.yaml",
            )
        };
        let mut file = std::fs::File::create(to).map_err(unwritable)?;
        self.runtime.block_on(async {
            let response = self.request("GET", url, Vec::new(), key).await?;
            if !response.status().is_success() {
                return self.answered(response, key).await.map(drop);
            }
            let mut body = response.into_body();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| self.failed(key, e.to_string()))?;
                if let Some(data) = frame.data_ref() {
                    file.write_all(data).map_err(unwritable)?;
                }
            }
            Ok(())
        })?;
        file.sync_all().map_err(unwritable)
    }

    /// The content of `key`, or None where there is no such key.
    pub fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, BackupError> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        self.runtime.block_on(async {
            let response = self.request("GET", url, Vec::new(), key).await?;
            if response.status() == hyper::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            self.answered(response, key).await.map(Some)
        })
    }

    /// Every key that starts with `prefix`.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, BackupError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut list = self.bucket.list_objects_v2(Some(&self.credentials));
            list.with_prefix(prefix);
            if let Some(token) = &token {
                list.with_continuation_token(token.clone());
            }
            let (_, body) = self.send("GET", list.sign(SIGNED_FOR), Vec::new(), prefix)?;
            let page = ListObjectsV2::parse_response(&String::from_utf8_lossy(&body))
                .map_err(|e| self.failed(prefix, format!("a listing berth cannot read ({e})")))?;
            keys.extend(page.contents.into_iter().map(|object| object.key));
            match page.next_continuation_token {
                Some(next) => token = Some(next),
                None => return Ok(keys),
            }
        }
    }

    pub fn delete(&self, key: &str) -> Result<(), BackupError> {
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        self.send("DELETE", url, Vec::new(), key).map(drop)
    }

    /// One request, answered whole; an answer other than 2xx is an error.
    fn send(
        &self,
        method: &str,
        url: url::Url,
        body: Vec<u8>,
        key: &str,
    ) -> Result<(hyper::StatusCode, Vec<u8>), BackupError> {
        self.runtime.block_on(async {
            let response = self.request(method, url, body, key).await?;
            let status = response.status();
            Ok((status, self.answered(response, key).await?))
        })
    }

    async fn request(
        &self,
        method: &str,
        url: url::Url,
        body: Vec<u8>,
        key: &str,
    ) -> Result<hyper::Response<hyper::body::Incoming>, BackupError> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(url.as_str())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| self.failed(key, e.to_string()))?;
        self.client.request(request).await.map_err(|e| {
            // The client's own error says only "client error (Connect)"; the
            // causes under it say what happened.
            let mut causes = Vec::new();
            let mut cause = std::error::Error::source(&e);
            while let Some(error) = cause {
                causes.push(error.to_string());
                cause = error.source();
            }
            let cause = if causes.is_empty() {
                e.to_string()
            } else {
                causes.join(": ")
            };
            BackupError::new(
                format!(
                    "cannot reach the object store at {} for {}: {cause}",
                    self.endpoint,
                    self.shown(key)
                ),
                "see that it runs and answers there, and that the environment's `backups: endpoint:` names it",
            )
        })
    }

    /// The body of a 2xx answer, or the store's error.
    async fn answered(
        &self,
        response: hyper::Response<hyper::body::Incoming>,
        key: &str,
    ) -> Result<Vec<u8>, BackupError> {
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.failed(key, e.to_string()))?
            .to_bytes()
            .to_vec();
        if status.is_success() {
            return Ok(body);
        }
        let text = String::from_utf8_lossy(&body);
        let code = element(&text, "Code").unwrap_or_default();
        let message = element(&text, "Message").unwrap_or_default();
        let help = match code {
            "NoSuchBucket" => format!(
                "make the bucket first (`aws s3 mb {}`); berth does not make it",
                self.shown
            ),
            "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" => {
                "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that they may use the bucket"
                    .to_owned()
            }
            _ => "see the object store's log".to_owned(),
        };
        Err(BackupError::new(
            format!(
                "the object store refused {}: {} {code} {message}",
                self.shown(key),
                status.as_u16()
            )
            .trim_end()
            .to_owned(),
            help,
        ))
    }

    fn failed(&self, key: &str, why: String) -> BackupError {
        BackupError::new(
            format!(
                "talking to the object store about {}: {why}",
                self.shown(key)
            ),
            "see the object store's log",
        )
    }
}

/// The text of the first `<name>` element of an S3 error document.
fn element<'t>(xml: &'t str, name: &str) -> Option<&'t str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

fn unreadable(path: &Path, e: std::io::Error) -> BackupError {
    BackupError::new(
        format!("cannot read {}: {e}", path.display()),
        "check the permissions of .berth/ beside berth.yaml",
    )
}

#[cfg(test)]
mod tests {
    use super::element;

    #[test]
    fn an_error_document_gives_its_code_and_message() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(element(xml, "Code"), Some("NoSuchBucket"));
        assert_eq!(
            element(xml, "Message"),
            Some("The specified bucket does not exist")
        );
        assert_eq!(element("<html>", "Code"), None);
    }
}
