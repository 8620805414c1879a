//! Deployments on this machine: the running berth holds what runs, takes the
//! environment's lock for each deployment, plans from what runs to what
//! berth.yaml says now (or what an earlier deployment stored, for a rollback),
//! executes the plan, and records every step in the history.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_core::plan::Plan;
use berth_engine::analysis::{MetricProvider, RouterMetrics};
use berth_engine::deploy::{self, DeployPlan};
use berth_engine::execute::Control;
use berth_engine::history::{Entry, History, Outcome, Record, Trigger, git_head, now};
use berth_engine::prometheus::PrometheusMetrics;
use berth_engine::{Deployed, Failure, Target};
use berth_history::{FileLock, SqliteHistory, environment_lock};
use tokio::sync::watch;

use crate::runtime::LocalRuntime;

pub struct Deployer {
    pub runtime: Arc<LocalRuntime>,
    /// berth.yaml, read again for every deployment.
    file: PathBuf,
    environment: String,
    state_dir: PathBuf,
    history: SqliteHistory,
    deployed: Mutex<Deployed>,
    control: watch::Sender<Control>,
    /// The last analysis of each service, for `status`.
    analyses: Mutex<Vec<Entry>>,
    /// Whether a deployment is being carried out, for promote and abort.
    deploying: std::sync::atomic::AtomicBool,
}

/// What a deployment request asks for.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Ask {
    pub services: Vec<String>,
    pub no_wait: bool,
    /// Roll back to this deployment's stored revision.
    pub rollback_to: Option<u64>,
    pub reason: Option<String>,
}

/// How a deployment went.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct DeployResult {
    pub number: Option<u64>,
    pub outcome: Outcome,
    pub plan: DeployPlan,
}

/// What a deployment tells its client as it goes: the plan, then each step.
pub enum Told<'a> {
    Plan(&'a DeployPlan),
    Entry(Entry),
}

