"""Accounts, roles, API tokens and the one place that decides who may do what."""
