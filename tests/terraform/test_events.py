# ruff: noqa: E501  (recorded terraform output lines are kept verbatim)
"""Event-parser tests on ``-json`` lines recorded from real terraform 1.11.4 runs.

Recordings (terraform_data + local-exec, see tests/terraform/test_runner.py for the configs):
FAILED_APPLY        a provisioner exits 1; a resource depends on it; a slow sibling still completes
UPDATE_DELETE_APPLY apply of a plan with one update, one delete, one create
INTERRUPTED_APPLY   apply stopped by SIGINT after 2 s while a provisioner sleeps
ARM_ERRORS_APPLY    provisioners print our stand-in's and the real azapi's ARM error formats
UPDATE_DELETE_PLAN  plan for UPDATE_DELETE_APPLY (with refresh events)
INVALID_PLAN        plan of a configuration referring to an undeclared variable
"""

from __future__ import annotations

import json

from tenant_replicator.terraform.events import (
    extract_arm_error,
    parse_lines,
    summarise_apply,
    summarise_plan,
)

FAILED_APPLY = r"""
{"@level":"info","@message":"Terraform 1.11.4","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.603914Z","terraform":"1.11.4","type":"version","ui":"1.2"}
{"@level":"info","@message":"terraform_data.ok[1]: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.607984Z","change":{"resource":{"addr":"terraform_data.ok[1]","module":"","resource":"terraform_data.ok[1]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"ok","resource_key":1},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.slow: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.608097Z","change":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.bad: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.608106Z","change":{"resource":{"addr":"terraform_data.bad","module":"","resource":"terraform_data.bad","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"bad","resource_key":null},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.ok[0]: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.608116Z","change":{"resource":{"addr":"terraform_data.ok[0]","module":"","resource":"terraform_data.ok[0]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"ok","resource_key":0},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.after_bad: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.608125Z","change":{"resource":{"addr":"terraform_data.after_bad","module":"","resource":"terraform_data.after_bad","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"after_bad","resource_key":null},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.slow: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.611859Z","hook":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.bad: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.611964Z","hook":{"resource":{"addr":"terraform_data.bad","module":"","resource":"terraform_data.bad","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"bad","resource_key":null},"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.slow: Provisioning with 'local-exec'...","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.613612Z","hook":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"provisioner":"local-exec"},"type":"provision_start"}
{"@level":"info","@message":"terraform_data.ok[1]: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.613738Z","hook":{"resource":{"addr":"terraform_data.ok[1]","module":"","resource":"terraform_data.ok[1]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"ok","resource_key":1},"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.slow: (local-exec): Executing: [\"/bin/sh\" \"-c\" \"sleep 2\"]","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.613844Z","hook":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"provisioner":"local-exec","output":"Executing: [\"/bin/sh\" \"-c\" \"sleep 2\"]"},"type":"provision_progress"}
{"@level":"info","@message":"terraform_data.ok[1]: Creation complete after 0s [id=f65625e9-2fea-9c5b-747f-32767c2ed769]","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.614253Z","hook":{"resource":{"addr":"terraform_data.ok[1]","module":"","resource":"terraform_data.ok[1]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"ok","resource_key":1},"action":"create","id_key":"id","id_value":"f65625e9-2fea-9c5b-747f-32767c2ed769","elapsed_seconds":0},"type":"apply_complete"}
{"@level":"info","@message":"terraform_data.bad: Provisioning with 'local-exec'...","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.617351Z","hook":{"resource":{"addr":"terraform_data.bad","module":"","resource":"terraform_data.bad","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"bad","resource_key":null},"provisioner":"local-exec"},"type":"provision_start"}
{"@level":"info","@message":"terraform_data.bad: (local-exec): Executing: [\"/bin/sh\" \"-c\" \"echo boom \u003e\u00262; exit 1\"]","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.617438Z","hook":{"resource":{"addr":"terraform_data.bad","module":"","resource":"terraform_data.bad","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"bad","resource_key":null},"provisioner":"local-exec","output":"Executing: [\"/bin/sh\" \"-c\" \"echo boom \u003e\u00262; exit 1\"]"},"type":"provision_progress"}
{"@level":"info","@message":"terraform_data.ok[0]: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.620092Z","hook":{"resource":{"addr":"terraform_data.ok[0]","module":"","resource":"terraform_data.ok[0]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"ok","resource_key":0},"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.ok[0]: Creation complete after 0s [id=0a3f2495-6226-51be-efab-2d65c0898c23]","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.620466Z","hook":{"resource":{"addr":"terraform_data.ok[0]","module":"","resource":"terraform_data.ok[0]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"ok","resource_key":0},"action":"create","id_key":"id","id_value":"0a3f2495-6226-51be-efab-2d65c0898c23","elapsed_seconds":0},"type":"apply_complete"}
{"@level":"info","@message":"terraform_data.bad: (local-exec): boom","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.622393Z","hook":{"resource":{"addr":"terraform_data.bad","module":"","resource":"terraform_data.bad","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"bad","resource_key":null},"provisioner":"local-exec","output":"boom"},"type":"provision_progress"}
{"@level":"info","@message":"terraform_data.bad: (local-exec) Provisioning errored","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.622453Z","hook":{"resource":{"addr":"terraform_data.bad","module":"","resource":"terraform_data.bad","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"bad","resource_key":null},"provisioner":"local-exec"},"type":"provision_errored"}
{"@level":"info","@message":"terraform_data.bad: Creation errored after 0s","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:50.622544Z","hook":{"resource":{"addr":"terraform_data.bad","module":"","resource":"terraform_data.bad","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"bad","resource_key":null},"action":"create","elapsed_seconds":0},"type":"apply_errored"}
{"@level":"info","@message":"terraform_data.slow: (local-exec) Provisioning complete","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:52.620467Z","hook":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"provisioner":"local-exec"},"type":"provision_complete"}
{"@level":"info","@message":"terraform_data.slow: Creation complete after 2s [id=4af4970a-0683-9617-7dbc-80b339c0c935]","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:52.620678Z","hook":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"action":"create","id_key":"id","id_value":"4af4970a-0683-9617-7dbc-80b339c0c935","elapsed_seconds":2},"type":"apply_complete"}
{"@level":"error","@message":"Error: local-exec provisioner error","@module":"terraform.ui","@timestamp":"2026-11-25T15:14:52.622928Z","diagnostic":{"severity":"error","summary":"local-exec provisioner error","detail":"Error running command 'echo boom \u003e\u00262; exit 1': exit status 1. Output: boom\n","address":"terraform_data.bad","range":{"filename":"main.tf","start":{"line":6,"column":28,"byte":136},"end":{"line":6,"column":29,"byte":137}},"snippet":{"context":"resource \"terraform_data\" \"bad\"","code":"  provisioner \"local-exec\" {","start_line":6,"highlight_start_offset":27,"highlight_end_offset":28,"values":[]}},"type":"diagnostic"}
""".strip().splitlines()

