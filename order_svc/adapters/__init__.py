"""Adapters of the order service: SQL storage, the inventory client, protobuf mapping."""
