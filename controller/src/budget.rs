//! The controller's AWS API budget: a client-side rate limit per API family (ELBv2, EC2), so a
//! controller with thousands of bindings never spends more of the account's API rate than it is
//! given, whatever restarts, leader changes or resync periods line up.
//!
//! - A token bucket per family (`rate` per second, `burst`), shared by every binding and account.
//! - Priority: a reconcile that has a change to write (its desired targets differ from what it last
//!   synced) takes tokens before resyncs and health rechecks, which only verify.
//! - First come, first served within a priority: a waiter never loses its turn to later ones, so no
//!   binding's verification starves while others keep arriving.
//! - AIMD: a throttling answer from AWS halves the family's rate (at most once per second, so one
//!   burst of throttled calls counts once); each call that goes through adds back a fiftieth of the
//!   configured rate, up to it. The controller slows down and recovers on its own instead of every
//!   reconcile exhausting its retries.
//!
//! The bucket is pure (time is passed in), so its arithmetic is unit-tested; `Budget::acquire` is
//! the async wait around it.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Elbv2,
    Ec2,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::Elbv2 => "elbv2",
            Family::Ec2 => "ec2",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Resyncs and health rechecks: nothing new to write, only verifying.
    Verify,
    /// A change to write (new or removed endpoints, a new binding, a deletion).
    Change,
}

tokio::task_local! {
    /// The priority of the reconcile running on this task (see [`Priority`]); calls made outside a
    /// reconcile go as changes.
    pub static PRIORITY: Cell<Priority>;
}

/// Sets the running reconcile's priority (no-op outside one).
pub fn set_priority(priority: Priority) {
    let _ = PRIORITY.try_with(|p| p.set(priority));
}

fn current_priority() -> Priority {
    PRIORITY.try_with(|p| p.get()).unwrap_or(Priority::Change)
}

/// A family's limit: `rate` requests per second with bursts of `burst`; rate 0 switches it off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub rate: f64,
    pub burst: f64,
}

/// One family's bucket, with its AIMD rate.
#[derive(Debug, Clone)]
pub struct Bucket {
    limit: Limit,
    /// The rate now: the configured one, or less after throttling.
    rate: f64,
    tokens: f64,
    refilled: Instant,
    last_decrease: Option<Instant>,
}

impl Bucket {
    pub fn new(limit: Limit, now: Instant) -> Self {
        Bucket {
            limit,
            rate: limit.rate,
            tokens: limit.burst.max(1.0),
            refilled: now,
            last_decrease: None,
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        // The burst shrinks with the rate, so a throttled family does not burst at full size.
        let cap = (self.limit.burst * self.rate / self.limit.rate).max(1.0);
        self.tokens = (self.tokens + elapsed * self.rate).min(cap);
        self.refilled = now;
    }

    /// Takes a token, or tells how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        if self.limit.rate <= 0.0 {
            return Ok(());
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }

    /// AWS throttled a call: halve the rate (once per second at most), down to a sixteenth.
    pub fn throttled(&mut self, now: Instant) {
        if self.limit.rate <= 0.0
            || self
                .last_decrease
                .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.refill(now);
        self.rate = (self.rate / 2.0).max(self.limit.rate / 16.0);
        self.tokens = self.tokens.min(1.0);
        self.last_decrease = Some(now);
    }

    /// A call went through: add back a fiftieth of the configured rate.
    pub fn succeeded(&mut self, now: Instant) {
        if self.limit.rate <= 0.0 {
            return;
        }
        self.refill(now);
        self.rate = (self.rate + self.limit.rate / 50.0).min(self.limit.rate);
    }
}

/// The budgets of both families, shared by every AWS client of the controller.
pub struct Budget {
    buckets: Mutex<[Bucket; 2]>,
    /// Change-priority callers waiting, per family: verifying callers let them go first.
    changes_waiting: [AtomicUsize; 2],
    /// The queue of each family and priority (`[family][priority]`): only its head waits at the
    /// bucket. tokio's Mutex hands itself over in the order it was asked for.
    turns: [[tokio::sync::Mutex<()>; 2]; 2],
    metrics: Arc<Metrics>,
}

/// One change waiting for a family, counted until it has its token (or is dropped).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Queued(count)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn index(family: Family) -> usize {
    match family {
        Family::Elbv2 => 0,
        Family::Ec2 => 1,
    }
}

impl Budget {
    pub fn new(elbv2: Limit, ec2: Limit, metrics: Arc<Metrics>) -> Arc<Self> {
        let now = Instant::now();
        let budget = Budget {
            buckets: Mutex::new([Bucket::new(elbv2, now), Bucket::new(ec2, now)]),
            changes_waiting: [AtomicUsize::new(0), AtomicUsize::new(0)],
            turns: Default::default(),
            metrics,
        };
        budget.publish_rates();
        Arc::new(budget)
    }

    fn publish_rates(&self) {
        let buckets = self.buckets.lock().unwrap();
        for family in [Family::Elbv2, Family::Ec2] {
            self.metrics.budget_rate(family.label(), buckets[index(family)].rate());
        }
    }

