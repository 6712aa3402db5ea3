"""Maps include/ and plugins/ onto importable packages (pyproject holds everything else)."""

from setuptools import find_packages, setup

library = find_packages("include")
airflow_layer = ["tenant_replicator_airflow"] + [
    f"tenant_replicator_airflow.{name}" for name in find_packages("plugins")
]
setup(
    packages=library + airflow_layer,
    package_dir={"tenant_replicator": "include/tenant_replicator", "tenant_replicator_airflow": "plugins"},
    package_data={"tenant_replicator": ["sim/*.json", "py.typed"]},
)
