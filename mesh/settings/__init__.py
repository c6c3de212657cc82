"""Typed settings from the environment, validated once at start, and their generated table."""
