"""A service's own data: the engine, the unit of work, migrations, paging, the Redis cache."""
