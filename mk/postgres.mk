# PostgreSQL server binaries for the Postgres-metadata-DB and Celery end-to-end tests
# (tests/e2e/test_postgres_e2e.py, tests/e2e/test_celery_e2e.py): devstack starts a throwaway cluster
# with them (initdb + postgres on a loopback port, run as the `postgres` account when we are root).
# Included by the Makefile; also usable alone: make -f mk/postgres.mk postgres
POSTGRES_PACKAGES := postgresql-15
PG_BINDIRS := $(wildcard /usr/lib/postgresql/*/bin/initdb)

.PHONY: postgres

postgres:
	@if [ -n "$$TENANT_REPLICATOR_PG_BIN" ] && [ -x "$$TENANT_REPLICATOR_PG_BIN/initdb" ] \
		|| [ -n "$(PG_BINDIRS)" ] || command -v initdb >/dev/null; then \
		echo "postgres server binaries: $$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)$${TENANT_REPLICATOR_PG_BIN:+ ($$TENANT_REPLICATOR_PG_BIN)}"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(POSTGRES_PACKAGES) from Debian packages (the server binaries only; no cluster is started) ..."; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $(POSTGRES_PACKAGES) >/dev/null \
			&& ls -d /usr/lib/postgresql/*/bin; \
	else \
		echo "PostgreSQL server binaries are missing (the Postgres and Celery E2E tests skip without them). Install:"; \
		echo "  sudo apt-get update && sudo apt-get install -y $(POSTGRES_PACKAGES)"; \
		echo "  (or set TENANT_REPLICATOR_PG_BIN to a directory holding initdb and postgres)"; \
		exit 1; \
	fi
