"""Small value types every service shares: money, e-mail address syntax."""