UPDATE_DELETE_APPLY = r"""
{"@level":"info","@message":"Terraform 1.11.4","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.064340Z","terraform":"1.11.4","type":"version","ui":"1.2"}
{"@level":"info","@message":"terraform_data.b: Plan to delete","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.066398Z","change":{"resource":{"addr":"terraform_data.b","module":"","resource":"terraform_data.b","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"b","resource_key":null},"action":"delete","reason":"delete_because_no_resource_config"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.c: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.066456Z","change":{"resource":{"addr":"terraform_data.c","module":"","resource":"terraform_data.c","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"c","resource_key":null},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.a: Plan to update","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.066463Z","change":{"resource":{"addr":"terraform_data.a","module":"","resource":"terraform_data.a","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"a","resource_key":null},"action":"update"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.b: Destroying... [id=5b4d9ac1-9045-8f8e-c80b-6c7351ae98fe]","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.068122Z","hook":{"resource":{"addr":"terraform_data.b","module":"","resource":"terraform_data.b","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"b","resource_key":null},"action":"delete","id_key":"id","id_value":"5b4d9ac1-9045-8f8e-c80b-6c7351ae98fe"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.b: Destruction complete after 0s","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.068203Z","hook":{"resource":{"addr":"terraform_data.b","module":"","resource":"terraform_data.b","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"b","resource_key":null},"action":"delete","elapsed_seconds":0},"type":"apply_complete"}
{"@level":"info","@message":"terraform_data.c: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.069250Z","hook":{"resource":{"addr":"terraform_data.c","module":"","resource":"terraform_data.c","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"c","resource_key":null},"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.a: Modifying... [id=f84ecb4c-9cfb-6845-d22d-19572b5a5463]","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.069405Z","hook":{"resource":{"addr":"terraform_data.a","module":"","resource":"terraform_data.a","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"a","resource_key":null},"action":"update","id_key":"id","id_value":"f84ecb4c-9cfb-6845-d22d-19572b5a5463"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.c: Creation complete after 0s [id=eb15a227-88cd-4d79-ed0c-7697cc5fd04a]","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.069552Z","hook":{"resource":{"addr":"terraform_data.c","module":"","resource":"terraform_data.c","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"c","resource_key":null},"action":"create","id_key":"id","id_value":"eb15a227-88cd-4d79-ed0c-7697cc5fd04a","elapsed_seconds":0},"type":"apply_complete"}
{"@level":"info","@message":"terraform_data.a: Modifications complete after 0s [id=f84ecb4c-9cfb-6845-d22d-19572b5a5463]","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.070021Z","hook":{"resource":{"addr":"terraform_data.a","module":"","resource":"terraform_data.a","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"a","resource_key":null},"action":"update","id_key":"id","id_value":"f84ecb4c-9cfb-6845-d22d-19572b5a5463","elapsed_seconds":0},"type":"apply_complete"}
{"@level":"info","@message":"Apply complete! Resources: 1 added, 1 changed, 1 destroyed.","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.070889Z","changes":{"add":1,"change":1,"import":0,"remove":1,"operation":"apply"},"type":"change_summary"}
{"@level":"info","@message":"Outputs: 0","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.070920Z","outputs":{},"type":"outputs"}
""".strip().splitlines()

