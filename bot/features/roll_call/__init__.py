"""The roll call: activity leaders link their Telegram chat with an invite, get a roll call at each session's start and tap who is there; staff record attendance from the command line."""
