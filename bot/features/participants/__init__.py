"""Participants: invites, onboarding and consent, their language, /stop and /start, blocking the bot.

``feature.py`` registers what it plugs into the running bot; ``cli.py`` the ``stegvis caseworker``
and ``stegvis participant`` commands.
"""
