"""Use cases of the notification service: small handlers over the ports in ``ports``."""
