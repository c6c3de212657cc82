"""The ``oms`` command: the operator's CLI, and the first Python client of the mesh.

One entry point with a subcommand per thing an operator looks after (``oms --help`` lists them,
``oms <group> <action> --help`` explains each): ``orders``, ``stock``, ``products``,
``notifications``, ``dlq``, ``outbox``, ``topics`` and ``token``. Every command but ``topics``
and ``token`` is a gRPC call to a service's public or operations API, with the same bearer
token and TLS settings the services' own clients use (``mesh.cli.client``); ``topics`` asks the
Kafka cluster. Tables by default, ``--json`` for scripts; see docs/operations.md.

It imports only ``oms`` (the generated contracts) and ``mesh``, never a service: what it does,
any other client of the mesh can do.
"""

from mesh.cli.app import main

__all__ = ["main"]
