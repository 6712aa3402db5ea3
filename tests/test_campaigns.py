"""Campaign configuration: one place, validated with errors naming file/Variable and key; the CLI prints it."""

from __future__ import annotations

import json

import pytest

from tenant_replicator import campaigns, cli
from tenant_replicator.campaigns import CampaignConfigError

SRC = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17"
TGT = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
OTHER = "11111111-2222-4333-8444-555555555555"

YAML = f"""
defaults:
  objective: {{fidelity_percent: 90}}
campaigns:
  prod-dr:
    source: {SRC}
    target: {TGT}
    objective: {{consecutive_successes: 2}}
    schedule: "0 3 * * *"
    filters: {{resource_groups: [rg-app], resource_types: [Microsoft.Network/virtualNetworks]}}
    slack: {{conn_id: dr_slack, channel: "#dr"}}
    allow_deletes: true
  test-range:
    source: {SRC}
    target: {OTHER}
"""


def write(tmp_path, text, name="tenant_replicator_campaigns.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_file_campaigns_load_with_defaults_and_overrides(tmp_path):
    configs = campaigns.load_campaigns(write(tmp_path, YAML))
    assert [c.campaign_id for c in configs] == ["prod-dr", "test-range"]
    prod, test_range = configs
    assert prod.fidelity_percent == 90.0 and prod.consecutive_successes == 2  # defaults merged per key
    assert prod.schedule == "0 3 * * *" and test_range.schedule == "@daily"
    assert prod.filters.resource_groups == ("rg-app",)
    assert prod.slack_conn_id == "dr_slack" and prod.slack_channel == "#dr"
    assert prod.allow_deletes is True and test_range.allow_deletes is False
    assert test_range.filters.empty


def test_default_file_location_follows_env(tmp_path):
    assert campaigns.default_file({"AIRFLOW_HOME": str(tmp_path)}) == tmp_path / "tenant_replicator_campaigns.yaml"
    chosen = tmp_path / "x.json"
    assert campaigns.default_file({"TENANT_REPLICATOR_CAMPAIGNS_FILE": str(chosen), "AIRFLOW_HOME": "/nope"}) == chosen


def test_variable_and_file_combine_and_may_not_collide(tmp_path):
    path = write(tmp_path, YAML)
    variable = json.dumps({"campaigns": [{"id": "from-var", "source": TGT, "target": OTHER}]})
    ids = [c.campaign_id for c in campaigns.load_campaigns(path, variable)]
    assert ids == ["from-var", "prod-dr", "test-range"]
    clash = json.dumps({"campaigns": {"prod-dr": {"source": TGT, "target": OTHER}}})
    with pytest.raises(CampaignConfigError, match="prod-dr.*both in .*tenant_replicator_campaigns.yaml.*Variable"):
        campaigns.load_campaigns(path, clash)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"source": "nope", "target": TGT}, r"campaigns\.bad-one\.source: 'nope' is not a subscription ID"),
        ({"source": SRC, "target": SRC.upper()}, r"campaigns\.bad-one: target equals source"),
        ({"source": SRC, "target": TGT, "schedule": "every day"}, r"campaigns\.bad-one\.schedule: 'every day'"),
        ({"source": SRC, "target": TGT, "schedule": "61 * * * *"}, r"not a valid cron"),
        ({"source": SRC, "target": TGT, "objective": {"fidelity_percent": 120}}, r"objective\.fidelity_percent"),
        ({"source": SRC, "target": TGT, "objective": {"fidelity": 90}}, r"bad-one\.objective: unknown key"),
        ({"source": SRC, "target": TGT, "filters": {"resource_groups": "rg", "tags": 1}}, r"filters: unknown key"),
        ({"source": SRC, "target": TGT, "allow_deletes": "yes"}, r"bad-one\.allow_deletes: 'yes' must be true"),
        ({"source": SRC, "target": TGT, "slack": {"conn_id": 3}}, r"bad-one\.slack\.conn_id: must be a string"),
        ({"source": SRC, "target": TGT, "colour": "red"}, r"bad-one: unknown key\(s\) \['colour'\]"),
    ],
)
def test_bad_input_names_file_and_key(tmp_path, body, message):
    path = write(tmp_path, json.dumps({"campaigns": {"bad-one": body}}), "c.json")
    with pytest.raises(CampaignConfigError, match=message) as error:
        campaigns.load_campaigns(path)
    assert str(path) in str(error.value)


