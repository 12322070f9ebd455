//! The provider's gRPC surface as Terraform uses it: health, Shutdown, StopProvider, and the
//! `--debug` reattach mode driven by a real Terraform.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::plugin_client::PluginProcess;
use terraform_provider_elbv2::framework::ProviderDefinition;
use terraform_provider_elbv2::proto::plugin::grpc_controller_client::GrpcControllerClient;
use terraform_provider_elbv2::proto::tfplugin6 as pb;
use terraform_provider_elbv2::provider::Elbv2Provider;
use terraform_provider_elbv2::tfvalue::{encode_msgpack, Value};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-elbv2");

#[tokio::test]
async fn health_reports_plugin_serving_and_shutdown_exits_promptly() {
    let mut p = PluginProcess::start(BIN);
    let channel = p.channel().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "plugin".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    GrpcControllerClient::new(channel)
        .shutdown(terraform_provider_elbv2::proto::plugin::Empty {})
        .await
        .unwrap();
    let took = p.wait_exit(Duration::from_secs(2)).expect("the provider exits after Shutdown");
    assert!(took < Duration::from_millis(500), "exit took {took:?}");
}

/// A loopback listener that accepts connections and never answers: an AWS endpoint that hangs.
fn black_hole() -> (std::net::TcpListener, u16) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[tokio::test]
async fn stop_provider_cancels_in_flight_work_and_keeps_serving() {
    let (_hole, port) = black_hole();
    let p = PluginProcess::start(BIN);
    let channel = p.channel().await;
    let mut client = pb::provider_client::ProviderClient::new(channel);

    let provider_type = Elbv2Provider::new().schema().value_type();
    let config = Value::object([
        ("region", Value::string("us-east-1")),
        ("endpoint_url", Value::string(format!("http://127.0.0.1:{port}"))),
    ]);
    let configured = client
        .configure_provider(pb::configure_provider::Request {
            config: Some(pb::DynamicValue {
                msgpack: encode_msgpack(&config, &provider_type),
                json: vec![],
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(configured.diagnostics.is_empty(), "{:?}", configured.diagnostics);

    let schema = client
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.resource_schemas.contains_key("elbv2_target_group"));
    let tg_type = terraform_provider_elbv2::resources::target_group::TargetGroup;
    let tg_type = terraform_provider_elbv2::framework::Resource::schema(&tg_type).value_type();
    let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/a/1";
    let state = Value::object([("arn", Value::string(arn)), ("id", Value::string(arn))]);
    let read = {
        let mut client = client.clone();
        let current = pb::DynamicValue {
            msgpack: encode_msgpack(&state, &tg_type),
            json: vec![],
        };
        tokio::spawn(async move {
            let started = Instant::now();
            let resp = client
                .read_resource(pb::read_resource::Request {
                    type_name: "elbv2_target_group".into(),
                    current_state: Some(current),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            (resp, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!read.is_finished(), "the read should be stuck on the silent endpoint");
    client.stop_provider(pb::stop_provider::Request {}).await.unwrap();
    let (resp, took) = tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .expect("cancelled promptly")
        .unwrap();
    assert!(
        resp.diagnostics.iter().any(|d| d.summary == "Operation cancelled"),
        "{:?}",
        resp.diagnostics
    );
    assert!(took < Duration::from_secs(2));

    // Still serving after the stop.
    let schema = client
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.resource_schemas.contains_key("elbv2_target_group"));
}

#[tokio::test]
async fn malformed_values_get_diagnostics_not_a_crash() {
    let p = PluginProcess::start(BIN);
    let mut client = pb::provider_client::ProviderClient::new(p.channel().await);
    let resp = client
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "elbv2_target_group".into(),
            config: Some(pb::DynamicValue {
                msgpack: vec![0x92, 0x01],
                json: vec![],
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        resp.diagnostics.iter().any(|d| d.summary.contains("Invalid configuration")),
        "{:?}",
        resp.diagnostics
    );
    let unknown = client
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "nope".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(unknown.unwrap_err().code(), tonic::Code::NotFound);
    // The process is alive and answering.
    assert!(client.get_provider_schema(pb::get_provider_schema::Request {}).await.is_ok());
}

#[tokio::test]
async fn debug_mode_prints_reattach_config_that_terraform_uses() {
    let moto = support::Moto::start();
    let mut child = Command::new(BIN)
        .arg("--debug")
        .stdout(Stdio::piped())
        .stderr(tgbind_testkit::logs::kept_or_null("provider"))
        .spawn()
        .unwrap();
    let mut reattach = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("export TF_REATTACH_PROVIDERS='") {
            reattach = Some(rest.trim_end_matches('\'').to_string());
            break;
        }
    }
    let reattach = reattach.expect("debug mode prints TF_REATTACH_PROVIDERS");
    let json: serde_json::Value = serde_json::from_str(&reattach).unwrap();
    assert_eq!(json["registry.terraform.io/tgbind/elbv2"]["ProtocolVersion"], 6);

    let tf = &support::terraforms()[0];
    let w = support::Workdir::new(tf, &moto);
    w.write_config(&format!(
        "resource \"elbv2_target_group\" \"t\" {{\n  port = 80\n  protocol = \"HTTP\"\n  vpc_id = \"{}\"\n}}\n",
        moto.default_vpc()
    ));
    let plan = w.plan_json_with_env(&[("TF_REATTACH_PROVIDERS", &reattach)]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(plan.counts().0, 1, "{}", plan.0);
}