INTERRUPTED_APPLY = r"""
{"@level":"info","@message":"Terraform 1.11.4","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.586380Z","terraform":"1.11.4","type":"version","ui":"1.2"}
{"@level":"info","@message":"terraform_data.fast[0]: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.588296Z","change":{"resource":{"addr":"terraform_data.fast[0]","module":"","resource":"terraform_data.fast[0]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"fast","resource_key":0},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.fast[1]: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.588367Z","change":{"resource":{"addr":"terraform_data.fast[1]","module":"","resource":"terraform_data.fast[1]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"fast","resource_key":1},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.fast[2]: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.588379Z","change":{"resource":{"addr":"terraform_data.fast[2]","module":"","resource":"terraform_data.fast[2]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"fast","resource_key":2},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.slow: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.588386Z","change":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.after_slow: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.588391Z","change":{"resource":{"addr":"terraform_data.after_slow","module":"","resource":"terraform_data.after_slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"after_slow","resource_key":null},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.slow: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.590720Z","hook":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.slow: Provisioning with 'local-exec'...","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.591067Z","hook":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"provisioner":"local-exec"},"type":"provision_start"}
{"@level":"info","@message":"terraform_data.slow: (local-exec): Executing: [\"/bin/sh\" \"-c\" \"echo $$ \u003e ./sleep.pid; exec sleep 60\"]","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.591166Z","hook":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"provisioner":"local-exec","output":"Executing: [\"/bin/sh\" \"-c\" \"echo $$ \u003e ./sleep.pid; exec sleep 60\"]"},"type":"provision_progress"}
{"@level":"info","@message":"terraform_data.fast[0]: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.591640Z","hook":{"resource":{"addr":"terraform_data.fast[0]","module":"","resource":"terraform_data.fast[0]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"fast","resource_key":0},"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.fast[0]: Creation complete after 0s [id=e6acf326-0343-4a17-a7c5-ad336479b1b7]","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.591846Z","hook":{"resource":{"addr":"terraform_data.fast[0]","module":"","resource":"terraform_data.fast[0]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"fast","resource_key":0},"action":"create","id_key":"id","id_value":"e6acf326-0343-4a17-a7c5-ad336479b1b7","elapsed_seconds":0},"type":"apply_complete"}
{"@level":"info","@message":"terraform_data.fast[1]: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.592669Z","hook":{"resource":{"addr":"terraform_data.fast[1]","module":"","resource":"terraform_data.fast[1]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"fast","resource_key":1},"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.fast[1]: Creation complete after 0s [id=fc4f3e77-779b-f951-5d66-c29b1869d076]","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.592869Z","hook":{"resource":{"addr":"terraform_data.fast[1]","module":"","resource":"terraform_data.fast[1]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"fast","resource_key":1},"action":"create","id_key":"id","id_value":"fc4f3e77-779b-f951-5d66-c29b1869d076","elapsed_seconds":0},"type":"apply_complete"}
{"@level":"info","@message":"terraform_data.fast[2]: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.594440Z","hook":{"resource":{"addr":"terraform_data.fast[2]","module":"","resource":"terraform_data.fast[2]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"fast","resource_key":2},"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.fast[2]: Creation complete after 0s [id=763d9e6e-2774-1bb9-4444-5e7ceefdc1ca]","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:37.594663Z","hook":{"resource":{"addr":"terraform_data.fast[2]","module":"","resource":"terraform_data.fast[2]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"fast","resource_key":2},"action":"create","id_key":"id","id_value":"763d9e6e-2774-1bb9-4444-5e7ceefdc1ca","elapsed_seconds":0},"type":"apply_complete"}
{"@level":"info","@message":"\nInterrupt received.\nPlease wait for Terraform to exit or data loss may occur.\nGracefully shutting down...\n","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:39.563924Z","type":"log"}
{"@level":"info","@message":"Stopping operation...","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:39.564009Z","type":"log"}
{"@level":"info","@message":"terraform_data.slow: (local-exec) Provisioning errored","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:39.564572Z","hook":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"provisioner":"local-exec"},"type":"provision_errored"}
{"@level":"info","@message":"terraform_data.slow: Creation errored after 2s","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:39.564750Z","hook":{"resource":{"addr":"terraform_data.slow","module":"","resource":"terraform_data.slow","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"slow","resource_key":null},"action":"create","elapsed_seconds":2},"type":"apply_errored"}
{"@level":"error","@message":"Error: local-exec provisioner error","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:39.566327Z","diagnostic":{"severity":"error","summary":"local-exec provisioner error","detail":"Error running command 'echo $$ \u003e ./sleep.pid; exec sleep 60': signal: killed. Output: ","address":"terraform_data.slow","range":{"filename":"main.tf","start":{"line":6,"column":28,"byte":133},"end":{"line":6,"column":29,"byte":134}},"snippet":{"context":"resource \"terraform_data\" \"slow\"","code":"  provisioner \"local-exec\" {","start_line":6,"highlight_start_offset":27,"highlight_end_offset":28,"values":[]}},"type":"diagnostic"}
{"@level":"error","@message":"Error: execution halted","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:39.566475Z","diagnostic":{"severity":"error","summary":"execution halted","detail":""},"type":"diagnostic"}
{"@level":"error","@message":"Error: execution halted","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:39.566482Z","diagnostic":{"severity":"error","summary":"execution halted","detail":""},"type":"diagnostic"}
""".strip().splitlines()

