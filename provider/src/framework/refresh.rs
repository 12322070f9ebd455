//! Whether the read running now is a refresh (`ReadResource`): what Terraform does for every
//! object in its state before a plan. A refresh may be answered from a listing this provider
//! process took a moment earlier (see `resources::read_ahead`); reads that follow a write (create,
//! update, import) always ask AWS.

use std::future::Future;

tokio::task_local! {
    static REFRESHING: ();
}

/// Runs `read` as a refresh.
pub async fn refreshing<F: Future>(read: F) -> F::Output {
    REFRESHING.scope((), read).await
}

/// True inside [`refreshing`] (in the task that runs it, not in tasks it spawns).
pub fn is_refresh() -> bool {
    REFRESHING.try_with(|_| ()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_reads_inside_refreshing_are_refreshes() {
        assert!(!is_refresh());
        assert!(refreshing(async { is_refresh() }).await);
        assert!(!is_refresh());
    }
}
