use super::rule;
use crate::check::Outcome;

rule! {
    /// Production data without scheduled backups is one mistake from gone.
    Backups {
        id: "backups",
        level: Error,
        description: "data stores have scheduled backups in production-like environments",
        hint: "add `backup: { schedule: \"0 2 * * *\", retention: 7 }`, or mark the store `external` where it is managed",
    }
    fn check(subject) -> Outcome {
        if !subject.service.kind.is_data() || !subject.production() {
            return Outcome::NotApplicable;
        }
        match subject.service.backup {
            Some(_) => Outcome::Pass,
            None => Outcome::Fail("no scheduled backup".into()),
        }
    }
}
