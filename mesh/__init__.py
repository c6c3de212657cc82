"""Shared runtime of the OMS mesh: mechanism only, no service's policy (docs/architecture.md).

Floors: ``settings``, ``storage``, ``messaging``, ``serving``, ``auth``, ``telemetry``,
``resilience``, ``values``; ``cli`` is the operator's command.
"""
