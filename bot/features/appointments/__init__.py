"""Appointments: booking, CSV import, reminders 3 and 1 days before, notices of a new time or a
cancellation, and the participant's answers (coming, can't come and why, need a new time).

``feature.py`` registers what it plugs into the running bot; ``cli.py`` its commands.
"""
