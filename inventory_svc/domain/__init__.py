"""Pure domain of the inventory: no I/O, no protobuf, standard library only."""
