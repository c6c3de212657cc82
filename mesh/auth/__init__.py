"""Who is calling and what they may do: tokens, RPC rules, service identity, mutual TLS."""
