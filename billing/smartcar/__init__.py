"""Smartcar: the async HTTP client, its typed errors and the charge-records payload."""