impl Deployer {
    pub fn new(runtime: Arc<LocalRuntime>, file: &Path, environment: &str) -> Result<Self, String> {
        let state_dir = file
            .parent()
            .map(|d| d.join(".berth"))
            .unwrap_or_else(|| PathBuf::from(".berth"));
        Ok(Deployer {
            runtime,
            file: file.to_path_buf(),
            environment: environment.to_owned(),
            history: SqliteHistory::open(&state_dir)?,
            state_dir,
            deployed: Mutex::default(),
            control: watch::channel(Control::default()).0,
            analyses: Mutex::default(),
            deploying: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Lets a paused step of the deployment under way go on.
    pub fn promote(&self) -> Result<(), String> {
        self.under_way()?;
        self.control.send_modify(|c| c.promotions += 1);
        Ok(())
    }

    /// Stops the deployment under way, which restores the previous revision.
    pub fn abort(&self) -> Result<(), String> {
        self.under_way()?;
        self.control.send_modify(|c| c.abort = true);
        Ok(())
    }

    fn under_way(&self) -> Result<(), String> {
        if self.deploying.load(std::sync::atomic::Ordering::SeqCst) {
            Ok(())
        } else {
            Err(format!(
                "no deployment of `{}` is under way; `berth history` shows the last",
                self.environment
            ))
        }
    }

    pub fn analyses(&self) -> Vec<Entry> {
        self.analyses.lock().expect("analyses lock").clone()
    }

    /// The environment's lock, waiting for it unless `no_wait`; `say` hears
    /// who holds it meanwhile.
    async fn lock(&self, no_wait: bool, say: &(dyn Fn(Entry) + Sync)) -> Result<FileLock, String> {
        let holder = format!("a deployment of berth pid {}", std::process::id());
        let path = environment_lock(&self.state_dir, &self.environment);
        let taken = FileLock::try_take(&path, &holder)
            .map_err(|e| format!("cannot lock environment `{}`: {e}", self.environment))?;
        match taken {
            Ok(lock) => Ok(lock),
            Err(other) if no_wait => Err(format!(
                "environment `{}` is being deployed by {other}; try again once it is done (without --no-wait, berth waits)",
                self.environment
            )),
            Err(other) => {
                say(entry(None, format!("waiting for {other} to finish")));
                tokio::task::spawn_blocking(move || FileLock::take(&path, &holder))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| {
                        format!(
                            "cannot lock environment `{environment_}`: {e}",
                            environment_ = self.environment
                        )
                    })
            }
        }
    }

    /// The first revision of a session: the plan brought up, recorded.
    pub async fn up(
        &self,
        target: &Target,
        plan: &Plan,
        progress: &(dyn Fn(berth_engine::Event) + Sync),
    ) -> Result<(), Failure> {
        let quiet = |_: Entry| {};
        let lock = self
            .lock(false, &quiet)
            .await
            .map_err(|e| Failure::new("berth", e))?;
        let _ = self.history.interrupt_running(&self.environment, now());
        let services: Vec<String> = plan.services().map(|s| s.service.clone()).collect();
        let source = std::fs::read_to_string(&self.file).unwrap_or_default();
        let number = self
            .begin(target, Trigger::Up, &services, source, None)
            .ok();
        let result = berth_engine::up(target, plan, self.runtime.as_ref(), progress).await;
        let outcome = if result.is_ok() {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        };
        if let Some(number) = number {
            if let Err(failure) = &result {
                let _ = self.history.append(
                    &self.environment,
                    number,
                    &entry(
                        Some(&failure.service),
                        format!("failed: {}", failure.message),
                    ),
                );
            }
            let _ = self
                .history
                .finish(&self.environment, number, outcome, now());
        }
        self.deployed
            .lock()
            .expect("deployed lock")
            .take(target, &services);
        drop(lock);
        result
    }

    /// A deployment of berth.yaml as it is now, or of a stored revision.
    pub async fn deploy(
        &self,
        ask: &Ask,
        tell: &(dyn Fn(Told) + Sync),
    ) -> Result<DeployResult, String> {
        let say = &|entry: Entry| tell(Told::Entry(entry));
        let (target, trigger, source) = self.target(ask)?;
        let gate = berth_engine::gate::check_gate(&target.ecosystem);
        if !gate.passed {
            return Err(format!(
                "{}\n  failed: {}\n  help: fix them, or waive a check with its reason under the service's `waive:`",
                gate.summary,
                gate.failures.join(", ")
            ));
        }
        let _lock = self.lock(ask.no_wait, say).await?;
        for number in self.history.interrupt_running(&self.environment, now())? {
            say(entry(
                None,
                format!("deployment {number} was interrupted: its berth ended before it did"),
            ));
        }
        self.control.send_replace(Control::default());
        let current = self.deployed.lock().expect("deployed lock").clone();
        // Named deployments select their services and bring their commands.
        let selection = berth_core::plan::select(&target.ecosystem, &ask.services)
            .map_err(|p| p.to_string())?;
        let services = if ask.services.is_empty() {
            Vec::new()
        } else {
            selection.services.clone()
        };
        let plan = deploy::plan_deploy(&current, &target, &services);
        if plan.changes.is_empty() {
            return Ok(DeployResult {
                number: None,
                outcome: Outcome::Succeeded,
                plan,
            });
        }
        tell(Told::Plan(&plan));
        let changed: Vec<String> = plan.changes.iter().map(|c| c.service.clone()).collect();
        let number = self.begin(&target, trigger, &changed, source, ask.reason.clone())?;
        let checked = entry(None, gate.summary);
        let _ = self.history.append(&self.environment, number, &checked);
        say(checked);
        let journal = |e: Entry| {
            let _ = self.history.append(&self.environment, number, &e);
            if e.evidence
                .as_ref()
                .is_some_and(|ev| ev.measurement.is_some())
            {
                let mut analyses = self.analyses.lock().expect("analyses lock");
                analyses.retain(|a| a.service != e.service);
                analyses.push(e.clone());
            }
            say(e);
        };
        let router = RouterMetrics(self.runtime.as_ref());
        let prometheus = self.prometheus(&target, &journal).await;
        let metrics: &dyn MetricProvider = match &prometheus {
            Some(prometheus) => prometheus,
            None => &router,
        };
        let context = deploy::Context {
            runtime: self.runtime.as_ref(),
            metrics,
            journal: &journal,
            control: self.control.subscribe(),
        };
        self.deploying
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let outcome = match self.commands(&selection.pre, &journal).await {
            Ok(()) => deploy::execute(&context, &current, &target, &plan).await,
            Err(e) => {
                journal(entry(
                    None,
                    format!("{e}: the deployment stops before it changes anything"),
                ));
                Outcome::Failed
            }
        };
        self.deploying
            .store(false, std::sync::atomic::Ordering::SeqCst);
        if outcome == Outcome::Succeeded
            && let Err(e) = self.commands(&selection.post, &journal).await
        {
            journal(entry(None, format!("{e}; the deployment stands")));
        }
        if outcome == Outcome::Succeeded {
            self.deployed
                .lock()
                .expect("deployed lock")
                .take(&target, &changed);
        }
        self.history
            .finish(&self.environment, number, outcome, now())?;
        Ok(DeployResult {
            number: Some(number),
            outcome,
            plan,
        })
    }

    /// Runs a deployment's `pre` or `post` commands in berth.yaml's folder, each
    /// result in the timeline; the first that fails stops the rest.
    async fn commands(
        &self,
        commands: &[berth_core::model::Command],
        journal: &(dyn Fn(Entry) + Sync),
    ) -> Result<(), String> {
        let dir = self.file.parent().unwrap_or(Path::new("."));
        for command in commands {
            crate::process::run_command(command, dir).await?;
            journal(entry(None, format!("`{command}` succeeded")));
        }
        Ok(())
    }

    /// The environment's Prometheus, when it names one that answers; otherwise
    /// the analysis counts for itself, and the timeline says which.
    async fn prometheus(
        &self,
        target: &Target,
        journal: &(dyn Fn(Entry) + Sync),
    ) -> Option<PrometheusMetrics> {
        let url = target.ecosystem.environment.prometheus.as_deref()?;
        let provider = match PrometheusMetrics::new(url, berth_core::promql::ROUTER_METRICS) {
            Ok(provider) => provider,
            Err(e) => {
                journal(entry(
                    None,
                    format!("{e}; analysing with berth's own counts"),
                ));
                return None;
            }
        };
        if provider.reachable().await {
            journal(entry(None, format!("analysis asks Prometheus at {url}")));
            Some(provider)
        } else {
            journal(entry(
                None,
                format!("Prometheus at {url} is not ready; analysing with berth's own counts"),
            ));
            None
        }
    }

    /// Restarts `service` with the settings berth.yaml has now: a service whose
    /// settings changed is deployed (and recorded), any other restarted as it is.
    pub async fn restart(&self, service: &str) -> Result<String, String> {
        let (target, _, _) = self.target(&Ask::default())?;
        let running = self
            .deployed
            .lock()
            .expect("deployed lock")
            .services
            .get(service)
            .map(|s| s.desired.unit.revision.clone());
        match (running, target.revisions.get(service)) {
            (Some(running), Some(wanted)) if running != *wanted => {
                let ask = Ask {
                    services: vec![service.to_owned()],
                    ..Ask::default()
                };
                let result = self.deploy(&ask, &|_| {}).await?;
                let number = result
                    .number
                    .map_or(String::new(), |n| format!(" as deployment {n}"));
                match result.outcome {
                    Outcome::Succeeded => Ok(format!(
                        "restarted {service} with the settings berth.yaml has now ({running} → {wanted}){number}"
                    )),
                    outcome => Err(format!(
                        "{service} with the settings berth.yaml has now: {outcome}{number}; `berth history show` says why"
                    )),
                }
            }
            _ => {
                self.runtime
                    .restart(service)
                    .await
                    .map_err(|f| f.to_string())?;
                Ok(format!("restarted {service}"))
            }
        }
    }

    /// What the deployment aims at, and what started it.
    fn target(&self, ask: &Ask) -> Result<(Target, Trigger, String), String> {
        let (name, source, trigger) = match ask.rollback_to {
            Some(number) => {
                let records = self.history.list(&self.environment)?;
                let record = records.iter().find(|r| r.number == number).ok_or_else(|| {
                    format!(
                        "environment `{}` has no deployment {number}; `berth history` lists them",
                        self.environment
                    )
                })?;
                (
                    format!("{} (as deployed in {number})", self.file.display()),
                    record.source.clone(),
                    Trigger::Rollback,
                )
            }
            None => {
                let source = std::fs::read_to_string(&self.file)
                    .map_err(|e| format!("cannot read {}: {e}", self.file.display()))?;
                (self.file.display().to_string(), source, Trigger::Deploy)
            }
        };
        let project = berth_core::load_str(&name, &source).map_err(|p| p.to_string())?;
        let ecosystem = project
            .ecosystem(Some(&self.environment))
            .map_err(|p| p.to_string())?;
        crate::process::hide_from_children(ecosystem.secret_sources());
        Ok((Target::of(Arc::new(ecosystem.clone())), trigger, source))
    }

    fn begin(
        &self,
        target: &Target,
        trigger: Trigger,
        changed: &[String],
        source: String,
        reason: Option<String>,
    ) -> Result<u64, String> {
        let previous = self
            .history
            .list(&self.environment)?
            .into_iter()
            .rev()
            .find(|r| r.outcome == Outcome::Succeeded)
            .map(|r| r.revision);
        let record = Record::begun(
            target,
            trigger,
            changed,
            source,
            reason,
            previous,
            git_head(self.file.parent().unwrap_or(Path::new("."))),
        );
        self.history.begin(&record)
    }
}

fn entry(service: Option<&str>, what: String) -> Entry {
    Entry {
        at: now(),
        service: service.map(str::to_owned),
        what,
        evidence: None,
    }
}
