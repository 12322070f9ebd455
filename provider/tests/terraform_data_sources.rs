//! Data source `elbv2_target_group` with the real Terraform CLI against moto: lookups by ARN, name and
//! tags, registered targets with their health, and the "exactly one match" rule.

mod support;

use support::{terraforms, Moto, Workdir};
use tgbind_aws::elbv2::types::{ProtocolEnum, Tag, TargetDescription, TargetTypeEnum};

async fn group(moto: &Moto, vpc: &str, name: &str, team: &str, targets: &[&str]) -> String {
    let client = moto.elbv2().await;
    let out = client
        .create_target_group()
        .name(name)
        .port(8080)
        .protocol(ProtocolEnum::Http)
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Ip)
        .tags(Tag::builder().key("team").value(team).build())
        .tags(Tag::builder().key("name").value(name).build())
        // A tag the lookups below do not mention: a tag filter matches a subset.
        .tags(Tag::builder().key("env").value("test").build())
        .send()
        .await
        .unwrap();
    let arn = out.target_groups()[0].target_group_arn().unwrap().to_string();
    if !targets.is_empty() {
        let list = targets
            .iter()
            .map(|ip| TargetDescription::builder().id(*ip).port(8080).build())
            .collect();
        client
            .register_targets()
            .target_group_arn(&arn)
            .set_targets(Some(list))
            .send()
            .await
            .unwrap();
    }
    arn
}

#[tokio::test]
async fn target_group_lookup_with_targets_and_health() {
    for tf in terraforms() {
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let blue = group(&moto, &vpc, "blue", "web", &["10.0.1.1", "10.0.1.2"]).await;
        group(&moto, &vpc, "green", "web", &[]).await;
        let w = Workdir::new(&tf, &moto);
        w.write_config(&format!(
            r#"
data "elbv2_target_group" "by_arn" {{
  arn = "{blue}"
}}
data "elbv2_target_group" "by_name" {{
  name = "green"
}}
data "elbv2_target_group" "by_tags" {{
  tags = {{ team = "web", name = "blue" }}
}}
output "healthy" {{ value = data.elbv2_target_group.by_arn.healthy_target_count }}
output "targets" {{ value = join(",", [for t in data.elbv2_target_group.by_arn.targets : "${{t.id}}:${{t.port}}=${{t.state}}"]) }}
output "green_arn" {{ value = data.elbv2_target_group.by_name.arn }}
output "green_count" {{ value = length(data.elbv2_target_group.by_name.targets) }}
output "by_tags" {{ value = data.elbv2_target_group.by_tags.name }}
output "all_tags" {{ value = data.elbv2_target_group.by_arn.tags["env"] }}
output "path" {{ value = data.elbv2_target_group.by_arn.health_check[0].protocol }}
"#
        ));
        w.apply();
        assert_eq!(w.output("healthy"), "2", "[{}]", tf.version);
        assert_eq!(w.output("targets"), "10.0.1.1:8080=healthy,10.0.1.2:8080=healthy");
        assert!(w.output("green_arn").contains(":targetgroup/green/"));
        assert_eq!(w.output("green_count"), "0");
        assert_eq!(w.output("by_tags"), "blue");
        assert_eq!(w.output("path"), "HTTP");
        assert_eq!(w.output("all_tags"), "test", "tags holds all of the group's tags");

        // Two groups carry team=web: the lookup must be narrowed.
        w.write_config("data \"elbv2_target_group\" \"t\" {\n  tags = { team = \"web\" }\n}\n");
        let run = w.terraform(&["plan", "-no-color"]);
        assert!(!run.ok && run.all().contains("Several target groups match"), "{}", run.all());
        w.write_config("data \"elbv2_target_group\" \"t\" {\n  name = \"nope\"\n}\n");
        let run = w.terraform(&["plan", "-no-color"]);
        assert!(!run.ok && run.all().contains("No matching target group"), "{}", run.all());
        w.write_config("data \"elbv2_target_group\" \"t\" {\n}\n");
        let run = w.terraform(&["plan", "-no-color"]);
        assert!(!run.ok && run.all().contains("Set `arn`, `name` or `tags`"), "{}", run.all());
    }
}
