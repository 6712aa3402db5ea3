# tenant-replicator on the official Airflow image (Python 3.11), with pinned, checksum-verified terraform.
# Build: docker build -t tenant-replicator:0.1.0 .   (docker-compose.yml builds it for you)
FROM apache/airflow:3.3.2-python3.11

ARG TERRAFORM_VERSION=1.11.4
# sha256 of the terraform binary inside terraform_${TERRAFORM_VERSION}_linux_amd64.zip (same pin as the Makefile)
ARG TERRAFORM_SHA256=268000fca5c61021c6396893d9483007ba589ad9d0aaccbd7dfa8c78bf7dbe23

USER root
RUN set -eu; \
    arch="$(dpkg --print-architecture)"; \
    if [ "$arch" != "amd64" ]; then echo "terraform checksum is pinned for amd64 only (got $arch)" >&2; exit 1; fi; \
    apt-get update && apt-get install -y --no-install-recommends curl unzip ca-certificates; \
    curl -fsSL -o /tmp/tf.zip \
      "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_amd64.zip"; \
    unzip -q /tmp/tf.zip terraform -d /tmp/tf; \
    echo "${TERRAFORM_SHA256}  /tmp/tf/terraform" | sha256sum -c -; \
    install -m 0755 /tmp/tf/terraform /usr/local/bin/terraform; \
    rm -rf /tmp/tf /tmp/tf.zip; \
    apt-get purge -y unzip && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*; \
    terraform version; \
    mkdir -p /opt/simulator/tls /opt/simulator/state && chown -R airflow:root /opt/simulator
USER airflow

# The project as a provider package: `tenant_replicator` (library, from include/) and
# `tenant_replicator_airflow` (operators, sensors, notifier; the apache_airflow_provider entry point).
COPY --chown=airflow:root requirements.txt constraints.txt pyproject.toml setup.py README.md /opt/tenant-replicator/
COPY --chown=airflow:root include /opt/tenant-replicator/include
COPY --chown=airflow:root plugins /opt/tenant-replicator/plugins
RUN pip install --no-cache-dir -c /opt/tenant-replicator/constraints.txt /opt/tenant-replicator \
 && python -c "import tenant_replicator, tenant_replicator_airflow.provider_info" \
 && tenant-replicator --help > /dev/null

# DAGs and the UI plugin where Airflow looks for them; campaign data (terraform state: sensitive) on a volume.
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
ENV TENANT_REPLICATOR_HOME=/opt/airflow/tenant-replicator
RUN mkdir -p -m 0700 /opt/airflow/tenant-replicator
VOLUME ["/opt/airflow/tenant-replicator"]
