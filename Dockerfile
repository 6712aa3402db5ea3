# tenant-replicator on the official Airflow image (Python 3.11), with pinned, checksum-verified terraform.
FROM apache/airflow:3.3.2-python3.11

ARG TERRAFORM_VERSION=1.11.4
# sha256 of the terraform binary inside terraform_${TERRAFORM_VERSION}_linux_amd64.zip
ARG TERRAFORM_SHA256=268000fca5c61021c6396893d9483007ba589ad9d0aaccbd7dfa8c78bf7dbe23

USER root
RUN apt-get update && apt-get install -y --no-install-recommends curl unzip ca-certificates \
 && curl -fsSL -o /tmp/tf.zip \
      "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_amd64.zip" \
 && unzip -q /tmp/tf.zip terraform -d /usr/local/bin \
 && echo "${TERRAFORM_SHA256}  /usr/local/bin/terraform" | sha256sum -c - \
 && rm /tmp/tf.zip && apt-get purge -y unzip && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root requirements.txt constraints.txt pyproject.toml setup.py README.md /opt/tenant-replicator/
COPY --chown=airflow:root include /opt/tenant-replicator/include
COPY --chown=airflow:root plugins /opt/tenant-replicator/plugins
RUN pip install --no-cache-dir -c /opt/tenant-replicator/constraints.txt /opt/tenant-replicator

COPY --chown=airflow:root dags /opt/airflow/dags
ENV TENANT_REPLICATOR_HOME=/opt/airflow/tenant-replicator
