use super::rule;
use crate::check::Outcome;
use crate::model::Runtime;

rule! {
    /// `latest` (or no tag) deploys whatever was pushed last, and rollbacks cannot return.
    ImagePinned {
        id: "image-pinned",
        level: Error,
        description: "images have a pinned tag (no `latest`) outside the local runtime",
        hint: "give the image an explicit version tag, such as `srvthreds:1.4.2`",
    }
    fn check(subject) -> Outcome {
        let Some(image) = &subject.service.image else {
            return Outcome::NotApplicable;
        };
        if subject.ecosystem.environment.runtime == Runtime::Local {
            return Outcome::NotApplicable;
        }
        if image.contains("@sha256:") {
            return Outcome::Pass;
        }
        let name = image.rsplit('/').next().unwrap_or(image);
        match name.split_once(':') {
            None => Outcome::Fail(format!("image `{image}` has no tag")),
            Some((_, "latest")) => Outcome::Fail(format!("image `{image}` uses `latest`")),
            Some(_) => Outcome::Pass,
        }
    }
}