def test_malformed_documents_are_reported_with_their_origin(tmp_path):
    with pytest.raises(CampaignConfigError, match=r"c\.yaml: not valid YAML"):
        campaigns.load_campaigns(write(tmp_path, "campaigns: [unclosed", "c.yaml"))
    with pytest.raises(CampaignConfigError, match="Variable tenant_replicator_campaign_config: not valid JSON"):
        campaigns.load_campaigns(tmp_path / "absent.yaml", "{nope")
    with pytest.raises(CampaignConfigError, match="campaigns\\[0\\] needs an 'id'"):
        campaigns.load_campaigns(write(tmp_path, json.dumps({"campaigns": [{"source": SRC}]}), "l.json"))
    with pytest.raises(CampaignConfigError, match="BAD: the id must be"):
        campaigns.load_campaigns(write(tmp_path, json.dumps({"campaigns": {"BAD": {}}}), "i.json"))
    assert campaigns.load_campaigns(tmp_path / "absent.yaml") == []


def test_loop_conf_is_accepted_by_the_loop_and_carries_allow_deletes(tmp_path):
    from tenant_replicator.campaign import parse_spec

    prod = campaigns.load_campaigns(write(tmp_path, YAML))[0]
    conf = campaigns.loop_conf(prod, started_at="2026-11-25T00:00:00+00:00")
    spec = parse_spec(conf)
    assert spec.campaign_id == "prod-dr" and spec.objective.fidelity_percent == 90.0
    assert conf["allow_destroy"] is True and conf["slack_conn_id"] == "dr_slack" and conf["iteration"] == 0
    assert campaigns.parse_filters(conf["filters"]) == prod.filters  # the loop replicates the campaign's scope


def test_pools_one_per_target_subscription(tmp_path):
    configs = campaigns.load_campaigns(write(tmp_path, YAML))
    configs.append(campaigns.parse_campaign("second-into-tgt", {"source": OTHER, "target": TGT}, "test"))
    pools = campaigns.pools(configs, slots=2)
    assert set(pools) == {f"tenant_replicator_apply__{TGT}", f"tenant_replicator_apply__{OTHER}"}
    assert pools[f"tenant_replicator_apply__{TGT}"]["slots"] == 2
    assert "prod-dr, second-into-tgt" in pools[f"tenant_replicator_apply__{TGT}"]["description"]


def test_active_conflict_only_for_the_same_campaign():
    runs = [
        {"run_id": "a", "state": "running", "conf": {"campaign_id": "prod-dr"}},
        {"run_id": "b", "state": "success", "conf": {"campaign_id": "test-range"}},
    ]
    assert campaigns.active_conflict(runs, "prod-dr", own_run_id="z") == "a"
    assert campaigns.active_conflict(runs, "prod-dr", own_run_id="a") is None
    assert campaigns.active_conflict(runs, "test-range") is None


def test_filters_scope_by_group_and_type():
    filters = campaigns.Filters(resource_groups=("RG-App",), resource_types=("microsoft.network/virtualnetworks",))
    vnet = {"id": f"/subscriptions/{SRC}/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/v"}
    assert filters.admits(vnet | {"type": "Microsoft.Network/virtualNetworks"})
    assert not filters.admits(vnet | {"type": "Microsoft.Network/networkSecurityGroups"})
    assert not filters.admits(
        {"id": vnet["id"].replace("rg-app", "rg-db"), "type": "Microsoft.Network/virtualNetworks"}
    )


def test_cli_list_and_show_config_only(tmp_path, capsys):
    path = write(tmp_path, YAML)
    assert cli.main(["campaigns", "--file", str(path), "--no-state", "list"]) == 0
    out = capsys.readouterr().out
    assert "prod-dr" in out and "test-range" in out and "0 3 * * *" in out and "config only" in out
    assert cli.main(["campaigns", "--file", str(path), "--no-state", "show", "prod-dr"]) == 0
    out = capsys.readouterr().out
    assert f"tenant_replicator_apply__{TGT}" in out and "['rg-app']" in out and "deletes      allowed" in out
    assert cli.main(["campaigns", "--file", str(path), "--no-state", "show", "nope"]) == 2
    assert "'nope' is not configured (configured: prod-dr, test-range)" in capsys.readouterr().err
    assert cli.main(["campaigns", "--file", str(path), "--no-state", "pools"]) == 0
    assert json.loads(capsys.readouterr().out)[f"tenant_replicator_apply__{OTHER}"]["slots"] == 1


def test_cli_bad_config_exits_2_with_the_key(tmp_path, capsys):
    path = write(tmp_path, json.dumps({"campaigns": {"x-y-z": {"source": SRC}}}), "c.json")
    assert cli.main(["campaigns", "--file", str(path), "--no-state", "list"]) == 2
    assert "campaigns.x-y-z.target" in capsys.readouterr().err
