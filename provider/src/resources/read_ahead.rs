//! Refresh read-ahead. Before a plan Terraform refreshes every object in its state, one
//! `ReadResource` at a time per object; read one by one that costs a DescribeTargetGroups (or
//! DescribeListeners, DescribeRules) and a DescribeTags per object. ELBv2 lists a listener's rules
//! and a load balancer's listeners in one call, and the account's target groups 400 per call, and
//! DescribeTags takes 20 ARNs. So a refresh reads the whole listing its object belongs to once,
//! and the objects' tags 20 at a time, and the refreshes that follow are answered from there.
//!
//! What a refresh may be answered from: a listing or tags this provider process read at most
//! [`MAX_AGE`] ago and since its last write (every create, update or delete starts a new epoch).
//! Reads that follow a write, imports and data sources always ask AWS. A listing answers only for
//! the objects it holds: an object missing from it is read on its own, so "gone" is never
//! concluded from a listing.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// How old a listing or a tag set may be when it answers a refresh.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// Pages one listing reads at most (400 objects each); a bigger account's listing is partial and
/// the objects beyond it are read on their own.
pub const MAX_PAGES: usize = 3;
/// ARNs one DescribeTags call takes.
pub const TAGS_PER_CALL: usize = 20;

/// A listing of up to [`MAX_PAGES`] pages: `page(marker)` answers one page's objects by ARN and
/// the next page's marker; `None` when a page failed.
pub async fn list_pages<V, F, Fut>(mut page: F) -> Option<Vec<(String, V)>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Option<(Vec<(String, V)>, Option<String>)>>,
{
    let (mut found, mut marker) = (Vec::new(), None);
    for _ in 0..MAX_PAGES {
        let (objects, next) = page(marker).await?;
        found.extend(objects);
        marker = next;
        if marker.is_none() {
            break;
        }
    }
    Some(found)
}

/// Counts this process's writes: what was read in an earlier epoch answers no refresh.
#[derive(Default)]
pub struct Epoch(AtomicU64);

