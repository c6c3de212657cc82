"""Adapters: PostgreSQL repositories, the Redis read cache, protobuf mapping."""