ARM_ERRORS_APPLY = r"""
{"@level":"info","@message":"Terraform 1.11.4","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.018550Z","terraform":"1.11.4","type":"version","ui":"1.2"}
{"@level":"info","@message":"terraform_data.vnet: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.020977Z","change":{"resource":{"addr":"terraform_data.vnet","module":"","resource":"terraform_data.vnet","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"vnet","resource_key":null},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.rg: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.021101Z","change":{"resource":{"addr":"terraform_data.rg","module":"","resource":"terraform_data.rg","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"rg","resource_key":null},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.subnet: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.021123Z","change":{"resource":{"addr":"terraform_data.subnet","module":"","resource":"terraform_data.subnet","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"subnet","resource_key":null},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.vnet: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.023389Z","hook":{"resource":{"addr":"terraform_data.vnet","module":"","resource":"terraform_data.vnet","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"vnet","resource_key":null},"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.rg: Creating...","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.023761Z","hook":{"resource":{"addr":"terraform_data.rg","module":"","resource":"terraform_data.rg","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"rg","resource_key":null},"action":"create"},"type":"apply_start"}
{"@level":"info","@message":"terraform_data.vnet: Provisioning with 'local-exec'...","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.024043Z","hook":{"resource":{"addr":"terraform_data.vnet","module":"","resource":"terraform_data.vnet","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"vnet","resource_key":null},"provisioner":"local-exec"},"type":"provision_start"}
{"@level":"info","@message":"terraform_data.vnet: (local-exec): Executing: [\"/bin/sh\" \"-c\" \"echo 'ARM PUT /subscriptions/t/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1 failed: 404 ParentResourceNotFound: parent missing'; exit 1\"]","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.024433Z","hook":{"resource":{"addr":"terraform_data.vnet","module":"","resource":"terraform_data.vnet","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"vnet","resource_key":null},"provisioner":"local-exec","output":"Executing: [\"/bin/sh\" \"-c\" \"echo 'ARM PUT /subscriptions/t/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1 failed: 404 ParentResourceNotFound: parent missing'; exit 1\"]"},"type":"provision_progress"}
{"@level":"info","@message":"terraform_data.rg: Provisioning with 'local-exec'...","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.024541Z","hook":{"resource":{"addr":"terraform_data.rg","module":"","resource":"terraform_data.rg","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"rg","resource_key":null},"provisioner":"local-exec"},"type":"provision_start"}
{"@level":"info","@message":"terraform_data.rg: (local-exec): Executing: [\"/bin/sh\" \"-c\" \"printf 'RESPONSE 404: 404 Not Found\\\\nERROR CODE: ResourceGroupNotFound\\\\n'; exit 1\"]","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.024634Z","hook":{"resource":{"addr":"terraform_data.rg","module":"","resource":"terraform_data.rg","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"rg","resource_key":null},"provisioner":"local-exec","output":"Executing: [\"/bin/sh\" \"-c\" \"printf 'RESPONSE 404: 404 Not Found\\\\nERROR CODE: ResourceGroupNotFound\\\\n'; exit 1\"]"},"type":"provision_progress"}
{"@level":"info","@message":"terraform_data.rg: (local-exec): RESPONSE 404: 404 Not Found","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.027075Z","hook":{"resource":{"addr":"terraform_data.rg","module":"","resource":"terraform_data.rg","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"rg","resource_key":null},"provisioner":"local-exec","output":"RESPONSE 404: 404 Not Found"},"type":"provision_progress"}
{"@level":"info","@message":"terraform_data.vnet: (local-exec): ARM PUT /subscriptions/t/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1 failed: 404 ParentResourceNotFound: parent missing","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.027369Z","hook":{"resource":{"addr":"terraform_data.vnet","module":"","resource":"terraform_data.vnet","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"vnet","resource_key":null},"provisioner":"local-exec","output":"ARM PUT /subscriptions/t/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1 failed: 404 ParentResourceNotFound: parent missing"},"type":"provision_progress"}
{"@level":"info","@message":"terraform_data.rg: (local-exec): ERROR CODE: ResourceGroupNotFound","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.027472Z","hook":{"resource":{"addr":"terraform_data.rg","module":"","resource":"terraform_data.rg","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"rg","resource_key":null},"provisioner":"local-exec","output":"ERROR CODE: ResourceGroupNotFound"},"type":"provision_progress"}
{"@level":"info","@message":"terraform_data.vnet: (local-exec) Provisioning errored","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.027509Z","hook":{"resource":{"addr":"terraform_data.vnet","module":"","resource":"terraform_data.vnet","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"vnet","resource_key":null},"provisioner":"local-exec"},"type":"provision_errored"}
{"@level":"info","@message":"terraform_data.vnet: Creation errored after 0s","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.027615Z","hook":{"resource":{"addr":"terraform_data.vnet","module":"","resource":"terraform_data.vnet","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"vnet","resource_key":null},"action":"create","elapsed_seconds":0},"type":"apply_errored"}
{"@level":"info","@message":"terraform_data.rg: (local-exec) Provisioning errored","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.027674Z","hook":{"resource":{"addr":"terraform_data.rg","module":"","resource":"terraform_data.rg","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"rg","resource_key":null},"provisioner":"local-exec"},"type":"provision_errored"}
{"@level":"info","@message":"terraform_data.rg: Creation errored after 0s","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.028898Z","hook":{"resource":{"addr":"terraform_data.rg","module":"","resource":"terraform_data.rg","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"rg","resource_key":null},"action":"create","elapsed_seconds":0},"type":"apply_errored"}
{"@level":"error","@message":"Error: local-exec provisioner error","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.030563Z","diagnostic":{"severity":"error","summary":"local-exec provisioner error","detail":"Error running command 'printf 'RESPONSE 404: 404 Not Found\\nERROR CODE: ResourceGroupNotFound\\n'; exit 1': exit status 1. Output: RESPONSE 404: 404 Not Found\nERROR CODE: ResourceGroupNotFound\n","address":"terraform_data.rg","range":{"filename":"main.tf","start":{"line":7,"column":28,"byte":303},"end":{"line":7,"column":29,"byte":304}},"snippet":{"context":"resource \"terraform_data\" \"rg\"","code":"  provisioner \"local-exec\" {","start_line":7,"highlight_start_offset":27,"highlight_end_offset":28,"values":[]}},"type":"diagnostic"}
{"@level":"error","@message":"Error: local-exec provisioner error","@module":"terraform.ui","@timestamp":"2026-11-25T15:19:47.031170Z","diagnostic":{"severity":"error","summary":"local-exec provisioner error","detail":"Error running command 'echo 'ARM PUT /subscriptions/t/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1 failed: 404 ParentResourceNotFound: parent missing'; exit 1': exit status 1. Output: ARM PUT /subscriptions/t/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1 failed: 404 ParentResourceNotFound: parent missing\n","address":"terraform_data.vnet","range":{"filename":"main.tf","start":{"line":2,"column":28,"byte":62},"end":{"line":2,"column":29,"byte":63}},"snippet":{"context":"resource \"terraform_data\" \"vnet\"","code":"  provisioner \"local-exec\" {","start_line":2,"highlight_start_offset":27,"highlight_end_offset":28,"values":[]}},"type":"diagnostic"}
""".strip().splitlines()

