"""A bad rating opens a follow-up case (回访)."""
