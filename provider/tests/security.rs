//! Secrets stay out of logs: a whole apply and destroy with Terraform's and the provider's most
//! verbose logs never shows the AWS secret key or session token. (That the provider refuses a gRPC
//! client without the pinned certificate is tested in `plugin_handshake.rs`.)

mod support;

use support::{terraforms, Moto, Workdir};

#[test]
fn trace_logs_hold_no_credentials() {
    const SECRET: &str = "tgbindSecretKey2222DoNotLogThis2222222222";
    const SESSION: &str = "tgbindSessionToken3333DoNotLogThis";
    let moto = Moto::start();
    let tf = &terraforms()[0];
    let w = Workdir::new(tf, &moto);
    w.write_config(&format!(
        "resource \"elbv2_target_group\" \"t\" {{\n  port = 80\n  protocol = \"HTTP\"\n  vpc_id = \"{}\"\n  tags = {{ a = \"b\" }}\n}}\n",
        moto.default_vpc()
    ));
    let env = [
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", SESSION),
        ("TF_LOG", "TRACE"),
        ("TF_LOG_PROVIDER", "trace"),
        // To stderr, where this test reads them (the suite-wide scan points TF_LOG_PATH elsewhere).
        ("TF_LOG_PATH", ""),
    ];
    let mut logs = String::new();
    for args in [
        &["apply", "-auto-approve", "-no-color", "-input=false"][..],
        &["destroy", "-auto-approve", "-no-color", "-input=false"][..],
    ] {
        let run = w.terraform_with_env(args, &env);
        assert!(run.ok, "{}", run.all());
        logs.push_str(&run.all());
    }
    assert!(logs.contains("elbv2_target_group"), "no logs captured");
    assert!(logs.len() > 50_000, "trace logs are on ({} bytes)", logs.len());
    for secret in [SECRET, SESSION] {
        assert!(!logs.contains(secret), "a secret reached the logs ({secret})");
    }
}
