"""Appointment reminders: when to send them and how."""