impl Epoch {
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    pub fn advance(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// When something was read, and whether it may still answer a refresh.
#[derive(Clone, Copy)]
struct Taken {
    at: Instant,
    epoch: u64,
}

impl Taken {
    fn new(epoch: u64) -> Self {
        Taken { at: Instant::now(), epoch }
    }
    fn fresh(&self, epoch: u64) -> bool {
        self.epoch == epoch && self.at.elapsed() <= MAX_AGE
    }
}

struct Listed<V> {
    taken: Taken,
    objects: HashMap<String, V>,
}

/// Listings by scope (a listener for its rules, a load balancer for its listeners, the account for
/// its target groups). Concurrent refreshes in one scope share one listing call.
pub struct Listings<V> {
    scopes: Mutex<HashMap<String, Arc<OnceCell<Listed<V>>>>>,
}

impl<V> Default for Listings<V> {
    fn default() -> Self {
        Listings {
            scopes: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> Listings<V> {
    /// `arn` from a fresh listing of `scope`, listing it with `list` (objects by ARN) when there is
    /// none; `None` when the listing does not hold it (or failed: `list` answers `None`), and the
    /// caller reads the object on its own.
    pub async fn get<F, Fut>(&self, epoch: u64, scope: &str, arn: &str, list: F) -> Option<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Option<Vec<(String, V)>>>,
    {
        let cell = {
            let mut scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
            let cell = scopes.entry(scope.to_string()).or_default();
            if cell.get().is_some_and(|l| !l.taken.fresh(epoch)) {
                *cell = Arc::default();
            }
            cell.clone()
        };
        let listed = cell
            .get_or_init(|| async move {
                // Taken when the call starts: nothing it answers is older than that.
                let taken = Taken::new(epoch);
                Listed {
                    taken,
                    objects: list().await.unwrap_or_default().into_iter().collect(),
                }
            })
            .await;
        listed.objects.get(arn).cloned()
    }
}

type Tags = BTreeMap<String, String>;

/// Tags read so far, and the ARNs listings found whose tags have not been read: a DescribeTags call
/// for one object takes up to 19 of them along, for the refreshes that follow.
#[derive(Default)]
pub struct TagAhead {
    known: Mutex<HashMap<String, (Taken, Tags)>>,
    unread: Mutex<VecDeque<String>>,
}

impl TagAhead {
    /// Tags of `arn` read in this epoch and recently enough to answer a refresh.
    pub fn fresh(&self, epoch: u64, arn: &str) -> Option<Tags> {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.get(arn).filter(|(taken, _)| taken.fresh(epoch)).map(|(_, tags)| tags.clone())
    }

    /// ARNs a listing found: their tags are read along with the next calls.
    pub fn offer(&self, arns: impl IntoIterator<Item = String>) {
        self.unread.lock().unwrap_or_else(|p| p.into_inner()).extend(arns);
    }

    /// `batch` topped up to [`TAGS_PER_CALL`] ARNs with offered ones whose tags are not fresh.
    pub fn fill(&self, epoch: u64, batch: &mut Vec<String>) {
        let mut seen: HashSet<String> = batch.iter().cloned().collect();
        let mut unread = self.unread.lock().unwrap_or_else(|p| p.into_inner());
        while batch.len() < TAGS_PER_CALL {
            let Some(arn) = unread.pop_front() else { break };
            if self.fresh(epoch, &arn).is_none() && seen.insert(arn.clone()) {
                batch.push(arn);
            }
        }
    }

    /// Keeps what a DescribeTags call answered, read in `epoch`.
    pub fn store(&self, epoch: u64, tags: &HashMap<String, Tags>) {
        let taken = Taken::new(epoch);
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        for (arn, t) in tags {
            known.insert(arn.clone(), (taken, t.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    async fn listing(calls: &AtomicUsize) -> Option<Vec<(String, u32)>> {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        Some((0..10).map(|i| (format!("r{i}"), i)).collect())
    }

    #[tokio::test]
    async fn concurrent_reads_of_one_scope_share_one_listing() {
        let (listings, calls) = (Listings::<u32>::default(), AtomicUsize::new(0));
        let reads = (0..10).map(|i| {
            let arn = format!("r{i}");
            let (listings, calls) = (&listings, &calls);
            async move { listings.get(0, "listener-1", &arn, || listing(calls)).await }
        });
        let found = futures::future::join_all(reads).await;
        assert_eq!(found, (0..10).map(Some).collect::<Vec<_>>());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another scope lists on its own; an object missing from a listing is not answered.
        assert_eq!(listings.get(0, "listener-2", "gone", || listing(&calls)).await, None);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_write_makes_the_next_refresh_list_again() {
        let (listings, calls) = (Listings::<u32>::default(), AtomicUsize::new(0));
        let epoch = Epoch::default();
        listings.get(epoch.now(), "lb", "r1", || listing(&calls)).await;
        listings.get(epoch.now(), "lb", "r2", || listing(&calls)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        epoch.advance();
        listings.get(epoch.now(), "lb", "r1", || listing(&calls)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_listing_follows_markers_up_to_its_page_limit() {
        // Pages of one object each; page i points at page i + 1 until the fifth.
        let page = |marker: Option<String>| async move {
            let i: usize = marker.map_or(0, |m| m.parse().unwrap());
            let next = (i < 4).then(|| (i + 1).to_string());
            Some((vec![(format!("a{i}"), i)], next))
        };
        let found = list_pages(page).await.unwrap();
        assert_eq!(found.len(), MAX_PAGES, "a partial listing stops at the page limit");
        let short = list_pages(|_| async { Some((vec![("a".to_string(), 1)], None)) }).await;
        assert_eq!(short, Some(vec![("a".to_string(), 1)]));
        let failed = list_pages(|_| async { None::<(Vec<(String, u32)>, Option<String>)> }).await;
        assert_eq!(failed, None);
    }

    #[test]
    fn tag_calls_take_offered_arns_along_but_not_ones_already_fresh() {
        let tags = TagAhead::default();
        tags.offer((0..30).map(|i| format!("a{i}")));
        tags.store(0, &HashMap::from([("a1".to_string(), BTreeMap::new())]));
        let mut batch = vec!["a0".to_string(), "x".to_string()];
        tags.fill(0, &mut batch);
        assert_eq!(batch.len(), TAGS_PER_CALL);
        assert!(!batch.contains(&"a1".to_string()), "a1's tags are fresh");
        assert_eq!(batch.iter().filter(|a| *a == "a0").count(), 1, "no ARN twice");
        // In a later epoch nothing read before is fresh.
        assert!(tags.fresh(0, "a1").is_some());
        assert!(tags.fresh(1, "a1").is_none());
    }
}