    /// Waits for the right to make one call of `family`, at the running reconcile's priority.
    pub async fn acquire(&self, family: Family) {
        let priority = current_priority();
        let i = index(family);
        let started = Instant::now();
        // Counted from the moment it queues, so verifying callers yield even while the changes
        // hand the head of their queue from one to the next.
        let _queued = (priority == Priority::Change).then(|| Queued::new(&self.changes_waiting[i]));
        let _turn = self.turns[i][priority as usize].lock().await;
        loop {
            // Verifying calls wait while a change is waiting for the same family.
            let yield_to_changes = priority == Priority::Verify && self.changes_waiting[i].load(Ordering::Relaxed) > 0;
            let wait = if yield_to_changes {
                Err(Duration::from_millis(5))
            } else {
                self.buckets.lock().unwrap()[i].take(Instant::now())
            };
            match wait {
                Ok(()) => break,
                Err(d) => tokio::time::sleep(d).await,
            }
        }
        self.metrics
            .budget_waited(family.label(), priority == Priority::Change, started.elapsed());
    }

    /// What AWS answered to a call of `family`: throttled or not.
    pub fn answered(&self, family: Family, throttled: bool) {
        let now = Instant::now();
        {
            let mut buckets = self.buckets.lock().unwrap();
            if throttled {
                buckets[index(family)].throttled(now);
            } else {
                buckets[index(family)].succeeded(now);
            }
        }
        self.publish_rates();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit { rate: 10.0, burst: 5.0 };

    #[test]
    fn the_bucket_gives_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(LIMIT, t0);
        for _ in 0..5 {
            assert!(b.take(t0).is_ok());
        }
        let wait = b.take(t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        assert!(b.take(t0 + Duration::from_millis(100)).is_ok());
        assert!(b.take(t0 + Duration::from_millis(100)).is_err());
        // A long quiet spell refills the burst, no more.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.take(later).is_ok()).count(), 5);
    }

    #[test]
    fn throttling_halves_the_rate_once_a_second_and_successes_bring_it_back() {
        let t0 = Instant::now();
        let mut b = Bucket::new(LIMIT, t0);
        b.throttled(t0);
        b.throttled(t0 + Duration::from_millis(10));
        assert_eq!(b.rate(), 5.0, "a burst of throttled answers counts once");
        b.throttled(t0 + Duration::from_millis(1100));
        assert_eq!(b.rate(), 2.5);
        for i in 0..100 {
            b.throttled(t0 + Duration::from_secs(2 + i));
        }
        assert_eq!(b.rate(), 10.0 / 16.0, "never below a sixteenth");
        // Each call that goes through adds 10 / 50 = 0.2 requests/s.
        for _ in 0..40 {
            b.succeeded(t0 + Duration::from_secs(200));
        }
        assert!((b.rate() - (0.625 + 8.0)).abs() < 1e-9, "{}", b.rate());
        for _ in 0..10 {
            b.succeeded(t0 + Duration::from_secs(200));
        }
        assert_eq!(b.rate(), 10.0, "back to the configured rate, not above");
    }

    #[test]
    fn a_zero_rate_is_no_limit() {
        let t0 = Instant::now();
        let mut b = Bucket::new(Limit { rate: 0.0, burst: 0.0 }, t0);
        assert!((0..10_000).all(|_| b.take(t0).is_ok()));
    }

    #[tokio::test]
    async fn changes_go_before_verifications() {
        let budget = Budget::new(Limit { rate: 100.0, burst: 1.0 }, LIMIT, Arc::new(Metrics::new()));
        budget.acquire(Family::Elbv2).await; // the burst
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [
            ("verify-1", Priority::Verify),
            ("verify-2", Priority::Verify),
            ("change", Priority::Change),
        ] {
            let (budget, order) = (budget.clone(), order.clone());
            tasks.push(tokio::spawn(PRIORITY.scope(Cell::new(priority), async move {
                budget.acquire(Family::Elbv2).await;
                order.lock().unwrap().push(name);
            })));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(order.lock().unwrap()[0], "change", "{:?}", order.lock().unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_keeps_its_turn_against_later_arrivals() {
        let budget = Budget::new(Limit { rate: 10.0, burst: 1.0 }, LIMIT, Arc::new(Metrics::new()));
        budget.acquire(Family::Elbv2).await; // the burst
        let order = Arc::new(Mutex::new(Vec::new()));
        let waiter = |name: &'static str| {
            let (budget, order) = (budget.clone(), order.clone());
            tokio::spawn(PRIORITY.scope(Cell::new(Priority::Verify), async move {
                budget.acquire(Family::Elbv2).await;
                order.lock().unwrap().push(name);
            }))
        };
        let first = waiter("first");
        // It waits for the next token, 100 ms away.
        tokio::task::yield_now().await;
        // The clock reaches the token; a newcomer runs before the first waiter's timer is seen.
        tokio::time::advance(Duration::from_millis(100)).await;
        let later = waiter("later");
        first.await.unwrap();
        later.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["first", "later"]);
    }
}