UPDATE_DELETE_PLAN = r"""
{"@level":"info","@message":"Terraform 1.11.4","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.023573Z","terraform":"1.11.4","type":"version","ui":"1.2"}
{"@level":"info","@message":"terraform_data.b: Refreshing state... [id=5b4d9ac1-9045-8f8e-c80b-6c7351ae98fe]","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.027163Z","hook":{"resource":{"addr":"terraform_data.b","module":"","resource":"terraform_data.b","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"b","resource_key":null},"id_key":"id","id_value":"5b4d9ac1-9045-8f8e-c80b-6c7351ae98fe"},"type":"refresh_start"}
{"@level":"info","@message":"terraform_data.b: Refresh complete [id=5b4d9ac1-9045-8f8e-c80b-6c7351ae98fe]","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.027224Z","hook":{"resource":{"addr":"terraform_data.b","module":"","resource":"terraform_data.b","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"b","resource_key":null},"id_key":"id","id_value":"5b4d9ac1-9045-8f8e-c80b-6c7351ae98fe"},"type":"refresh_complete"}
{"@level":"info","@message":"terraform_data.a: Refreshing state... [id=f84ecb4c-9cfb-6845-d22d-19572b5a5463]","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.027572Z","hook":{"resource":{"addr":"terraform_data.a","module":"","resource":"terraform_data.a","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"a","resource_key":null},"id_key":"id","id_value":"f84ecb4c-9cfb-6845-d22d-19572b5a5463"},"type":"refresh_start"}
{"@level":"info","@message":"terraform_data.a: Refresh complete [id=f84ecb4c-9cfb-6845-d22d-19572b5a5463]","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.027597Z","hook":{"resource":{"addr":"terraform_data.a","module":"","resource":"terraform_data.a","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"a","resource_key":null},"id_key":"id","id_value":"f84ecb4c-9cfb-6845-d22d-19572b5a5463"},"type":"refresh_complete"}
{"@level":"info","@message":"terraform_data.b: Plan to delete","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.031646Z","change":{"resource":{"addr":"terraform_data.b","module":"","resource":"terraform_data.b","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"b","resource_key":null},"action":"delete","reason":"delete_because_no_resource_config"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.c: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.031698Z","change":{"resource":{"addr":"terraform_data.c","module":"","resource":"terraform_data.c","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"c","resource_key":null},"action":"create"},"type":"planned_change"}
{"@level":"info","@message":"terraform_data.a: Plan to update","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.031707Z","change":{"resource":{"addr":"terraform_data.a","module":"","resource":"terraform_data.a","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"a","resource_key":null},"action":"update"},"type":"planned_change"}
{"@level":"info","@message":"Plan: 1 to add, 1 to change, 1 to destroy.","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.031713Z","changes":{"add":1,"change":1,"import":0,"remove":1,"operation":"plan"},"type":"change_summary"}
""".strip().splitlines()

