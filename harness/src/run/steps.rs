//! Playing a scenario's steps on the live lab: start daemons, inject faults, hold, wait
//! for conditions with deadlines, and note the expectations to judge later.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use super::live::Runner;
use super::{fault, interrupt};
use crate::check::{Check, CheckName, CheckResult, Outcome, StepOutcome};
use crate::history::{EventKind, StepPhase};
use crate::scenario::{ExpectNow, Step, StepKind, WaitCond};

/// What playing the steps leaves for the judge.
#[derive(Debug, Default)]
pub struct Played {
    /// The outcome of each wait step, as a check named after the step.
    pub step_checks: Vec<CheckResult>,
    /// The expect steps, as checks to run over the finished history, each named after
    /// its step.
    pub deferred: Vec<(CheckName, Check)>,
    /// A node was stopped cleanly while it held a VIP (the priority-0 check applies).
    pub stopped_holder: bool,
    /// The run was stopped by a signal: when (`before step 3 (...)`, `during ...`).
    pub interrupted: Option<String>,
}

impl Runner<'_> {
    /// Plays `steps` in order, recording each one's begin and end in the history and
    /// its outcome in `outcomes`. A step that only acts (start, fault, hold) and fails
    /// breaks the run. When `stop` turns true the steps stop there (before a step or
    /// during one) and [`Played::interrupted`] says where.
    pub(crate) async fn play(
        &mut self,
        steps: &[Step],
        outcomes: &mut Vec<StepOutcome>,
        stop: &Option<tokio::sync::watch::Receiver<bool>>,
    ) -> Result<Played> {
        let mut played = Played::default();
        for step in steps {
            if interrupt::requested(stop) {
                played.interrupted = Some(format!("before step {} ({})", step.index, step.text));
                break;
            }
            let name = CheckName::Step(step.index);
            self.history.record(EventKind::Step {
                index: step.index,
                text: step.text.clone(),
                phase: StepPhase::Begin,
            });
            let outcome = match &step.kind {
                StepKind::Expect(e) => {
                    let t_ns = self.history.clock().now_ns();
                    let check = match e {
                        ExpectNow::Holders(set) => Check::ExpectHolders {
                            t_ns,
                            nodes: set.clone(),
                        },
                        ExpectNow::ClientMacs(n) => Check::ExpectClientMacs { t_ns, n: *n },
                    };
                    played.deferred.push((name, check));
                    None
                }
                kind => tokio::select! {
                    o = self.step(kind) => Some(o),
                    _ = interrupt::wait(stop) => {
                        played.interrupted =
                            Some(format!("during step {} ({})", step.index, step.text));
                        break;
                    }
                },
            };
            let phase = match &outcome {
                None | Some(Outcome::Pass) => StepPhase::End,
                Some(_) => StepPhase::Failed,
            };
            self.history.record(EventKind::Step {
                index: step.index,
                text: step.text.clone(),
                phase,
            });
            if let Some(o) = outcome {
                // Steps that only act (start, fault, hold) are part of the setup; only
                // waits are judged, since they state a condition of the scenario.
                if matches!(step.kind, StepKind::Wait { .. }) {
                    played
                        .step_checks
                        .push(CheckResult::new(name, o.clone(), step.text.clone()));
                } else if let Outcome::Fail(why) = &o {
                    bail!("step {} ({}) failed: {why}", step.index, step.text);
                }
                outcomes.push(StepOutcome {
                    index: step.index,
                    text: step.text.clone(),
                    outcome: o,
                });
            } else {
                outcomes.push(StepOutcome::ok(step.index, step.text.clone()));
            }
        }
        played.stopped_holder = self.stopped_holder;
        Ok(played)
    }

    async fn step(&mut self, kind: &StepKind) -> Outcome {
        let r = match kind {
            StepKind::Start(nodes) => {
                let mut r = Ok(());
                for n in nodes {
                    r = fault::start(self, n).await;
                    if r.is_err() {
                        break;
                    }
                }
                r.map(|()| Outcome::Pass)
            }
            StepKind::Hold(d) => {
                // Observing for a while is the step's purpose, not a wait-and-hope.
                tokio::time::sleep(*d).await;
                Ok(Outcome::Pass)
            }
            StepKind::Wait { cond, deadline } => self.wait(cond, *deadline).await,
            StepKind::Fault {
                node,
                fault: f,
                addr,
                config,
            } => fault::apply(self, node, *f, *addr, config.as_deref())
                .await
                .map(|()| Outcome::Pass),
            StepKind::Expect(_) => Ok(Outcome::Pass),
        };
        r.unwrap_or_else(|e| Outcome::Fail(format!("{e:#}")))
    }

    async fn wait(&self, cond: &WaitCond, deadline: Duration) -> Result<Outcome> {
        let until = Instant::now() + deadline;
        loop {
            let holders = self.holders().await?;
            let holds_all = |n: &str| holders.values().all(|s| s.contains(n));
            let nobody_else = |n: &str| holders.values().all(|s| s.iter().all(|h| h == n));
            let met = match cond {
                WaitCond::Holder(n) => holds_all(n),
                WaitCond::OnlyHolder(n) => holds_all(n) && nobody_else(n),
                WaitCond::NoHolder => holders.values().all(|s| s.is_empty()),
                WaitCond::Converged => self
                    .lab
                    .nodes()
                    .iter()
                    .any(|h| holds_all(h.name()) && nobody_else(h.name())),
                WaitCond::State { node, state } => {
                    let n = self
                        .nodes
                        .get(node)
                        .ok_or_else(|| anyhow!("no node {node}"))?;
                    if !n.daemon.driver().reports_state() {
                        return Ok(Outcome::Unknown(format!(
                            "{} reports no VRRP state, so the condition cannot be observed",
                            n.daemon.name()
                        )));
                    }
                    n.daemon.state(&n.dir) == Some(*state)
                }
            };
            match met {
                true => return Ok(Outcome::Pass),
                false if Instant::now() >= until => {
                    let now: Vec<String> = holders
                        .iter()
                        .map(|(v, s)| {
                            let s: Vec<&str> = s.iter().map(String::as_str).collect();
                            format!("{v} on [{}]", s.join(", "))
                        })
                        .collect();
                    return Ok(Outcome::Fail(format!(
                        "not reached within {:.3}s (t={:.3}s); holders then: {}",
                        deadline.as_secs_f64(),
                        self.history.clock().now_ns() as f64 / 1e9,
                        now.join("; ")
                    )));
                }
                false => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}
