"""SCIM 2.0 provisioning (RFC 7643/7644): users created, read, filtered, patched and deleted."""