INVALID_PLAN = r"""
{"@level":"info","@message":"Terraform 1.11.4","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.179744Z","terraform":"1.11.4","type":"version","ui":"1.2"}
{"@level":"error","@message":"Error: Reference to undeclared input variable","@module":"terraform.ui","@timestamp":"2026-11-25T15:17:01.182455Z","diagnostic":{"severity":"error","summary":"Reference to undeclared input variable","detail":"An input variable with the name \"nope\" has not been declared. This variable can be declared with a variable \"nope\" {} block.","range":{"filename":"bad.tf","start":{"line":1,"column":41,"byte":40},"end":{"line":1,"column":49,"byte":48}},"snippet":{"context":"resource \"terraform_data\" \"x\"","code":"resource \"terraform_data\" \"x\" { input = var.nope }","start_line":1,"highlight_start_offset":40,"highlight_end_offset":48,"values":[]}},"type":"diagnostic"}
""".strip().splitlines()


def test_failed_apply_separates_applied_failed_and_not_started() -> None:
    summary = summarise_apply(FAILED_APPLY)
    assert sorted(summary["applied"]) == ["terraform_data.ok[0]", "terraform_data.ok[1]", "terraform_data.slow"]
    assert summary["failed"] == [
        {
            "address": "terraform_data.bad",
            "summary": "local-exec provisioner error",
            "detail": "Error running command 'echo boom >&2; exit 1': exit status 1. Output: boom\n",
            "arm_code": None,
            "http_status": None,
        }
    ]
    assert summary["not_started"] == ["terraform_data.after_bad"]
    assert summary["in_progress"] == [] and summary["interrupted"] is False
    assert summary["change_summary"] == {}  # terraform prints no summary when apply fails
    assert [d["address"] for d in summary["diagnostics"]] == ["terraform_data.bad"]
    assert summary["diagnostics"][0]["file"] == "main.tf" and summary["diagnostics"][0]["line"] == 6


