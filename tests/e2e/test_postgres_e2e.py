"""The replication loop on Postgres: the production metadata DB, proven like SQLite is.

A private Postgres 15 cluster (the machine's server binaries) on a loopback port backs the real
scheduler with LocalExecutor; the denied-type chain of test_replication_loop.py must reach its
objective, and the runs, task instances, XComs and the campaign Variable must be rows in Postgres.
"""

from __future__ import annotations

import configparser
import json

import pytest

from tenant_replicator import devstack
from tenant_replicator.demo import DAG_ID

MISSING = devstack.postgres_missing_reason()


def test_missing_server_binaries_are_named_with_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv(devstack.PG_BIN_ENV, str(tmp_path))  # a directory without initdb/postgres
    reason = devstack.postgres_missing_reason()
    assert reason.startswith(f"PostgreSQL server binaries (initdb, postgres) not found in {devstack.PG_BIN_ENV}=")
    assert "apt-get install postgresql-15" in reason
    with pytest.raises(RuntimeError, match="apt-get install postgresql-15"):
        devstack.start_postgres(devstack.Stack(workdir=tmp_path, env=devstack.base_env(tmp_path)))
    assert not (tmp_path / "postgres").exists()  # refused before touching anything


def test_bad_stack_options_are_refused_before_anything_starts(tmp_path):
    with pytest.raises(ValueError, match="refuses the CeleryExecutor on SQLite"):
        devstack.start_stack(tmp_path, executor="celery", metadata_db="sqlite")
    with pytest.raises(ValueError, match="metadata_db must be one of"):
        devstack.start_stack(tmp_path, metadata_db="mysql")
    with pytest.raises(ValueError, match="executor must be one of"):
        devstack.start_stack(tmp_path, executor="kubernetes")
    assert not list(tmp_path.iterdir())  # no service was started, nothing written


@pytest.fixture(scope="module")
def stack(tmp_path_factory, start_loop_stack):
    if MISSING:
        pytest.skip(f"Postgres E2E: {MISSING}")
    with start_loop_stack(tmp_path_factory.mktemp("pg-e2e"), metadata_db="postgres") as running:
        yield running


def fernet_key(stack: devstack.Stack) -> bytes:
    """The key Airflow generated into its airflow.cfg on first start (Variables are stored encrypted)."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(stack.workdir / "airflow" / "airflow.cfg")
    return config["core"]["fernet_key"].encode()


@pytest.mark.slow
def test_loop_reaches_objective_with_everything_in_postgres(stack, denied_type_chain):
    from cryptography.fernet import Fernet

    assert stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    outcome = denied_type_chain(stack)

    # one scheduler, registered in Postgres, queued every task instance of the chain (LocalExecutor)
    assert stack.env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    [(scheduler_id, scheduler_state)] = stack.postgres.rows("SELECT id, state FROM job WHERE job_type = 'SchedulerJob'")
    assert scheduler_state == "running"
    queued_by = stack.postgres.rows(
        "SELECT queued_by_job_id, count(*) FROM task_instance WHERE dag_id = %s AND state = 'success' GROUP BY 1",
        (DAG_ID,),
    )
    assert len(queued_by) == 1 and queued_by[0][0] == scheduler_id and queued_by[0][1] >= 3 * 5
    # the four runs the REST API reported are rows of Postgres' dag_run, same ids, same states
    db_runs = stack.postgres.rows("SELECT run_id, state FROM dag_run WHERE dag_id = %s ORDER BY start_date", (DAG_ID,))
    assert db_runs == [(r["dag_run_id"], r["state"]) for r in outcome.runs]
    # every task of the successful runs succeeded there; the first run's apply failed
    states = dict(
        stack.postgres.rows(
            "SELECT run_id || '/' || task_id, state FROM task_instance WHERE dag_id = %s AND task_id = 'apply'",
            (DAG_ID,),
        )
    )
    assert [states[f"{r['dag_run_id']}/apply"] for r in outcome.runs] == ["failed", "success", "success", "success"]
    # the record XCom of each run is stored in Postgres' xcom table
    recorded = stack.postgres.rows(
        "SELECT count(DISTINCT run_id) FROM xcom WHERE dag_id = %s AND task_id = 'record'", (DAG_ID,)
    )
    assert recorded == [(4,)]
    # the campaign Variable lives in Postgres (Fernet-encrypted) and decrypts to the state the loop ended with
    [(value, encrypted)] = stack.postgres.rows(
        "SELECT val, is_encrypted FROM variable WHERE key = %s", (outcome.campaign_key,)
    )
    stored = Fernet(fernet_key(stack)).decrypt(value.encode()).decode() if encrypted else value
    assert json.loads(stored) == outcome.client.variable(outcome.campaign_key)
    assert json.loads(stored)["status"] == "objective_met"
    # and nothing went to a SQLite file
    assert not (stack.workdir / "airflow" / "airflow.db").exists()
