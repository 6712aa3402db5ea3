"""``python -m tenant_replicator.tfprovider``: serve the stand-in azapi provider to terraform."""

from __future__ import annotations

import sys

import tf.provider
from tf.runner import run_provider

from tenant_replicator.tfprovider.provider import AzapiProvider
from tenant_replicator.tfprovider.servicer import AzapiServicer


def main(argv: list[str] | None = None) -> None:
    # run_provider builds ``tf.provider.ProviderServicer`` itself, looked up at call time: swap in ours.
    tf.provider.ProviderServicer = AzapiServicer  # type: ignore[misc]
    run_provider(AzapiProvider(), argv if argv is not None else sys.argv)


if __name__ == "__main__":
    main()
