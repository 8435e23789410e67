//! End-to-end test of vrrpd's polled receive path (root only): a node whose many
//! instances are all Backup reads its VRRP socket on a schedule instead of per packet
//! (`vrrpd::runtime::rxpoll`). It must still never take over from a live Master, and
//! it must take over from a Master that stops (priority 0, `Skew_Time`) or dies
//! (`Master_Down_Interval`) in time. Deadlines derive from the VRRP timers with
//! generous slack; precision is the bench's business.

mod common;

use common::vrrpd::{logs, spawn_vrrpd, wait_for, Vrrpd};

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use vrrpd::instance::{master_down_interval, skew_time};
use vrrpd::wire::vrrp::Version;
use vrrplab::lab::topology::Topology;
use vrrplab::lab::Lab;

const INTERVAL: Duration = Duration::from_millis(100);
/// 40 Backups at 100 ms: 400 adverts a second, about 18 per poll period.
const INSTANCES: u8 = 40;
/// Allowance for process start, a loaded CI machine and netlink round trips.
const SLACK: Duration = Duration::from_secs(2);
/// How long node2 listens, polled, to a live master.
const HOLD: Duration = Duration::from_secs(3);

/// `INSTANCES` instances at 100 ms on eth1, VRIDs 1.., one VIP each.
fn config(priority: u8) -> String {
    (1..=INSTANCES)
        .map(|i| {
            format!(
                "[[instance]]\nname = \"VI_{i}\"\ninterface = \"eth1\"\nvrid = {i}\n\
                 priority = {priority}\nadvert_interval = \"100ms\"\n\
                 vips = [\"203.0.113.{i}/32\"]\n\n"
            )
        })
        .collect()
}

/// How many instances the state file shows in `state`.
fn count(d: &Vrrpd, state: &str) -> usize {
    (1..=INSTANCES)
        .filter(|i| d.instance_state(&format!("VI_{i}")).as_deref() == Some(state))
        .count()
}

/// The sum of a counter over all instances.
fn counter(d: &Vrrpd, name: &str) -> u64 {
    (1..=INSTANCES)
        .filter_map(|i| d.instance(&format!("VI_{i}")))
        .filter_map(|i| i["counters"][name].as_u64())
        .sum()
}

/// Whether `d` logs `text` within [`SLACK`].
async fn logged(d: &Vrrpd, text: &str) -> Result<bool> {
    Ok(
        wait_for(SLACK, || async { Ok(d.log_text().contains(text)) })
            .await?
            .is_some(),
    )
}

async fn all_in(d: &Vrrpd, state: &str, within: Duration) -> Result<Option<Instant>> {
    let want = usize::from(INSTANCES);
    wait_for(within, || async { Ok(count(d, state) == want) }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_backups_never_take_over_from_a_live_master_and_take_over_when_it_stops(
) -> Result<()> {
    run(Stop::Term).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_backups_take_over_from_a_killed_master() -> Result<()> {
    run(Stop::Kill).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGTERM: priority-0 adverts, takeover after `Skew_Time`.
    Term,
    /// SIGKILL: silence, takeover after `Master_Down_Interval`.
    Kill,
}

async fn run(stop: Stop) -> Result<()> {
    vrrplab::lab::privilege::require_root();
    let lab = Lab::build(Topology::with_nodes(2, false)).await?;
    let dir = tempfile::tempdir()?;
    let (h1, h2) = (lab.node("node1")?, lab.node("node2")?);
    let n1 = spawn_vrrpd(
        &lab,
        dir.path(),
        "node1",
        "node1",
        "--config",
        &config(150),
        &[],
    )?;
    let elected = all_in(
        &n1,
        "MASTER",
        master_down_interval(Version::V3, 150, INTERVAL) + SLACK * 2,
    )
    .await?;
    ensure!(
        elected.is_some(),
        "node1 never became master of all {INSTANCES}\n{}",
        logs(&[&n1])
    );
    let n2 = spawn_vrrpd(
        &lab,
        dir.path(),
        "node2",
        "node2",
        "--config",
        &config(100),
        &[],
    )?;
    let backup = all_in(&n2, "BACKUP", SLACK * 2).await?;
    ensure!(
        backup.is_some(),
        "node2 never became backup of all {INSTANCES}\n{}",
        logs(&[&n1, &n2])
    );
    // The mode is decided within a second of the last state change.
    ensure!(
        logged(&n2, "VRRP socket read every period").await?,
        "node2's VRRP socket was never polled (the path under test)\n{}",
        logs(&[&n2])
    );

    // Polled, node2 sees every advert in time: no takeover, adverts counted.
    let before = counter(&n2, "adverts_received");
    tokio::time::sleep(HOLD).await;
    let after = counter(&n2, "adverts_received");
    ensure!(
        counter(&n2, "became_master") == 0 && count(&n2, "BACKUP") == usize::from(INSTANCES),
        "node2 took over from a live master while polled\n{}",
        logs(&[&n1, &n2])
    );
    // At least half the adverts of the hold (the state file lags a second at most).
    let expected = u64::from(INSTANCES) * (HOLD - Duration::from_secs(1)).as_millis() as u64
        / INTERVAL.as_millis() as u64
        / 2;
    ensure!(
        after.saturating_sub(before) >= expected,
        "node2 counted {} adverts in {HOLD:?}, expected at least {expected}",
        after.saturating_sub(before)
    );

    let (signal, due) = match stop {
        Stop::Term => ("SIGTERM", skew_time(Version::V3, 100, INTERVAL)),
        Stop::Kill => ("SIGKILL", master_down_interval(Version::V3, 100, INTERVAL)),
    };
    let t0 = Instant::now();
    h1.signal(n1.pid, signal.parse()?)?;
    let took = all_in(&n2, "MASTER", due + SLACK).await?;
    ensure!(
        took.is_some(),
        "node2 did not take over all {INSTANCES} within {:?} of {signal}: {} MASTER\n{}",
        due + SLACK,
        count(&n2, "MASTER"),
        logs(&[&n1, &n2])
    );
    if let Some(t) = took {
        println!(
            "{signal}: node2 master of all {INSTANCES} after {:?}",
            t - t0
        );
    }
    // As Master it wakes per packet again (a better advert must make it yield at once).
    ensure!(
        logged(&n2, "wakes the loop per packet again").await?,
        "node2's socket stayed polled after it became master\n{}",
        logs(&[&n2])
    );
    let _ = h1.wait_exit(n1.pid, Instant::now() + SLACK).await?;
    h2.signal(n2.pid, "SIGTERM".parse()?)?;
    let _ = h2.wait_exit(n2.pid, Instant::now() + SLACK).await?;
    Ok(())
}
