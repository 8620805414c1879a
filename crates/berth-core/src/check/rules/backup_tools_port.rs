use super::rule;
use crate::check::Outcome;

rule! {
    /// A store's backups reach it by a named port (RabbitMQ's management API,
    /// not its AMQP port): without that port, `berth backup` refuses the store
    /// and its scheduled backup fails when it first runs.
    BackupToolsPort {
        id: "backup-tools-port",
        level: Error,
        description: "data stores with `backup:` declare the port their backup tools use",
        hint: "add the port to the store's `ports:` under the name the message gives, e.g. `management: 15672` for RabbitMQ",
    }
    fn check(subject) -> Outcome {
        let service = subject.service;
        let Some(store) = service.kind.data_store() else {
            return Outcome::NotApplicable;
        };
        if service.backup.is_none() {
            return Outcome::NotApplicable;
        }
        if service.ports.contains_key(store.tools_port) {
            Outcome::Pass
        } else {
            Outcome::Fail(format!(
                "no `{}` port, which its backups reach it by",
                store.tools_port
            ))
        }
    }
}
