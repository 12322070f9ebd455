//! Coalesced reads. Terraform refreshes resources in parallel through one provider process, and
//! several ELBv2 reads take many ARNs in one call (DescribeTargetGroups, DescribeListeners,
//! DescribeRules, DescribeTags). A [`Coalescer`] queues the ARNs that concurrent reads ask for and
//! sends them in batches: while one call is in flight, the reads that arrive wait and go together
//! in the next. Nothing is cached: every answer comes from a call sent after its read was asked
//! for, so a read never sees an object older than its own request.
//!
//! One unknown ARN fails a whole batch in ELBv2 (`TargetGroupNotFound`...), so a failed batch is
//! asked again one ARN at a time, and each read gets its own answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Why a batch read failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// The object (or one of the batch) does not exist.
    pub not_found: bool,
    /// The AWS error, as the diagnostic shows it.
    pub message: String,
}

type Answer<V> = Result<Option<V>, ReadError>;

struct Queue<V> {
    waiting: Vec<(String, oneshot::Sender<Answer<V>>)>,
    draining: bool,
}

pub struct Coalescer<V> {
    /// The most ARNs one call takes.
    max_batch: usize,
    queue: Mutex<Queue<V>>,
}

impl<V: Clone + Send + 'static> Coalescer<V> {
    pub fn new(max_batch: usize) -> Arc<Self> {
        Arc::new(Coalescer {
            max_batch: max_batch.max(1),
            queue: Mutex::new(Queue {
                waiting: Vec::new(),
                draining: false,
            }),
        })
    }

    /// The object `arn` names, read in a batch with the ARNs other reads ask for meanwhile; `None`
    /// when it does not exist. `fetch` reads a batch (the same for every caller of one coalescer):
    /// it answers the objects it found by ARN.
    pub async fn get<F, Fut>(self: &Arc<Self>, arn: &str, fetch: F) -> Answer<V>
    where
        F: Fn(Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HashMap<String, V>, ReadError>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let lead = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.waiting.push((arn.to_string(), tx));
            !std::mem::replace(&mut q.draining, true)
        };
        if lead {
            tokio::spawn(self.clone().drain(fetch));
        }
        rx.await.unwrap_or_else(|_| {
            Err(ReadError {
                not_found: false,
                message: "the batched read was abandoned".into(),
            })
        })
    }

    /// Sends batches until nobody waits.
    async fn drain<F, Fut>(self: Arc<Self>, fetch: F)
    where
        F: Fn(Vec<String>) -> Fut,
        Fut: Future<Output = Result<HashMap<String, V>, ReadError>>,
    {
        // Reads that Terraform sent together are still being decoded: let them queue first.
        tokio::task::yield_now().await;
        loop {
            let batch: Vec<(String, oneshot::Sender<Answer<V>>)> = {
                let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                if q.waiting.is_empty() {
                    q.draining = false;
                    return;
                }
                let n = q.waiting.len().min(self.max_batch);
                q.waiting.drain(..n).collect()
            };
            let mut arns: Vec<String> = batch.iter().map(|(arn, _)| arn.clone()).collect();
            arns.sort();
            arns.dedup();
            match fetch(arns.clone()).await {
                Ok(found) => {
                    for (arn, tx) in batch {
                        let _ = tx.send(Ok(found.get(&arn).cloned()));
                    }
                }
                Err(e) if arns.len() > 1 => {
                    // One missing object fails the batch: ask for each on its own.
                    let mut alone: HashMap<String, Answer<V>> = HashMap::new();
                    for arn in arns {
                        let answer = match fetch(vec![arn.clone()]).await {
                            Ok(found) => Ok(found.get(&arn).cloned()),
                            Err(e) if e.not_found => Ok(None),
                            Err(e) => Err(e),
                        };
                        alone.insert(arn, answer);
                    }
                    for (arn, tx) in batch {
                        let _ = tx.send(alone.get(&arn).cloned().unwrap_or_else(|| Err(e.clone())));
                    }
                }
                Err(e) => {
                    let answer = if e.not_found { Ok(None) } else { Err(e) };
                    for (_, tx) in batch {
                        let _ = tx.send(answer.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake batch read over the objects `a0`..`a99`, counting its calls and refusing a batch
    /// with any unknown ARN, as ELBv2 does.
    fn fake(
        calls: Arc<AtomicUsize>,
    ) -> impl Fn(Vec<String>) -> futures::future::BoxFuture<'static, Result<HashMap<String, String>, ReadError>> {
        move |arns| {
            calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                if arns.iter().any(|a| !a.starts_with('a')) {
                    return Err(ReadError {
                        not_found: true,
                        message: "TargetGroupNotFound".into(),
                    });
                }
                Ok(arns.into_iter().map(|a| (a.clone(), format!("object {a}"))).collect())
            })
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_reads_share_calls_and_each_gets_its_own_object() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Coalescer::<String>::new(20);
        let reads = (0..40).map(|i| {
            let (c, calls) = (c.clone(), calls.clone());
            async move { c.get(&format!("a{i}"), fake(calls)).await }
        });
        let answers = futures::future::join_all(reads).await;
        for (i, a) in answers.iter().enumerate() {
            assert_eq!(a, &Ok(Some(format!("object a{i}"))));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2, "40 reads in batches of 20");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_missing_object_fails_only_its_own_read() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Coalescer::<String>::new(20);
        let reads = ["a1", "gone", "a2"].map(|arn| {
            let (c, calls) = (c.clone(), calls.clone());
            async move { c.get(arn, fake(calls)).await }
        });
        let answers = futures::future::join_all(reads).await;
        assert_eq!(answers[0], Ok(Some("object a1".into())));
        assert_eq!(answers[1], Ok(None), "not found is an answer, not an error");
        assert_eq!(answers[2], Ok(Some("object a2".into())));
        assert_eq!(calls.load(Ordering::SeqCst), 4, "the failed batch, then each alone");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_alone_is_sent_at_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Coalescer::<String>::new(20);
        assert_eq!(c.get("a7", fake(calls.clone())).await, Ok(Some("object a7".into())));
        assert_eq!(c.get("a8", fake(calls.clone())).await, Ok(Some("object a8".into())));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
