"""Notifications of the ratings module (kinds registered with the notification service)."""
