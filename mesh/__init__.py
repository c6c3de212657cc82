"""Shared runtime of the OMS mesh: settings, storage, messaging, serving, telemetry."""