def test_update_delete_create_all_count_as_applied() -> None:
    summary = summarise_apply(UPDATE_DELETE_APPLY)
    assert summary["planned"] == {
        "terraform_data.a": "update",
        "terraform_data.b": "delete",
        "terraform_data.c": "create",
    }
    assert sorted(summary["applied"]) == ["terraform_data.a", "terraform_data.b", "terraform_data.c"]
    assert summary["failed"] == [] and summary["not_started"] == []
    assert summary["change_summary"] == {"add": 1, "change": 1, "import": 0, "remove": 1, "operation": "apply"}


def test_interrupted_apply_is_marked_and_dependents_not_started() -> None:
    summary = summarise_apply(INTERRUPTED_APPLY)
    assert summary["interrupted"] is True
    assert sorted(summary["applied"]) == [f"terraform_data.fast[{i}]" for i in range(3)]
    assert [f["address"] for f in summary["failed"]] == ["terraform_data.slow"]
    assert "signal" in summary["failed"][0]["detail"]
    assert summary["not_started"] == ["terraform_data.after_slow"]
    halted = [d for d in summary["diagnostics"] if d["summary"] == "execution halted"]
    assert len(halted) == 2 and all(d["address"] is None for d in halted)


def test_arm_codes_are_extracted_from_both_error_formats() -> None:
    summary = summarise_apply(ARM_ERRORS_APPLY)
    codes = {f["address"]: (f["arm_code"], f["http_status"]) for f in summary["failed"]}
    assert codes == {
        "terraform_data.vnet": ("ParentResourceNotFound", 404),
        "terraform_data.rg": ("ResourceGroupNotFound", 404),
    }
    assert summary["not_started"] == ["terraform_data.subnet"]


def test_provider_diagnostic_in_summary_is_attributed_to_its_address() -> None:
    """Synthetic line in terraform's diagnostic shape, as our stand-in provider's error would be:
    no apply_errored hook line, so the address comes from ``diagnostic.address`` alone."""
    line = json.dumps(
        {
            "@level": "error",
            "@message": "Error: ARM PUT failed",
            "type": "diagnostic",
            "diagnostic": {
                "severity": "error",
                "address": "azapi_resource.vnet_0",
                "summary": "ARM PUT /subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
                "virtualNetworks/v failed: 409 AnotherOperationInProgress: busy",
                "detail": "",
            },
        }
    )
    planned = UPDATE_DELETE_APPLY[1].replace("terraform_data.b", "azapi_resource.vnet_0")
    summary = summarise_apply([planned, line, "not json", ""])
    assert summary["failed"][0]["address"] == "azapi_resource.vnet_0"
    assert (summary["failed"][0]["arm_code"], summary["failed"][0]["http_status"]) == (
        "AnotherOperationInProgress",
        409,
    )
    assert summary["not_started"] == []  # it failed, so it is not "not started"


