"""dealpilot: the smart sales application on top of CRM data."""

__version__ = "0.1.0"
