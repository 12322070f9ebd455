//! A request that never gets an answer is abandoned after `ATTEMPT_TIMEOUT` (and then retried like
//! any transient error), instead of holding its caller forever. The peer here accepts connections
//! and reads requests but never answers, like a half-dead connection.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use tgbind_aws::{elbv2_client, load_sdk_config, AwsSettings, ATTEMPT_TIMEOUT};

#[tokio::test]
async fn an_unanswered_attempt_is_abandoned_after_the_attempt_timeout() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut conn in silent.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            held.push(conn); // kept open, never answered
        }
    });
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIATGBINDSUITE00001");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "unused");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let config = load_sdk_config(&AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint),
        ..Default::default()
    })
    .await;
    // One attempt, so the test measures the attempt timeout alone (the SDK retries it otherwise).
    let config = config
        .into_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    let started = Instant::now();
    let result = elbv2_client(&config).describe_target_groups().send().await;
    let took = started.elapsed();
    assert!(result.is_err(), "a silent peer cannot answer");
    println!(
        "unanswered attempt abandoned after {:.1} s (ATTEMPT_TIMEOUT {:?})",
        took.as_secs_f64(),
        ATTEMPT_TIMEOUT
    );
    assert!(took >= ATTEMPT_TIMEOUT - Duration::from_millis(500), "gave up too early: {took:?}");
    assert!(
        took < ATTEMPT_TIMEOUT + Duration::from_secs(5),
        "the attempt was not abandoned: {took:?}"
    );
}