def test_extract_arm_error_variants() -> None:
    real_azapi = (
        'creating/updating Resource: (ResourceId "/subscriptions/s/resourceGroups/rg" / Api Version "2024-03-01"): '
        "PUT https://management.azure.com/subscriptions/s/resourceGroups/rg\n"
        "--------------------------------------------------------------------------------\n"
        "RESPONSE 403: 403 Forbidden\nERROR CODE: AuthorizationFailed\n"
        "--------------------------------------------------------------------------------\n"
        '{\n  "error": {\n    "code": "AuthorizationFailed",\n    "message": "no"\n  }\n}'
    )
    assert extract_arm_error(real_azapi) == ("AuthorizationFailed", 403)
    assert extract_arm_error('{"error": {"code": "InvalidTemplate", "message": "x"}}') == ("InvalidTemplate", None)
    assert extract_arm_error("ARM DELETE /x/y failed: 429 TooManyRequests: slow down") == ("TooManyRequests", 429)
    assert extract_arm_error("local-exec provisioner error") == (None, None)
    assert extract_arm_error("") == (None, None)


def test_plan_summary_actions_counts_and_refresh_lines() -> None:
    summary = summarise_plan(UPDATE_DELETE_PLAN)
    assert summary["actions"] == {
        "terraform_data.a": "update",
        "terraform_data.b": "delete",
        "terraform_data.c": "create",
    }
    assert summary["change_summary"]["add"] == 1 and summary["change_summary"]["remove"] == 1
    assert summary["drift"] == [] and summary["diagnostics"] == []


def test_plan_summary_collects_drift_events() -> None:
    """``resource_drift`` has the ``planned_change`` shape (terraform's machine-readable UI docs)."""
    drift = UPDATE_DELETE_PLAN[5].replace('"type":"planned_change"', '"type":"resource_drift"')
    drift = drift.replace('"action":"delete"', '"action":"update"')
    summary = summarise_plan([drift])
    assert summary["drift"] == [{"address": "terraform_data.b", "action": "update"}]
    assert summary["actions"] == {}


def test_invalid_plan_diagnostic() -> None:
    summary = summarise_plan(INVALID_PLAN)
    assert summary["actions"] == {} and summary["change_summary"] == {}
    [diag] = summary["diagnostics"]
    assert diag["severity"] == "error" and diag["summary"] == "Reference to undeclared input variable"
    assert diag["address"] is None and diag["file"] == "bad.tf"


def test_parse_lines_skips_noise() -> None:
    assert parse_lines(["", "plain text", "[1, 2]", "{broken", '{"type": "log"}']) == [{"type": "log"}]


def test_provider_crash_lines_come_from_terraforms_error_log() -> None:
    """Lines as terraform 1.11 prints them with TF_LOG=ERROR when the provider process is SIGKILLed."""
    from tenant_replicator.terraform.events import crash_evidence, provider_crash_lines

    stderr = (
        '2026-11-25T18:18:26.697Z [ERROR] Checkpoint error: Get "https://checkpoint-api.hashicorp.com": no such host\n'
        "2026-11-25T18:18:35.264Z [ERROR] plugin6.(*GRPCProvider).ApplyResourceChange: "
        'error="rpc error: code = Unavailable desc = error reading from server: EOF"\n'
        '2026-11-25T18:18:35.266Z [ERROR] provider: error encountered while scanning stdout: error="file already closed"\n'
        "2026-11-25T18:18:35.266Z [ERROR] provider: plugin process exited: plugin=/x/terraform-provider-azapi "
        'id=9008 error="signal: killed"\n'
    )
    lines = provider_crash_lines(stderr)
    assert len(lines) == 2 and all(not line.startswith("2026") for line in lines)
    assert lines[0].startswith("provider: plugin process exited") and 'error="signal: killed"' in lines[0]
    assert "rpc error: code = Unavailable" in lines[1]  # the exit first, whatever the order it was logged in
    assert crash_evidence(lines) == lines[0] and crash_evidence(list(reversed(lines))) == lines[0]
    assert provider_crash_lines("panic: runtime error: index out of range\n") == [
        "panic: runtime error: index out of range"
    ]
    # a provider that exits normally is logged without error=, and only at debug level anyway
    assert provider_crash_lines("2026-11-25T18:18:35Z [ERROR] vertex error: ResourceGroupNotFound\n") == []
